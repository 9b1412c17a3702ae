import { Agent, request } from 'node:http';
import { codes, codedError } from '../errors.js';

// A small HTTP client for unix sockets, with a deadline and a size cap, no dependencies: the Docker
// Engine API on the daemon's socket (scan, the object mirror), and the plugin's and the gateway's
// own control endpoints (the CLI).

export interface DaemonClientOptions {
  /** Path of the daemon's unix socket. */
  readonly socketPath: string;
  /** Per request, from connecting to the last byte. Default 10 s. */
  readonly timeoutMs?: number;
  /** Added to every request (e.g. a header that marks the plugin's own calls). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Responses larger than this are refused. Default 64 MiB. */
  readonly maxBytes?: number;
}

export interface DaemonResponse {
  readonly status: number;
  readonly body: string;
}

export interface DaemonClient {
  /** Any status; rejects only when there is no complete answer (connection, deadline, size). */
  request(method: string, path: string): Promise<DaemonResponse>;
  /** GET, expecting 200 and JSON; anything else rejects with the daemon's message. */
  getJson<T = unknown>(path: string): Promise<T>;
  /** Closes idle connections. */
  close(): void;
}

/** The socket path of a DOCKER_HOST value: `unix:///run/docker.sock` or a bare path. */
export function socketOfDockerHost(host: string): string | undefined {
  if (host.startsWith('unix://')) return host.slice('unix://'.length) || undefined;
  return host.startsWith('/') ? host : undefined;
}

function daemonMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300);
}

export function unixClient(opts: DaemonClientOptions): DaemonClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const fail = (method: string, path: string, why: string, cause?: unknown) =>
    codedError(codes.DAEMON_REQUEST, `${method} ${path} on ${opts.socketPath}: ${why}`, cause);

  function send(method: string, path: string): Promise<DaemonResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, res?: DaemonResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(res!);
      };
      const req = request({ socketPath: opts.socketPath, method, path, agent, headers: { Host: 'docker', ...opts.headers } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) settle(fail(method, path, `answer larger than ${maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on('error', (err) => settle(fail(method, path, err.message, err)));
        res.on('end', () => settle(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      const timer = setTimeout(() => settle(fail(method, path, `no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => settle(fail(method, path, err.message, err)));
      req.end();
    });
  }

  return {
    request: send,
    async getJson<T>(path: string): Promise<T> {
      const res = await send('GET', path);
      if (res.status !== 200) throw fail('GET', path, `${res.status} ${daemonMessage(res.body)}`);
      try {
        return JSON.parse(res.body) as T;
      } catch (err) {
        throw fail('GET', path, 'the answer is not JSON', err);
      }
    },
    close: () => agent.destroy(),
  };
}
