import type { Config } from '../config/config.js';
import { startControl } from '../gateway/control.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger } from '../log/logger.js';
import type { Command } from './command.js';

const RENEW_EVERY_MS = 12 * 3600_000;

/** `docker-authz gateway`: runs the user gateway in the foreground until SIGTERM/SIGINT. */
export const gatewayCommand: Command = {
  name: 'gateway',
  summary: "Run the user gateway in the foreground: one socket per user, relayed to the daemon's TLS listener.",
  description:
    'Serves AUTHZ_USERS_SOCKET_DIR/NAME.sock (owned by NAME, mode 0600) for each user and relays each connection to\n' +
    "the daemon's TLS listener (AUTHZ_DAEMON_TLS_ADDRESS) with NAME's client certificate from AUTHZ_PKI_DIR. SIGHUP\n" +
    '(or docker-authz users add/remove) re-reads the users; certificates due for renewal are renewed at start and\n' +
    'twice a day.',
  run: (ctx) => runGateway(ctx.config()),
};

async function runGateway(config: Config): Promise<number> {
  const log = createLogger(config.logLevel).log.child({ component: 'gateway' });
  const gateway = await startGateway({ pkiDir: config.pkiDir, socketDir: config.usersSocketDir, daemon: config.daemonTls, log });
  const control = await startControl(gateway, config.gatewaySocket);
  const status = gateway.status();
  log.info(
    { daemon: `${config.daemonTls.host}:${config.daemonTls.port}`, users: status.users.map((u) => u.name), control: config.gatewaySocket },
    'gateway listening',
  );
  process.send?.('ready');
  const renewal = setInterval(() => void gateway.reload({ renew: true }), RENEW_EVERY_MS);
  renewal.unref();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'gateway stopping');
    clearInterval(renewal);
    void Promise.all([control.close(), gateway.stop()]).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading users');
    void gateway.reload();
  });
  // Keep serving the other users rather than drop every connection over one bad one.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  return new Promise<number>(() => undefined);
}
