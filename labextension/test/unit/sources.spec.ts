/**
 * The text rule (an output is current while its statement's text is the document's text
 * at its lines), the line diff behind Reload from Disk, and a changed run's outputs in
 * the model: kept ones stay current, the ones that will run are stale until replaced.
 */
import { ChangeSet, Text } from '@codemirror/state';
import { ClientEvent } from '../../src/client';
import { OutputModel } from '../../src/model';
import { mapAnchor } from '../../src/slots';
import {
  compareSources,
  diffLines,
  findSources,
  linesText,
  refineChanges
} from '../../src/sources';
import { e } from './events';

const doc = (text: string) => Text.of(text.split('\n'));

/** A whole-document replacement, as the shared model's `setSource` makes it. */
function replaceAll(before: Text, after: Text): ChangeSet {
  return ChangeSet.of(
    [
      { from: 0, insert: after.toString() },
      { from: 0, to: before.length }
    ],
    before.length
  );
}

describe('linesText and compareSources', () => {
  const text = doc('a = 1\ndef f():\n    return a\nf()');

  it('joins a statement’s lines with \\n, null past the end', () => {
    expect(linesText(text, 2, 3)).toBe('def f():\n    return a');
    expect(linesText(text, 4, 4)).toBe('f()');
    expect(linesText(text, 4, 9)).toBe('f()'); // clamped to the last line
    expect(linesText(text, 5, 5)).toBeNull();
  });

  it('says per statement whether its text is still there, and which lie past the end', () => {
    const { edited, gone } = compareSources(text, [
      {
        key: 'same',
        lineStart: 2,
        lineEnd: 3,
        source: 'def f():\n    return a'
      },
      { key: 'changed', lineStart: 1, lineEnd: 1, source: 'a = 2' },
      { key: 'unknown', lineStart: 4, lineEnd: 4 },
      { key: 'past', lineStart: 7, lineEnd: 7, source: 'x' }
    ]);
    expect([...edited]).toEqual([
      ['same', false],
      ['changed', true]
    ]);
    expect(gone).toEqual(['past']);
  });
});

describe('findSources', () => {
  it('finds a replayed statement at the nearest free lines that hold its text', () => {
    // two lines were inserted above, and `show()` appears twice
    const text = doc('# one\n# two\nx = 1\nshow()\nif x:\n    y = 2\nshow()');
    const moved = findSources(
      text,
      [
        { key: 'x', lineStart: 1, lineEnd: 1, source: 'x = 1' },
        { key: 'if', lineStart: 3, lineEnd: 4, source: 'if x:\n    y = 2' },
        { key: 'show1', lineStart: 2, lineEnd: 2, source: 'show()' },
        { key: 'show2', lineStart: 5, lineEnd: 5, source: 'show()' },
        { key: 'gone', lineStart: 6, lineEnd: 6, source: 'z = 3' }
      ],
      [{ key: 'here', lineStart: 7, lineEnd: 7, source: 'show()' }]
    );
    expect([...moved]).toEqual([
      ['x', [3, 3]],
      ['if', [5, 6]],
      ['show1', [4, 4]]
      // show2: line 7 holds its text but is taken, and moved as `if` did (+2) it would
      // land there too; `gone`'s text is nowhere, and +2 is past the end
    ]);
    // edited too: it moves as the statement before it moved, stale there
    const edited = findSources(doc('# one\nx = 1\nx + 5\ny'), [
      { key: 'x', lineStart: 1, lineEnd: 1, source: 'x = 1' },
      { key: 'x5', lineStart: 2, lineEnd: 2, source: 'x' }
    ]);
    expect([...edited]).toEqual([
      ['x', [2, 2]],
      ['x5', [3, 3]]
    ]);
    // a statement whose text is at its lines stays
    expect(
      findSources(text, [
        { key: 'x', lineStart: 3, lineEnd: 3, source: 'x = 1' }
      ]).size
    ).toBe(0);
  });
});

