/**
 * The pdit view of a `.py` file: JupyterLab's code editor on the left, each statement's
 * outputs on the right level with its first line (below its last line when the view is
 * narrow), fed by the gateway session of the file.
 */
import { ChangeSet, Text } from '@codemirror/state';
import { EditorView, ViewUpdate } from '@codemirror/view';
import { CodeEditor, CodeEditorWrapper } from '@jupyterlab/codeeditor';
import { CodeMirrorEditor } from '@jupyterlab/codemirror';
import {
  ABCWidgetFactory,
  DocumentRegistry,
  DocumentWidget
} from '@jupyterlab/docregistry';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { Toolbar } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import {
  ISignal as ILuminoSignal,
  Signal as LuminoSignal
} from '@lumino/signaling';
import {
  ClientEvent,
  ConnectionState,
  IPditClientOptions,
  KernelState,
  PditClient
} from './client';
import { IStatement, OutputModel } from './model';
import { renderItem } from './render';
import { compareSources, findSources, refineChanges } from './sources';
import { optionsFromServerSettings } from './settings';
import { sessionIdForPath } from './sessionid';
import {
  anchorField,
  currentSpacers,
  dropAnchors,
  IAnchor,
  ISpacer,
  layoutExtension,
  lineStatesExtension,
  mapAnchor,
  setAnchors,
  setLineStates,
  setSlots,
  setSpacers,
  slotsExtension
} from './slots';

/** Below this width (px) outputs go under their statement instead of beside it. */
export const NARROW_WIDTH = 640;
/** Room (px) kept under an output that is taller than its statement's lines. */
const GAP = 4;
/** Where the code/output split is remembered (the editor's share of the width). */
export const SPLIT_STORAGE_KEY = 'pdit-gateway:split';
/** The editor's share of the width: the default, and the bounds of the drag handle. */
const SPLIT_DEFAULT = 0.55;
const SPLIT_MIN = 0.15;
const SPLIT_MAX = 0.85;

/** An execution this view sent: the document then, and every change made since. */
interface IPendingExecution {
  doc: Text;
  changes: ChangeSet;
}

interface IRenderedStatement {
  node: HTMLElement;
  status: HTMLElement;
  version: number;
  items: { item: unknown; node: HTMLElement; dispose: () => void }[];
  /** The box answering the statement's `input()`, while it waits. */
  input?: HTMLElement;
  /** The answers given to the statement's `input()`, as a terminal would show them. */
  answers?: HTMLElement;
}

export namespace PditView {
  export interface IOptions {
    context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>;
    rendermime: IRenderMimeRegistry;
    editorFactory: CodeEditor.Factory;
    serverSettings: ServerConnection.ISettings;
    /** Extra client options (tests, timing). */
    clientOptions?: Partial<IPditClientOptions>;
  }
}

export class PditView extends Panel {
  constructor(options: PditView.IOptions) {
    super();
    this.addClass('jp-pdit-View');
    this._context = options.context;
    this._rendermime = options.rendermime;
    this._serverSettings = options.serverSettings;
    this._clientOptions = options.clientOptions ?? {};
    this._context.model.mimeType = 'text/x-ipython';
    this._editorWidget = new CodeEditorWrapper({
      factory: options.editorFactory,
      model: this._context.model,
      editorOptions: { config: { lineNumbers: true } }
    });
    this._editorWidget.addClass('jp-pdit-editor');
    this._outputs = new Widget();
    this._outputs.addClass('jp-pdit-outputs');
    this._handle = new Widget();
    this._handle.addClass('jp-pdit-splitHandle');
    this.addWidget(this._editorWidget);
    this.addWidget(this._handle);
    this.addWidget(this._outputs);
    this._setUpHandle();
    const cm = this._editorWidget.editor as CodeMirrorEditor;
    cm.injectExtension(slotsExtension(() => this._scheduleLayout()));
    cm.injectExtension(lineStatesExtension());
    cm.injectExtension([
      layoutExtension(),
      EditorView.updateListener.of(update => this._onEditorUpdate(update))
    ]);
    this._model.mapLines = (id, lineStart, lineEnd) =>
      this._mapLines(id, lineStart, lineEnd);
    this._model.changed.connect(() => this._scheduleRender());
    this._resizeObserver = new ResizeObserver(() => this._scheduleLayout());
    this._connect();
    this._context.pathChanged.connect(this._onPathChanged, this);
  }

