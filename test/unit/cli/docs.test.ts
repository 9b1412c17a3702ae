import { readFileSync } from 'node:fs';
import t from 'tap';
import { COMMANDS } from '../../../src/cli/main.js';

// docs/cli.md has a section per command, with every option the command takes and its exit status.
const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');

/** The text of `## docker-authz NAME`, up to the next second-level heading. */
function section(name: string): string | undefined {
  const lines = doc.split('\n');
  const start = lines.indexOf(`## docker-authz ${name}`);
  if (start === -1) return undefined;
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

t.test('every command has its section in docs/cli.md, with each of its options and its exit status', async (t) => {
  for (const entry of COMMANDS) {
    const text = section(entry.name);
    if (!t.ok(text, `docs/cli.md has "## docker-authz ${entry.name}"`)) continue;
    t.match(text, /Exit status/, `${entry.name}: exit status`);
    t.match(text, `docker-authz ${entry.name}`, `${entry.name}: a synopsis`);
    const cmd = await entry.load();
    for (const [option, spec] of Object.entries(cmd.options ?? {})) {
      t.match(text, `--${option}`, `${entry.name}: --${option}`);
      if (spec.short) t.match(text, `-${spec.short}`, `${entry.name}: -${spec.short}`);
    }
    t.match(doc, `(#docker-authz-${entry.name.replace(/ /g, '-')})`, `${entry.name}: linked from the list at the top`);
  }
});

t.test('no section for a command that does not exist', async (t) => {
  const names = new Set(COMMANDS.map((c) => c.name));
  for (const m of doc.matchAll(/^## docker-authz (.+)$/gm)) t.ok(names.has(m[1]!), `"${m[1]}" is a command`);
});
