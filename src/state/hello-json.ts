import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// What versions before the state database kept: { version: 1, greeted: { identity: { at } } }.
// (Checked by hand: the plugin opens the state at every start, and a schema library costs more
// to load than the rest of the start.)
function greetedOf(value: unknown): Record<string, { at: string }> {
  if (!isObject(value) || value.version !== 1 || !isObject(value.greeted)) throw new Error('not a hello.json');
  const greeted = Object.create(null) as Record<string, { at: string }>;
  for (const [identity, g] of Object.entries(value.greeted)) {
    if (!isObject(g) || typeof g.at !== 'string') throw new Error('not a hello.json');
    greeted[identity] = { at: g.at };
  }
  return greeted;
}

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
    greeted = greetedOf(JSON.parse(text));
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