  get editor(): CodeEditor.IEditor {
    return this._editorWidget.editor;
  }

  get client(): PditClient {
    return this._client!;
  }

  get model(): OutputModel {
    return this._model;
  }

  get sessionId(): string {
    return sessionIdForPath(this._context.path);
  }

  /** Emits when the connection or the kernel state changes. */
  get statusChanged(): ILuminoSignal<this, void> {
    return this._statusChanged;
  }

  get connectionState(): ConnectionState {
    return this._client?.state ?? 'closed';
  }

  get kernelState(): KernelState | null {
    return this._client?.kernelState ?? null;
  }

  /** Run the whole file. */
  runAll(): void {
    this._execute();
  }

  /**
   * Run Changed: the whole file as an incremental rerun (`mode: "changed"`): only the
   * statements an edit may have changed run, the others keep their outputs.
   */
  runChanged(): void {
    this._execute(undefined, 'changed');
  }

  /** Run the statement(s) at the cursor, or overlapping the selection. */
  runCurrent(): void {
    const selection = this.editor.getSelection();
    const from = Math.min(selection.start.line, selection.end.line);
    let to = Math.max(selection.start.line, selection.end.line);
    const end =
      selection.start.line <= selection.end.line
        ? selection.end
        : selection.start;
    if (to > from && end.column === 0) {
      to--; // a selection ending at the start of a line does not take that line
    }
    this._execute({ from: from + 1, to: to + 1 });
  }

  /** Stop the running execution (the queued ones go on). */
  interrupt(): void {
    this._client?.interrupt();
  }

  /** Cancel every queued and running execution of the session. */
  cancel(): void {
    for (const id of this._model.activeExecutions) {
      this._client?.cancel(id);
    }
  }

  /** Cancel everything and restart the kernel (`reset`): the namespace is cleared. */
  restartKernel(): void {
    this._client?.reset();
  }

  /** Clear Outputs: take away the outputs of every statement that is not queued or running. */
  clearOutputs(): void {
    this._model.clearOutputs();
  }

  /** Restart Kernel and Clear: cancel everything, restart the kernel, take every output away. */
  restartAndClear(): void {
    this._client?.reset();
    this._model.clearOutputs(true);
  }

  /** The editor's share of the view's width (the split between code and outputs). */
  get split(): number {
    return this._split;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._disconnect();
    this._resizeObserver.disconnect();
    if (this._frame !== 0) {
      cancelAnimationFrame(this._frame);
    }
    for (const rendered of this._rendered.values()) {
      rendered.items.forEach(item => item.dispose());
    }
    this._rendered.clear();
    super.dispose();
  }

  protected onActivateRequest(msg: Message): void {
    this.editor.focus?.();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._scheduleLayout();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._scheduleLayout();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._scheduleLayout();
  }

  private _execute(
    lineRange?: { from: number; to: number },
    mode?: 'changed'
  ): void {
    if (!this._client) {
      return;
    }
    const script = this._context.model.sharedModel.getSource();
    const doc = this._view.state.doc;
    // the document's path under the server's root: the kernel's __file__ and tracebacks
    const execution = this._client.execute(script, {
      scriptName: this._context.path,
      ...(lineRange ? { lineRange } : {}),
      ...(mode ? { mode } : {})
    });
    // the lines it reports are the script's as sent: follow the edits made until then
    this._sent.add(execution.id);
    this._pending.set(execution.id, {
      doc,
      changes: ChangeSet.empty(doc.length)
    });
    void execution.done.then(() => this._pending.delete(execution.id));
  }

