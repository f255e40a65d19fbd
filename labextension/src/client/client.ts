/**
 * The pdit gateway client: one session's event channel, reconnected and resumed.
 *
 * No JupyterLab imports: it runs in a browser (the global `WebSocket`) and in node
 * (pass the `ws` package's `WebSocket` as `options.WebSocket`).
 */
import { EventBuffer } from './buffer';
import {
  BusyReply,
  ClientEvent,
  CompleteReply,
  CompleteStatus,
  ErrorReply,
  ExecuteOptions,
  ExecutionSnapshot,
  FINAL_STATUSES,
  InspectReply,
  isSessionEvent,
  KernelState,
  ResyncReply,
  ServerFrame,
  SessionEvent,
  SessionSnapshot,
  WelcomeReply
} from './protocol';
import { ISignal, Signal } from '@lumino/signaling';

/** The connection's state; `closed` is final (after `dispose()` or too many failed attempts). */

/** What the kernel takes as the end of input: `input()` raises `EOFError`. */
export const END_OF_INPUT = '\u0004';
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The part of the WHATWG `WebSocket` the client uses (browsers and the `ws` package have it). */
export interface IWebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => IWebSocketLike;

export interface IReconnectOptions {
  /** Delay before the first retry, in ms (default 500). */
  initialDelay?: number;
  /** The longest delay between two attempts, in ms (default 10 000). */
  maxDelay?: number;
  /** Growth of the delay per failed attempt (default 2). */
  factor?: number;
  /** Fraction of the delay drawn at random: delay × (1 − jitter × random()) (default 0.5). */
  jitter?: number;
  /** Attempts in a row before the client gives up and is `closed` (default: never gives up). */
  maxAttempts?: number;
}

export interface IPditClientOptions {
  /** The Jupyter server's base URL, e.g. `http://localhost:8888/` (with its base path). */
  baseUrl: string;
  /** The WebSocket base URL (default: `baseUrl` with `http` → `ws`). */
  wsUrl?: string;
  /** The server's token, sent as `?token=`; empty: none (cookie authentication). */
  token?: string;
  /** The session id (`[A-Za-z0-9_.-]{1,128}`); the session is created if it does not exist. */
  sessionId: string;
  /**
   * The document of a session this client creates, relative to the server's root
   * (its kernel starts in the document's folder); an existing session keeps its own.
   */
  path?: string;
  /** The WebSocket class (default: the global one; in node, the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /**
   * What the first connection asks for: `'none'` (default) live events from now on,
   * `'all'` every retained event of the session first (from seq 0, or a `resync`
   * snapshot when the oldest are gone), or a number: the events after that seq.
   */
  replay?: 'none' | 'all' | number;
  /** Milliseconds between application-level `ping` frames (default 15 000; 0 = none). */
  pingInterval?: number;
  /** Milliseconds to wait for the `pong` before the connection counts as lost (default 10 000). */
  pongTimeout?: number;
  /** Milliseconds to wait for `welcome` after a connection attempt starts (default 20 000). */
  connectTimeout?: number;
  reconnect?: IReconnectOptions;
  /** Live-output events each consumer may have waiting (see `EventBuffer`; default 1000). */
  bufferLimit?: number;
  /** Random numbers in [0, 1) for the backoff jitter (tests make it deterministic). */
  random?: () => number;
}

/** How an execution ended, as far as this client knows. */
export type ExecutionFinalStatus =
  | CompleteStatus
  | 'interrupted-by-shutdown'
  /** The server refused the request (`error` reply: duplicate id, queue full, …). */
  | 'rejected'
  /** `whenBusy: "reject"` and the session was busy. */
  | 'busy'
  /** A `resync` snapshot no longer holds the execution. */
  | 'lost'
  /** The client was disposed before the execution ended (it may go on in the server). */
  | 'closed';

export type ExecutionStatus =
  'pending' | 'queued' | 'running' | ExecutionFinalStatus;

