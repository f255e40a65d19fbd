/**
 * The pdit view inside JupyterLab's own machinery: the kernel's completions in
 * JupyterLab's completer, the tooltip (Shift+Tab), the main Run, Kernel and File menus,
 * Change Kernel, export of the last run and `# %%` cells.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  CompletionHandler,
  ICompletionContext,
  ICompletionProvider
} from '@jupyterlab/completer';
import { Text, URLExt } from '@jupyterlab/coreutils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { Tooltip } from '@jupyterlab/tooltip';
import { Widget } from '@lumino/widgets';
import { PditDocumentWidget, PditView } from './widget';

/** The view a completion context belongs to, if it is a pdit view. */
function viewOf(widget: Widget | null | undefined): PditView | null {
  if (widget instanceof PditDocumentWidget) {
    return widget.content;
  }
  return widget instanceof PditView ? widget : null;
}

/** Completions from the kernel of the pdit session (the `complete` frame). */
export class PditCompletionProvider implements ICompletionProvider {
  readonly identifier = 'pdit-gateway:kernel';
  readonly name = 'pdit kernel';
  readonly rank = 600;
  readonly renderer = null;

  async isApplicable(context: ICompletionContext): Promise<boolean> {
    return viewOf(context.widget) !== null;
  }

  async fetch(
    request: CompletionHandler.IRequest,
    context: ICompletionContext
  ): Promise<CompletionHandler.ICompletionItemsReply> {
    const view = viewOf(context.widget);
    if (view === null) {
      return { start: request.offset, end: request.offset, items: [] };
    }
    const code = request.text;
    // Jupyter counts code points, JavaScript UTF-16 units
    const cursor = Text.jsIndexToCharIndex(request.offset, code);
    const reply = await view.client.complete(code, cursor);
    const types = (reply.metadata?._jupyter_types_experimental ?? []) as {
      text: string;
      type?: string;
    }[];
    const typeOf = new Map(types.map(t => [t.text, t.type]));
    return {
      start: Text.charIndexToJsIndex(reply.cursorStart, code),
      end: Text.charIndexToJsIndex(reply.cursorEnd, code),
      items: reply.matches.map(label => ({
        label,
        type: typeOf.get(label) ?? undefined
      }))
    };
  }
}

/** The code up to the cursor's offset in the view's editor. */
function codeAndCursor(view: PditView): { code: string; cursor: number } {
  const editor = view.editor;
  const code = editor.model.sharedModel.getSource();
  const offset = editor.getOffsetAt(editor.getCursorPosition());
  return { code, cursor: Text.jsIndexToCharIndex(offset, code) };
}

/** Show the kernel's inspection of the name at the cursor as a tooltip, as a notebook does. */
export async function showTooltip(
  widget: PditDocumentWidget,
  rendermime: IRenderMimeRegistry
): Promise<Tooltip | null> {
  const view = widget.content;
  const { code, cursor } = codeAndCursor(view);
  const reply = await view.client.inspect(code, cursor, 0);
  if (reply.status !== 'ok' || !reply.found) {
    return null;
  }
  const tooltip = new Tooltip({
    anchor: widget.content,
    bundle: reply.data as Tooltip.IOptions['bundle'],
    editor: view.editor,
    rendermime
  });
  tooltip.addClass('jp-pdit-tooltip');
  Widget.attach(tooltip, document.body);
  return tooltip;
}

/** Ask for confirmation before a restart, with the notebook's words. */
export async function confirmRestart(
  widget: PditDocumentWidget,
  extra = ''
): Promise<boolean> {
  const result = await showDialog({
    title: 'Restart Kernel?',
    body: `Do you want to restart the kernel of ${widget.context.path}? All variables will be lost.${extra}`,
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({
        label: 'Restart',
        ariaLabel: 'Confirm Kernel Restart'
      })
    ]
  });
  return result.button.accept;
}

