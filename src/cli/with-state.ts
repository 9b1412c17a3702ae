import { StateStore } from '../state/store.js';
import type { CommandContext } from './command.js';

// The CLI reads and writes the state database itself: every worker sees a change at once.
export function withState<T>(ctx: CommandContext, fn: (state: StateStore) => T): T {
  const state = new StateStore(ctx.config().stateDir, { onNote: (m) => ctx.err(`note: ${m}`) });
  try {
    return fn(state);
  } finally {
    state.close();
  }
}
