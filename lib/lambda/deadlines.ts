/**
 * Timeouts for the calls of one handler, on one timer. Every call of a handler has the same
 * timeout, so deadlines arrive in the order calls start: a doubly-linked list is already
 * sorted, adding and removing are O(1), and only the head needs a timer. A per-call
 * `setTimeout`/`clearTimeout` pair cost about 1 µs a request (a Timeout object, Node's
 * timer-list insert and removal); this costs a few field writes.
 *
 * The timer is not cleared when the list empties (most calls settle within a microtask, so
 * the list empties after nearly every request): it fires at most once per timeout period,
 * finds nothing due, and re-arms only if calls are pending.
 */

/** A call under a deadline; the list owns the link fields. */
export interface DeadlineEntry {
  /**
   * `performance.now()` milliseconds, also what getRemainingTimeInMillis counts to. A
   * monotonic clock: with wall-clock deadlines, a clock set back would leave later calls
   * with earlier deadlines behind the head, and the list would no longer be in order.
   */
  readonly deadline: number;
  prevDue: DeadlineEntry | null;
  nextDue: DeadlineEntry | null;
  /** Called once, when the deadline has passed and the entry is still listed. */
  expire(): void;
}

export class DeadlineList {
  readonly timeoutMs: number;
  #head: DeadlineEntry | null = null;
  #tail: DeadlineEntry | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** Appends an entry whose deadline is now + timeoutMs (so no earlier than the tail's). */
  add(entry: DeadlineEntry): void {
    const tail = this.#tail;
    entry.prevDue = tail;
    entry.nextDue = null;
    if (tail === null) this.#head = entry;
    else tail.nextDue = entry;
    this.#tail = entry;
    if (this.#timer === null) this.#arm(this.timeoutMs);
  }

  /** Unlinks a listed entry (it settled before its deadline). */
  remove(entry: DeadlineEntry): void {
    const { prevDue, nextDue } = entry;
    if (prevDue === null && this.#head !== entry) return; // not listed
    if (prevDue === null) this.#head = nextDue;
    else prevDue.nextDue = nextDue;
    if (nextDue === null) this.#tail = prevDue;
    else nextDue.prevDue = prevDue;
    entry.prevDue = null;
    entry.nextDue = null;
  }

  #arm(ms: number): void {
    // Unref'd: a pending call is kept alive by its request's socket, not by its timeout.
    this.#timer = setTimeout(DeadlineList.#fire, ms, this).unref();
  }

  static #fire(this: void, list: DeadlineList): void {
    list.#timer = null;
    const now = performance.now();
    let head = list.#head;
    while (head !== null && head.deadline <= now) {
      list.remove(head);
      head.expire();
      head = list.#head;
    }
    // Re-armed from the list as it is now: expire() may have settled or added entries.
    if (head !== null && list.#timer === null)
      list.#arm(Math.max(1, Math.ceil(head.deadline - now)));
  }
}
