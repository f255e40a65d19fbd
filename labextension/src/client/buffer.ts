/**
 * A bounded per-consumer event buffer read as an async iterator.
 *
 * Delivery is driven by promises: `next()` returns a buffered event at once or a
 * promise that the next `push` resolves; there is no polling and no timer.
 *
 * The bound (see docs/jupyterlab.md, "The buffer bound"):
 *
 * - While the consumer is behind (events are waiting), a `stream` delta is appended to
 *   the last waiting event when that one is a `stream` of the same execution,
 *   statement and stream name: the consumer gets one event with the joined text.
 * - At most `limit` live-output events (`stream`, `display`, `clear`) wait at once.
 *   Past that, live output of a statement is dropped from that point until the
 *   statement's `result`, which always holds the statement's whole output, so the
 *   consumer sees a consistent prefix and then the complete result. `dropped` counts them.
 * - Every other event (`queued`, `expressions`, `running`, `result`, `cancelled`,
 *   `complete`, `kernel-status`, `resync`, `busy`, `error`) is always kept, in order:
 *   a few per statement, so they are bounded by the scripts' sizes.
 */
import { ClientEvent, isLiveOutput } from './protocol';

function statementKey(event: { executionId: string; index: number }): string {
  return `${event.executionId}\u0000${event.index}`;
}

export class EventBuffer<
  T extends ClientEvent = ClientEvent
> implements AsyncIterableIterator<T> {
  /**
   * @param limit - the most live-output events waiting at once (at least 1)
   */
  constructor(readonly limit = 1000) {
    if (!(limit >= 1)) {
      throw new RangeError('the buffer limit must be at least 1');
    }
  }

  /** Events waiting for the consumer. */
  get pending(): number {
    return this._queue.length;
  }

  /** Live-output events dropped because the consumer was behind by `limit` of them. */
  get dropped(): number {
    return this._dropped;
  }

  /** Stream deltas merged into a waiting one. */
  get merged(): number {
    return this._merged;
  }

  /** Whether the buffer was ended or the consumer stopped. */
  get isEnded(): boolean {
    return this._ended || this._stopped;
  }

  /** Offer an event to the consumer (ignored once the buffer is ended). */
  push(event: T): void {
    if (this._ended || this._stopped) {
      return;
    }
    const waiter = this._waiters.shift();
    if (waiter) {
      waiter({ value: event, done: false });
      return;
    }
    if (isLiveOutput(event)) {
      const key = statementKey(event);
      if (this._elided.has(key)) {
        this._dropped++;
        return;
      }
      const last = this._queue[this._queue.length - 1];
      if (
        event.type === 'stream' &&
        last !== undefined &&
        last.type === 'stream' &&
        last.executionId === event.executionId &&
        last.index === event.index &&
        last.name === event.name
      ) {
        // A new object: the event it replaces may be shared with other consumers.
        this._queue[this._queue.length - 1] = {
          ...last,
          text: last.text + event.text,
          seq: event.seq,
          ts: event.ts
        } as T;
        this._merged++;
        return;
      }
      if (this._live >= this.limit) {
        this._elided.add(key);
        this._dropped++;
        return;
      }
      this._live++;
    } else if (event.type === 'result') {
      this._elided.delete(statementKey(event));
    }
    this._queue.push(event);
  }

  /** No more events: the consumer gets what waits, then the end. */
  end(): void {
    if (this._ended) {
      return;
    }
    this._ended = true;
    if (this._queue.length === 0) {
      this._release();
    }
  }

  next(): Promise<IteratorResult<T>> {
    const event = this._queue.shift();
    if (event !== undefined) {
      if (isLiveOutput(event)) {
        this._live--;
      }
      return Promise.resolve({ value: event, done: false });
    }
    if (this._ended || this._stopped) {
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise(resolve => this._waiters.push(resolve));
  }

  /** The consumer stops (a `break` out of `for await`): waiting events are discarded. */
  return(): Promise<IteratorResult<T>> {
    this._stopped = true;
    this._queue = [];
    this._live = 0;
    this._release();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private _release(): void {
    for (const waiter of this._waiters.splice(0)) {
      waiter({ value: undefined, done: true });
    }
  }

  private _queue: T[] = [];
  private _waiters: ((result: IteratorResult<T>) => void)[] = [];
  private _elided = new Set<string>();
  private _live = 0;
  private _dropped = 0;
  private _merged = 0;
  private _ended = false;
  private _stopped = false;
}
