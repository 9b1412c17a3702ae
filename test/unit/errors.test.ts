import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERROR_CODES, codes } from '../../src/errors.js';
import { BUILT_IN_RULES } from '../../src/policy/built-in.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const firstColumn = (section: string) => [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!).sort();

t.test('docs/errors.md documents exactly the error codes the code has', async (t) => {
  const [codesPart = '', rulesPart = ''] = doc.split('## Built-in rules');
  t.same(firstColumn(codesPart), Object.keys(ERROR_CODES).sort());
  t.same(firstColumn(rulesPart), Object.keys(BUILT_IN_RULES).sort(), 'and exactly the built-in rules');
});

t.test('every code is AUTHZ_ plus its name', async (t) => {
  for (const [name, code] of Object.entries(codes)) t.equal(code, `AUTHZ_${name}`);
});
