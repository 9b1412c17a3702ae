import { request, type ClientRequest } from 'node:http';

/** One message of the daemon's event stream (GET /events), the fields the plugin reads. */
export interface DaemonEvent {
  readonly Type?: string;
  readonly Action?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Readonly<Record<string, string>> };
}

export interface EventStream {
  /** Resolves once the daemon accepted the subscription (headers received). */
  readonly subscribed: Promise<void>;
  /** Resolves when the stream ends, for whatever reason. */
  readonly ended: Promise<string>;
  close(): void;
}

/**
 * Subscribes to the daemon's events (JSON objects one after another on a long response) and hands
 * each to `onEvent`. Lines the plugin cannot parse are skipped; the stream is bounded per message.
 */
export function streamEvents(
  socketPath: string,
  filters: Readonly<Record<string, readonly string[]>>,
  headers: Readonly<Record<string, string>>,
  onEvent: (e: DaemonEvent) => void,
): EventStream {
  let req: ClientRequest | undefined;
  let settleSubscribed: (err?: Error) => void = () => undefined;
  const subscribed = new Promise<void>((resolve, reject) => (settleSubscribed = (err) => (err ? reject(err) : resolve())));
  subscribed.catch(() => undefined);
  const ended = new Promise<string>((resolve) => {
    const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`;
    req = request({ socketPath, path, headers: { Host: 'docker', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        settleSubscribed(new Error(`GET /events answered ${res.statusCode}`));
        res.resume();
        return resolve(`the daemon answered ${res.statusCode}`);
      }
      settleSubscribed();
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === '') continue;
          try {
            onEvent(JSON.parse(line) as DaemonEvent);
          } catch {
            // not an event: skip it
          }
        }
        if (buffer.length > 1024 * 1024) buffer = ''; // no event is this large
      });
      res.on('end', () => resolve('the daemon ended the event stream'));
      res.on('error', (err) => resolve(err.message));
    });
    req.on('error', (err) => {
      settleSubscribed(err);
      resolve(err.message);
    });
    req.end();
  });
  return { subscribed, ended, close: () => req?.destroy() };
}
