import { z } from 'zod';
import { policySchema } from './schema.js';

/** The policy schema for editors (YAML language server, VS Code), generated from the zod schema. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/docker-authz/docker-authz/policy.schema.json',
    title: 'docker-authz policy',
  };
}
