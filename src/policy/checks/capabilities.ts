import { canonicalCapability, DEFAULT_CAPABILITIES } from '../capabilities.js';
import { firstInViews, quote, type CheckFactory } from './check.js';

export const capabilities: CheckFactory<'capabilities'> = (rule) => {
  const allowed = new Set([...DEFAULT_CAPABILITIES, ...rule.allowed.map(canonicalCapability)]);
  return function checkCapabilities(req) {
    return firstInViews(req, ({ prefix, hc }) => {
      // CapAdd adds to the default set; Capabilities (API 1.40+) replaces it.
      for (const key of ['CapAdd', 'Capabilities'] as const) {
        const list = hc[key] ?? [];
        for (let i = 0; i < list.length; i++) {
          const cap = canonicalCapability(list[i]!);
          if (cap === 'ALL' || !allowed.has(cap)) {
            return { field: `${prefix}${key}[${i}]`, reason: `${quote(list[i])} adds a capability beyond Docker's default set` };
          }
        }
      }
      return undefined;
    });
  };
};
