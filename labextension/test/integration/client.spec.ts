/**
 * The client against a real pdit-gateway and real kernels (started by the test).
 */
import WebSocket from 'ws';
import {
  ClientEvent,
  ConnectionState,
  IWebSocketLike,
  PditClient,
  ResultEvent,
  StreamEvent
} from '../../src/client';
import { IGateway, startGateway } from './gateway';

let gateway: IGateway;
const sockets: WebSocket[] = [];

/** `ws`'s WebSocket, remembered so a test can break the connection. */
class TrackedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
}

let counter = 0;
function client(extra: Record<string, unknown> = {}): PditClient {
  return new PditClient({
    baseUrl: gateway.baseUrl,
    token: gateway.token,
    sessionId: `it-${process.pid}-${++counter}`,
    WebSocket: TrackedWebSocket as unknown as new (
      url: string
    ) => IWebSocketLike,
    reconnect: { initialDelay: 100, maxDelay: 1000 },
    ...extra
  });
}

async function collect(
  events: AsyncIterable<ClientEvent>
): Promise<ClientEvent[]> {
  const out: ClientEvent[] = [];
  for await (const event of events) {
    out.push(event);
  }
  return out;
}

function waitForState(c: PditClient, state: ConnectionState): Promise<void> {
  return new Promise(resolve => {
    if (c.state === state) {
      resolve();
      return;
    }
    const check = (_: PditClient, s: ConnectionState) => {
      if (s === state) {
        c.stateChanged.disconnect(check);
        resolve();
      }
    };
    c.stateChanged.connect(check);
  });
}

beforeAll(async () => {
  gateway = await startGateway();
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
});

