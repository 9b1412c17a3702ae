import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';

/** A temp dir under /tmp with a short prefix (unix socket paths must stay under 108 bytes). */
export function makeTempDir(prefix = 'e2e-'): Promise<string> {
  return mkdtemp(path.join('/tmp', prefix));
}