export interface IExecutionResult {
  executionId: string;
  status: ExecutionFinalStatus;
  /** From `complete`. */
  durationMs?: number;
  /** The `error` reply of a rejected request. */
  error?: ErrorReply;
  /** The execution in the `resync` snapshot that ended it. */
  snapshot?: ExecutionSnapshot;
}

const CANCEL_ERRORS = new Set(['unknown-execution', 'execution-finished']);

/** One execution requested by this client. */
export class Execution {
  /** The execution's events, in order (an async iterator, one consumer). */
  readonly events: EventBuffer<ClientEvent>;
  /** Resolves once the execution has ended (it never rejects). */
  readonly done: Promise<IExecutionResult>;

  constructor(
    readonly id: string,
    private readonly _client: PditClient,
    bufferLimit: number
  ) {
    this.events = new EventBuffer<ClientEvent>(bufferLimit);
    this.done = new Promise(resolve => {
      this._resolve = resolve;
    });
  }

  get status(): ExecutionStatus {
    return this._status;
  }

  /** Cancel it: removed from the queue, or interrupted while it runs. */
  cancel(): void {
    if (!this._finished) {
      this._client.cancel(this.id);
    }
  }

  /** @internal An event or reply for this execution. */
  _handle(event: ClientEvent): void {
    if (this._finished) {
      return;
    }
    this.events.push(event);
    switch (event.type) {
      case 'queued':
        this._status = 'queued';
        break;
      case 'expressions':
      case 'running':
        this._status = 'running';
        break;
      case 'complete':
        this._finish({
          executionId: this.id,
          status: event.status,
          durationMs: event.durationMs
        });
        break;
      case 'busy':
        this._finish({ executionId: this.id, status: 'busy' });
        break;
      case 'error':
        if (this._status === 'pending' && !CANCEL_ERRORS.has(event.code)) {
          this._finish({
            executionId: this.id,
            status: 'rejected',
            error: event
          });
        }
        break;
    }
  }

  /** @internal A `resync` snapshot replaced the events this client missed. */
  _resync(snapshot: ResyncReply): void {
    if (this._finished) {
      return;
    }
    this.events.push(snapshot);
    const execution = snapshot.executions.find(e => e.executionId === this.id);
    if (execution === undefined) {
      this._finish({ executionId: this.id, status: 'lost' });
    } else if (FINAL_STATUSES.has(execution.status)) {
      this._finish({
        executionId: this.id,
        status: execution.status as ExecutionFinalStatus,
        snapshot: execution
      });
    } else {
      this._status = execution.status as ExecutionStatus;
    }
  }

  /** @internal */
  _finish(result: IExecutionResult): void {
    if (this._finished) {
      return;
    }
    this._finished = true;
    this._status = result.status;
    this.events.end();
    this._resolve(result);
    this._client._forget(this.id);
  }

  private _status: ExecutionStatus = 'pending';
  private _finished = false;
  private _resolve!: (result: IExecutionResult) => void;
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

function checkOptions(options: ExecuteOptions): void {
  const range = options.lineRange;
  if (
    range !== undefined &&
    !(
      Number.isInteger(range.from) &&
      Number.isInteger(range.to) &&
      range.from >= 1 &&
      range.from <= range.to
    )
  ) {
    throw new RangeError('lineRange needs integers 1 ≤ from ≤ to');
  }
  if (options.timeout !== undefined && !(options.timeout >= 0)) {
    throw new RangeError('timeout must be a number ≥ 0');
  }
}

/** The channel URL of a session. */
export function channelUrl(options: IPditClientOptions): string {
  const base = (
    options.wsUrl ?? options.baseUrl.replace(/^http/, 'ws')
  ).replace(/\/+$/, '');
  const url = `${base}/pdit/api/sessions/${encodeURIComponent(options.sessionId)}/channel`;
  const query = [
    ...(options.token ? [`token=${encodeURIComponent(options.token)}`] : []),
    ...(options.path ? [`path=${encodeURIComponent(options.path)}`] : [])
  ];
  return query.length ? `${url}?${query.join('&')}` : url;
}

/**
 * A connection to one session's event channel.
 *
 * It connects at once. A lost connection (socket closed, no `pong` in time, no
 * `welcome` in time) is retried with exponential backoff and jitter, and the
 * stream resumes after the last `seq` this client saw, so nothing is missed or
 * repeated; when the server no longer has those events it sends a `resync`
 * snapshot, which consumers receive as an event.
 */
export class PditClient {
  constructor(options: IPditClientOptions) {
    this._options = options;
    this._url = channelUrl(options);
    const WebSocketClass =
      options.WebSocket ??
      (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new Error(
        'no WebSocket class: pass options.WebSocket (in node, the ws package)'
      );
    }
    this._WebSocket = WebSocketClass;
    this._bufferLimit = options.bufferLimit ?? 1000;
    this.ready = new Promise<WelcomeReply>((resolve, reject) => {
      this._readyResolve = resolve;
      this._readyReject = reject;
    });
    // An unobserved rejection (disposed before the first welcome) is not an error.
    this.ready.catch(() => undefined);
    this._connect();
  }

