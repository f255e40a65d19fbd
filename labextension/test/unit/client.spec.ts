import { ClientEvent, ConnectionState, PditClient } from '../../src/client';
import { FakeSocket } from './fakesocket';

const TS = '2026-01-01T00:00:00.000Z';
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function client(extra: Record<string, unknown> = {}): PditClient {
  return new PditClient({
    baseUrl: 'http://localhost:8888/lab-base/',
    token: 't k',
    sessionId: 's',
    WebSocket: FakeSocket,
    pingInterval: 0,
    random: () => 0.5,
    ...extra
  });
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

beforeEach(() => {
  FakeSocket.reset();
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('PditClient connection', () => {
  it('connects to the channel URL with the token', () => {
    const c = client();
    expect(FakeSocket.last.url).toBe(
      'ws://localhost:8888/lab-base/pdit/api/sessions/s/channel?token=t%20k'
    );
    c.dispose();
  });

  it('goes connecting → open → reconnecting → open → closed and resumes from the last seq', async () => {
    const c = client();
    const states: ConnectionState[] = [];
    c.stateChanged.connect((_, s) => states.push(s));
    expect(c.state).toBe('connecting');
    const first = FakeSocket.last;
    first.serverWelcome(7);
    expect(first.sent).toEqual([{ type: 'resume', lastSeq: 7 }]);
    expect(c.state).toBe('open');
    await expect(c.ready).resolves.toMatchObject({ lastSeq: 7 });
    first.serverSend({ type: 'kernel-status', state: 'busy', seq: 8, ts: TS });
    first.serverSend({ type: 'kernel-status', state: 'idle', seq: 9, ts: TS });
    expect(c.lastSeq).toBe(9);
    expect(c.kernelState).toBe('idle');

    first.serverClose();
    expect(c.state).toBe('reconnecting');
    expect(FakeSocket.instances.length).toBe(1);
    jest.advanceTimersByTime(c.backoffDelay(0));
    expect(FakeSocket.instances.length).toBe(2);
    const second = FakeSocket.last;
    second.serverWelcome(12);
    expect(second.sent).toEqual([{ type: 'resume', lastSeq: 9 }]);
    expect(c.state).toBe('open');

    c.dispose();
    expect(c.state).toBe('closed');
    expect(second.closed).toBe(true);
    expect(states).toEqual(['open', 'reconnecting', 'open', 'closed']);
  });

  it('backs off exponentially with a cap and jitter', () => {
    let r = 0;
    const c = client({
      random: () => r,
      reconnect: { initialDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.5 }
    });
    expect([0, 1, 2, 3, 4, 5].map(a => c.backoffDelay(a))).toEqual([
      100, 200, 400, 800, 1000, 1000
    ]);
    r = 0.999999;
    expect(c.backoffDelay(2)).toBeCloseTo(200, 3);
    c.dispose();
  });

  it('retries failed attempts with growing delays and gives up after maxAttempts', () => {
    const c = client({
      reconnect: { initialDelay: 100, maxAttempts: 2, jitter: 0 }
    });
    FakeSocket.last.serverClose();
    expect(c.state).toBe('connecting'); // never opened yet
    jest.advanceTimersByTime(99);
    expect(FakeSocket.instances.length).toBe(1);
    jest.advanceTimersByTime(1);
    expect(FakeSocket.instances.length).toBe(2);
    FakeSocket.last.serverClose();
    jest.advanceTimersByTime(199);
    expect(FakeSocket.instances.length).toBe(2);
    jest.advanceTimersByTime(1);
    expect(FakeSocket.instances.length).toBe(3);
    FakeSocket.last.serverClose();
    expect(c.state).toBe('closed');
    return expect(c.ready).rejects.toThrow();
  });

  it('reconnects when no welcome arrives in time', () => {
    const c = client({
      connectTimeout: 1000,
      reconnect: { initialDelay: 10, jitter: 0 }
    });
    jest.advanceTimersByTime(1000);
    expect(FakeSocket.instances[0].closed).toBe(true);
    jest.advanceTimersByTime(10);
    expect(FakeSocket.instances.length).toBe(2);
    c.dispose();
  });

  it('replays everything on the first connection with replay: "all"', () => {
    const c = client({ replay: 'all' });
    FakeSocket.last.serverWelcome(40);
    expect(FakeSocket.last.sent).toEqual([{ type: 'resume', lastSeq: 0 }]);
    c.dispose();
  });

  it('pings, and reconnects when the pong does not come', () => {
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const c = client({ pingInterval: 1000, pongTimeout: 500 });
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    jest.advanceTimersByTime(1000);
    expect(socket.sentOfType('ping')).toEqual([{ type: 'ping', id: 1 }]);
    socket.serverSend({
      type: 'pong',
      id: 1,
      lastSeq: 0,
      kernel: { state: 'busy' }
    });
    expect(c.kernelState).toBe('busy');
    jest.advanceTimersByTime(1000);
    expect(socket.sentOfType('ping').length).toBe(2);
    jest.advanceTimersByTime(499);
    expect(c.state).toBe('open');
    jest.advanceTimersByTime(1);
    expect(c.state).toBe('reconnecting');
    expect(socket.closed).toBe(true);
    c.dispose();
  });
});

describe('PditClient executions', () => {
  function events(id: string, from: number): Record<string, unknown>[] {
    const st = { executionId: id, index: 0, lineStart: 1, lineEnd: 1, ts: TS };
    return [
      { type: 'queued', executionId: id, position: 0, seq: from, ts: TS },
      {
        type: 'expressions',
        executionId: id,
        expressions: [{ index: 0, lineStart: 1, lineEnd: 1 }],
        seq: from + 1,
        ts: TS
      },
      { type: 'running', ...st, seq: from + 2 },
      { type: 'stream', name: 'stdout', text: 'hi\n', ...st, seq: from + 3 },
      {
        type: 'result',
        ...st,
        output: [{ type: 'stdout', content: 'hi\n' }],
        isInvisible: false,
        status: 'ok',
        durationMs: 1,
        executionCount: 1,
        seq: from + 4
      },
      {
        type: 'complete',
        executionId: id,
        status: 'ok',
        durationMs: 2,
        seq: from + 5,
        ts: TS
      }
    ];
  }

  async function collect(
    iterable: AsyncIterable<ClientEvent>
  ): Promise<string[]> {
    const types: string[] = [];
    for await (const e of iterable) {
      types.push(e.type);
    }
    return types;
  }

  it('queues a request until the connection is open, then sends it after resume', () => {
    const c = client();
    const run = c.execute('print(1)', {
      lineRange: { from: 1, to: 1 },
      scriptName: 'a.py'
    });
    expect(run.id).toMatch(UUID);
    const socket = FakeSocket.last;
    socket.serverWelcome(3);
    expect(socket.sent).toEqual([
      { type: 'resume', lastSeq: 3 },
      {
        type: 'execute',
        executionId: run.id,
        script: 'print(1)',
        lineRange: { from: 1, to: 1 },
        scriptName: 'a.py'
      }
    ]);
    c.dispose();
  });

  it('checks options before sending', () => {
    const c = client();
    expect(() => c.execute('x', { lineRange: { from: 3, to: 2 } })).toThrow(
      RangeError
    );
    c.dispose();
  });

  it('routes events by execution id, each to its own handle', async () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const a = c.execute('a');
    const b = c.execute('b');
    expect(a.id).not.toBe(b.id);
    const sub = c.subscribe();
    const ea = events(a.id, 1);
    const eb = events(b.id, 7);
    // interleaved, and a foreign execution's events
    const foreign = events('someone-else', 13);
    let seq = 0;
    for (let i = 0; i < ea.length; i++) {
      for (const e of [ea[i], eb[i], foreign[i]]) {
        socket.serverSend({ ...e, seq: ++seq });
      }
    }
    await expect(a.done).resolves.toEqual({
      executionId: a.id,
      status: 'ok',
      durationMs: 2
    });
    await expect(b.done).resolves.toMatchObject({ status: 'ok' });
    const expected = [
      'queued',
      'expressions',
      'running',
      'stream',
      'result',
      'complete'
    ];
    expect(await collect(a.events)).toEqual(expected);
    expect(await collect(b.events)).toEqual(expected);
    expect(c.executions.size).toBe(0);
    expect(sub.pending).toBe(18);
    c.dispose();
  });

  it('ignores events it has already seen (by seq)', async () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const run = c.execute('a');
    const ev = events(run.id, 1);
    socket.serverSend(ev[0]);
    socket.serverSend(ev[1]);
    socket.serverSend(ev[0]); // replayed
    socket.serverClose();
    jest.advanceTimersByTime(c.backoffDelay(0));
    FakeSocket.last.serverWelcome(6);
    expect(FakeSocket.last.sent[0]).toEqual({ type: 'resume', lastSeq: 2 });
    ev.slice(1).forEach(e => FakeSocket.last.serverSend(e)); // seq 2 again, then the rest
    await run.done;
    expect(await collect(run.events)).toEqual([
      'queued',
      'expressions',
      'running',
      'stream',
      'result',
      'complete'
    ]);
    c.dispose();
  });

  it('ends executions from a resync snapshot', async () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const finished = c.execute('a');
    const running = c.execute('b');
    const gone = c.execute('c');
    const sub = c.subscribe();
    const exec = (id: string, status: string) => ({
      executionId: id,
      status,
      scriptName: null,
      expressions: [],
      results: {}
    });
    socket.serverSend({
      type: 'resync',
      sessionId: 's',
      kernel: { name: 'python3', state: 'busy' },
      lastSeq: 500,
      queue: [],
      current: running.id,
      executions: [exec(finished.id, 'error'), exec(running.id, 'running')]
    });
    expect(c.lastSeq).toBe(500);
    expect(c.kernelState).toBe('busy');
    await expect(finished.done).resolves.toMatchObject({ status: 'error' });
    await expect(gone.done).resolves.toMatchObject({ status: 'lost' });
    expect(running.status).toBe('running');
    expect((await sub.next()).value).toMatchObject({
      type: 'resync',
      lastSeq: 500
    });
    c.dispose();
    await expect(running.done).resolves.toMatchObject({ status: 'closed' });
  });

  it('ends rejected and busy requests', async () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const rejected = c.execute('a');
    const busy = c.execute('b', { whenBusy: 'reject' });
    socket.serverSend({
      type: 'error',
      code: 'queue-full',
      message: 'full',
      executionId: rejected.id
    });
    socket.serverSend({ type: 'busy', executionId: busy.id });
    await expect(rejected.done).resolves.toMatchObject({
      status: 'rejected',
      error: { code: 'queue-full' }
    });
    await expect(busy.done).resolves.toMatchObject({ status: 'busy' });
    c.dispose();
  });

  it('cancels, interrupts and resets through frames', () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const run = c.execute('a');
    run.cancel();
    c.interrupt();
    c.reset();
    expect(socket.sent.slice(2)).toEqual([
      { type: 'cancel', executionId: run.id },
      { type: 'interrupt' },
      { type: 'reset' }
    ]);
    c.dispose();
  });

  it('answers getState with the state reply', async () => {
    const c = client();
    const socket = FakeSocket.last;
    socket.serverWelcome(0);
    const state = c.getState();
    await flush();
    expect(socket.sentOfType('get-state').length).toBe(1);
    socket.serverSend({
      type: 'state',
      session: { sessionId: 's', lastSeq: 0, executions: [] }
    });
    await expect(state).resolves.toMatchObject({ sessionId: 's' });
    c.dispose();
  });
});
