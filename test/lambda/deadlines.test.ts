// The one-timer deadline list behind handler timeouts: order, removal, re-arming.
import { once, EventEmitter } from 'node:events';
import t from 'tap';
import { DeadlineList, type DeadlineEntry } from '../../lib/lambda/deadlines.ts';

// The list's timer is unref'd (in the gateway a request's socket keeps the process alive);
// here this handle does.
const keepAlive = setInterval(() => {}, 60_000);
t.teardown(() => clearInterval(keepAlive));

/** An entry that records when it expired and announces it on `events`. */
class Entry implements DeadlineEntry {
  prevDue: DeadlineEntry | null = null;
  nextDue: DeadlineEntry | null = null;
  expiredAt = -1;
  readonly deadline: number;
  readonly name: string;
  readonly events: EventEmitter;

  constructor(name: string, deadline: number, events: EventEmitter) {
    this.name = name;
    this.deadline = deadline;
    this.events = events;
  }

  expire(): void {
    t.equal(this.expiredAt, -1, `${this.name} expires once`);
    this.expiredAt = performance.now();
    this.events.emit('expired', this);
  }
}

t.test('entries expire in order, not before their deadline; removed ones never', async (t) => {
  const events = new EventEmitter();
  const list = new DeadlineList(20);
  const expired: string[] = [];
  events.on('expired', (e: Entry) => expired.push(e.name));
  const now = performance.now();
  const a = new Entry('a', now + 20, events);
  const b = new Entry('b', now + 20, events);
  const c = new Entry('c', now + 20, events);
  // Later than the first timer: the list must re-arm for it, not expire it early.
  const d = new Entry('d', now + 60, events);
  for (const e of [a, b, c, d]) list.add(e);
  list.remove(b);
  list.remove(b); // a second removal of an unlisted entry changes nothing
  const done = new Promise<void>((resolve) => {
    events.on('expired', (e: Entry) => {
      if (e === d) resolve();
    });
  });
  await done;
  t.same(expired, ['a', 'c', 'd']);
  t.equal(b.expiredAt, -1, 'a removed entry does not expire');
  for (const e of [a, c, d]) t.ok(e.expiredAt >= e.deadline, `${e.name} not before its deadline`);
});

t.test('removing the head, the tail or the only entry keeps the list consistent', async (t) => {
  const events = new EventEmitter();
  const list = new DeadlineList(10);
  const now = performance.now();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new Entry(n, now + 10, events)) as [
    Entry,
    Entry,
    Entry,
  ];
  list.add(a);
  list.add(b);
  list.add(c);
  list.remove(a); // head
  list.remove(c); // tail
  list.remove(b); // only
  // The list is empty now; a new entry must still be reached by the timer.
  const e = new Entry('e', performance.now() + 10, events);
  list.add(e);
  const [first] = (await once(events, 'expired')) as [Entry];
  t.equal(first, e, 'only the entry still listed expires');
  t.same(
    [a, b, c].map((x) => x.expiredAt),
    [-1, -1, -1],
  );
});

t.test('after the list drains, the next entry arms the timer again', async (t) => {
  const events = new EventEmitter();
  const list = new DeadlineList(5);
  for (const name of ['first', 'second']) {
    const entry = new Entry(name, performance.now() + 5, events);
    list.add(entry);
    const [got] = (await once(events, 'expired')) as [Entry];
    t.equal(got.name, name);
  }
});

t.test('an entry added from expire() is timed too', async (t) => {
  const events = new EventEmitter();
  const list = new DeadlineList(5);
  const chained = new Entry('chained', 0, events);
  const first = new Entry('first', performance.now() + 5, events);
  first.expire = function (this: Entry) {
    Entry.prototype.expire.call(this);
    (chained as { deadline: number }).deadline = performance.now() + 5;
    list.add(chained);
  };
  list.add(first);
  await once(events, 'expired');
  const [got] = (await once(events, 'expired')) as [Entry];
  t.equal(got, chained);
  t.ok(chained.expiredAt >= chained.deadline);
});
