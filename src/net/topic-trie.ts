// Topic-exchange matching: binding patterns stored in a trie of dot-separated words, with `*`
// (exactly one word) and `#` (zero or more words) as wildcard edges. A routing key walks only
// the branches its words can match, so the cost follows the key's length and the wildcards,
// not the number of bindings. Network thread only.

/** Receives each value a routing key matches; may see a value more than once. */
export interface MatchCollector<T> {
  add(value: T): void;
}

/** RabbitMQ splits "" into no words at all (so `*` does not match it), and "a..b" into three. */
function wordsOf(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

class TrieNode<T> {
  readonly children = new Map<string, TrieNode<T>>();
  star: TrieNode<T> | null = null;
  hash: TrieNode<T> | null = null;
  readonly values: T[] = [];

  isEmpty(): boolean {
    return (
      this.values.length === 0 &&
      this.children.size === 0 &&
      this.star === null &&
      this.hash === null
    );
  }
}

export class TopicTrie<T> {
  private readonly root = new TrieNode<T>();

  add(pattern: string, value: T): void {
    let node = this.root;
    for (const word of wordsOf(pattern)) node = this.childFor(node, word);
    node.values.push(value);
  }

  /** Removes one occurrence of value under pattern; returns whether it was there. */
  remove(pattern: string, value: T): boolean {
    return this.removeAt(this.root, wordsOf(pattern), 0, value);
  }

  /** Sends every value whose pattern matches `routingKey` to the collector. */
  match(routingKey: string, collector: MatchCollector<T>): void {
    this.walk(this.root, wordsOf(routingKey), 0, collector);
  }

  private childFor(node: TrieNode<T>, word: string): TrieNode<T> {
    if (word === '*') return (node.star ??= new TrieNode<T>());
    if (word === '#') return (node.hash ??= new TrieNode<T>());
    let child = node.children.get(word);
    if (child === undefined) {
      child = new TrieNode<T>();
      node.children.set(word, child);
    }
    return child;
  }

  private removeAt(node: TrieNode<T>, words: string[], index: number, value: T): boolean {
    if (index === words.length) {
      const at = node.values.indexOf(value);
      if (at < 0) return false;
      node.values.splice(at, 1);
      return true;
    }
    const word = words[index]!;
    const child = word === '*' ? node.star : word === '#' ? node.hash : node.children.get(word);
    if (child == null) return false;
    const removed = this.removeAt(child, words, index + 1, value);
    if (removed && child.isEmpty()) {
      if (word === '*') node.star = null;
      else if (word === '#') node.hash = null;
      else node.children.delete(word);
    }
    return removed;
  }

  private walk(
    node: TrieNode<T>,
    words: string[],
    index: number,
    collector: MatchCollector<T>,
  ): void {
    if (index === words.length) {
      for (const value of node.values) collector.add(value);
      // A trailing `#` also matches zero further words.
      if (node.hash !== null) this.walk(node.hash, words, index, collector);
      return;
    }
    const child = node.children.get(words[index]!);
    if (child !== undefined) this.walk(child, words, index + 1, collector);
    if (node.star !== null) this.walk(node.star, words, index + 1, collector);
    if (node.hash !== null) {
      // `#` swallows zero or more words: try every split point.
      for (let next = index; next <= words.length; next++) {
        this.walk(node.hash, words, next, collector);
      }
    }
  }
}
