// Makes the CLI executable after tsc (npm link / the installer call dist/cli.js directly).
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755);
