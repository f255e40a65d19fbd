/** Start a real `pdit-gateway` for the integration tests and stop it afterwards. */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface IGateway {
  baseUrl: string;
  token: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Start `python -m pdit_gateway` on a free port; resolves once it accepts connections. */
export async function startGateway(deadlineMs = 60_000): Promise<IGateway> {
  const port = await freePort();
  const token = `test-${Math.random().toString(16).slice(2)}`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pdit-it-'));
  const python = process.env.PYTHON ?? 'python';
  const child: ChildProcess = spawn(
    python,
    [
      '-m',
      'pdit_gateway',
      '--no-browser',
      '--allow-root',
      `--port=${port}`,
      '--ip=127.0.0.1',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${root}`,
      '--PditGatewayApp.db_path=:memory:',
      '--PditGatewayApp.interrupt_grace=3'
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, JUPYTER_PLATFORM_DIRS: '1' }
    }
  );
  let log = '';
  child.stderr?.on('data', chunk => {
    log += chunk;
  });
  const exited = new Promise<void>(resolve =>
    child.once('exit', () => resolve())
  );
  const start = Date.now();
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() - start > deadlineMs) {
      child.kill('SIGKILL');
      throw new Error(`pdit-gateway did not start:\n${log}`);
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    token,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}
