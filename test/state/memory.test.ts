/**
 * The in-memory store: token-bucket arithmetic, period counters, and bounded memory.
 * Time is a number the test moves; nothing sleeps.
 */
import t from 'tap';
import { MemoryStore } from '../../lib/state/memory.ts';

const T0 = Date.UTC(2030, 0, 1);

t.test('a bucket allows its burst at once, then refills at the rate', async (t) => {
  const store = new MemoryStore({ now: () => T0 });
  const take = (now: number) => store.take('b', 2, 3, now);
  t.match(take(T0), { allowed: true, remaining: 2, retryAfterMs: 0 });
  t.match(take(T0), { allowed: true, remaining: 1 });
  t.match(take(T0), { allowed: true, remaining: 0 });
  t.same(take(T0), { allowed: false, remaining: 0, retryAfterMs: 500 }, 'one token per 500 ms');
  t.same(take(T0 + 499), { allowed: false, remaining: 0.998, retryAfterMs: 1 });
  t.match(take(T0 + 500), { allowed: true, remaining: 0 });
  // Refill is capped at the burst however long the bucket sat idle.
  t.match(take(T0 + 60_000), { allowed: true, remaining: 2 });
});

t.test('fractional rates refill a whole token over several seconds', async (t) => {
  const store = new MemoryStore();
  t.match(store.take('half', 0.5, 1, T0), { allowed: true });
  t.match(store.take('half', 0.5, 1, T0), { allowed: false, retryAfterMs: 2000 });
  t.match(store.take('half', 0.5, 1, T0 + 1999), { allowed: false, retryAfterMs: 1 });
  t.match(store.take('half', 0.5, 1, T0 + 2000), { allowed: true });
  // 0.1/s: ten 1 s steps add up to a whole token despite float error.
  t.match(store.take('tenth', 0.1, 1, T0), { allowed: true });
  for (let s = 1; s < 10; s++)
    t.match(store.take('tenth', 0.1, 1, T0 + s * 1000), { allowed: false });
  t.match(store.take('tenth', 0.1, 1, T0 + 10_000), { allowed: true });
});

t.test('costs, a rate of 0 and a cost above the burst', async (t) => {
  const store = new MemoryStore({ sweepIntervalMs: Infinity });
  t.match(store.take('c', 1, 5, T0, 4), { allowed: true, remaining: 1 });
  t.match(store.take('c', 1, 5, T0, 2), { allowed: false, remaining: 1, retryAfterMs: 1000 });
  t.match(store.take('c', 1, 5, T0, 1), { allowed: true, remaining: 0 }, 'a refusal took nothing');
  t.match(store.take('zero', 0, 1, T0), { allowed: true });
  t.match(store.take('zero', 0, 1, T0 + 1e9), { allowed: false, retryAfterMs: -1 }, 'never');
  t.match(store.take('big', 10, 2, T0, 3), { allowed: false, retryAfterMs: -1 });
  t.match(store.take('blocked', 10, 0, T0), { allowed: false, remaining: 0 }, 'burst 0 blocks');
  t.equal(store.stats.buckets, 2, 'refusals of unseen buckets create nothing');
});

t.test('a clock that goes backwards refills nothing', async (t) => {
  const store = new MemoryStore();
  store.take('k', 1, 1, T0);
  t.match(store.take('k', 1, 1, T0 - 5000), { allowed: false, retryAfterMs: 1000 });
  t.match(store.take('k', 1, 1, T0 + 1000), { allowed: true });
});

t.test('counters count per period and restart in a later one', async (t) => {
  let now = T0;
  const store = new MemoryStore({ now: () => now });
  const end1 = T0 + 1000;
  t.same(store.increment('q', end1), { count: 1, resetAtMs: end1 });
  t.same(store.increment('q', end1, 2), { count: 3, resetAtMs: end1 });
  t.same(store.increment('q', end1 - 500), { count: 4, resetAtMs: end1 }, 'a clock behind');
  now = end1;
  t.same(store.increment('q', end1 + 1000), { count: 1, resetAtMs: end1 + 1000 });
});

t.test('full buckets and finished counters are swept; the clock drives it', async (t) => {
  let now = T0;
  const store = new MemoryStore({ now: () => now, sweepIntervalMs: 1000 });
  for (let i = 0; i < 100; i++) store.take(`client-${i}`, 10, 10, now);
  store.take('slow', 0.001, 10, now); // full again only after 1000 s
  store.increment('day', now + 5000);
  t.same(store.stats, { buckets: 101, counters: 1, evicted: 0 });
  now += 999;
  store.take('client-0', 10, 10, now);
  t.equal(store.stats.buckets, 101, 'no sweep before the interval');
  now += 1;
  store.take('other', 10, 10, now);
  t.same(store.stats, { buckets: 3, counters: 1, evicted: 0 }, 'refilled buckets are gone');
  now += 5000;
  store.take('other', 10, 10, now);
  t.same(store.stats, { buckets: 2, counters: 0, evicted: 0 }, 'the counter expired');
});

t.test('memory stays bounded with many distinct clients', async (t) => {
  const store = new MemoryStore({ now: () => T0, maxEntries: 1000 });
  // 200,000 clients, each taking one token from a bucket that refills in 100 s.
  for (let i = 0; i < 200_000; i++) store.take(`ip:${i}`, 0.01, 1, T0);
  const { buckets, evicted } = store.stats;
  t.ok(buckets <= 1000, `${buckets} buckets held`);
  t.equal(buckets + evicted, 200_000, 'the oldest were evicted');
  // The newest client is still limited; a long-evicted one starts fresh.
  t.match(store.take('ip:199999', 0.01, 1, T0), { allowed: false });
  t.match(store.take('ip:0', 0.01, 1, T0), { allowed: true });
});
