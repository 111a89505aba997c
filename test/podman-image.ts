import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_TOOLS, programMissing } from './worker-world.ts';

/** Why podman tests cannot run here (podman or busybox-static missing), or false. */
export function podmanMissing(): string | false {
  return programMissing('podman', 'podman') || programMissing('busybox', 'busybox-static');
}

/**
 * A busybox image imported into a podman image store in `dir`, with no
 * registry. This sandbox's limits are below podman's defaults and crun cannot
 * set them: runc with lower ones runs. Sites have their own containers.conf;
 * tests keep theirs (and the image store) in the temporary directory: `env`
 * is what podman must be started with.
 */
export function podmanImage(dir: string, image: string): { env: Record<string, string> } {
  const conf = join(dir, 'containers.conf');
  const storage = join(dir, 'storage.conf');
  const env = { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage };
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n',
  );
  writeFileSync(
    storage,
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/podman/root"\nrunroot = "${dir}/podman/run"\n`,
  );
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'tmp'));
  execFileSync('cp', [
    execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim(),
    join(root, 'bin', 'busybox'),
  ]);
  for (const t of new Set([...CLIENT_TOOLS, 'sh', 'wget', 'env', 'pwd', 'touch', 'sleep'])) {
    symlinkSync('busybox', join(root, 'bin', t));
  }
  execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
  execFileSync('podman', ['import', '-q', join(dir, 'rootfs.tar'), image], {
    env: { ...process.env, ...env },
  });
  return { env };
}
