// A growable circular FIFO of object references. Used where a plain array's shift() would cost
// O(n) per removal (queues with millions of messages). Single-thread.

export class Fifo<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  /** Adds at the front (used to put back an item just taken). */
  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  peekLast(): T | undefined {
    return this.count === 0
      ? undefined
      : this.items[(this.head + this.count - 1) & (this.items.length - 1)];
  }

  /** Removes and returns the newest item. */
  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const slot = (this.head + this.count - 1) & (this.items.length - 1);
    const item = this.items[slot];
    this.items[slot] = undefined;
    this.count--;
    return item;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** The item `index` places from the front, or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) & (this.items.length - 1)];
  }

  forEach(visit: (item: T) => void): void {
    for (let i = 0; i < this.count; i++)
      visit(this.items[(this.head + i) & (this.items.length - 1)]!);
  }

  /** Keeps only the items `keep` accepts, in order (drops dead entries from a long-lived list). */
  retain(keep: (item: T) => boolean): void {
    const mask = this.items.length - 1;
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.head + i) & mask]!;
      if (keep(item)) this.items[(this.head + kept++) & mask] = item;
    }
    for (let i = kept; i < this.count; i++) this.items[(this.head + i) & mask] = undefined;
    this.count = kept;
  }

  clear(): void {
    this.items = new Array<T | undefined>(16);
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
