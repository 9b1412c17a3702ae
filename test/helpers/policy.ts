import { compilePolicy, type CompiledPolicy } from '../../src/policy/compile.js';
import type { StateView } from '../../src/policy/state-view.js';
import { loadPolicyFile, parsePolicy } from '../../src/policy/load.js';
import { normalize } from '../../src/request/normalize.js';
import type { DockerRequest } from '../../src/request/types.js';

export function defaultPolicy(): CompiledPolicy {
  const r = loadPolicyFile(undefined);
  if (!r.ok) throw r.error;
  return compilePolicy(r.policy, r.source);
}

export function policyFrom(yaml: string, pluginName?: string): CompiledPolicy {
  const r = parsePolicy(yaml, 'test.yaml');
  if (!r.ok) throw r.error;
  return compilePolicy(r.policy, r.source, pluginName);
}

// State views for evaluate(): who has said hello (no object records).
export const greeted = (...names: string[]): StateView => ({
  greetings: { isGreeted: (n) => names.includes(n), anyGreeted: names.length > 0 },
});
export const everyoneGreeted: StateView = { greetings: { isGreeted: () => true, anyGreeted: true } };
export const nobodyGreeted: StateView = { greetings: { isGreeted: () => false, anyGreeted: false } };

export function request(env: Record<string, unknown>): DockerRequest {
  const n = normalize(env);
  if (!n.ok) throw new Error(`${n.code}: ${n.message}`);
  return n.request;
}
