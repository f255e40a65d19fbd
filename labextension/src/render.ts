/**
 * Output items of the gateway → JupyterLab mime bundles, rendered with rendermime.
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { OutputItem } from './client';
import { terminalText } from './terminal';

export interface IBundle {
  data: IRenderMime.IMimeModel['data'];
  metadata: IRenderMime.IMimeModel['metadata'];
}

/** The mime bundle of an output item, as a notebook output would hold it. */
export function toBundle(item: OutputItem): IBundle {
  if (item.type === 'stdout' || item.type === 'stderr') {
    return {
      data: {
        [`application/vnd.jupyter.${item.type}`]: terminalText(item.content)
      },
      metadata: {}
    };
  }
  if (item.type === 'error') {
    const text = item.traceback?.length
      ? item.traceback.join('\n')
      : item.content;
    return { data: { 'application/vnd.jupyter.stderr': text }, metadata: {} };
  }
  if (item.data !== undefined) {
    return {
      data: item.data as IBundle['data'],
      metadata: (item.metadata ?? {}) as IBundle['metadata']
    };
  }
  let value: unknown = item.content;
  if (item.type === 'application/json' || item.type.endsWith('+json')) {
    try {
      value = JSON.parse(item.content);
    } catch {
      value = item.content;
    }
  }
  const metadata: Record<string, unknown> = { ...(item.metadata ?? {}) };
  if (item.type.startsWith('image/') && (item.width || item.height)) {
    metadata[item.type] = { width: item.width, height: item.height };
  }
  return {
    data: { [item.type]: value } as IBundle['data'],
    metadata: metadata as IBundle['metadata']
  };
}

/** Render one item into a new element; the returned `dispose` frees the renderer. */
export function renderItem(
  rendermime: IRenderMimeRegistry,
  item: OutputItem
): { node: HTMLElement; dispose: () => void } {
  const node = document.createElement('div');
  node.className = 'jp-pdit-item jp-OutputArea-output';
  node.dataset.pditType = item.type;
  const bundle = toBundle(item);
  const mimeType = rendermime.preferredMimeType(bundle.data, 'any');
  if (mimeType === undefined) {
    node.textContent = item.content;
    return { node, dispose: () => undefined };
  }
  const renderer = rendermime.createRenderer(mimeType);
  node.appendChild(renderer.node);
  if (item.type === 'stderr' || item.type === 'error') {
    node.setAttribute('data-mime-type', 'application/vnd.jupyter.stderr');
  } else {
    node.setAttribute('data-mime-type', mimeType);
  }
  renderer
    .renderModel(
      new MimeModel({
        data: bundle.data,
        metadata: bundle.metadata,
        trusted: true
      })
    )
    .catch(err => {
      node.textContent = `pdit: could not render ${mimeType}: ${err}`;
    });
  return { node, dispose: () => renderer.dispose() };
}
