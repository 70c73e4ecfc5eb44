// The console feed asks for at most one snapshot at a time: in a cluster a snapshot asks every
// process and may wait seconds on a slow one, and ticks must not pile up behind it.
import { describe, expect, it } from 'vitest';
import { ConsoleFeed, type FeedDeps } from '../../src/console/feed.js';

describe('ConsoleFeed', () => {
  it('skips ticks while a slow snapshot is still being built', async () => {
    // Only isDraining and intervalMs are read once the feed takes its parts from peers.
    const feed = new ConsoleFeed({ isDraining: () => false, intervalMs: 10 } as unknown as FeedDeps);
    let asked = 0;
    let inFlight = 0;
    let most = 0;
    feed.usePeers(async () => {
      asked++;
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return [];
    });
    const unsubscribe = feed.subscribe({ send: () => {}, end: () => {} });
    await new Promise((r) => setTimeout(r, 350));
    unsubscribe();
    // The first snapshot (on subscribing) may overlap one tick; ticks never overlap each other.
    expect(most).toBeLessThanOrEqual(2);
    // 10 ms ticks over 350 ms would ask ~35 times; one 100 ms snapshot at a time asks ~4.
    expect(asked).toBeLessThanOrEqual(6);
    expect(asked).toBeGreaterThanOrEqual(3);
    feed.close();
  });
});
