import { unixClient } from '../daemon/client.js';

export interface PluginAnswer {
  readonly status: number;
  readonly json: unknown;
}

/** One call to the running plugin over its socket; undefined when nothing answers there. */
export async function callPlugin(socket: string, method: string, path: string, timeoutMs = 10_000): Promise<PluginAnswer | undefined> {
  const client = unixClient({ socketPath: socket, timeoutMs });
  try {
    const res = await client.request(method, path);
    let json: unknown = res.body;
    try {
      json = JSON.parse(res.body);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, json };
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

export const notRunning = (socket: string) => `docker-authz is not running on ${socket} (nothing answers there)`;
