/** A fake WebSocket the tests drive by hand: `server*` methods act as the gateway. */
import { IWebSocketLike } from '../../src/client';

export class FakeSocket implements IWebSocketLike {
  static instances: FakeSocket[] = [];

  static reset(): void {
    FakeSocket.instances = [];
  }

  static get last(): FakeSocket {
    return FakeSocket.instances[FakeSocket.instances.length - 1];
  }

  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closed = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) {
      throw new Error('not open');
    }
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closed = true;
    this.readyState = 3;
  }

  /** The server accepts the connection and sends `welcome`. */
  serverWelcome(lastSeq = 0, state = 'idle'): void {
    this.readyState = 1;
    this.onopen?.({});
    this.serverSend({
      type: 'welcome',
      sessionId: 's',
      protocol: 1,
      lastSeq,
      kernel: { name: 'python3', state },
      executions: []
    });
  }

  serverSend(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The network drops the connection. */
  serverClose(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  sentOfType(type: string): Record<string, unknown>[] {
    return this.sent.filter(frame => frame.type === type);
  }
}
