/**
 * Outputs that follow their statements: anchors mapped through edits (CodeMirror's
 * `ChangeSet`), and the model's stale, removed, relocated and cleared statements.
 */
import { ChangeSet, Text } from '@codemirror/state';
import { ClientEvent } from '../../src/client';
import { OutputModel } from '../../src/model';
import { mapAnchor } from '../../src/slots';
import { e, st } from './events';

const DOC = Text.of(['x = 1', 'x', 'y = 2', 'y']);
/** The anchor of the statement on `line` (1-based) of DOC. */
const anchorOf = (line: number) => ({
  from: DOC.line(line).from,
  to: DOC.line(line).to
});
const change = (spec: { from: number; to?: number; insert?: string }) =>
  ChangeSet.of(spec, DOC.length);

describe('mapAnchor', () => {
  it('moves with whole lines inserted above, without editing', () => {
    const line2 = anchorOf(2);
    // Enter at the end of line 1, then two lines typed: text starting with a line break
    const mapped = mapAnchor(
      change({ from: DOC.line(1).to, insert: '\n# a\n# b' }),
      line2
    );
    expect(mapped).toEqual({
      from: line2.from + 8,
      to: line2.to + 8,
      edited: false,
      deleted: false
    });
    // Enter at the start of its own line: the line break ends the text inserted
    const enter = mapAnchor(change({ from: line2.from, insert: '\n' }), line2);
    expect(enter.edited).toBe(false);
    expect(enter.from).toBe(line2.from + 1);
  });

  it('is edited by typing inside, at its start or at its end', () => {
    const line3 = anchorOf(3);
    for (const from of [line3.from, line3.from + 2, line3.to]) {
      const mapped = mapAnchor(change({ from, insert: '0' }), line3);
      expect(mapped.edited).toBe(true);
      expect(mapped.deleted).toBe(false);
    }
    const replaced = mapAnchor(
      change({ from: line3.from + 4, to: line3.to, insert: '3' }),
      line3
    );
    expect(replaced.edited).toBe(true);
    // a new line typed below it (a line break first) does not edit it
    const below = mapAnchor(change({ from: line3.to, insert: '\nz' }), line3);
    expect(below.edited).toBe(false);
    expect(below.to).toBe(line3.to);
  });

  it('is deleted when all of its text goes, and untouched by changes elsewhere', () => {
    const line2 = anchorOf(2);
    const whole = mapAnchor(
      change({ from: line2.from, to: line2.to + 1 }),
      line2
    );
    expect(whole.deleted).toBe(true);
    const retyped = mapAnchor(
      change({ from: line2.from, to: line2.to, insert: 'z' }),
      line2
    );
    expect(retyped.deleted).toBe(true);
    const below = mapAnchor(
      change({ from: DOC.line(4).from, to: DOC.line(4).to }),
      line2
    );
    expect(below).toEqual({ ...line2, edited: false, deleted: false });
  });
});

function ran(model: OutputModel, executionId: string, lines: number[]): void {
  const events: ClientEvent[] = [
    e('expressions', {
      executionId,
      expressions: lines.map((line, i) => st(i, line))
    })
  ];
  lines.forEach((line, i) => {
    events.push(
      e('result', {
        executionId,
        ...st(i, line),
        status: 'ok',
        output: [{ type: 'text/plain', content: `${executionId}:${line}` }],
        durationMs: 1,
        executionCount: 1,
        isInvisible: false
      })
    );
  });
  events.push(e('complete', { executionId, status: 'ok', durationMs: 2 }));
  events.forEach(event => model.apply(event));
}

describe('OutputModel: stale, moved, removed and cleared outputs', () => {
  it('marks edited statements stale, moves and removes them, and a rerun replaces', () => {
    const model = new OutputModel();
    ran(model, 'a', [1, 2, 3]);
    let changes = 0;
    model.changed.connect(() => changes++);
    model.markStale(['a:1']);
    model.markStale(['a:1']); // already stale: no change
    expect(changes).toBe(1);
    expect(model.statements.map(s => s.stale)).toEqual([false, true, false]);
    model.relocate(
      new Map<string, [number, number]>([
        ['a:0', [3, 3]],
        ['a:1', [4, 5]],
        ['a:2', [6, 6]]
      ])
    );
    expect(model.statements.map(s => [s.lineStart, s.lineEnd])).toEqual([
      [3, 3],
      [4, 5],
      [6, 6]
    ]);
    model.remove(['a:2']);
    expect(model.statements.map(s => s.key)).toEqual(['a:0', 'a:1']);
    // rerunning line 4 replaces the stale output there, and only that one
    ran(model, 'b', [4]);
    expect(model.statements.map(s => [s.key, s.stale])).toEqual([
      ['a:0', false],
      ['b:0', false]
    ]);
  });

  it('a run replaces every older output within its lines (Run All leaves none behind)', () => {
    const model = new OutputModel();
    ran(model, 'a', [1, 3, 5, 9]);
    ran(model, 'b', [2, 4, 6]);
    // lines 2–6 ran again: 3 and 5 go; 1 and 9 lie outside
    expect(model.statements.map(s => s.key)).toEqual([
      'a:0',
      'b:0',
      'b:1',
      'b:2',
      'a:3'
    ]);
  });

  it("takes the lines an execution ran through the view's mapping", () => {
    const model = new OutputModel();
    model.mapLines = (id, lineStart, lineEnd) =>
      lineStart === 2
        ? null // deleted since it was sent
        : {
            lineStart: lineStart + 10,
            lineEnd: lineEnd + 10,
            stale: lineStart === 3
          };
    ran(model, 'a', [1, 2, 3]);
    expect(
      model.statements.map(s => [s.key, s.lineStart, s.stale, s.outputs.length])
    ).toEqual([
      ['a:0', 11, false, 1],
      ['a:2', 13, true, 1]
    ]);
  });

  it('marks every output stale when the kernel restarts', () => {
    const model = new OutputModel();
    ran(model, 'a', [1, 2]);
    model.apply(e('kernel-status', { state: 'busy' }));
    expect(model.statements.some(s => s.stale)).toBe(false);
    model.apply(e('kernel-status', { state: 'restarting', reason: 'reset' }));
    expect(model.statements.map(s => s.stale)).toEqual([true, true]);
  });

  it('keeps its stale marks and lines through a resync of the same statements', () => {
    const model = new OutputModel();
    ran(model, 'a', [1]);
    model.markStale(['a:0']);
    model.relocate(new Map<string, [number, number]>([['a:0', [7, 7]]]));
    model.apply({
      type: 'resync',
      sessionId: 's',
      kernel: { name: 'python3', state: 'idle' },
      lastSeq: 99,
      queue: [],
      current: null,
      executions: [
        {
          executionId: 'a',
          status: 'ok',
          scriptName: null,
          expressions: [st(0, 1)],
          results: {}
        }
      ]
    } as ClientEvent);
    expect(model.statements.map(s => [s.lineStart, s.stale])).toEqual([
      [7, true]
    ]);
  });

  it('Clear Outputs keeps running statements; with includeActive it takes all', () => {
    const model = new OutputModel();
    ran(model, 'a', [1]);
    model.apply(
      e('expressions', { executionId: 'b', expressions: [st(0, 3)] })
    );
    model.apply(e('running', { executionId: 'b', ...st(0, 3) }));
    model.clearOutputs();
    expect(model.statements.map(s => [s.key, s.state])).toEqual([
      ['b:0', 'running']
    ]);
    model.clearOutputs(true);
    expect(model.statements).toEqual([]);
  });
});
