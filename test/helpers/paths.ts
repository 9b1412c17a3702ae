import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/paths.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI (`npm run build`). */
export const PLUGIN_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
