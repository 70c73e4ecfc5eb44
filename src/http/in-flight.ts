// The responses still in progress, for graceful shutdown: counted, and walked once when draining
// starts. A doubly linked list of small entries rather than a Set, for the garbage collector's
// sake. A busy server's Set lives in V8's old generation and is rewritten all the time (a request
// in, a request out). V8 replaces a Set's table once deleted entries fill it, and keeps the
// replaced table (for iterators that may still walk it) with every entry it held and a link to
// its successor. Once one such table had been promoted, it kept the responses it held, and the
// next table, alive through every young-generation collection until they were promoted too, and
// so on: from then on every request's objects (its headers, request, response, ~5 KB) were
// promoted to the old generation and left for the full collector. Measured with the tiny model
// (docs/benchmarks.md): old-space growth 5.2–5.4 KB per request in that state against ~0.73 KB
// without it, and 20–30% more CPU per request; it set in at random in about one run in four,
// and in every run with a 24 MiB young generation. A removed entry here unlinks itself and drops
// its links, so nothing dead keeps a newer object reachable.

interface Entry<T> {
  readonly value: T;
  /** The list it was added to: an entry of another list (or anything else) is never unlinked here. */
  readonly owner: InFlightList<T>;
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
  linked: boolean;
}

/** What `add` returns: pass it to `remove`. */
export type InFlightEntry<T> = Readonly<Pick<Entry<T>, 'value'>>;

export class InFlightList<T> {
  private head: Entry<T> | undefined;
  private tail: Entry<T> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Appends `value` (in order of arrival). */
  add(value: T): InFlightEntry<T> {
    const entry: Entry<T> = { value, owner: this, prev: this.tail, next: undefined, linked: true };
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.count++;
    return entry;
  }

  /** Unlinks the entry; removing one twice, or one this list did not hand out, does nothing. */
  remove(handle: InFlightEntry<T>): void {
    const entry = handle as Partial<Entry<T>>;
    if (entry.owner !== this || entry.linked !== true) return;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    this.count--;
  }

  /** The values now, in order of arrival (a copy: the list may change while the caller walks it). */
  values(): T[] {
    const out: T[] = [];
    for (let entry = this.head; entry; entry = entry.next) out.push(entry.value);
    return out;
  }
}