describe('diffLines', () => {
  it('finds the lines that differ, in order', () => {
    const a = ['a', 'b', 'c', 'd', 'e'];
    expect(diffLines(a, a)).toEqual([]);
    expect(diffLines(a, ['a', 'c', 'd', 'e'])).toEqual([[1, 2, 1, 1]]);
    expect(diffLines(a, ['a', 'b', 'x', 'c', 'd', 'e'])).toEqual([
      [2, 2, 2, 3]
    ]);
    expect(diffLines(a, ['b', 'c', 'X', 'e', 'f'])).toEqual([
      [0, 1, 0, 0],
      [3, 4, 2, 3],
      [5, 5, 4, 5]
    ]);
    expect(diffLines(['x', 'y'], ['p', 'q', 'r'])).toEqual([[0, 2, 0, 3]]);
  });

  it('gives one hunk when more lines differ than it looks through', () => {
    const a = ['s', '1', 'k', '2', 'k', '3', 'e'];
    const b = ['s', 'x', 'k', 'y', 'k', 'z', 'e'];
    expect(diffLines(a, b, 2)).toEqual([[1, 6, 1, 6]]);
    expect(diffLines(a, b).length).toBe(3);
  });
});

describe('refineChanges: a whole-document replacement as line edits', () => {
  it('leaves other changes as they are', () => {
    const before = doc('x = 1\ny = 2');
    const typed = ChangeSet.of({ from: 5, insert: '0' }, before.length);
    expect(refineChanges(typed, before, typed.apply(before))).toBe(typed);
  });

  it('keeps shared lines in place and gives the same text', () => {
    const cases: [string, string][] = [
      ['x = 100\ny = 2\nprint(y)', 'x = 1\ny = 2\nprint(y)'],
      ['a\nb\nc\nd', 'a\nb'], // shortened
      ['a\nb', 'a\nb\nc\nd'], // lengthened
      ['a\nb\nc', 'b\nc'], // the first line gone
      ['a\nb\nc', 'z\na\nb\nc'], // a line above
      ['a\nb\n', 'a\n'],
      ['one\ntwo\nthree', 'uno\ndos']
    ];
    for (const [from, to] of cases) {
      const before = doc(from);
      const after = doc(to);
      const whole = replaceAll(before, after);
      const refined = refineChanges(whole, before, after);
      expect(refined).not.toBe(whole); // refined, not fallen back to the replacement
      expect(refined.apply(before).toString()).toBe(to);
    }
  });

  it('gives the same text for random edits of random lines', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const words = ['a', 'b', 'c', 'x = 1', '', 'print(a)'];
    for (let round = 0; round < 300; round++) {
      const lines = Array.from({ length: random(8) }, () => words[random(6)]);
      const edited = [...lines];
      for (let k = random(4); k > 0; k--) {
        const at = random(edited.length + 1);
        if (random(2) === 0) {
          edited.splice(at, 1);
        } else {
          edited.splice(at, 0, words[random(6)]);
        }
      }
      const before = Text.of(lines.length ? lines : ['']);
      const after = Text.of(edited.length ? edited : ['']);
      if (before.length === 0) {
        continue; // nothing to replace: not a whole-document change
      }
      const whole = replaceAll(before, after);
      const refined = refineChanges(whole, before, after);
      expect(refined).not.toBe(whole);
      expect(refined.apply(before).toString()).toBe(after.toString());
    }
  });

  it('maps outputs as the edits would: moved, edited, deleted', () => {
    const before = doc('import os\nx = 100\ny = 2\nprint(y)\nz = 3');
    const after = doc('# new\nimport os\nx = 1\ny = 2\nprint(y)');
    const changes = refineChanges(replaceAll(before, after), before, after);
    const anchor = (line: number) => ({
      from: before.line(line).from,
      to: before.line(line).to
    });
    const lineOf = (pos: number) => after.lineAt(pos).number;
    const moved = mapAnchor(changes, anchor(4)); // print(y): one line down
    expect([lineOf(moved.from), moved.edited, moved.deleted]).toEqual([
      5,
      false,
      false
    ]);
    const edited = mapAnchor(changes, anchor(2)); // x = 100 → x = 1
    expect([lineOf(edited.from), edited.edited]).toEqual([3, true]);
    expect(mapAnchor(changes, anchor(5)).deleted).toBe(true); // z = 3 went
    // the whole replacement, unrefined, would have deleted every one
    expect(mapAnchor(replaceAll(before, after), anchor(4)).deleted).toBe(true);
  });
});

/** The events of a run of one-line statements (`lines`), a result each unless `upTo`. */
function expressions(
  executionId: string,
  entries: { line: number; source: string; cached?: boolean }[]
): ClientEvent {
  return e('expressions', {
    executionId,
    expressions: entries.map((x, index) => ({
      index,
      lineStart: x.line,
      lineEnd: x.line,
      source: x.source,
      ...(x.cached ? { cached: true } : {})
    }))
  });
}

