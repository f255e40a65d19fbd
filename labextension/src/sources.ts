/**
 * Whether an output still belongs to the text beside it: each statement's text as it
 * ran (the gateway's `source`) against the document's lines now, and the line edits a
 * replacement of the whole document (Reload from Disk) amounts to.
 */
import { ChangeSet, ChangeSpec, Text } from '@codemirror/state';

/** A statement's place now and the text it ran with (`source`, when the gateway sent it). */
export interface ISourced {
  key: string;
  lineStart: number;
  lineEnd: number;
  source?: string;
}

/**
 * The document's text of lines `lineStart`–`lineEnd` (1-based, inclusive), joined with
 * `\n` as the gateway joins a statement's `source`; null when `lineStart` is past the end.
 */
export function linesText(
  doc: Text,
  lineStart: number,
  lineEnd: number
): string | null {
  if (lineStart < 1 || lineStart > doc.lines) {
    return null;
  }
  const last = Math.min(Math.max(lineEnd, lineStart), doc.lines);
  return doc.sliceString(doc.line(lineStart).from, doc.line(last).to);
}

/**
 * Compare each statement that has a `source` with the document's text at its lines:
 * `edited` says, per statement, whether the text differs (stale) or is the same
 * (current); `gone` lists the statements whose lines lie past the document's end.
 * Statements without a source are left out of both.
 */
export function compareSources(
  doc: Text,
  statements: Iterable<ISourced>
): { edited: Map<string, boolean>; gone: string[] } {
  const edited = new Map<string, boolean>();
  const gone: string[] = [];
  for (const st of statements) {
    if (st.source === undefined) {
      continue;
    }
    const text = linesText(doc, st.lineStart, st.lineEnd);
    if (text === null) {
      gone.push(st.key);
    } else {
      edited.set(st.key, text !== st.source);
    }
  }
  return { edited, gone };
}

/** A run of lines that differ: `a0`–`a1` of the old text became `b0`–`b1` (0-based, end excluded). */
export type Hunk = [a0: number, a1: number, b0: number, b1: number];

/**
 * The lines that differ between two texts, as hunks in order (Myers' diff over whole
 * lines, after their common first and last lines). When more than `maxEdits` lines
 * differ, the part between the common first and last lines is one hunk.
 */
export function diffLines(a: string[], b: string[], maxEdits = 2000): Hunk[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) {
    pre++;
  }
  let suf = 0;
  while (
    suf < a.length - pre &&
    suf < b.length - pre &&
    a[a.length - 1 - suf] === b[b.length - 1 - suf]
  ) {
    suf++;
  }
  const n = a.length - pre - suf;
  const m = b.length - pre - suf;
  if (n === 0 && m === 0) {
    return [];
  }
  const whole: Hunk[] = [[pre, pre + n, pre, pre + m]];
  if (n === 0 || m === 0) {
    return whole;
  }
  const A = (i: number) => a[pre + i];
  const B = (j: number) => b[pre + j];
  const max = Math.min(n + m, maxEdits);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  search: for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[off + k - 1] < v[off + k + 1])
          ? v[off + k + 1]
          : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && A(x) === B(y)) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break search;
      }
    }
  }
  if (found < 0) {
    return whole;
  }
  // walk back through the trace: the lines matched on the way are the common ones
  const matched: [number, number][] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK =
      k === -d || (k !== d && vd[off + k - 1] < vd[off + k + 1])
        ? k + 1
        : k - 1;
    const prevX = d === 0 ? 0 : vd[off + prevK];
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      matched.push([x, y]);
    }
    x = prevX;
    y = prevY;
  }
  matched.reverse();
  const hunks: Hunk[] = [];
  let ax = 0;
  let by = 0;
  for (const [mx, my] of [...matched, [n, m] as [number, number]]) {
    if (mx > ax || my > by) {
      hunks.push([pre + ax, pre + mx, pre + by, pre + my]);
    }
    ax = mx + 1;
    by = my + 1;
  }
  return hunks;
}

/**
 * A change that replaces the whole document — JupyterLab's Reload from Disk (or a file
 * changed by another program, reloaded) sets the shared model's text at once — rewritten
 * as the edits it amounts to: the lines both texts share stay in place, the lines that
 * differ are replaced, trimmed to the characters that differ. So outputs follow the lines
 * they belong to, as they do through typed edits: lines deleted take their outputs away,
 * a statement whose text changed is edited. Any other change is returned as it is.
 */
