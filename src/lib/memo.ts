// A small in-memory memo for rendered images: the most recent `max` results by key, oldest dropped first.

/** Remembers up to `max` values by string key; past that, the oldest entry is forgotten (FIFO). */
export class BoundedMemo<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  /** The value remembered under `key`, or `make()`'s, remembered. */
  get(key: string, make: () => V): V {
    const known = this.entries.get(key);
    if (known !== undefined) return known;
    const value = make();
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
    return value;
  }
}