function result(
  executionId: string,
  index: number,
  line: number,
  content: string,
  cached = false
): ClientEvent {
  return e('result', {
    executionId,
    index,
    lineStart: line,
    lineEnd: line,
    status: 'ok',
    output: [{ type: 'text/plain', content }],
    durationMs: 1,
    executionCount: 1,
    isInvisible: false,
    ...(cached ? { cached: true } : {})
  });
}

describe('OutputModel: a changed run', () => {
  const view = (model: OutputModel) =>
    model.statements.map(s => [
      s.lineStart,
      s.state,
      s.outputs.map(o => o.content).join(),
      s.stale,
      s.kept
    ]);

  function firstRun(model: OutputModel): void {
    [
      expressions('a', [
        { line: 1, source: 'x = 1' },
        { line: 2, source: 'x' },
        { line: 3, source: 'y' }
      ]),
      result('a', 0, 1, ''),
      result('a', 1, 2, '1'),
      result('a', 2, 3, 'y1'),
      e('complete', { executionId: 'a', status: 'ok', durationMs: 3 })
    ].forEach(event => model.apply(event));
  }

  it('keeps the kept outputs current and dims the ones that will run until they do', () => {
    const model = new OutputModel();
    firstRun(model);
    model.apply(
      expressions('b', [
        { line: 1, source: 'x = 1', cached: true },
        { line: 2, source: 'x + 1' },
        { line: 3, source: 'y', cached: true }
      ])
    );
    // before anything ran: the edited one shows its old output, stale; the others current
    expect(view(model)).toEqual([
      [1, 'done', '', false, true],
      [2, 'queued', '1', true, false],
      [3, 'done', 'y1', false, true]
    ]);
    model.apply(result('b', 0, 1, '', true));
    model.apply(
      e('running', { executionId: 'b', index: 1, lineStart: 2, lineEnd: 2 })
    );
    expect(view(model)[1]).toEqual([2, 'running', '1', true, false]);
    model.apply(
      e('stream', {
        executionId: 'b',
        index: 1,
        lineStart: 2,
        lineEnd: 2,
        name: 'stdout',
        text: 'new'
      })
    );
    // its first output replaces the earlier run's
    expect(view(model)[1]).toEqual([2, 'running', 'new', false, false]);
    model.apply(result('b', 1, 2, '2'));
    model.apply(result('b', 2, 3, 'y1', true));
    model.apply(
      e('complete', { executionId: 'b', status: 'ok', durationMs: 2 })
    );
    expect(view(model)).toEqual([
      [1, 'done', '', false, true],
      [2, 'done', '2', false, false],
      [3, 'done', 'y1', false, true]
    ]);
  });

  it('a kept statement the run did not reach is cancelled and stale', () => {
    const model = new OutputModel();
    firstRun(model);
    [
      expressions('b', [
        { line: 1, source: 'x = 1', cached: true },
        { line: 2, source: '1 / 0' },
        { line: 3, source: 'y', cached: true }
      ]),
      result('b', 0, 1, '', true),
      e('cancelled', {
        executionId: 'b',
        expressions: [{ index: 2, lineStart: 3, lineEnd: 3 }],
        reason: 'error'
      }),
      e('complete', { executionId: 'b', status: 'error', durationMs: 2 })
    ].forEach(event => model.apply(event));
    expect(view(model)[2]).toEqual([3, 'cancelled', 'y1', true, false]);
  });

  it('the text rule: stale while the text differs, current again when it is back', () => {
    const model = new OutputModel();
    firstRun(model);
    const apply = (text: string) => {
      const { edited, gone } = compareSources(doc(text), model.statements);
      model.remove(gone);
      model.setEdited(edited);
    };
    apply('x = 1\nx + 10\ny');
    expect(model.statements.map(s => s.stale)).toEqual([false, true, false]);
    apply('x = 1\nx\ny'); // undone, or reverted on disk
    expect(model.statements.map(s => s.stale)).toEqual([false, false, false]);
    model.apply(e('kernel-status', { state: 'restarting', reason: 'reset' }));
    apply('x = 1\nx\ny'); // equal text does not undo a restart's marks
    expect(model.statements.map(s => s.stale)).toEqual([true, true, true]);
    apply('x = 1'); // shortened: the outputs past the end go
    expect(model.statements.map(s => s.lineStart)).toEqual([1]);
  });
});
