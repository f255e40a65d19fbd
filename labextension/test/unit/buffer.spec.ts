import { ClientEvent, EventBuffer } from '../../src/client';

let seq = 0;
function ev(type: string, fields: Record<string, unknown> = {}): ClientEvent {
  return {
    type,
    seq: ++seq,
    ts: '2026-01-01T00:00:00.000Z',
    executionId: 'e1',
    index: 0,
    lineStart: 1,
    lineEnd: 1,
    ...fields
  } as unknown as ClientEvent;
}
const stream = (text: string, fields: Record<string, unknown> = {}) =>
  ev('stream', { name: 'stdout', text, ...fields });

async function drain(buffer: EventBuffer): Promise<ClientEvent[]> {
  const out: ClientEvent[] = [];
  for await (const event of buffer) {
    out.push(event);
  }
  return out;
}

describe('EventBuffer', () => {
  it('resolves a waiting next() on push, without timers', async () => {
    const buffer = new EventBuffer();
    const next = buffer.next();
    const event = ev('running');
    buffer.push(event);
    await expect(next).resolves.toEqual({ value: event, done: false });
  });

  it('delivers in order and ends after the waiting events', async () => {
    const buffer = new EventBuffer();
    const events = [ev('queued'), ev('running'), ev('result'), ev('complete')];
    events.forEach(e => buffer.push(e));
    buffer.end();
    buffer.push(ev('complete')); // ignored after end
    expect(await drain(buffer)).toEqual(events);
  });

  it('merges consecutive stream deltas of one statement when the consumer is behind', async () => {
    const buffer = new EventBuffer();
    const first = stream('a');
    buffer.push(first);
    buffer.push(stream('b'));
    buffer.push(stream('c'));
    buffer.push(stream('E', { name: 'stderr' }));
    buffer.push(stream('d'));
    buffer.push(stream('x', { index: 1 }));
    buffer.end();
    const out = (await drain(buffer)) as { text: string; seq: number }[];
    expect(out.map(e => e.text)).toEqual(['abc', 'E', 'd', 'x']);
    expect(out[0].seq).toBe((first as { seq: number }).seq + 2); // the merged event keeps the newest seq
    expect((first as { text: string }).text).toBe('a'); // shared events are not mutated
    expect(buffer.merged).toBe(2);
  });

  it('does not merge what the consumer has already taken', async () => {
    const buffer = new EventBuffer();
    const a = buffer.next();
    buffer.push(stream('a'));
    buffer.push(stream('b'));
    expect(((await a).value as { text: string }).text).toBe('a');
    expect(((await buffer.next()).value as { text: string }).text).toBe('b');
  });

  it('bounds live output and never drops results or status events', async () => {
    const buffer = new EventBuffer(3);
    buffer.push(ev('running'));
    for (let i = 0; i < 10; i++) {
      buffer.push(
        ev('display', { output: { type: 'text/plain', content: `${i}` } })
      );
      buffer.push(stream(`${i}`)); // displays in between: no merging
    }
    buffer.push(ev('result', { output: [] }));
    buffer.push(ev('running', { index: 1 }));
    buffer.push(stream('after', { index: 1 }));
    buffer.push(ev('result', { index: 1, output: [] }));
    buffer.push(ev('complete', { status: 'ok' }));
    buffer.end();
    const out = await drain(buffer);
    const types = out.map(e => e.type);
    expect(types.filter(t => t === 'display' || t === 'stream').length).toBe(3);
    expect(types.filter(t => t === 'result').length).toBe(2);
    expect(types[types.length - 1]).toBe('complete');
    expect(buffer.dropped).toBe(18); // 17 of statement 0 and the one of statement 1
  });

  it('drops the rest of a statement once it dropped one of its events, until its result', async () => {
    const buffer = new EventBuffer(2);
    buffer.push(
      ev('display', { output: { type: 'text/plain', content: '1' } })
    );
    buffer.push(
      ev('display', { output: { type: 'text/plain', content: '2' } })
    );
    buffer.push(ev('clear', { wait: false })); // dropped: over the limit
    expect(await buffer.next()).toMatchObject({ value: { type: 'display' } });
    buffer.push(
      ev('display', { output: { type: 'text/plain', content: '3' } })
    ); // dropped too
    buffer.push(ev('result', { output: [] }));
    buffer.end();
    expect((await drain(buffer)).map(e => e.type)).toEqual([
      'display',
      'result'
    ]);
  });

  it('stops on return() and releases waiting consumers', async () => {
    const buffer = new EventBuffer();
    const waiting = buffer.next();
    await buffer.return();
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
    buffer.push(ev('running'));
    expect(buffer.pending).toBe(0);
  });
});
