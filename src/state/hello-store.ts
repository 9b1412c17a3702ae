import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { GreetingView } from '../policy/gate.js';
import { writeFileAtomic } from './atomic-write.js';

const stateSchema = z.object({
  version: z.literal(1),
  greeted: z.record(z.string(), z.object({ at: z.string() })),
});
type HelloState = z.infer<typeof stateSchema>;

export interface Greeting {
  readonly identity: string;
  readonly at: string;
}

export interface HelloStore extends GreetingView {
  /** Records a greeting durably; resolves once it is on disk. No-op for a known identity. */
  greet(identity: string, now?: Date): Promise<void>;
  /** Forgets one identity, or everyone; returns who was forgotten. */
  reset(identity?: string): Promise<string[]>;
  list(): Greeting[];
  readonly file: string;
}

export type OpenResult = { readonly store: HelloStore; readonly warning?: string };

function readState(file: string): { state: HelloState; warning?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: { version: 1, greeted: {} } };
    throw err;
  }
  try {
    return { state: stateSchema.parse(JSON.parse(text)) };
  } catch {
    // A damaged file fails closed: nobody has said hello. Keep it for inspection.
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    return { state: { version: 1, greeted: {} }, warning: `hello state ${file} was unreadable and was moved to ${aside}` };
  }
}

/** Opens the hello state in `dir` (synchronously, at start-up) and keeps it in memory. */
export function openHelloStore(dir: string): OpenResult {
  const file = join(dir, 'hello.json');
  const { state, warning } = readState(file);
  const greeted = new Map(Object.entries(state.greeted).map(([id, g]) => [id, g.at]));
  let writes: Promise<void> = Promise.resolve();

  // Writes are serialised so the file always ends with the latest in-memory state.
  const persist = (): Promise<void> => {
    const snapshot: HelloState = { version: 1, greeted: Object.fromEntries([...greeted].map(([id, at]) => [id, { at }])) };
    const next = writes.then(() => writeFileAtomic(file, `${JSON.stringify(snapshot, null, 2)}\n`));
    writes = next.catch(() => undefined);
    return next;
  };

  const store: HelloStore = {
    file,
    isGreeted: (identity) => greeted.has(identity),
    get anyGreeted() {
      return greeted.size > 0;
    },
    async greet(identity, now = new Date()) {
      if (greeted.has(identity)) return;
      greeted.set(identity, now.toISOString());
      await persist();
    },
    async reset(identity) {
      const gone = identity === undefined ? [...greeted.keys()] : greeted.has(identity) ? [identity] : [];
      for (const id of gone) greeted.delete(id);
      if (gone.length > 0) await persist();
      return gone;
    },
    list: () => [...greeted].map(([identity, at]) => ({ identity, at })),
  };
  return warning === undefined ? { store } : { store, warning };
}
