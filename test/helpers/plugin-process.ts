import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { startPlugin, type RunningPlugin } from '../../src/serve.js';

export interface InProcessPlugin {
  readonly plugin: RunningPlugin;
  readonly socket: string;
  readonly dir: string;
  /** Parsed log lines written so far. */
  readonly logs: Record<string, unknown>[];
}

/** Starts the real plugin (server, policy, state) in this process on a private socket. */
export async function startInProcess(env: Record<string, string> = {}): Promise<InProcessPlugin> {
  const dir = mkdtempSync(join(tmpdir(), 'authz-it-'));
  const socket = join(dir, 'authz.sock');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const config = loadConfig({ AUTHZ_SOCKET: socket, AUTHZ_STATE_DIR: join(dir, 'state'), ...env });
  const plugin = await startPlugin(config, pino({ level: 'debug' }, sink));
  return { plugin, socket, dir, logs };
}

export async function stopInProcess(p: InProcessPlugin): Promise<void> {
  await p.plugin.stop();
  rmSync(p.dir, { recursive: true, force: true });
}
