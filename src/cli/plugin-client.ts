import { request } from 'node:http';

export interface PluginAnswer {
  readonly status: number;
  readonly json: unknown;
}

/** One call to the running plugin over its socket; undefined when nothing answers there. */
export function callPlugin(socket: string, method: string, path: string, timeoutMs = 10_000): Promise<PluginAnswer | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, method, path, headers: { host: 'localhost', 'content-length': 0 } }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => {
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export const notRunning = (socket: string) => `docker-authz is not running on ${socket} (nothing answers there)`;
