// Holds the active revision. Readers take one revision per request; a reload swaps the whole
// revision atomically, so no request ever mixes two registries.
import type { Revision } from './revision.js';

export type RevisionListener = (next: Revision, previous: Revision) => void;

export class RegistryHolder {
  private revision: Revision;
  private readonly listeners = new Set<RevisionListener>();

  constructor(initial: Revision) {
    this.revision = initial;
  }

  current(): Revision {
    return this.revision;
  }

  swap(next: Revision): void {
    const previous = this.revision;
    this.revision = next;
    for (const listener of this.listeners) listener(next, previous);
  }

  onSwap(listener: RevisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
