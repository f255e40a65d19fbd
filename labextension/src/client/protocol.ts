/**
 * Types of the pdit gateway protocol, version 1 (docs/protocol.md in the repository).
 */

export type KernelState = 'starting' | 'idle' | 'busy' | 'restarting' | 'dead';

/** The final status of an execution as the server reports it in `complete`. */
export type CompleteStatus =
  'ok' | 'error' | 'cancelled' | 'timeout' | 'kernel-died' | 'exited';

/** A status of an execution in a snapshot. */
export type ExecutionSnapshotStatus =
  'queued' | 'running' | CompleteStatus | 'interrupted-by-shutdown';

export interface LineRange {
  /** First line, 1-based. */
  from: number;
  /** Last line, 1-based, inclusive. */
  to: number;
}

/** The Jupyter output type of an output item (docs/protocol.md, "outputType"). */
export type OutputType = 'stream' | 'display_data' | 'execute_result' | 'error';

export interface OutputItem {
  type: string;
  content: string;
  /**
   * The Jupyter output type of the message the item came from; absent on items from a
   * gateway before the field (and on a lone string's markdown).
   */
  outputType?: OutputType;
  width?: number;
  height?: number;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  displayId?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface ExpressionInfo {
  index: number;
  lineStart: number;
  lineEnd: number;
  /**
   * The statement's lines of the script as sent, joined with `\n` (in `expressions`
   * and snapshots; absent in `cancelled` and from an older gateway).
   */
  source?: string;
  /** A `changed` run keeps this statement: it does not run, its last result is sent again. */
  cached?: boolean;
}

interface Sequenced {
  seq: number;
  ts: string;
}

interface StatementFields extends Sequenced {
  executionId: string;
  index: number;
  lineStart: number;
  lineEnd: number;
}

export interface QueuedEvent extends Sequenced {
  type: 'queued';
  executionId: string;
  position: number;
}
export interface ExpressionsEvent extends Sequenced {
  type: 'expressions';
  executionId: string;
  expressions: ExpressionInfo[];
}
export interface RunningEvent extends StatementFields {
  type: 'running';
}
export interface StreamEvent extends StatementFields {
  type: 'stream';
  name: 'stdout' | 'stderr';
  text: string;
}
export interface DisplayEvent extends StatementFields {
  type: 'display';
  output: OutputItem;
  update: boolean;
  displayId?: string;
}
export interface ClearEvent extends StatementFields {
  type: 'clear';
  wait: boolean;
}
export interface InputRequestEvent extends StatementFields {
  type: 'input-request';
  /** What `input(prompt)` was given. */
  prompt: string;
  /** `getpass`: do not show what is typed. */
  password: boolean;
}
export interface ResultEvent extends StatementFields {
  type: 'result';
  output: OutputItem[];
  isInvisible: boolean;
  /** `exited`: the statement called `sys.exit` (see `exitCode`). */
  status: 'ok' | 'error' | 'exited';
  durationMs: number;
  executionCount: number | null;
  exitCode?: number;
  /** A kept statement of a `changed` run: its last run's result, not run again. */
  cached?: boolean;
}
export interface CancelledEvent extends Sequenced {
  type: 'cancelled';
  executionId: string;
  expressions: ExpressionInfo[];
  reason: string;
}
export interface CompleteEvent extends Sequenced {
  type: 'complete';
  executionId: string;
  status: CompleteStatus;
  durationMs: number;
  /** With status `exited`: python's exit status of the script. */
  exitCode?: number;
}
export interface KernelStatusEvent extends Sequenced {
  type: 'kernel-status';
  state: KernelState;
  reason?: string;
}

/** Events recorded in the session's log: they carry `seq` and go to every client. */
export type SessionEvent =
  | QueuedEvent
  | ExpressionsEvent
  | RunningEvent
  | StreamEvent
  | DisplayEvent
  | ClearEvent
  | InputRequestEvent
  | ResultEvent
  | CancelledEvent
  | CompleteEvent
  | KernelStatusEvent;

/** Events of one statement (they carry `index`, `lineStart`, `lineEnd`). */
export type StatementEvent =
  | RunningEvent
  | StreamEvent
  | DisplayEvent
  | ClearEvent
  | InputRequestEvent
  | ResultEvent;

export interface KernelInfo {
  name: string | null;
  state: KernelState | null;
  id?: string | null;
}

export interface ExecutionSnapshot {
  executionId: string;
  status: ExecutionSnapshotStatus;
  scriptName: string | null;
  expressions: ExpressionInfo[];
  results: Record<string, ResultEvent>;
  createdAt?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  running?: {
    index: number;
    output: OutputItem[];
    inputRequest?: { prompt: string; password: boolean };
  };
  exitCode?: number;
  fromBeforeRestart?: boolean;
}

export interface SessionSnapshot {
  sessionId: string;
  kernel: KernelInfo;
  lastSeq: number;
  queue: string[];
  current: string | null;
  executions: ExecutionSnapshot[];
  fromBeforeRestart?: boolean;
}

export interface WelcomeReply {
  type: 'welcome';
  sessionId: string;
  protocol: number;
  lastSeq: number;
  kernel: KernelInfo;
  executions: {
    executionId: string;
    status: string;
    scriptName: string | null;
  }[];
}
export interface PongReply {
  type: 'pong';
  id: unknown;
  lastSeq: number;
  kernel: { state: KernelState };
}
export interface StateReply {
  type: 'state';
  session?: SessionSnapshot;
  execution?: ExecutionSnapshot;
}
export interface ResyncReply extends SessionSnapshot {
  type: 'resync';
}
export interface BusyReply {
  type: 'busy';
  executionId: string;
}
export interface ErrorReply {
  type: 'error';
  code: string;
  message: string;
  executionId?: string;
  /** The `id` of the `complete`/`inspect` request it answers. */
  id?: unknown;
}

/** The kernel's `complete_reply`, camelCase (`complete` frame). Offsets count code points. */
export interface CompleteReply {
  type: 'complete-reply';
  id: unknown;
  status: string;
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
  metadata: Record<string, unknown>;
}
/** The kernel's `inspect_reply` (`inspect` frame). */
export interface InspectReply {
  type: 'inspect-reply';
  id: unknown;
  status: string;
  found: boolean;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export type Reply =
  | WelcomeReply
  | PongReply
  | StateReply
  | ResyncReply
  | BusyReply
  | ErrorReply
  | CompleteReply
  | InspectReply;

export type ServerFrame = SessionEvent | Reply;

/** What an event consumer receives: session events, plus the replies that concern it. */
export type ClientEvent = SessionEvent | ResyncReply | BusyReply | ErrorReply;

/** Options of `execute` (the `execute` frame's optional fields). */
export interface ExecuteOptions {
  /** Run only the statements overlapping these lines. */
  lineRange?: LineRange;
  scriptName?: string;
  /** Restart the kernel before running. */
  reset?: boolean;
  /** Seconds for the whole execution (0 = none); overrides the server's default. */
  timeout?: number;
  whenBusy?: 'queue' | 'reject';
  /** `changed`: run only what an edit may have changed (an incremental rerun). */
  mode?: 'statements' | 'changed' | 'cell';
  allowErrors?: boolean;
  storeHistory?: boolean;
  /** Whether `input()` asks this client (`input-request`); default: true in statements mode. */
  allowStdin?: boolean;
}

const SESSION_EVENT_TYPES = new Set([
  'queued',
  'expressions',
  'running',
  'stream',
  'display',
  'clear',
  'input-request',
  'result',
  'cancelled',
  'complete',
  'kernel-status'
]);

/** Whether a frame is a session event (it has a `seq`). */
export function isSessionEvent(frame: ServerFrame): frame is SessionEvent {
  return (
    SESSION_EVENT_TYPES.has(frame.type) &&
    typeof (frame as SessionEvent).seq === 'number'
  );
}

/** Live-output events: previews of what the statement's `result` will hold in full. */
export function isLiveOutput(
  event: ClientEvent
): event is StreamEvent | DisplayEvent | ClearEvent {
  return (
    event.type === 'stream' ||
    event.type === 'display' ||
    event.type === 'clear'
  );
}

/** Statuses that end an execution. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'ok',
  'error',
  'cancelled',
  'timeout',
  'kernel-died',
  'exited',
  'interrupted-by-shutdown'
]);
