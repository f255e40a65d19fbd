/**
 * The pdit view's kernel in JupyterLab's model: a session context connected to the
 * jupyter_server session the gateway registers for the document, for the kernel status
 * bar item.
 */
import { SessionContext } from '@jupyterlab/apputils';
import { Kernel, Session } from '@jupyterlab/services';
import { PditDocumentWidget } from './widget';

/** Attempts to find the document's server session after the kernel is up, and their pause (ms). */
const ATTEMPTS = 20;
const PAUSE = 250;

/**
 * A session context that only ever connects to the server session at its path: it never
 * starts, changes or shuts down a kernel itself. The gateway owns the kernel, so a change of
 * kernel asked through it (the status item's kernel dialog) goes to the gateway instead.
 */
export class PditSessionContext extends SessionContext {
  constructor(
    options: SessionContext.IOptions,
    private readonly _changeKernelByName: (name: string) => void
  ) {
    super({
      ...options,
      kernelPreference: {
        shouldStart: false,
        canStart: false,
        autoStartDefault: false,
        shutdownOnDispose: false
      }
    });
  }

  /**
   * Connect to the server session at the document's path, if there is one (another one
   * than the current replaces it). `_initialize` does exactly that: with `canStart` false it
   * starts nothing.
   */
  async connectToPathSession(): Promise<void> {
    await this._initialize();
  }

  /** The gateway changes the kernel (`change-kernel`); a kernel id cannot be adopted. */
  async changeKernel(
    options: Partial<Kernel.IModel> = {}
  ): Promise<Kernel.IKernelConnection | null> {
    if (options.name) {
      this._changeKernelByName(options.name);
    }
    return this.session?.kernel ?? null;
  }

  /** Nothing: the gateway session owns the kernel (Kernel → Shut Down Kernel ends it). */
  async shutdown(): Promise<void> {
    return;
  }
}

/**
 * Keeps a pdit document's session context connected to the server session of its kernel:
 * after the view's kernel is up, and again whenever it may have changed (a new connection,
 * a restart, Change Kernel, Shut Down), once the view's kernel is up again.
 */
export class PditKernelLink {
  constructor(
    sessions: Session.IManager,
    specs: SessionContext.IOptions['specsManager'],
    private readonly _widget: PditDocumentWidget
  ) {
    const path = _widget.context.path;
    this.sessionContext = new PditSessionContext(
      {
        sessionManager: sessions,
        specsManager: specs,
        path,
        name: path.split('/').pop(),
        type: 'file'
      },
      name => _widget.content.client.changeKernel(name)
    );
    this._sessions = sessions;
    // resolves the context's readiness promises; connects at once if the session exists
    this._initialized = this.sessionContext.initialize().then(
      () => undefined,
      err => console.warn('pdit: no session context:', err)
    );
    this.sessionContext.sessionChanged.connect(this._onSessionChanged, this);
    _widget.content.statusChanged.connect(this._onStatus, this);
    _widget.disposed.connect(() => this.dispose());
    this._onStatus();
  }

  readonly sessionContext: PditSessionContext;

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._timer);
    this.sessionContext.dispose();
  }

  private _onSessionChanged(): void {
    if (this.sessionContext.session === null) {
      this._stale = true; // its server session ended (Shut Down): find the next one
    }
  }

  private _onStatus(): void {
    const view = this._widget.content;
    const kernel = view.kernelState;
    if (
      view.connectionState !== 'open' ||
      (kernel !== 'idle' && kernel !== 'busy')
    ) {
      this._stale = true; // a new connection, a restart, a dead or changed kernel
      return;
    }
    if (this._stale && !this._syncing) {
      this._syncing = true;
      void this._sync(0).finally(() => (this._syncing = false));
    }
  }

  /** Connect to the server session whose kernel is the gateway session's kernel. */
  private async _sync(attempt: number): Promise<void> {
    await this._initialized;
    if (this._isDisposed) {
      return;
    }
    let kernelId: string | null | undefined;
    try {
      kernelId = (await this._widget.content.client.getState()).kernel.id;
    } catch {
      return; // the connection went; the next idle tries again
    }
    const current = this.sessionContext.session?.kernel?.id;
    if (current !== undefined && current === kernelId) {
      this._stale = false;
      this._announceState();
      return;
    }
    await this._sessions.refreshRunning();
    const path = this._widget.context.path;
    const model = Array.from(this._sessions.running()).find(
      m => m.path === path && m.kernel?.id === kernelId
    );
    if (model !== undefined) {
      await this.sessionContext.connectToPathSession();
      const kernel = this.sessionContext.session?.kernel;
      if (kernel && kernel.id === kernelId) {
        this._stale = false;
        this._announceState();
        return;
      }
    }
    if (attempt + 1 < ATTEMPTS && !this._isDisposed) {
      // the gateway registers the server session a moment after the kernel is up
      await new Promise<void>(resolve => {
        this._timer = setTimeout(resolve, PAUSE);
      });
      return this._sync(attempt + 1);
    }
  }

  /**
   * Make the kernel connection learn the kernel's state. JupyterLab does not take it from
   * the status messages of the `kernel_info` a new connection sends (an untracked message
   * type); an empty inspection is tracked, and its busy/idle gives the state at once.
   */
  private _announceState(): void {
    const kernel = this.sessionContext.session?.kernel;
    if (kernel && kernel.status === 'unknown') {
      void kernel
        .requestInspect({ code: '', cursor_pos: 0, detail_level: 0 })
        .catch(() => undefined);
    }
  }

  private _sessions: Session.IManager;
  private _initialized: Promise<void>;
  private _isDisposed = false;
  private _stale = true;
  private _syncing = false;
  private _timer: ReturnType<typeof setTimeout> | undefined;
}
