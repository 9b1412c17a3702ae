import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { startPlugin, type RunningPlugin, type StartOptions } from '../../src/serve.js';
import { memoryLog } from './log.js';

export interface InProcessPlugin {
  readonly plugin: RunningPlugin;
  readonly socket: string;
  readonly dir: string;
  /** Parsed log lines written so far. */
  readonly logs: Record<string, unknown>[];
}

/** Starts the real plugin (server, policy, state) in this process on a private socket. */
export async function startInProcess(env: Record<string, string> = {}, opts: Omit<StartOptions, 'log'> = {}): Promise<InProcessPlugin> {
  const dir = mkdtempSync(join(tmpdir(), 'authz-it-'));
  const socket = join(dir, 'authz.sock');
  const log = memoryLog();
  const config = loadConfig({ AUTHZ_SOCKET: socket, AUTHZ_STATE_DIR: join(dir, 'state'), ...env });
  const plugin = await startPlugin(config, { ...opts, log });
  return { plugin, socket, dir, logs: log.records };
}

export async function stopInProcess(p: InProcessPlugin): Promise<void> {
  await p.plugin.stop();
  rmSync(p.dir, { recursive: true, force: true });
}