  private get _view(): EditorView {
    return (this._editorWidget.editor as CodeMirrorEditor).editor;
  }

  // -- statements and the edits ------------------------------------------------------

  /** An execution's lines (as sent) → the document's lines now. */
  private _mapLines(
    executionId: string,
    lineStart: number,
    lineEnd: number
  ): { lineStart: number; lineEnd: number; stale: boolean } | null | undefined {
    const pending = this._pending.get(executionId);
    if (pending === undefined) {
      return undefined; // another view's run, or replayed: its lines as they are
    }
    const old = pending.doc;
    const clamp = (n: number) => Math.min(Math.max(n, 1), old.lines);
    const mapped = mapAnchor(pending.changes, {
      from: old.line(clamp(lineStart)).from,
      to: old.line(clamp(lineEnd)).to
    });
    if (mapped.deleted) {
      return null;
    }
    const doc = this._view.state.doc;
    return {
      lineStart: doc.lineAt(mapped.from).number,
      lineEnd: doc.lineAt(mapped.to).number,
      stale: mapped.edited
    };
  }

  /** Edits move outputs with their statements, mark edited ones stale, drop deleted ones. */
  private _onEditorUpdate(update: ViewUpdate): void {
    if (!update.docChanged) {
      return;
    }
    // a reload from disk replaces the whole text: as the line edits it amounts to
    const changes = refineChanges(
      update.changes,
      update.startState.doc,
      update.state.doc
    );
    for (const pending of this._pending.values()) {
      pending.changes = pending.changes.compose(changes);
    }
    const before = update.startState.field(anchorField, false);
    if (!before?.size) {
      return;
    }
    const edited: string[] = [];
    const deleted: string[] = [];
    for (const [key, anchor] of before) {
      const mapped = mapAnchor(changes, anchor);
      if (mapped.deleted) {
        deleted.push(key);
      } else if (mapped.edited) {
        edited.push(key);
      }
    }
    this._model.remove(deleted);
    this._model.markStale(edited);
    this._model.relocate(
      anchorLines(update.state.doc, update.state.field(anchorField))
    );
    this._checkSources();
  }

  /**
   * The text rule: an output whose statement's text (as it ran) is the document's text
   * at its lines now is current, one whose text differs is stale, and one whose lines
   * lie past the document's end goes. Applied after every change of the document and
   * to every statement the events add (a replay after a page reload among them).
   */
  private _checkSources(): void {
    const { edited, gone } = compareSources(
      this._view.state.doc,
      this._model.statements
    );
    this._model.remove(gone);
    this._model.setEdited(edited);
  }

  /** Give each statement shown an anchor (its range in the document), drop the others'. */
  private _syncAnchors(): void {
    const view = this._view;
    const doc = view.state.doc;
    const anchors = view.state.field(anchorField);
    // outputs this view did not send (a replay after a reload, another tab's run) whose
    // text is not at their lines: at the nearest lines that hold it, if any
    const unanchored = this._model.statements.filter(
      st => !anchors.has(st.key)
    );
    const movable = unanchored.filter(st => !this._sent.has(st.executionId));
    if (movable.length > 0) {
      const moving = new Set(movable);
      const fixed = this._model.statements.filter(st => !moving.has(st));
      this._model.relocate(findSources(doc, movable, fixed));
    }
    const statements = this._model.statements;
    const added = new Map<string, IAnchor>();
    const clamp = (n: number) => Math.min(Math.max(n, 1), doc.lines);
    for (const st of statements) {
      if (!anchors.has(st.key)) {
        added.set(st.key, {
          from: doc.line(clamp(st.lineStart)).from,
          to: doc.line(clamp(st.lineEnd)).to
        });
      }
    }
    const keys = new Set(statements.map(st => st.key));
    const dropped = [...anchors.keys()].filter(key => !keys.has(key));
    if (added.size > 0 || dropped.length > 0) {
      view.dispatch({
        effects: [setAnchors.of(added), dropAnchors.of(dropped)]
      });
    }
    // a resync (or a replay from before an edit) may disagree: the anchors are right
    this._model.relocate(anchorLines(doc, view.state.field(anchorField)));
    this._checkSources();
  }

