import { request, type Agent } from 'node:http';
import { connect } from 'node:net';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

/** One HTTP call over a unix socket; pass a keep-alive agent to reuse connections like the daemon. */
export function call(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
  opts: { agent?: Agent; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        agent: opts.agent,
        headers: { Host: '', ...(body !== undefined && { 'Content-Length': String(Buffer.byteLength(body)) }), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends exact bytes and returns everything the server answers until it goes quiet or closes. */
export function raw(socketPath: string, bytes: string | Buffer, untilText: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let got = '';
    s.on('data', (d) => {
      got += d.toString('utf8');
      if (untilText.test(got)) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(bytes);
  });
}
