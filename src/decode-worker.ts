import { parentPort } from 'node:worker_threads';
import { prepare, toWire } from './protocol/prepare.js';

// A decode worker (protocol/decode-pool.ts): reads and decodes big AuthZ calls off the main
// thread, with the same code the main thread runs for small ones. One call at a time.

export interface DecodeJob {
  readonly id: number;
  readonly body: Uint8Array;
}

const port = parentPort!;
port.on('message', ({ id, body }: DecodeJob) => {
  try {
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    port.postMessage({ id, prepared: toWire(prepare(text)) });
  } catch (err) {
    // Not a decision: the main thread denies the call, saying why.
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
// Loaded: from now on the pool times each call (starting a worker is not decoding).
port.postMessage({ ready: true });
