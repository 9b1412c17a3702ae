// pm2 process file for docker-authz:
//
//   pm2 start ecosystem.config.js                   what the installer does (then pm2 save)
//   pm2 reload ecosystem.config.js --update-env     after an upgrade or an edit of /etc/docker-authz/authz.env
//   pm2 reload docker-authz                         zero-downtime worker swap
//
// This package is ESM, and pm2 loads process files with require(): Node >= 20.19 can require() an
// ES module, and returns the export named "module.exports" as the module's value (below), which is
// the shape pm2 expects ({ apps: [...] }).
//
// Cluster mode is what makes `pm2 reload` seamless: the pm2 daemon owns the listening socket and
// hands it to the new worker, which signals `ready` once it serves; only then is the old worker
// stopped (SIGINT; it finishes in-flight calls). A worker never unlinks a socket that is being served.
//
// The user gateway (docker-authz-gateway) is listed when the installer set it up (install-authz.sh
// --users: USERS=1 in /opt/docker-authz/installed.env). It runs in fork mode, one process: it holds
// one socket per user itself, so a reload restarts it (open connections of users are cut).
import { parse } from 'dotenv';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ENV_FILE = process.env.AUTHZ_ENV_FILE || '/etc/docker-authz/authz.env';
const HERE = import.meta.dirname;

// Installed, this file sits in /opt/docker-authz/releases/<id>/ and /opt/docker-authz/current points
// at the release in use: run `current`, so that `pm2 reload` after an upgrade starts the new code.
// From a checkout, run the checkout.
const ROOT = path.basename(path.dirname(HERE)) === 'releases' ? path.join(HERE, '..', '..', 'current') : HERE;

// KEY=value lines (the systemd EnvironmentFile format); a missing file means defaults.
function readEnvFile(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err && err.code === 'ENOENT') return {};
    throw err;
  }
  return parse(text);
}

const APP_DIR = path.dirname(ROOT);
const env = { NODE_ENV: 'production', AUTHZ_ENV_FILE: ENV_FILE, ...readEnvFile(ENV_FILE) };
// The install record is plain KEY=value lines too.
const withGateway = ROOT !== HERE && readEnvFile(path.join(APP_DIR, 'installed.env')).USERS === '1';

const config = {
  apps: [
    {
      name: 'docker-authz',
      script: path.join(ROOT, 'dist', 'cli.js'),
      args: ['serve'],
      cwd: ROOT,
      exec_mode: 'cluster',
      instances: 1,
      // Swap workers only once the new one listens (src/cli.ts sends process.send('ready')).
      wait_ready: true,
      listen_timeout: 15000,
      // Time the old worker gets to finish in-flight calls before SIGKILL.
      kill_timeout: 10000,
      autorestart: true,
      restart_delay: 1000,
      // One out/err file per app (not per worker id), rotated by pm2-logrotate.
      merge_logs: true,
      env,
    },
    ...(withGateway
      ? [
          {
            name: 'docker-authz-gateway',
            script: path.join(ROOT, 'dist', 'cli.js'),
            args: ['gateway'],
            cwd: ROOT,
            exec_mode: 'fork',
            instances: 1,
            // `docker-authz gateway` sends 'ready' once every user's socket is served.
            wait_ready: true,
            listen_timeout: 15000,
            kill_timeout: 10000,
            autorestart: true,
            restart_delay: 1000,
            merge_logs: true,
            env,
          },
        ]
      : []),
  ],
};

export default config;
export { config as 'module.exports' };