  /** Resolves with the first `welcome`; rejects if the client closes before it. */
  readonly ready: Promise<WelcomeReply>;

  get sessionId(): string {
    return this._options.sessionId;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Emits each new connection state. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  /** The session's kernel state, from `welcome`, `kernel-status`, `pong` and `resync`. */
  get kernelState(): KernelState | null {
    return this._kernelState;
  }

  get kernelStateChanged(): ISignal<this, KernelState | null> {
    return this._kernelStateChanged;
  }

  /** Emits every `welcome` (one per connection). */
  get welcomed(): ISignal<this, WelcomeReply> {
    return this._welcomed;
  }

  /** Emits every `error` reply (also those routed to an execution). */
  get errorReceived(): ISignal<this, ErrorReply> {
    return this._errorReceived;
  }

  /** The `seq` of the newest session event this client has received. */
  get lastSeq(): number {
    return this._lastSeq;
  }

  /** Executions requested by this client that have not ended. */
  get executions(): ReadonlyMap<string, Execution> {
    return this._executions;
  }

  /**
   * Run a script. The request waits for the connection if it is not open.
   *
   * @returns the execution: its `events`, `cancel()` and `done`
   */
  execute(script: string, options: ExecuteOptions = {}): Execution {
    if (this._state === 'closed') {
      throw new Error('the client is closed');
    }
    checkOptions(options);
    const execution = new Execution(randomId(), this, this._bufferLimit);
    this._executions.set(execution.id, execution);
    this._send({
      ...options,
      type: 'execute',
      executionId: execution.id,
      script
    });
    return execution;
  }

  /**
   * A consumer of every session event (and `resync`, `busy` and `error` replies), from now on.
   * Stop it with `return()` (a `break` out of `for await` does it).
   */
  subscribe(limit = this._bufferLimit): EventBuffer<ClientEvent> {
    const buffer = new EventBuffer<ClientEvent>(limit);
    this._subscribers.add(buffer);
    const stop = buffer.return.bind(buffer);
    buffer.return = () => {
      this._subscribers.delete(buffer);
      return stop();
    };
    if (this._state === 'closed') {
      buffer.end();
    }
    return buffer;
  }

  /** Cancel an execution of the session (any client's). */
  cancel(executionId: string): void {
    this._send({ type: 'cancel', executionId });
  }

  /**
   * Answer the `input-request` of a running statement; `null` is the end of input (the
   * script's `input()` raises `EOFError`).
   */
  inputReply(executionId: string, value: string | null): void {
    this._send({
      type: 'input-reply',
      executionId,
      value: value === null ? END_OF_INPUT : value
    });
  }

  /** Stop the running execution (reason `interrupt`), or interrupt the idle kernel. */
  interrupt(): void {
    this._send({ type: 'interrupt' });
  }

  /** Cancel everything queued and running and restart the kernel (the namespace is cleared). */
  reset(): void {
    this._send({ type: 'reset' });
  }

  /**
   * The kernel's completions at `cursorPos` of `code` (code points, as Jupyter counts).
   * Rejects with the server's `error` (`kernel-unavailable`, `introspection-timeout`, …)
   * or when the connection is lost first.
   */
  complete(
    code: string,
    cursorPos: number = [...code].length
  ): Promise<CompleteReply> {
    return this._introspect({
      type: 'complete',
      code,
      cursorPos
    }) as Promise<CompleteReply>;
  }

  /** What the kernel knows about the name at `cursorPos` (the tooltip, Contextual Help). */
  inspect(
    code: string,
    cursorPos: number = [...code].length,
    detailLevel: 0 | 1 = 0
  ): Promise<InspectReply> {
    return this._introspect({
      type: 'inspect',
      code,
      cursorPos,
      detailLevel
    }) as Promise<InspectReply>;
  }

  /** Restart the session on a kernel of another kernel spec (what runs is cancelled). */
  changeKernel(kernelName: string): void {
    this._send({ type: 'change-kernel', kernelName });
  }

  private _introspect(
    frame: Record<string, unknown>
  ): Promise<CompleteReply | InspectReply> {
    const id = ++this._requestId;
    return new Promise((resolve, reject) => {
      this._requests.set(id, { resolve, reject });
      try {
        this._send({ ...frame, id });
      } catch (err) {
        this._requests.delete(id);
        reject(err);
      }
    });
  }

  private _rejectRequests(reason: string): void {
    const requests = [...this._requests.values()];
    this._requests.clear();
    for (const request of requests) {
      request.reject(new Error(reason));
    }
  }

  /** The session snapshot (`get-state`); rejects if the client closes first. */
  getState(): Promise<SessionSnapshot> {
    return new Promise((resolve, reject) => {
      this._stateWaiters.push({ resolve, reject });
      this._send({ type: 'get-state' });
    });
  }

  /** Close the connection for good: state `closed`; the session and its kernel go on. */
  dispose(): void {
    if (this._state === 'closed') {
      return;
    }
    this._dropSocket(1000, 'client closed');
    this._setState('closed');
    this._readyReject(new Error('the client closed before it connected'));
    for (const execution of [...this._executions.values()]) {
      execution._finish({ executionId: execution.id, status: 'closed' });
    }
    for (const buffer of this._subscribers) {
      buffer.end();
    }
    this._subscribers.clear();
    for (const waiter of this._stateWaiters.splice(0)) {
      waiter.reject(new Error('the client closed'));
    }
    this._rejectRequests('the client closed');
    this._outbox = [];
  }

  /** @internal An execution ended: stop routing to it. */
  _forget(executionId: string): void {
    this._executions.delete(executionId);
  }

  // -- connection -------------------------------------------------------------

  private _connect(): void {
    let socket: IWebSocketLike;
    try {
      socket = new this._WebSocket(this._url);
    } catch (err) {
      console.warn('pdit: cannot open the channel', err);
      this._lost();
      return;
    }
    this._socket = socket;
    this._welcome = null;
    socket.onmessage = event => this._onMessage(socket, event.data);
    socket.onclose = () => {
      if (socket === this._socket) {
        this._lost();
      }
    };
    socket.onerror = () => undefined; // a `close` follows
    this._connectTimer = setTimeout(() => {
      if (socket === this._socket && this._welcome === null) {
        this._lost();
      }
    }, this._options.connectTimeout ?? 20_000);
  }

  /** Stop the timers, stop listening to the socket and close it (if it is not broken). */
  private _dropSocket(code: number, reason: string): void {
    this._clearTimers();
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      this._detach(socket);
      try {
        socket.close(code, reason);
      } catch {
        // closing an already broken socket
      }
    }
  }