export function refineChanges(
  changes: ChangeSet,
  before: Text,
  after: Text
): ChangeSet {
  let whole = false;
  changes.iterChangedRanges((fromA, toA) => {
    if (fromA === 0 && toA === before.length && toA > 0) {
      whole = true;
    }
  });
  if (!whole) {
    return changes;
  }
  // Every line with the line end after it: the texts get one more at their ends, which
  // the trimming below always keeps out of the changes.
  const oldText = before.toString() + '\n';
  const newText = after.toString() + '\n';
  const start = (doc: Text, i: number) =>
    i < doc.lines ? doc.line(i + 1).from : doc.length + 1;
  const specs: ChangeSpec[] = [];
  for (const [a0, a1, b0, b1] of diffLines(before.toJSON(), after.toJSON())) {
    let from = start(before, a0);
    let to = start(before, a1);
    let insertFrom = start(after, b0);
    let insertTo = start(after, b1);
    if (from > before.length || insertFrom > after.length) {
      // lines added (or taken) at the end: from the line end before them
      from--;
      insertFrom--;
    }
    while (
      to > from &&
      insertTo > insertFrom &&
      oldText[to - 1] === newText[insertTo - 1]
    ) {
      to--;
      insertTo--;
    }
    while (
      from < to &&
      insertFrom < insertTo &&
      oldText[from] === newText[insertFrom]
    ) {
      from++;
      insertFrom++;
    }
    specs.push({ from, to, insert: newText.slice(insertFrom, insertTo) });
  }
  try {
    const refined = ChangeSet.of(specs, before.length);
    return refined.apply(before).eq(after) ? refined : changes;
  } catch {
    return changes; // cannot happen with the hunks in order; the replacement then stands
  }
}

/**
 * Where statements whose text is not at their lines are in the document now: for each
 * of `movable` with a `source` that differs from its lines' text, the nearest lines (to
 * where it was) holding exactly that text and taken by no other statement (of `movable`
 * or `fixed`), if any. So outputs replayed after a page reload find their statements
 * again when lines were inserted or deleted above them before the reload. One whose
 * text is nowhere (it was edited too) moves as the nearest statement before it moved
 * (after it, when none before), to free lines, stale there. Returns key →
 * [lineStart, lineEnd] of the ones that move.
 */
export function findSources(
  doc: Text,
  movable: ISourced[],
  fixed: ISourced[] = []
): Map<string, [number, number]> {
  const found = new Map<string, [number, number]>();
  const lost = movable.filter(
    st =>
      st.source !== undefined &&
      linesText(doc, st.lineStart, st.lineEnd) !== st.source
  );
  if (lost.length === 0) {
    return found;
  }
  // the document's lines by their text (only the first lines of the lost statements)
  const wanted = new Set(lost.map(st => st.source!.split('\n')[0]));
  const at = new Map<string, number[]>();
  for (let n = 1; n <= doc.lines; n++) {
    const text = doc.line(n).text;
    if (wanted.has(text)) {
      const lines = at.get(text) ?? [];
      lines.push(n);
      at.set(text, lines);
    }
  }
  const lostSet = new Set(lost);
  const taken = new Set(
    [...fixed, ...movable.filter(st => !lostSet.has(st))].map(
      st => st.lineStart
    )
  );
  for (const st of lost) {
    const source = st.source!;
    const count = source.split('\n').length;
    const candidates = (at.get(source.split('\n')[0]) ?? [])
      .filter(
        n =>
          !taken.has(n) &&
          linesText(doc, n, n + count - 1) === source &&
          n + count - 1 <= doc.lines
      )
      .sort(
        (a, b) =>
          Math.abs(a - st.lineStart) - Math.abs(b - st.lineStart) || a - b
      );
    if (candidates.length > 0) {
      const n = candidates[0];
      taken.add(n);
      found.set(st.key, [n, n + count - 1]);
    }
  }
  // how far each movable statement that was placed moved (0: its text is at its lines)
  const moves = movable
    .filter(
      st => st.source !== undefined && (!lostSet.has(st) || found.has(st.key))
    )
    .map(st => ({
      line: st.lineStart,
      delta: (found.get(st.key)?.[0] ?? st.lineStart) - st.lineStart
    }))
    .sort((a, b) => a.line - b.line);
  for (const st of lost) {
    if (found.has(st.key) || moves.length === 0) {
      continue;
    }
    const before = moves.filter(m => m.line < st.lineStart);
    const delta = (before.length > 0 ? before[before.length - 1] : moves[0])
      .delta;
    const start = st.lineStart + delta;
    const end = st.lineEnd + delta;
    if (delta !== 0 && start >= 1 && end <= doc.lines && !taken.has(start)) {
      taken.add(start);
      found.set(st.key, [start, end]);
    }
  }
  return found;
}
