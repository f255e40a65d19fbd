/**
 * The adapter between JupyterLab and the client: client options from
 * `ServerConnection.ISettings` (the client itself imports nothing from JupyterLab).
 */
import { ServerConnection } from '@jupyterlab/services';
import { IPditClientOptions } from './client';

/** Options for `new PditClient(...)` that connect like JupyterLab's own WebSockets do. */
export function optionsFromServerSettings(
  settings: Pick<
    ServerConnection.ISettings,
    'baseUrl' | 'wsUrl' | 'token' | 'appendToken'
  >,
  sessionId: string,
  extra: Partial<IPditClientOptions> = {}
): IPditClientOptions {
  return {
    baseUrl: settings.baseUrl,
    wsUrl: settings.wsUrl,
    // JupyterLab adds the token to WebSocket URLs only when `appendToken` says so
    // (otherwise the browser's cookie authenticates the connection).
    token: settings.appendToken ? settings.token : '',
    sessionId,
    ...extra
  };
}
