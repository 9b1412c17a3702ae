/**
 * Test images built locally from /bin/busybox (busybox-static): nothing can be pulled.
 *
 * Import them while the daemon has no authorization plugin enabled, then
 * enable the plugin with `d.setAuthzPlugins([...])`.
 */
import { chmod, copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from '../../helpers/process.js';
import { makeTempDir } from '../../helpers/tmp.js';
import type { Dockerd } from './dockerd.js';

export const BUSYBOX_IMAGE = 'e2e/busybox:latest';
export const HELLO_IMAGE = 'hello-world:latest';

/** Applets linked into /bin of the rootfs (busybox itself is /bin/busybox). */
export const APPLETS = ['sh', 'echo', 'true', 'false', 'cat', 'ls', 'sleep', 'id', 'touch', 'mkdir', 'wc', 'head', 'env', 'grep'] as const;

export const HELLO_TEXT = 'Hello from Docker!\nThis message shows that your installation appears to be working correctly.\n';

const HELLO_SCRIPT = `#!/bin/sh
echo
echo "Hello from Docker!"
echo "This message shows that your installation appears to be working correctly."
`;

/** Populate `dir` (created if missing) with a minimal busybox root filesystem. */
export async function buildRootfs(dir: string, busybox = '/bin/busybox'): Promise<void> {
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  await copyFile(busybox, path.join(dir, 'bin', 'busybox'));
  await chmod(path.join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of APPLETS) await symlink('busybox', path.join(dir, 'bin', applet));
  await mkdir(path.join(dir, 'etc'));
  await writeFile(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await writeFile(path.join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  await mkdir(path.join(dir, 'root'), { mode: 0o700 });
  await mkdir(path.join(dir, 'tmp'));
  await chmod(path.join(dir, 'tmp'), 0o1777);
}

/** `tar -c` of a directory, owned by root, as a Buffer. */
export async function tarDir(dir: string): Promise<Buffer> {
  return (await runOk('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-c', '.'])).stdoutBytes;
}

/** `docker import` a rootfs tarball as `name` with the given CMD; throws on failure. */
export async function importRootfs(d: Dockerd, tar: Buffer, name: string, cmd: string[]): Promise<void> {
  const r = await d.docker(['import', '-c', `CMD ${JSON.stringify(cmd)}`, '-', name], {
    input: tar,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`docker import ${name} failed (${r.code}): ${r.stderr}`);
}

export interface ImportedImages {
  busybox: string;
  hello: string;
}

let tarballs: Promise<{ busybox: Buffer; hello: Buffer }> | undefined;

/** The two images' root filesystems as tarballs, built once per test process (several daemons import them). */
function imageTarballs(): Promise<{ busybox: Buffer; hello: Buffer }> {
  tarballs ??= (async () => {
    const dir = await makeTempDir('rootfs-');
    try {
      const rootfs = path.join(dir, 'rootfs');
      await buildRootfs(rootfs);
      const busybox = await tarDir(rootfs);
      await writeFile(path.join(rootfs, 'hello'), HELLO_SCRIPT, { mode: 0o755 });
      await chmod(path.join(rootfs, 'hello'), 0o755);
      return { busybox, hello: await tarDir(rootfs) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  tarballs.catch(() => (tarballs = undefined)); // a failure is not remembered
  return tarballs;
}

/**
 * Import `e2e/busybox:latest` (CMD ["/bin/sh"]) and `hello-world:latest`
 * (CMD ["/hello"], a shell script printing the real hello-world greeting).
 */
export async function importImages(d: Dockerd): Promise<ImportedImages> {
  const tars = await imageTarballs();
  await importRootfs(d, tars.busybox, BUSYBOX_IMAGE, ['/bin/sh']);
  await importRootfs(d, tars.hello, HELLO_IMAGE, ['/hello']);
  return { busybox: BUSYBOX_IMAGE, hello: HELLO_IMAGE };
}
