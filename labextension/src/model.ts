/**
 * What the pdit view shows, built from the session's events: each statement's lines,
 * state and outputs. Pure (no DOM, no JupyterLab), so replaying the same events, or
 * applying a `resync` snapshot, gives the same picture.
 */
import {
  ClientEvent,
  ExecutionSnapshot,
  ExpressionInfo,
  FINAL_STATUSES,
  OutputItem,
  ResultEvent,
  SessionSnapshot
} from './client';
import { ISignal, Signal } from '@lumino/signaling';

export type StatementState =
  'queued' | 'running' | 'done' | 'error' | 'cancelled';

export interface IStatement {
  /** `executionId:index`: a new run of the same lines is a new statement. */
  readonly key: string;
  readonly executionId: string;
  readonly index: number;
  /** Lines of the document now (1-based, inclusive): they follow the edits above. */
  lineStart: number;
  lineEnd: number;
  state: StatementState;
  /**
   * What the outputs show is out of date: `edited`, `restarted` or `earlier`. Kept up to
   * date by the model; the view shows it dimmed.
   */
  stale: boolean;
  /** The statement's text as it ran (the gateway's `source`), when known. */
  source?: string;
  /**
   * The document's text at its lines is no longer `source` (without a source: an edit
   * reached its text since it ran).
   */
  edited: boolean;
  /** The kernel restarted since it ran: the namespace its outputs came from is gone. */
  restarted: boolean;
  /** The outputs are an earlier run's, shown until this run's replace them. */
  earlier: boolean;
  /** A `changed` run keeps it: its output is current without running again. */
  kept: boolean;
  /** It is in a run that has not sent its `result` yet (kept statements included). */
  awaiting: boolean;
  /** The older statement whose outputs it took over (the view keeps their elements). */
  takenFrom?: string;
  /** The outputs so far; an item changed by an event is a new object. */
  outputs: OutputItem[];
  durationMs?: number;
  executionCount?: number | null;
  /** Grows on every change. */
  version: number;
  /** `clear_output(wait=True)` received: clear at the next output. */
  pendingClear: boolean;
  /** The statement waits in `input()` for this prompt (cleared by its next output). */
  inputRequest?: { prompt: string; password: boolean };
  /** What this view answered to the statement's `input()` calls (a password as `null`). */
  answers?: { prompt: string; value: string | null }[];
  /** With an `exited` result: the script's exit status. */
  exitCode?: number;
}

interface IExecutionRecord {
  status: string;
  keys: Map<number, string>;
}

/**
 * Where the lines an execution ran are in the document now: `null` when the
 * statement was deleted since, `stale` when it was edited.
 */
export type LineMapper = (
  executionId: string,
  lineStart: number,
  lineEnd: number
) => { lineStart: number; lineEnd: number; stale: boolean } | null | undefined;

export class OutputModel {
  /**
   * Set by the view: an execution's lines (as the script was sent) → the document's
   * lines now. Without it the lines are taken as they are.
   */
  mapLines: LineMapper | null = null;

  /** Emits after each applied event, or call, that changed something. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The statements, ordered by their first line. */
  get statements(): IStatement[] {
    return [...this._statements.values()].sort(
      (a, b) => a.lineStart - b.lineStart || a.lineEnd - b.lineEnd
    );
  }

  statement(key: string): IStatement | undefined {
    return this._statements.get(key);
  }

  /** Ids of executions that are queued or running. */
  get activeExecutions(): string[] {
    return [...this._executions.entries()]
      .filter(([, record]) => !FINAL_STATUSES.has(record.status))
      .map(([id]) => id);
  }

  /** Forget everything (a new session). */
  clear(): void {
    this._statements.clear();
    this._executions.clear();
    this._changed.emit();
  }

