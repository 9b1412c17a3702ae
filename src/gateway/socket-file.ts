import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, rename, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { basename, dirname, join } from 'node:path';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Makes `server` listen on the unix socket `file`, owned by `owner` with mode 0600, with no moment
 * at which anyone else could connect: the socket is bound in a root-only staging directory next to
 * `file`, given its mode and owner there, and only then renamed into place (which also replaces a
 * stale socket atomically). Returns the socket's inode, to recognise it later.
 */
export async function listenOwned(server: Server, file: string, owner: Owner): Promise<number> {
  const staging = join(dirname(file), '.staging');
  await mkdir(staging, { recursive: true, mode: 0o700 });
  await chmod(staging, 0o700);
  // A unique name: node unlinks the path a server was bound to when it closes, which must never hit
  // a later socket.
  const tmp = join(staging, `${basename(file)}.${randomBytes(6).toString('hex')}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await chmod(tmp, 0o600);
    await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, file);
    return (await lstat(file)).ino;
  } catch (err) {
    server.close();
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Removes the socket file at `file` if it is still the one with inode `ino` (never a newer one). */
export async function unlinkIfSame(file: string, ino: number): Promise<void> {
  try {
    if ((await lstat(file)).ino === ino) await rm(file, { force: true });
  } catch {
    // already gone
  }
}
