import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_POLICY_FILE } from '../../../src/policy/load.js';
import { parsePolicyText } from '../../../src/policy/parse.js';
import { precompile } from '../../../src/policy/precompiled.js';

// The build puts the default policy in force without the YAML parser and the schema: what it
// stores must be exactly what parsing the text gives.
const text = readFileSync(DEFAULT_POLICY_FILE, 'utf8');
const parsed = parsePolicyText(text, DEFAULT_POLICY_FILE);

t.test('the default policy survives JSON unchanged', async (t) => {
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  const stored = JSON.parse(precompile(text, parsed.policy)) as { policy: unknown; length: number };
  t.ok(isDeepStrictEqual(stored.policy, parsed.policy), 'no undefined, Map or Set lost on the way');
  t.equal(stored.length, text.length);
});

const built = new URL('../../../dist/default-policy.json', import.meta.url);
t.test('the build stored the default policy as it parses now', { skip: !existsSync(built) && 'not built' }, async (t) => {
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.equal(
    readFileSync(built, 'utf8'),
    precompile(text, parsed.policy),
    'rebuild (npm run build) after changing the schema or policy/default.yaml',
  );
});
