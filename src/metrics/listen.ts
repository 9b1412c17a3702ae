import { createServer, type Server } from 'node:http';
import type { MetricsListen } from '../config/config.js';
import { bindSocket } from '../protocol/socket.js';
import type { Exporter } from './exporter.js';

export interface MetricsListener {
  readonly address: string;
  close(): Promise<void>;
}

/** Serves GET /metrics where the operator chose: a unix socket (root-only) or a loopback TCP port. */
export async function listenMetrics(where: Exclude<MetricsListen, { kind: 'off' }>, exporter: Exporter): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    exporter.scrape().then(
      (text) => res.writeHead(200, { 'Content-Type': exporter.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  let address: string;
  if (where.kind === 'unix') {
    await bindSocket(server, where.path, {});
    address = `unix:${where.path}`;
  } else {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(where.port, where.host, () => resolve()));
    address = `http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${where.port}/metrics`;
  }
  return {
    address,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
