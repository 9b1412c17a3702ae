import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { startControl } from '../gateway/control.js';
import { startGateway } from '../gateway/gateway.js';
import { createLogger } from '../log/logger.js';

export const GATEWAY_USAGE = `usage: docker-authz gateway

Serves one unix socket per user (AUTHZ_USERS_SOCKET_DIR/NAME.sock, owned by NAME, mode 0600) and
relays each connection to the daemon's TLS listener (AUTHZ_DAEMON_TLS_ADDRESS) with NAME's client
certificate from AUTHZ_PKI_DIR. SIGHUP (or docker-authz users add/remove) re-reads the users;
certificates due for renewal are renewed at start and twice a day.`;

const RENEW_EVERY_MS = 12 * 3600_000;

/** `docker-authz gateway`: runs the user gateway in the foreground until SIGTERM/SIGINT. */
export async function gatewayCommand(config: Config, argv: string[]): Promise<number> {
  try {
    if (parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values.help) {
      console.log(GATEWAY_USAGE);
      return 0;
    }
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${GATEWAY_USAGE}`);
    return 2;
  }
  const log = createLogger(config.logLevel).child({ component: 'gateway' });
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