  // -- the session -----------------------------------------------------------------

  private _connect(): void {
    const client = new PditClient({
      ...optionsFromServerSettings(this._serverSettings, this.sessionId),
      // a session this view creates runs its kernel in the document's folder
      path: this._context.path,
      replay: 'all',
      ...this._clientOptions
    });
    this._client = client;
    client.stateChanged.connect(() => this._statusChanged.emit());
    client.kernelStateChanged.connect(() => this._statusChanged.emit());
    client.errorReceived.connect((_, error) =>
      console.warn('pdit:', error.code, error.message)
    );
    const events = client.subscribe();
    this._events = events;
    void (async () => {
      // Outputs are anchored to the document's lines: they wait (in the bounded buffer)
      // until its text has loaded, or a replay after a reload would anchor to an empty one.
      await this._context.ready.catch(() => undefined);
      for await (const event of events) {
        this._model.apply(event as ClientEvent);
      }
    })();
    this._statusChanged.emit();
  }

  private _disconnect(): void {
    void this._events?.return?.();
    this._events = null;
    this._client?.dispose();
    this._client = null;
  }

  private _onPathChanged(): void {
    this._disconnect();
    this._model.clear();
    this._connect();
  }

  // -- rendering ---------------------------------------------------------------------

  private _scheduleRender(): void {
    this._renderPending = true;
    this._scheduleLayout();
  }

