import { execFile } from 'node:child_process';
import { codes, codedError } from '../errors.js';

/**
 * Runs the system's `openssl` (1.1.1 or 3.x): node:crypto makes keys and reads certificates but
 * cannot sign them, and openssl is on every host that runs dockerd with TLS.
 */
export function openssl(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        codedError(
          codes.PKI_FAILED,
          missing
            ? 'openssl is not installed (it signs the certificates): install it, e.g. apt-get install openssl'
            : `openssl ${args[0]} failed: ${stderr.trim() || err.message}`,
          err,
        ),
      );
    });
  });
}
