/**
 * Contextual Help for the pdit view: JupyterLab's inspector, fed by the gateway's
 * `inspect` frame (the session's kernel) instead of a notebook's kernel connection.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IInspector, InspectionHandler } from '@jupyterlab/inspector';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';
import { PditDocumentWidget, PditView } from './widget';

type Connector = InspectionHandler.IOptions['connector'];

/**
 * The inspection handler's connector: `fetch` asks the view's gateway session for the
 * detailed inspection (`detailLevel` 1, as the notebook's `KernelConnector` asks) of the
 * name at the offset. The handler calls nothing else.
 */
export class PditInspectionConnector implements Connector {
  constructor(private readonly _view: PditView) {}

  async fetch(
    request: InspectionHandler.IRequest
  ): Promise<InspectionHandler.IReply | undefined> {
    // the handler's offset counts code points, as the protocol's cursor does
    const reply = await this._view.client.inspect(
      request.text,
      request.offset,
      1
    );
    if (reply.status !== 'ok' || !reply.found) {
      return undefined; // the inspector shows its placeholder
    }
    return {
      data: reply.data as InspectionHandler.IReply['data'],
      metadata: (reply.metadata ?? {}) as InspectionHandler.IReply['metadata']
    };
  }

  async list(): Promise<{
    ids: InspectionHandler.IRequest[];
    values: InspectionHandler.IReply[];
  }> {
    throw new Error('pdit: the inspection connector only fetches');
  }

  async remove(): Promise<void> {
    throw new Error('pdit: the inspection connector only fetches');
  }

  async save(): Promise<void> {
    throw new Error('pdit: the inspection connector only fetches');
  }
}

/**
 * Give each pdit document an inspection handler on its editor, and make it the
 * inspector's source while that document is the main area's current widget.
 *
 * Contextual Help opened again (the Help menu, the command palette: Ctrl+I inside the
 * editor is CodeMirror's) gets a new handler for the last pdit document, which asks at
 * once: JupyterLab's handler does not show again a reply equal to its last one, so the
 * new panel would otherwise stay empty until the cursor reaches another name.
 */
export function addInspection(
  app: JupyterFrontEnd,
  inspector: IInspector,
  rendermime: IRenderMimeRegistry,
  isPdit: (widget: Widget) => widget is PditDocumentWidget
): (widget: PditDocumentWidget) => void {
  const handlers = new WeakMap<PditDocumentWidget, InspectionHandler>();
  let last: PditDocumentWidget | null = null;
  const setSource = (widget: Widget | null) => {
    if (widget !== null && isPdit(widget)) {
      last = widget;
      const handler = handlers.get(widget);
      if (handler !== undefined) {
        inspector.source = handler;
      }
    }
  };
  const attach = (widget: PditDocumentWidget): InspectionHandler => {
    const old = handlers.get(widget);
    const handler = new InspectionHandler({
      connector: new PditInspectionConnector(widget.content),
      rendermime
    });
    handler.editor = widget.content.editor;
    handlers.set(widget, handler);
    if (old !== undefined && inspector.source === old) {
      inspector.source = handler;
    }
    old?.dispose();
    return handler;
  };
  app.shell.currentChanged?.connect((_, args) => setSource(args.newValue));
  void app.restored.then(() => setSource(app.shell.currentWidget));
  app.commands.commandExecuted.connect((_, args) => {
    const opened =
      args.id === 'inspector:open' || args.id === 'inspector:toggle';
    const widget = last;
    if (opened && widget !== null && !widget.isDisposed) {
      void args.result.then(() => {
        if (inspector.source === handlers.get(widget)) {
          attach(widget).onEditorChange();
        }
      });
    }
  });
  return (widget: PditDocumentWidget) => {
    attach(widget);
    widget.disposed.connect(() => {
      handlers.get(widget)?.dispose();
      handlers.delete(widget);
      if (last === widget) {
        last = null;
      }
    });
    if (app.shell.currentWidget === widget) {
      setSource(widget);
    }
  };
}
