import { canonicalCapability, DEFAULT_CAPABILITIES } from '../capabilities.js';
import { allowedList, firstInViews, flagged, shown, type CheckFactory } from './check.js';

// CapAdd adds to the default set; Capabilities (API 1.40+, no docker run flag) replaces it.
const LISTS = [
  ['CapAdd', (v: string) => `--cap-add ${v}`],
  ['Capabilities', (v: string) => `${v} in the capability list`],
] as const;

export const capabilities: CheckFactory<'capabilities'> = (rule) => {
  const allowed = new Set([...DEFAULT_CAPABILITIES, ...rule.allowed.map(canonicalCapability)]);
  const beyond = `allowed beyond the default set: ${allowedList(rule.allowed)}`;
  return function checkCapabilities(req) {
    return firstInViews(req, ({ prefix, hc }) => {
      for (const [key, named] of LISTS) {
        const list = hc[key] ?? [];
        for (let i = 0; i < list.length; i++) {
          const cap = canonicalCapability(list[i]!);
          if (cap === 'ALL' || !allowed.has(cap)) {
            return {
              field: flagged(named(shown(list[i])), prefix, `${key}[${i}]`),
              reason: `adds a capability beyond Docker's default set (${beyond})`,
            };
          }
        }
      }
      return undefined;
    });
  };
};