  /**
   * Clear Outputs: forget every statement that finished; a queued or running one
   * stays (so its outputs still arrive) unless `includeActive`.
   */
  clearOutputs(includeActive = false): void {
    let changed = false;
    for (const [key, st] of this._statements) {
      if (includeActive || (st.state !== 'queued' && st.state !== 'running')) {
        this._statements.delete(key);
        changed = true;
      }
    }
    if (changed) {
      this._changed.emit();
    }
  }

  /** These statements' code was edited: their outputs are stale until they run again. */
  markStale(keys: Iterable<string>): void {
    this.setEdited(new Map([...keys].map(key => [key, true])));
  }

  /**
   * Whether each statement's text in the document now differs from the text it ran
   * with (the view compares them after every change of the document).
   */
  setEdited(edited: ReadonlyMap<string, boolean>): void {
    let changed = false;
    for (const [key, value] of edited) {
      const st = this._statements.get(key);
      if (st && st.edited !== value) {
        st.edited = value;
        changed = restale(st) || changed;
      }
    }
    if (changed) {
      this._changed.emit();
    }
  }

  /** These statements were deleted from the document: their outputs go. */
  remove(keys: Iterable<string>): void {
    let changed = false;
    for (const key of keys) {
      changed = this._statements.delete(key) || changed;
    }
    if (changed) {
      this._changed.emit();
    }
  }

  /** The statements' lines now (after edits above or inside them). */
  relocate(lines: ReadonlyMap<string, [number, number]>): void {
    let changed = false;
    for (const [key, [lineStart, lineEnd]] of lines) {
      const st = this._statements.get(key);
      if (st && (st.lineStart !== lineStart || st.lineEnd !== lineEnd)) {
        st.lineStart = lineStart;
        st.lineEnd = lineEnd;
        st.version++;
        changed = true;
      }
    }
    if (changed) {
      this._changed.emit();
    }
  }

  /** The user answered the statement's `input()` with `value`: stop asking, keep the answer. */
  inputAnswered(key: string, value: string | null = null): void {
    const st = this._statements.get(key);
    if (st?.inputRequest) {
      const { prompt, password } = st.inputRequest;
      st.answers = [
        ...(st.answers ?? []),
        { prompt, value: password ? null : value }
      ];
      st.inputRequest = undefined;
      st.version++;
      this._changed.emit();
    }
  }

  apply(event: ClientEvent): void {
    if (this._apply(event)) {
      this._changed.emit();
    }
  }

  private _apply(event: ClientEvent): boolean {
    switch (event.type) {
      case 'queued':
        this._record(event.executionId).status = 'queued';
        return true;
      case 'expressions':
        this._record(event.executionId).status = 'running';
        this._start(event.executionId, event.expressions);
        return true;
      case 'running': {
        const st = this._find(event);
        if (st) {
          st.state = 'running';
          if (!st.earlier) {
            st.outputs = []; // an earlier run's stay (stale) until the first new one
          }
          st.pendingClear = false;
          st.version++;
        }
        return st !== undefined;
      }
      case 'input-request': {
        const st = this._find(event);
        if (st) {
          this._dropEarlier(st);
          st.inputRequest = { prompt: event.prompt, password: event.password };
          st.version++;
        }
        return st !== undefined;
      }
      case 'stream': {
        const st = this._find(event);
        if (!st) {
          return false;
        }
        st.inputRequest = undefined;
        this._dropEarlier(st);
        this._applyPendingClear(st);
        const last = st.outputs[st.outputs.length - 1];
        if (last !== undefined && last.type === event.name) {
          st.outputs = [
            ...st.outputs.slice(0, -1),
            { type: event.name, content: last.content + event.text }
          ];
        } else {
          st.outputs = [
            ...st.outputs,
            { type: event.name, content: event.text }
          ];
        }
        st.version++;
        return true;
      }
      case 'display': {
        const displayId = event.displayId ?? event.output.displayId;
        if (event.update) {
          let found = false;
          for (const st of this._statements.values()) {
            if (st.outputs.some(o => o.displayId === displayId)) {
              st.outputs = st.outputs.map(o =>
                o.displayId === displayId ? event.output : o
              );
              st.version++;
              found = true;
            }
          }
          return found;
        }
        const st = this._find(event);
        if (!st) {
          return false;
        }
        this._dropEarlier(st);
        this._applyPendingClear(st);
        st.outputs = [...st.outputs, event.output];
        st.version++;
        return true;
      }
      case 'clear': {
        const st = this._find(event);
        if (!st) {
          return false;
        }
        this._dropEarlier(st);
        if (event.wait) {
          st.pendingClear = true;
        } else {
          st.outputs = [];
          st.version++;
        }
        return true;
      }
      case 'result':
        return this._result(event);
      case 'cancelled': {
        const record = this._executions.get(event.executionId);
        for (const expr of event.expressions) {
          const st = this._statements.get(record?.keys.get(expr.index) ?? '');
          if (st) {
            this._cancel(st);
          }
        }
        return true;
      }
      case 'complete':
        this._end(event.executionId, event.status);
        return true;
      case 'resync':
        this._resync(event);
        return true;
      case 'kernel-status':
        // a new kernel: what the outputs show is no longer in its namespace
        if (event.state === 'restarting') {
          return this._markAllStale();
        }
        return false;
      default:
        return false;
    }
  }