  private _scheduleLayout(): void {
    if (this._frame === 0 && !this.isDisposed) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        if (this._renderPending) {
          this._renderPending = false;
          this._syncAnchors();
          this._render();
        }
        this._placeOutputs();
      });
    }
  }

  private _render(): void {
    const statements = this._model.statements;
    const keys = new Set(statements.map(st => st.key));
    // a statement that took over an older one's outputs takes its elements too
    for (const st of statements) {
      const from = st.takenFrom;
      const older = from === undefined ? undefined : this._rendered.get(from);
      if (older && !keys.has(from!) && !this._rendered.has(st.key)) {
        this._rendered.delete(from!);
        this._rendered.set(st.key, older);
        older.node.dataset.pditExecutionId = st.executionId;
        older.version = -1;
      }
    }
    for (const [key, rendered] of this._rendered) {
      if (!keys.has(key)) {
        rendered.items.forEach(item => item.dispose());
        this._resizeObserver.unobserve(rendered.node);
        rendered.node.remove();
        this._rendered.delete(key);
      }
    }
    for (const st of statements) {
      let rendered = this._rendered.get(st.key);
      if (rendered === undefined) {
        rendered = this._createStatementNode(st);
        this._rendered.set(st.key, rendered);
        this._resizeObserver.observe(rendered.node);
      } else if (rendered.version === st.version) {
        continue;
      }
      this._updateStatementNode(st, rendered);
    }
  }

  private _createStatementNode(st: IStatement): IRenderedStatement {
    const node = document.createElement('div');
    node.className = 'jp-pdit-statement';
    this._lineAttributes(node, st);
    node.dataset.pditExecutionId = st.executionId;
    const status = document.createElement('div');
    status.className = 'jp-pdit-status';
    this._lineAttributes(status, st);
    node.appendChild(status);
    return { node, status, version: -1, items: [] };
  }

  private _lineAttributes(node: HTMLElement, st: IStatement): void {
    node.setAttribute('data-pdit-line-start', String(st.lineStart));
    node.setAttribute('data-pdit-line-end', String(st.lineEnd));
  }

  private _updateStatementNode(
    st: IStatement,
    rendered: IRenderedStatement
  ): void {
    rendered.version = st.version;
    const node = rendered.node;
    node.dataset.pditState = st.state;
    node.dataset.pditStale = String(st.stale);
    node.dataset.pditKept = String(st.kept);
    for (const state of ['queued', 'running', 'done', 'error', 'cancelled']) {
      node.classList.toggle(`jp-pdit-mod-${state}`, st.state === state);
    }
    node.classList.toggle('jp-pdit-mod-stale', st.stale);
    node.classList.toggle('jp-pdit-mod-kept', st.kept && !st.stale);
    // the lines follow the edits
    this._lineAttributes(node, st);
    this._lineAttributes(rendered.status, st);
    for (const item of rendered.items) {
      this._lineAttributes(item.node, st);
    }
    node.classList.toggle('jp-pdit-mod-empty', st.outputs.length === 0);
    const lines =
      st.lineStart === st.lineEnd
        ? `line ${st.lineStart}`
        : `lines ${st.lineStart}–${st.lineEnd}`;
    const label: Record<string, string> = {
      queued: 'queued',
      running: 'running…',
      done:
        st.durationMs !== undefined
          ? `${formatDuration(st.durationMs)}`
          : 'done',
      error: 'error',
      cancelled: 'cancelled'
    };
    rendered.status.textContent =
      st.exitCode !== undefined ? `exit ${st.exitCode}` : `${label[st.state]}`;
    rendered.status.title = st.stale
      ? `${lines}: ${st.state}; stale (${staleReason(st)})`
      : st.kept
        ? `${lines}: ${st.state}; kept (unchanged: Run Changed did not run it again)`
        : `${lines}: ${st.state}`;
    // Re-render only the items that changed (a stream delta changes the last one).
    const items = rendered.items;
    for (let i = 0; i < st.outputs.length; i++) {
      const item = st.outputs[i];
      if (items[i]?.item === item) {
        continue;
      }
      const next = { item, ...renderItem(this._rendermime, item) };
      this._lineAttributes(next.node, st);
      if (items[i] !== undefined) {
        items[i].dispose();
        node.replaceChild(next.node, items[i].node);
      } else {
        node.appendChild(next.node);
      }
      items[i] = next;
    }
    for (const extra of items.splice(st.outputs.length)) {
      extra.dispose();
      extra.node.remove();
    }
    this._updateInput(st, rendered);
  }

  /** Show (or take away) the box that answers the statement's `input()`. */
  private _updateInput(st: IStatement, rendered: IRenderedStatement): void {
    if (st.answers?.length) {
      // the prompts and what was typed, as the terminal shows them (a password hidden)
      const answers = rendered.answers ?? document.createElement('pre');
      answers.className = 'jp-pdit-input-answers';
      answers.textContent = st.answers
        .map(a => `${a.prompt}${a.value ?? '••••'}`)
        .join('\n');
      rendered.node.appendChild(answers);
      rendered.answers = answers;
    }
    const request = st.inputRequest;
    if (request === undefined) {
      rendered.input?.remove();
      rendered.input = undefined;
      return;
    }
    if (rendered.input !== undefined) {
      rendered.node.appendChild(rendered.input); // stays below the outputs
      return;
    }
    const form = document.createElement('form');
    form.className = 'jp-pdit-input';
    const label = document.createElement('label');
    label.className = 'jp-pdit-input-prompt';
    label.textContent = request.prompt;
    const box = document.createElement('input');
    box.className = 'jp-pdit-input-box jp-mod-styled';
    box.type = request.password ? 'password' : 'text';
    box.autocomplete = 'off';
    box.setAttribute('aria-label', request.prompt || 'input()');
    label.appendChild(box);
    form.appendChild(label);
    form.addEventListener('submit', event => {
      event.preventDefault();
      this._client?.inputReply(st.executionId, box.value);
      this._model.inputAnswered(st.key, box.value);
    });
    box.addEventListener('keydown', event => {
      // Ctrl-D, as in a terminal: the end of input (input() raises EOFError)
      if (event.key === 'd' && event.ctrlKey) {
        event.preventDefault();
        this._client?.inputReply(st.executionId, null);
        this._model.inputAnswered(st.key);
      }
      event.stopPropagation(); // the editor's and JupyterLab's shortcuts stay out
    });
    rendered.node.appendChild(form);
    rendered.input = form;
    requestAnimationFrame(() => box.focus());
  }

  // -- layout ---------------------------------------------------------------------

  private _placeOutputs(): void {
    if (!this.isAttached || !this.isVisible) {
      return;
    }
    const narrow =
      this.node.clientWidth > 0 && this.node.clientWidth < NARROW_WIDTH;
    this.toggleClass('jp-pdit-mod-narrow', narrow);
    const view = this._view;
    const statements = this._model.statements;
    const doc = view.state.doc;
    const marked = statements.filter(st => st.state !== 'done');
    const lineStates = marked
      .map(st => `${st.lineStart}-${st.lineEnd}:${st.state}`)
      .join(',');
    if (lineStates !== this._lineStates) {
      this._lineStates = lineStates;
      view.dispatch({ effects: setLineStates.of(marked) });
    }
    if (narrow) {
      if (currentSpacers(view.state).length > 0) {
        view.dispatch({ effects: setSpacers.of([]) });
      }
      const slots = statements
        .filter(st => this._rendered.has(st.key))
        .map(st => ({
          pos: doc.line(Math.min(Math.max(st.lineEnd, 1), doc.lines)).to,
          dom: this._rendered.get(st.key)!.node
        }));
      const signature =
        slots.map(s => `${s.pos}`).join(',') + `|${slots.length}`;
      const sameNodes =
        slots.length === this._slotNodes.length &&
        slots.every((s, i) => s.dom === this._slotNodes[i]);
      if (signature !== this._slotSignature || !sameNodes) {
        this._slotSignature = signature;
        this._slotNodes = slots.map(s => s.dom);
        view.dispatch({ effects: setSlots.of(slots) });
      }
      return;
    }
    if (this._slotNodes.length > 0) {
      this._slotSignature = '';
      this._slotNodes = [];
      view.dispatch({ effects: setSlots.of([]) });
    }
    this._placeBeside(view);
  }

  /**
   * The wide layout: each output's top level with its statement's first line. Where
   * outputs are taller than the lines up to the next statement that has one, a spacer
   * after the statement's lines pads the editor by the difference, so the next one can
   * start level with its line too.
   */
  private _placeBeside(view: EditorView): void {
    const column = this._outputs.node;
    const doc = view.state.doc;
    const clamp = (n: number) => Math.min(Math.max(n, 1), doc.lines);
    // statements that overlap (`a = 1; b = 2`) share a line: their outputs stack
    const groups: {
      lineStart: number;
      lineEnd: number;
      nodes: HTMLElement[];
      heights: number[];
    }[] = [];
    for (const st of this._model.statements) {
      const rendered = this._rendered.get(st.key);
      if (!rendered) {
        continue;
      }
      if (rendered.node.parentElement !== column) {
        column.appendChild(rendered.node);
      }
      const height = rendered.node.getBoundingClientRect().height;
      const last = groups[groups.length - 1];
      if (last !== undefined && st.lineStart <= last.lineEnd) {
        last.lineEnd = Math.max(last.lineEnd, st.lineEnd);
        last.nodes.push(rendered.node);
        last.heights.push(height);
      } else {
        groups.push({
          lineStart: st.lineStart,
          lineEnd: st.lineEnd,
          nodes: [rendered.node],
          heights: [height]
        });
      }
    }
    const lineFrom = (n: number) => doc.line(clamp(n)).from;
    const now = currentSpacers(view.state);
    const spacedBetween = (from: number, to: number) =>
      now
        .filter(sp => sp.pos >= from && sp.pos < to)
        .reduce((sum, sp) => sum + sp.height, 0);
    const wanted: ISpacer[] = [];
    for (let k = 0; k + 1 < groups.length; k++) {
      const group = groups[k];
      const next = groups[k + 1];
      const from = lineFrom(group.lineStart);
      const to = lineFrom(next.lineStart);
      // the height of the code from this statement's first line to the next one's
      const code =
        view.lineBlockAt(to).top -
        view.lineBlockAt(from).top -
        spacedBetween(from, to);
      const height = group.heights.reduce((sum, h) => sum + h, 0);
      if (height > code + 0.5) {
        const after = clamp(Math.min(group.lineEnd, next.lineStart - 1));
        wanted.push({
          pos: doc.line(after).to,
          height: Math.ceil(height - code + GAP)
        });
      }
    }
    const same =
      wanted.length === now.length &&
      wanted.every(
        (sp, i) => sp.pos === now[i].pos && sp.height === now[i].height
      );
    if (!same) {
      view.dispatch({ effects: setSpacers.of(wanted) });
    }
    const offset = view.documentTop - column.getBoundingClientRect().top;
    let bottom = 0;
    for (const group of groups) {
      let top = view.lineBlockAt(lineFrom(group.lineStart)).top + offset;
      group.nodes.forEach((node, i) => {
        node.style.top = `${top}px`;
        top += group.heights[i];
      });
      bottom = top;
    }
    column.style.minHeight = `${Math.ceil(bottom)}px`;
  }

  // -- the split between code and outputs -----------------------------------------------

  private _setUpHandle(): void {
    const handle = this._handle.node;
    handle.setAttribute('role', 'separator');
    handle.setAttribute('aria-orientation', 'vertical');
    handle.setAttribute('aria-label', 'Resize the code and the outputs');
    handle.title = 'Drag to resize the code and the outputs';
    handle.tabIndex = 0;
    let stored = NaN;
    try {
      stored = parseFloat(window.localStorage.getItem(SPLIT_STORAGE_KEY) ?? '');
    } catch {
      // no storage (a sandboxed frame): the default split
    }
    this._setSplit(Number.isFinite(stored) ? stored : SPLIT_DEFAULT);
    handle.addEventListener('pointerdown', event => {
      if (event.button !== 0) {
        return;
      }
      event.preventDefault();
      handle.setPointerCapture(event.pointerId);
      this.addClass('jp-pdit-mod-resizing');
    });
    handle.addEventListener('pointermove', event => {
      if (handle.hasPointerCapture(event.pointerId)) {
        const rect = this.node.getBoundingClientRect();
        this._setSplit((event.clientX - rect.left) / rect.width);
      }
    });
    const end = (event: PointerEvent) => {
      if (handle.hasPointerCapture(event.pointerId)) {
        handle.releasePointerCapture(event.pointerId);
      }
      this.removeClass('jp-pdit-mod-resizing');
      this._saveSplit();
    };
    handle.addEventListener('pointerup', end);
    handle.addEventListener('pointercancel', end);
    handle.addEventListener('keydown', event => {
      const step = { ArrowLeft: -0.02, ArrowRight: 0.02 }[event.key];
      if (step !== undefined) {
        event.preventDefault();
        this._setSplit(this._split + step);
        this._saveSplit();
      }
    });
  }

  private _setSplit(fraction: number): void {
    this._split = Math.min(Math.max(fraction, SPLIT_MIN), SPLIT_MAX);
    const percent = Math.round(this._split * 1000) / 10;
    this._editorWidget.node.style.flexBasis = `${percent}%`;
    this._handle.node.setAttribute('aria-valuenow', String(percent));
    this._scheduleLayout();
  }

  private _saveSplit(): void {
    try {
      window.localStorage.setItem(SPLIT_STORAGE_KEY, String(this._split));
    } catch {
      // no storage: the split lasts as long as the view
    }
  }

  private _context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>;
  private _rendermime: IRenderMimeRegistry;
  private _serverSettings: ServerConnection.ISettings;
  private _clientOptions: Partial<IPditClientOptions>;
  private _editorWidget: CodeEditorWrapper;
  private _outputs: Widget;
  private _handle: Widget;
  private _split = SPLIT_DEFAULT;
  private _pending = new Map<string, IPendingExecution>();
  /** The executions this view sent (their lines were mapped through the edits). */
  private _sent = new Set<string>();
  private _model = new OutputModel();
  private _client: PditClient | null = null;
  private _events: AsyncIterableIterator<ClientEvent> | null = null;
  private _rendered = new Map<string, IRenderedStatement>();
  private _resizeObserver: ResizeObserver;
  private _frame = 0;
  private _renderPending = false;
  private _slotSignature = '';
  private _lineStates = '';
  private _slotNodes: HTMLElement[] = [];
  private _statusChanged = new LuminoSignal<this, void>(this);
}

