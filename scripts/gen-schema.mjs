// Writes policy/policy.schema.json from the zod schema (the single source of truth).
// Run after `npm run build`; test/unit/policy/json-schema.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { policyJsonSchema } from '../dist/policy/json-schema.js';

writeFileSync(new URL('../policy/policy.schema.json', import.meta.url), `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
