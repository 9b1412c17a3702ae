import t from 'tap';
import { readFileSync } from 'node:fs';
import { policyJsonSchema } from '../../../src/policy/json-schema.js';

t.test('policy/policy.schema.json is generated from the zod schema and up to date (npm run schema)', async (t) => {
  const committed = JSON.parse(readFileSync(new URL('../../../policy/policy.schema.json', import.meta.url), 'utf8')) as unknown;
  t.same(committed, policyJsonSchema());
});

t.test('the JSON Schema knows every rule kind', async (t) => {
  const text = JSON.stringify(policyJsonSchema());
  for (const kind of [
    'operations',
    'privileged',
    'host-mounts',
    'capabilities',
    'devices',
    'host-namespaces',
    'security-options',
    'host-settings',
    'shared-containers',
  ]) {
    t.match(text, `"const":"${kind}"`, kind);
  }
});
