import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Db } from './db.js';

// What versions before the state database kept: { version: 1, greeted: { identity: { at } } }.
const helloJsonSchema = z.object({
  version: z.literal(1),
  greeted: z.record(z.string(), z.object({ at: z.string() })),
});

/**
 * Moves the greetings of an older version's hello.json into the database, once: the file is then
 * renamed to hello.json.imported. A damaged file fails closed (its greetings are not imported) and
 * is kept for inspection. Returns what the operator should be told.
 */
export function importHelloJson(dir: string, db: Db): string[] {
  const file = join(dir, 'hello.json');
  let text: string;
  try {
    if (!statSync(file).isFile()) return [`${file} is not a file; it was ignored`];
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return [`cannot read ${file} (${(err as Error).message}); its greetings were not imported`];
  }
  let greeted: Record<string, { at: string }>;
  try {
    greeted = helloJsonSchema.parse(JSON.parse(text)).greeted;
  } catch {
    const aside = `${file}.corrupt-${Date.now()}`;
    renameSync(file, aside);
    return [`${file} was unreadable and was moved to ${aside}; nobody is greeted from it`];
  }
  const insert = db.prepare('INSERT OR IGNORE INTO greetings (identity, at) VALUES (?, ?)');
  db.transaction(() => {
    for (const [identity, g] of Object.entries(greeted)) insert.run(identity, g.at);
  }).immediate();
  try {
    renameSync(file, `${file}.imported`);
  } catch (err) {
    // Another worker imported it at the same moment.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return [`imported ${Object.keys(greeted).length} greeting(s) from ${file} (kept as hello.json.imported)`];
}
