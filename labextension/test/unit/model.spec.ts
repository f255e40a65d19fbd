import { ClientEvent } from '../../src/client';
import { OutputModel } from '../../src/model';
import { sessionIdForPath } from '../../src/sessionid';
import { e, st, TS } from './events';

function run(model: OutputModel, events: ClientEvent[]): void {
  events.forEach(event => model.apply(event));
}

describe('OutputModel', () => {
  it('builds statements from events: stream, display update, clear, result, cancelled', () => {
    const model = new OutputModel();
    let changes = 0;
    model.changed.connect(() => changes++);
    run(model, [
      e('queued', { position: 0 }),
      e('expressions', { expressions: [st(0, 1), st(1, 3), st(2, 5)] }),
      e('running', st(0, 1)),
      e('stream', { ...st(0, 1), name: 'stdout', text: 'a' }),
      e('stream', { ...st(0, 1), name: 'stdout', text: 'b' }),
      e('display', {
        ...st(0, 1),
        update: false,
        output: { type: 'text/plain', content: 'v1', displayId: 'd' }
      }),
      e('display', {
        ...st(0, 1),
        update: true,
        displayId: 'd',
        output: { type: 'text/plain', content: 'v2', displayId: 'd' }
      })
    ]);
    const first = model.statements[0];
    expect(first.state).toBe('running');
    expect(first.outputs).toEqual([
      { type: 'stdout', content: 'ab' },
      { type: 'text/plain', content: 'v2', displayId: 'd' }
    ]);
    run(model, [
      e('clear', { ...st(0, 1), wait: true }),
      e('stream', { ...st(0, 1), name: 'stdout', text: 'c' }),
      e('result', {
        ...st(0, 1),
        status: 'ok',
        output: [{ type: 'stdout', content: 'c' }],
        durationMs: 3,
        executionCount: 1,
        isInvisible: false
      }),
      e('running', st(1, 3)),
      e('result', {
        ...st(1, 3),
        status: 'error',
        output: [{ type: 'error', content: 'boom', ename: 'E', evalue: '' }],
        durationMs: 1,
        executionCount: 2,
        isInvisible: false
      }),
      e('cancelled', { expressions: [st(2, 5)], reason: 'error' }),
      e('complete', { status: 'error', durationMs: 5 })
    ]);
    expect(model.statements.map(s => [s.lineStart, s.state])).toEqual([
      [1, 'done'],
      [3, 'error'],
      [5, 'cancelled']
    ]);
    expect(model.statements[0].outputs).toEqual([
      { type: 'stdout', content: 'c' }
    ]);
    expect(model.activeExecutions).toEqual([]);
    expect(changes).toBeGreaterThan(10);
  });

  it('replaces the statements a new run overlaps, and keeps the others', () => {
    const model = new OutputModel();
    run(model, [
      e('expressions', { expressions: [st(0, 1), st(1, 2)] }),
      e('complete', { status: 'ok', durationMs: 1 }),
      e('expressions', { executionId: 'e2', expressions: [st(0, 2)] })
    ]);
    expect(model.statements.map(s => s.key)).toEqual(['e1:0', 'e2:0']);
    expect(model.activeExecutions).toEqual(['e2']);
  });

  it('rebuilds the same picture from a resync snapshot', () => {
    const model = new OutputModel();
    model.apply({
      type: 'resync',
      sessionId: 's',
      kernel: { name: 'python3', state: 'busy' },
      lastSeq: 9,
      queue: [],
      current: 'e1',
      executions: [
        {
          executionId: 'e1',
          status: 'running',
          scriptName: null,
          expressions: [st(0, 1), st(1, 2), st(2, 3)],
          results: {
            '0': {
              type: 'result',
              seq: 3,
              ts: TS,
              executionId: 'e1',
              ...st(0, 1),
              status: 'ok',
              output: [{ type: 'text/plain', content: '1' }],
              durationMs: 1,
              executionCount: 1,
              isInvisible: false
            }
          },
          running: { index: 1, output: [{ type: 'stdout', content: 'so far' }] }
        }
      ]
    });
    expect(
      model.statements.map(s => [
        s.lineStart,
        s.state,
        s.outputs.map(o => o.content)
      ])
    ).toEqual([
      [1, 'done', ['1']],
      [2, 'running', ['so far']],
      [3, 'queued', []]
    ]);
  });
});

describe('sessionIdForPath', () => {
  it('is stable, distinct per path and a valid session id', () => {
    const a = sessionIdForPath('work/analysis.py');
    expect(a).toBe(sessionIdForPath('/work/analysis.py'));
    expect(a).not.toBe(sessionIdForPath('other/analysis.py'));
    expect(a).toMatch(/^lab-analysis\.py-[0-9a-f]{16}$/);
    const odd = sessionIdForPath('dir/ä b?c'.repeat(30) + '.py');
    expect(odd).toMatch(/^[A-Za-z0-9_.-]{1,128}$/);
  });
});
