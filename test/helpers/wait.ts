/** Waiting without sleeps as synchronization: poll a condition, or race a promise against a deadline. */

/** Poll `cond` until it returns a value other than undefined/false, or throw after `timeoutMs`. */
export async function pollUntil<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; what: string; abort?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    const aborted = opts.abort?.();
    if (aborted !== undefined) throw new Error(`gave up waiting for ${opts.what}: ${aborted}`);
    if (Date.now() >= deadline) throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** `p`, or undefined if it has not settled within `ms`. */
export async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
