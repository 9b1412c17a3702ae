import { readFileSync } from 'node:fs';

/** The package version (read once: dist/ sits next to package.json in a checkout and in a release). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