/** Each anchored statement's lines now (1-based, inclusive). */
function anchorLines(
  doc: Text,
  anchors: ReadonlyMap<string, IAnchor>
): Map<string, [number, number]> {
  const lines = new Map<string, [number, number]>();
  for (const [key, anchor] of anchors) {
    lines.set(key, [
      doc.lineAt(anchor.from).number,
      doc.lineAt(anchor.to).number
    ]);
  }
  return lines;
}

/** Why an output is stale, for its label's title. */
function staleReason(st: IStatement): string {
  const reasons = [];
  if (st.earlier) {
    reasons.push('an earlier run’s output: this run will replace it');
  }
  if (st.edited) {
    reasons.push('the code was edited since it ran');
  }
  if (st.restarted) {
    reasons.push('the kernel restarted since it ran');
  }
  return reasons.join('; ');
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The toolbar item that shows the kernel and connection states. */
export class PditStatus extends Widget {
  constructor(private _view: PditView) {
    super();
    this.addClass('jp-pdit-toolbar-status');
    _view.statusChanged.connect(this._update, this);
    this._update();
  }

  private _update(): void {
    const kernel = this._view.kernelState ?? 'unknown';
    const connection = this._view.connectionState;
    this.node.dataset.pditKernelState = kernel;
    this.node.dataset.pditConnectionState = connection;
    this.node.textContent = `Kernel: ${kernel} · ${connection}`;
    this.node.title = `pdit session ${this._view.sessionId}`;
  }
}

export class PditDocumentWidget extends DocumentWidget<
  PditView,
  DocumentRegistry.ICodeModel
> {}

export namespace PditWidgetFactory {
  export interface IOptions extends DocumentRegistry.IWidgetFactoryOptions<PditDocumentWidget> {
    rendermime: IRenderMimeRegistry;
    editorFactory: CodeEditor.Factory;
    serverSettings: ServerConnection.ISettings;
    /** Fills each new widget's toolbar. */
    populateToolbar: (toolbar: Toolbar<Widget>, view: PditView) => void;
  }
}

/** The "pdit" widget factory for Python files. */
export class PditWidgetFactory extends ABCWidgetFactory<
  PditDocumentWidget,
  DocumentRegistry.ICodeModel
> {
  constructor(private _options: PditWidgetFactory.IOptions) {
    super(_options);
  }

  protected createNewWidget(
    context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>
  ): PditDocumentWidget {
    const content = new PditView({
      context,
      rendermime: this._options.rendermime,
      editorFactory: this._options.editorFactory,
      serverSettings: this._options.serverSettings
    });
    const widget = new PditDocumentWidget({ context, content });
    widget.addClass('jp-pdit-DocumentWidget');
    this._options.populateToolbar(widget.toolbar, content);
    return widget;
  }
}
