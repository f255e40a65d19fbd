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
 */
export function addInspection(
  app: JupyterFrontEnd,
  inspector: IInspector,
  rendermime: IRenderMimeRegistry,
  isPdit: (widget: Widget) => widget is PditDocumentWidget
): (widget: PditDocumentWidget) => void {
  const handlers = new WeakMap<PditDocumentWidget, InspectionHandler>();
  const setSource = (widget: Widget | null) => {
    if (widget !== null && isPdit(widget)) {
      const handler = handlers.get(widget);
      if (handler !== undefined) {
        inspector.source = handler;
      }
    }
  };
  app.shell.currentChanged?.connect((_, args) => setSource(args.newValue));
  void app.restored.then(() => setSource(app.shell.currentWidget));
  return (widget: PditDocumentWidget) => {
    const handler = new InspectionHandler({
      connector: new PditInspectionConnector(widget.content),
      rendermime
    });
    handler.editor = widget.content.editor;
    handlers.set(widget, handler);
    widget.disposed.connect(() => {
      handlers.delete(widget);
      handler.dispose();
    });
    if (app.shell.currentWidget === widget) {
      setSource(widget);
    }
  };
}
