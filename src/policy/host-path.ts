import { posix } from 'node:path';

/**
 * The host path a bind will really use, for matching: `..`, `.`, `//` and a trailing `/` resolved,
 * and `/var/run` folded onto `/run` (a symlink on every modern distribution).
 */
export function canonicalHostPath(path: string): string {
  let p = posix.normalize(`/${path}`);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p === '/var/run' || p.startsWith('/var/run/')) p = p.slice('/var'.length);
  return p;
}

/** True when `path` is `dir` or lies below it; `/srv/data2` is not below `/srv/data`. */
export function isWithin(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}
