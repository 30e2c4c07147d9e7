// Unit tests for the topic trie: RabbitMQ's topic matching (`*` is exactly one word, `#` zero or
// more, words split on dots with empty words kept, and "" has no words at all), duplicates and
// removal. The property test beside this file checks random patterns against a regex model.

import { describe, expect, it } from 'vitest';
import { TopicTrie } from './topic-trie.js';

/** The set of values the trie matches for `routingKey`, sorted for stable comparisons. */
function matches(trie: TopicTrie<string>, routingKey: string): string[] {
  const found = new Set<string>();
  trie.match(routingKey, { add: (value) => found.add(value) });
  return [...found].sort();
}

/** A trie holding each pattern with itself as the value. */
function trieOf(...patterns: string[]): TopicTrie<string> {
  const trie = new TopicTrie<string>();
  for (const pattern of patterns) trie.add(pattern, pattern);
  return trie;
}

describe('TopicTrie matching', () => {
  it.each([
    // pattern, routing key, matches?
    ['a.b.c', 'a.b.c', true],
    ['a.b.c', 'a.b', false],
    ['a.b', 'a.b.c', false],
    ['a.b.c', 'a.b.x', false],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*.b.*', 'a.b.c', true],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['#.a', 'a', true],
    ['#.a', 'x.y.a', true],
    ['#.a', 'a.x', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y', false],
    ['#.#', 'a.b', true],
    ['#.*', 'a', true],
    ['#.*.#', 'a.b.c', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    // Empty words are words.
    ['a..b', 'a..b', true],
    ['a.*.b', 'a..b', true],
    ['a.b', 'a..b', false],
    ['a.*', 'a.', true],
    ['a.#', 'a.', true],
    ['*.*', '.', true],
    ['*', '.', false],
    // Wildcards in a routing key are plain words there.
    ['a.b', 'a.*', false],
    ['a.*', 'a.*', true],
    ['a.#', 'a.#', true],
  ])('pattern %j against key %j: %s', (pattern, routingKey, isMatch) => {
    expect(matches(trieOf(pattern), routingKey)).toEqual(isMatch ? [pattern] : []);
  });

  describe('the empty routing key has no words at all (rabbit_db_topic_exchange split_topic_key)', () => {
    it.each([
      ['', true],
      ['#', true],
      ['#.#', true],
      ['*', false],
      ['*.#', false],
      ['#.*', false],
      ['a', false],
      ['.', false],
    ])('pattern %j matches "": %s', (pattern, isMatch) => {
      expect(matches(trieOf(pattern), '')).toEqual(isMatch ? [pattern] : []);
    });

    it('the empty pattern matches only the empty key', () => {
      const trie = trieOf('');
      expect(matches(trie, '')).toEqual(['']);
      expect(matches(trie, '.')).toEqual([]);
      expect(matches(trie, 'a')).toEqual([]);
    });
  });

  it('finds every matching pattern among many', () => {
    const trie = trieOf('#', 'a.#', '*.b', 'a.b', 'a.*', 'a.b.c', 'x.#', '*.*.*', 'a.#.c', '#.c');
    expect(matches(trie, 'a.b')).toEqual(['#', '*.b', 'a.#', 'a.*', 'a.b']);
    expect(matches(trie, 'a.b.c')).toEqual(['#', '#.c', '*.*.*', 'a.#', 'a.#.c', 'a.b.c']);
    expect(matches(trie, 'z')).toEqual(['#']);
  });

  it('reports a value bound under two matching patterns (the router deduplicates)', () => {
    const trie = new TopicTrie<string>();
    trie.add('a.*', 'q');
    trie.add('#', 'q');
    const seen: string[] = [];
    trie.match('a.b', { add: (value) => seen.push(value) });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen)).toEqual(new Set(['q']));
  });
});

describe('TopicTrie removal', () => {
  it('removes one occurrence and reports whether it was there', () => {
    const trie = new TopicTrie<string>();
    trie.add('a.*', 'q');
    trie.add('a.*', 'q');
    expect(trie.remove('a.*', 'q')).toBe(true);
    expect(matches(trie, 'a.b')).toEqual(['q']);
    expect(trie.remove('a.*', 'q')).toBe(true);
    expect(matches(trie, 'a.b')).toEqual([]);
    expect(trie.remove('a.*', 'q')).toBe(false);
  });

  it('leaves patterns that share a prefix alone', () => {
    const trie = trieOf('a.b', 'a.b.c', 'a.#', 'a.*');
    expect(trie.remove('a.b', 'a.b')).toBe(true);
    expect(matches(trie, 'a.b')).toEqual(['a.#', 'a.*']);
    expect(matches(trie, 'a.b.c')).toEqual(['a.#', 'a.b.c']);
    expect(trie.remove('a.#', 'a.#')).toBe(true);
    expect(matches(trie, 'a')).toEqual([]);
    expect(matches(trie, 'a.b.c')).toEqual(['a.b.c']);
  });

  it('does not remove a value bound under another pattern', () => {
    const trie = new TopicTrie<string>();
    trie.add('a.b', 'q');
    expect(trie.remove('a.c', 'q')).toBe(false);
    expect(trie.remove('a.*', 'q')).toBe(false);
    expect(trie.remove('a.b', 'other')).toBe(false);
    expect(matches(trie, 'a.b')).toEqual(['q']);
  });

  it('removes the empty pattern and wildcard-only patterns', () => {
    const trie = trieOf('', '#', '*');
    expect(trie.remove('', '')).toBe(true);
    expect(trie.remove('#', '#')).toBe(true);
    expect(matches(trie, '')).toEqual([]);
    expect(matches(trie, 'a')).toEqual(['*']);
    expect(trie.remove('*', '*')).toBe(true);
    expect(matches(trie, 'a')).toEqual([]);
  });

  it('can be refilled after everything was removed', () => {
    const trie = trieOf('a.b.c', 'a.#');
    trie.remove('a.b.c', 'a.b.c');
    trie.remove('a.#', 'a.#');
    trie.add('a.b.c', 'again');
    expect(matches(trie, 'a.b.c')).toEqual(['again']);
  });
});