describe('PditClient against pdit-gateway', () => {
  it('runs a script: results, stdout, HTML and an error, in statement order', async () => {
    const c = client();
    await c.ready;
    expect(c.state).toBe('open');
    const script = [
      'x = 40 + 2',
      'x',
      'print("hello")',
      'from IPython.display import HTML',
      'HTML("<table><tr><td>1</td></tr></table>")',
      '1 / 0',
      'print("never")'
    ].join('\n');
    const run = c.execute(script, { scriptName: 'demo.py' });
    const events = await collect(run.events);
    const result = await run.done;
    expect(result.status).toBe('error');
    const results = events.filter((e): e is ResultEvent => e.type === 'result');
    expect(results.map(r => [r.lineStart, r.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
      [4, 'ok'],
      [5, 'ok'],
      [6, 'error']
    ]);
    expect(results[1].output).toEqual([
      { type: 'text/plain', content: '42', outputType: 'execute_result' }
    ]);
    expect(results[2].output).toEqual([
      { type: 'stdout', content: 'hello\n', outputType: 'stream' }
    ]);
    expect(results[4].output[0].type).toBe('text/html');
    expect(results[5].output[0]).toMatchObject({
      type: 'error',
      ename: 'ZeroDivisionError'
    });
    const cancelled = events.find(e => e.type === 'cancelled');
    expect(cancelled).toMatchObject({
      reason: 'error',
      expressions: [{ lineStart: 7 }]
    });
    expect(events[events.length - 1]).toMatchObject({
      type: 'complete',
      status: 'error'
    });
    c.dispose();
  });

  it('routes two executions and shows them to a second client of the session', async () => {
    const a = client();
    await a.ready;
    const b = new PditClient({
      baseUrl: gateway.baseUrl,
      token: gateway.token,
      sessionId: a.sessionId,
      WebSocket: WebSocket as unknown as new (url: string) => IWebSocketLike
    });
    await b.ready;
    const watch = b.subscribe();
    const first = a.execute('print("one")');
    const second = a.execute('print("two")');
    const [e1, e2] = await Promise.all([
      collect(first.events),
      collect(second.events)
    ]);
    const text = (events: ClientEvent[]) =>
      events
        .filter((e): e is StreamEvent => e.type === 'stream')
        .map(e => e.text)
        .join('');
    expect(text(e1)).toBe('one\n');
    expect(text(e2)).toBe('two\n');
    expect(
      e1.every(e => !('executionId' in e) || e.executionId === first.id)
    ).toBe(true);
    const seen: ClientEvent[] = [];
    for await (const event of watch) {
      seen.push(event);
      if (event.type === 'complete' && event.executionId === second.id) {
        break;
      }
    }
    expect(seen.filter(e => e.type === 'complete').length).toBe(2);
    a.dispose();
    b.dispose();
  });

  it('resumes after a network blip: the running script arrives whole', async () => {
    const c = client();
    await c.ready;
    const states: ConnectionState[] = [];
    c.stateChanged.connect((_, s) => states.push(s));
    const run = c.execute(
      'import time\nfor i in range(30):\n    print(i, flush=True)\n    time.sleep(0.05)\n"done"'
    );
    const out: ClientEvent[] = [];
    let broken = false;
    for await (const event of run.events) {
      out.push(event);
      if (!broken && event.type === 'stream') {
        broken = true;
        sockets[sockets.length - 1].terminate(); // the TCP connection dies
      }
    }
    expect((await run.done).status).toBe('ok');
    expect(states).toEqual(['reconnecting', 'open']);
    const printed = out
      .filter((e): e is StreamEvent => e.type === 'stream')
      .map(e => e.text)
      .join('');
    expect(printed).toBe(
      Array.from({ length: 30 }, (_, i) => `${i}\n`).join('')
    );
    const seqs = out.map(e => (e as { seq: number }).seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    c.dispose();
  });

  it('cancels a running execution', async () => {
    const c = client();
    await c.ready;
    const run = c.execute(
      'import time\nfor i in range(100):\n    time.sleep(0.1)'
    );
    for await (const event of run.events) {
      if (event.type === 'running') {
        run.cancel();
      }
    }
    expect((await run.done).status).toBe('cancelled');
    c.dispose();
  });

  it('replays a session from the start for a client that asks for it', async () => {
    const a = client();
    await a.ready;
    await a.execute('21 * 2').done;
    const b = new PditClient({
      baseUrl: gateway.baseUrl,
      token: gateway.token,
      sessionId: a.sessionId,
      WebSocket: WebSocket as unknown as new (url: string) => IWebSocketLike,
      replay: 'all'
    });
    const seen: ClientEvent[] = [];
    for await (const event of b.subscribe()) {
      seen.push(event);
      if (event.type === 'complete') {
        break;
      }
    }
    const result = seen.find((e): e is ResultEvent => e.type === 'result');
    expect(result?.output).toEqual([
      { type: 'text/plain', content: '42', outputType: 'execute_result' }
    ]);
    a.dispose();
    b.dispose();
  });

  it('keeps the connection with application pings', async () => {
    // a pong timeout shorter than the pings watched: without the pongs the client
    // would drop this socket and reconnect before the sixth one
    const c = client({ pingInterval: 100, pongTimeout: 300 });
    await c.ready;
    await new Promise<void>(resolve => {
      const check = () => c.kernelState === 'idle' && resolve();
      c.kernelStateChanged.connect(check);
      check();
    });
    const socket = sockets[sockets.length - 1];
    const pings: unknown[] = [];
    const send = socket.send.bind(socket);
    socket.send = ((data: string) => {
      const frame = JSON.parse(data);
      if (frame.type === 'ping') {
        pings.push(frame.id);
      }
      send(data);
    }) as typeof socket.send;
    const states: ConnectionState[] = [];
    c.stateChanged.connect((_, s) => states.push(s));
    const started = Date.now();
    const pongs = await new Promise<unknown[]>(resolve => {
      const ids: unknown[] = [];
      socket.on('message', data => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'pong' && ids.push(frame.id) === 6) {
          resolve(ids);
        }
      });
    });
    expect(Date.now() - started).toBeGreaterThan(300);
    expect(pings.length).toBeGreaterThanOrEqual(6);
    expect(pongs).toEqual(pings.slice(0, 6)); // each ping answered, in order
    expect(states).toEqual([]);
    expect(c.state).toBe('open');
    expect(sockets[sockets.length - 1]).toBe(socket); // no new connection
    c.dispose();
    await waitForState(c, 'closed');
  });

  it('reports a rejected token by retrying, and closes after maxAttempts', async () => {
    const c = new PditClient({
      baseUrl: gateway.baseUrl,
      token: 'wrong',
      sessionId: 'it-forbidden',
      WebSocket: WebSocket as unknown as new (url: string) => IWebSocketLike,
      reconnect: { initialDelay: 10, maxAttempts: 1 }
    });
    await expect(c.ready).rejects.toThrow();
    expect(c.state).toBe('closed');
  });
});