  private _record(executionId: string): IExecutionRecord {
    let record = this._executions.get(executionId);
    if (record === undefined) {
      record = { status: 'queued', keys: new Map() };
      this._executions.set(executionId, record);
    }
    return record;
  }

  private _markAllStale(): boolean {
    let changed = false;
    for (const st of this._statements.values()) {
      st.restarted = true;
      changed = restale(st) || changed;
    }
    return changed;
  }

  /** The statement's first output of this run: the earlier run's go. */
  private _dropEarlier(st: IStatement): void {
    if (st.earlier) {
      st.outputs = [];
      st.earlier = false;
      restale(st);
    }
  }

  /** The run ended before the statement's result: it did not run (or was not reached). */
  private _cancel(st: IStatement): boolean {
    if (st.state !== 'queued' && st.state !== 'running' && !st.awaiting) {
      return false;
    }
    st.state = 'cancelled';
    st.awaiting = false;
    if (st.kept) {
      // not reached: what it shows is the last run's, not this one's
      st.kept = false;
      st.earlier = st.outputs.length > 0;
    }
    restale(st);
    st.version++;
    return true;
  }

  /**
   * A run replaces every output within the lines it runs, from its first statement's
   * first line to its last statement's last line (so Run All leaves no output of an
   * older run behind). A statement at the same lines as an older output takes it over:
   * a kept one (`cached`) as current, one that will run as stale until its own come.
   */
  private _start(executionId: string, expressions: ExpressionInfo[]): void {
    const record = this._record(executionId);
    const placed = [];
    for (const expr of expressions) {
      const lines = this.mapLines?.(executionId, expr.lineStart, expr.lineEnd);
      if (lines === null) {
        continue; // deleted since the script was sent
      }
      placed.push({
        expr,
        ...(lines ?? {
          lineStart: expr.lineStart,
          lineEnd: expr.lineEnd,
          stale: false
        })
      });
    }
    const older = new Map<string, IStatement>();
    if (placed.length > 0) {
      const first = Math.min(...placed.map(p => p.lineStart));
      const last = Math.max(...placed.map(p => p.lineEnd));
      for (const [key, st] of this._statements) {
        if (st.lineStart <= last && first <= st.lineEnd) {
          this._statements.delete(key);
          older.set(`${st.lineStart}:${st.lineEnd}`, st);
        }
      }
    }
    for (const { expr, lineStart, lineEnd, stale } of placed) {
      const key = `${executionId}:${expr.index}`;
      record.keys.set(expr.index, key);
      const old = older.get(`${lineStart}:${lineEnd}`);
      const kept = expr.cached === true;
      const st: IStatement = {
        key,
        executionId,
        index: expr.index,
        lineStart,
        lineEnd,
        state: kept ? 'done' : 'queued',
        stale: false,
        source: expr.source,
        edited: stale,
        restarted: false,
        earlier: !kept && (old?.outputs.length ?? 0) > 0,
        kept,
        awaiting: true,
        outputs: old?.outputs ?? [],
        takenFrom: old?.key,
        durationMs: kept ? old?.durationMs : undefined,
        executionCount: kept ? old?.executionCount : undefined,
        version: 0,
        pendingClear: false
      };
      restale(st);
      this._statements.set(key, st);
    }
  }

