import { startPlugin } from '../serve.js';
import type { Command } from './command.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the plugin in the foreground (what the service and `npm start` run).',
  description:
    'Listens on AUTHZ_SOCKET. SIGHUP reloads the policy; SIGTERM/SIGINT stop after in-flight calls. A broken policy\n' +
    'file or state directory does not stop it: it serves the last good policy (or denies everything) and says so.',
  async run(ctx) {
    const plugin = await startPlugin(ctx.config());
    const { log } = plugin.log;
    // pm2 (wait_ready) swaps workers only once the new one is listening.
    process.send?.('ready');
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      void plugin.stop().then(() => process.exit(0));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void plugin.policy.reload('explicit'));
    // Last line of defence: log and keep serving rather than leave every docker call hanging.
    process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
    return new Promise<number>(() => undefined);
  },
};
