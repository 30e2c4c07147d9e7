// A binary min-heap ordered by a numeric key the caller supplies. Single-thread.

export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly keyOf: (item: T) => number;

  constructor(keyOf: (item: T) => number) {
    this.keyOf = keyOf;
  }

  get length(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let index = items.length - 1;
    const key = this.keyOf(item);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentItem = items[parent]!;
      if (this.keyOf(parentItem) <= key) break;
      items[index] = parentItem;
      index = parent;
    }
    items[index] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    const key = this.keyOf(last);
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && this.keyOf(items[right]!) < this.keyOf(items[left]!) ? right : left;
      if (this.keyOf(items[child]!) >= key) break;
      items[index] = items[child]!;
      index = child;
    }
    items[index] = last;
    return top;
  }

  /** Visits every item, in no particular order. */
  forEach(visit: (item: T) => void): void {
    for (const item of this.items) visit(item);
  }

  /** Removes everything and returns it, in no particular order. */
  drain(): T[] {
    return this.items.splice(0, this.items.length);
  }
}