/** Pick a kernel spec from the ones JupyterLab knows; null when cancelled. */
export async function pickKernelSpec(
  app: JupyterFrontEnd,
  current: string | null
): Promise<string | null> {
  const specs = app.serviceManager.kernelspecs;
  await specs.ready;
  const known = specs.specs?.kernelspecs ?? {};
  const body = new Widget({ node: document.createElement('select') });
  const select = body.node as HTMLSelectElement;
  select.className = 'jp-pdit-kernel-select';
  for (const [name, spec] of Object.entries(known)) {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = spec?.display_name ?? name;
    option.selected = name === (current ?? specs.specs?.default);
    select.appendChild(option);
  }
  const result = await showDialog({
    title: 'Select Kernel',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Select' })]
  });
  return result.button.accept ? select.value : null;
}

/** The session's REST URL (`/pdit/api/sessions/<id>`). */
function sessionUrl(settings: ServerConnection.ISettings, id: string): string {
  return URLExt.join(
    settings.baseUrl,
    'pdit/api/sessions',
    encodeURIComponent(id)
  );
}

/** Shut the session's kernel down (`DELETE /pdit/api/sessions/<id>`). */
export async function shutDown(
  settings: ServerConnection.ISettings,
  view: PditView
): Promise<void> {
  const response = await ServerConnection.makeRequest(
    sessionUrl(settings, view.sessionId),
    { method: 'DELETE' },
    settings
  );
  if (response.status !== 204 && response.status !== 404) {
    throw new ServerConnection.ResponseError(response);
  }
}

/** Download the export of the document's last run (`html` or `ipynb`). */
export async function exportLastRun(
  settings: ServerConnection.ISettings,
  widget: PditDocumentWidget,
  format: 'html' | 'ipynb'
): Promise<string> {
  const path = widget.context.path;
  const url =
    URLExt.join(sessionUrl(settings, widget.content.sessionId), 'export') +
    URLExt.objectToQueryString({ format, path });
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).message ?? message;
    } catch {
      // not JSON
    }
    await showDialog({
      title: 'Nothing to export',
      body: message,
      buttons: [Dialog.okButton()]
    });
    return '';
  }
  const blob = await response.blob();
  const name =
    (path.split('/').pop() ?? 'script.py').replace(/\.py$/, '') + `.${format}`;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
  return name;
}

/** The `# %%` cells of a percent script: [first line, last line], 1-based. */
export function percentCells(source: string): [number, number][] {
  const lines = source.split('\n');
  const starts: number[] = [];
  lines.forEach((line, i) => {
    if (/^#\s*%%/.test(line)) {
      starts.push(i + 1);
    }
  });
  if (starts.length === 0 || starts[0] !== 1) {
    starts.unshift(1); // the lines before the first marker are a cell of their own
  }
  const cells: [number, number][] = [];
  starts.forEach((start, i) => {
    const end = i + 1 < starts.length ? starts[i + 1] - 1 : lines.length;
    const body = lines.slice(start - 1, end);
    if (body.some(line => line.trim() && !/^#\s*%%/.test(line))) {
      cells.push([start, end]);
    }
  });
  return cells;
}

/** Run the file cell by cell (`mode: "cell"`, one execution per `# %%` cell). */
export function runCells(widget: PditDocumentWidget): number {
  const view = widget.content;
  const script = widget.context.model.sharedModel.getSource();
  const cells = percentCells(script);
  for (const [from, to] of cells) {
    view.client.execute(script, {
      mode: 'cell',
      lineRange: { from, to },
      scriptName: widget.context.path
    });
  }
  return cells.length;
}

/**
 * The line to move to after running the statement at the cursor: the line after the
 * statement (known from the last run), else the next top-level line.
 */
export function nextStatementLine(
  source: string,
  line: number,
  statements: { lineStart: number; lineEnd: number }[]
): number {
  const lines = source.split('\n');
  const known = statements.find(
    st => st.lineStart <= line + 1 && line + 1 <= st.lineEnd
  );
  let next = known ? known.lineEnd : line + 1; // 0-based index of the line after
  while (
    next < lines.length &&
    (!lines[next].trim() ||
      /^\s/.test(lines[next]) ||
      /^[)\]}]/.test(lines[next]))
  ) {
    next++;
  }
  return Math.min(next, Math.max(lines.length - 1, 0));
}