  /** The connection is gone: drop the socket and retry after the backoff delay. */
  private _lost(): void {
    if (this._state === 'closed') {
      return;
    }
    this._dropSocket(4000, 'connection lost');
    this._rejectRequests('the connection was lost');
    const backoff = this._options.reconnect ?? {};
    const maxAttempts = backoff.maxAttempts ?? Infinity;
    if (this._attempt >= maxAttempts) {
      this.dispose();
      return;
    }
    // Before the first `welcome` the client is still `connecting`; after, `reconnecting`.
    this._setState(this._everOpen ? 'reconnecting' : 'connecting');
    const delay = this.backoffDelay(this._attempt);
    this._attempt++;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._connect();
    }, delay);
  }

  /** The wait before attempt `attempt + 1` (ms): exponential, capped, with jitter. */
  backoffDelay(attempt: number): number {
    const backoff = this._options.reconnect ?? {};
    const initial = backoff.initialDelay ?? 500;
    const max = backoff.maxDelay ?? 10_000;
    const factor = backoff.factor ?? 2;
    const jitter = Math.min(Math.max(backoff.jitter ?? 0.5, 0), 1);
    const random = this._options.random ?? Math.random;
    const delay = Math.min(max, initial * Math.pow(factor, attempt));
    return delay * (1 - jitter * random());
  }

  private _detach(socket: IWebSocketLike): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = () => undefined;
  }

  private _onMessage(socket: IWebSocketLike, data: unknown): void {
    if (socket !== this._socket) {
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      console.warn('pdit: a frame that is not JSON', data);
      return;
    }
    if (frame.type === 'welcome') {
      this._onWelcome(socket, frame);
      return;
    }
    if (isSessionEvent(frame)) {
      this._onEvent(frame);
      return;
    }
    switch (frame.type) {
      case 'pong':
        this._clearPongTimer();
        this._setKernelState(frame.kernel?.state ?? this._kernelState);
        break;
      case 'resync':
        this._onResync(frame);
        break;
      case 'state':
        if (frame.session) {
          this._stateWaiters.shift()?.resolve(frame.session);
        }
        break;
      case 'busy':
        this._routeReply(frame);
        break;
      case 'complete-reply':
      case 'inspect-reply':
        this._answer(frame.id, frame);
        break;
      case 'error':
        if (frame.id !== undefined && this._requests.has(frame.id as number)) {
          this._answer(frame.id, frame);
          break;
        }
        this._errorReceived.emit(frame);
        this._routeReply(frame);
        break;
    }
  }

  private _onWelcome(socket: IWebSocketLike, welcome: WelcomeReply): void {
    this._welcome = welcome;
    if (this._connectTimer !== null) {
      clearTimeout(this._connectTimer);
      this._connectTimer = null;
    }
    // The server holds the stream until our first frame: make it a `resume`.
    let after: number;
    if (this._everOpen) {
      after = this._lastSeq;
    } else {
      const replay = this._options.replay ?? 'none';
      after =
        replay === 'all' ? 0 : replay === 'none' ? welcome.lastSeq : replay;
      this._lastSeq = after;
    }
    socket.send(JSON.stringify({ type: 'resume', lastSeq: after }));
    const outbox = this._outbox;
    this._outbox = [];
    for (const frame of outbox) {
      socket.send(frame);
    }
    this._everOpen = true;
    this._attempt = 0;
    this._setKernelState(welcome.kernel?.state ?? null);
    this._setState('open');
    this._readyResolve(welcome);
    this._welcomed.emit(welcome);
    this._schedulePing();
  }

  private _onEvent(event: SessionEvent): void {
    if (event.seq <= this._lastSeq) {
      return; // already seen
    }
    this._lastSeq = event.seq;
    if (event.type === 'kernel-status') {
      this._setKernelState(event.state);
    }
    for (const buffer of this._subscribers) {
      buffer.push(event);
    }
    if ('executionId' in event) {
      this._executions.get(event.executionId)?._handle(event);
    }
  }

  private _onResync(snapshot: ResyncReply): void {
    this._lastSeq = snapshot.lastSeq;
    this._setKernelState(snapshot.kernel?.state ?? null);
    for (const buffer of this._subscribers) {
      buffer.push(snapshot);
    }
    for (const execution of [...this._executions.values()]) {
      execution._resync(snapshot);
    }
  }

  private _answer(
    id: unknown,
    reply: CompleteReply | InspectReply | ErrorReply
  ): void {
    const request = this._requests.get(id as number);
    if (request === undefined) {
      return;
    }
    this._requests.delete(id as number);
    if (reply.type === 'error') {
      request.reject(
        Object.assign(new Error(reply.message), { code: reply.code })
      );
    } else {
      request.resolve(reply);
    }
  }

  private _routeReply(reply: BusyReply | ErrorReply): void {
    for (const buffer of this._subscribers) {
      buffer.push(reply);
    }
    if (reply.executionId !== undefined) {
      this._executions.get(reply.executionId)?._handle(reply);
    }
  }

  private _send(frame: Record<string, unknown>): void {
    if (this._state === 'closed') {
      throw new Error('the client is closed');
    }
    const text = JSON.stringify(frame);
    if (this._state === 'open' && this._socket !== null) {
      try {
        this._socket.send(text);
        return;
      } catch {
        this._lost();
      }
    }
    this._outbox.push(text);
  }

  // -- keep-alive ---------------------------------------------------------------

  private _schedulePing(): void {
    const interval = this._options.pingInterval ?? 15_000;
    if (interval <= 0) {
      return;
    }
    this._pingTimer = setTimeout(() => {
      this._pingTimer = null;
      const socket = this._socket;
      if (socket === null || this._state !== 'open') {
        return;
      }
      try {
        socket.send(JSON.stringify({ type: 'ping', id: ++this._pingId }));
      } catch {
        this._lost();
        return;
      }
      this._pongTimer = setTimeout(() => {
        this._pongTimer = null;
        console.warn('pdit: no pong in time, reconnecting');
        this._lost();
      }, this._options.pongTimeout ?? 10_000);
    }, interval);
  }

  private _clearPongTimer(): void {
    if (this._pongTimer !== null) {
      clearTimeout(this._pongTimer);
      this._pongTimer = null;
      this._schedulePing();
    }
  }

  private _clearTimers(): void {
    for (const timer of [
      this._pingTimer,
      this._pongTimer,
      this._retryTimer,
      this._connectTimer
    ]) {
      if (timer !== null) {
        clearTimeout(timer);
      }
    }
    this._pingTimer =
      this._pongTimer =
      this._retryTimer =
      this._connectTimer =
        null;
  }

  private _setState(state: ConnectionState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _setKernelState(state: KernelState | null): void {
    if (state !== this._kernelState) {
      this._kernelState = state;
      this._kernelStateChanged.emit(state);
    }
  }

  private readonly _options: IPditClientOptions;
  private readonly _url: string;
  private readonly _WebSocket: WebSocketConstructor;
  private readonly _bufferLimit: number;
  private _socket: IWebSocketLike | null = null;
  private _welcome: WelcomeReply | null = null;
  private _state: ConnectionState = 'connecting';
  private _kernelState: KernelState | null = null;
  private _everOpen = false;
  private _attempt = 0;
  private _lastSeq = 0;
  private _pingId = 0;
  private _outbox: string[] = [];
  private _executions = new Map<string, Execution>();
  private _subscribers = new Set<EventBuffer<ClientEvent>>();
  private _stateWaiters: {
    resolve: (snapshot: SessionSnapshot) => void;
    reject: (err: Error) => void;
  }[] = [];
  private _requestId = 0;
  private _requests = new Map<
    number,
    {
      resolve: (reply: CompleteReply | InspectReply) => void;
      reject: (err: Error) => void;
    }
  >();
  private _pingTimer: ReturnType<typeof setTimeout> | null = null;
  private _pongTimer: ReturnType<typeof setTimeout> | null = null;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _connectTimer: ReturnType<typeof setTimeout> | null = null;
  private _readyResolve!: (welcome: WelcomeReply) => void;
  private _readyReject!: (err: Error) => void;
  private readonly _stateChanged = new Signal<this, ConnectionState>(this);
  private readonly _kernelStateChanged = new Signal<this, KernelState | null>(
    this
  );
  private readonly _welcomed = new Signal<this, WelcomeReply>(this);
  private readonly _errorReceived = new Signal<this, ErrorReply>(this);
}