  private _find(event: {
    executionId: string;
    index: number;
  }): IStatement | undefined {
    const key = this._executions.get(event.executionId)?.keys.get(event.index);
    return key === undefined ? undefined : this._statements.get(key);
  }

  private _applyPendingClear(st: IStatement): void {
    if (st.pendingClear) {
      st.outputs = [];
      st.pendingClear = false;
    }
  }

  private _result(event: ResultEvent): boolean {
    const st = this._find(event);
    if (!st) {
      return false;
    }
    // a kept statement's result is the output it shows already: the same items stay
    const same =
      event.cached === true &&
      JSON.stringify(st.outputs) === JSON.stringify(event.output);
    if (!same) {
      st.outputs = event.output;
    }
    st.inputRequest = undefined;
    st.kept = event.cached === true;
    st.earlier = false;
    st.awaiting = false;
    restale(st);
    // sys.exit(0) is a success, any other status a failure, as for the process
    st.exitCode = event.exitCode;
    st.state =
      event.status === 'ok' || (event.status === 'exited' && !event.exitCode)
        ? 'done'
        : 'error';
    st.durationMs = event.durationMs;
    st.executionCount = event.executionCount;
    st.pendingClear = false;
    st.version++;
    return true;
  }

  /** The execution ended: what did not run is cancelled. */
  private _end(executionId: string, status: string): void {
    const record = this._record(executionId);
    record.status = status;
    for (const key of record.keys.values()) {
      const st = this._statements.get(key);
      if (st) {
        this._cancel(st);
      }
    }
  }

  private _resync(snapshot: SessionSnapshot): void {
    const before = new Map(this._statements);
    this._statements.clear();
    this._executions.clear();
    for (const execution of snapshot.executions) {
      this._applySnapshot(execution);
    }
    // what this view knew of the statements still shown: their lines now, stale or not
    for (const [key, st] of this._statements) {
      const old = before.get(key);
      if (old !== undefined) {
        st.lineStart = old.lineStart;
        st.lineEnd = old.lineEnd;
        st.edited = st.edited || old.edited;
        st.restarted = st.restarted || old.restarted;
        restale(st);
      }
    }
  }

  private _applySnapshot(execution: ExecutionSnapshot): void {
    const id = execution.executionId;
    this._record(id).status = execution.status;
    if (execution.expressions.length === 0) {
      return;
    }
    this._start(id, execution.expressions);
    for (const result of Object.values(execution.results)) {
      this._result({ ...result, executionId: id });
    }
    if (execution.running) {
      const st = this._find({
        executionId: id,
        index: execution.running.index
      });
      if (st) {
        st.state = 'running';
        st.outputs = execution.running.output;
        st.inputRequest = execution.running.inputRequest;
        st.version++;
      }
    }
    if (FINAL_STATUSES.has(execution.status)) {
      this._end(id, execution.status);
    }
  }

  private _statements = new Map<string, IStatement>();
  private _executions = new Map<string, IExecutionRecord>();
  private _changed = new Signal<this, void>(this);
}

/** Set `stale` from its reasons; whether it changed (then `version` moved on). */
function restale(st: IStatement): boolean {
  const stale = st.edited || st.restarted || st.earlier;
  if (stale === st.stale) {
    return false;
  }
  st.stale = stale;
  st.version++;
  return true;
}
