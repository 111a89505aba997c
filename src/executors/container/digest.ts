import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ContainerConfig } from '../../config/types.ts';
import { AutoctrlError } from '../../errors.ts';

/** Which image a task's container is, as a content digest, cannot be told now. */
export class ImageDigestError extends AutoctrlError {
  constructor(
    readonly image: string,
    readonly runtime: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super('image_digest', `container image ${image} (${runtime}): ${why}`, options);
  }
}

const PINNED = /@(sha256:[0-9a-f]{64})$/;
const URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The content digest (`sha256:…`) of a task's container image, for the
 * instance's stored configuration, so a result names the exact image that
 * made it. A reference pinned by digest (`name@sha256:…`) is its own answer;
 * otherwise podman and docker are asked for the local image's registry
 * digest (docker: the image id when it never came from a registry), and an
 * apptainer SIF file is hashed. The lookup runs on the controller's host:
 * on a batch farm, pin images by digest or use a SIF file on a shared
 * filesystem, so the nodes run what was recorded.
 *
 * Throws `ImageDigestError` when the image is not there (not pulled yet), the
 * runtime is missing, or an apptainer image is an unpinned URI.
 */
export async function resolveImageDigest(
  container: ContainerConfig,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const { image, runtime } = container;
  const pinned = PINNED.exec(image)?.[1];
  if (pinned !== undefined) return pinned;
  const fail = (why: string, cause?: unknown) =>
    new ImageDigestError(image, runtime, why, cause === undefined ? undefined : { cause });
  if (runtime === 'apptainer') {
    if (URI.test(image)) {
      throw fail(
        'a URI not pinned by digest names no fixed image: write it as docker://name@sha256:…, or build a SIF file (apptainer build) and name its path',
      );
    }
    return sha256File(image).catch((err: NodeJS.ErrnoException) => {
      throw fail(`cannot read the SIF file (${err.code ?? err.message}): check the path`, err);
    });
  }
  const format =
    runtime === 'podman' ? '{{.Digest}}' : '{{.Id}} {{range .RepoDigests}}{{.}} {{end}}';
  const out = await run(runtime, ['image', 'inspect', '--format', format, image], opts).catch(
    (err: Error & { code?: unknown; stderr?: string }) => {
      if (err.code === 'ENOENT') {
        throw fail(
          `${runtime} is not installed on the controller's host (or not on its PATH)`,
          err,
        );
      }
      throw fail(
        `${runtime} does not have it (${(err.stderr ?? err.message).trim()}): pull it first (${runtime} pull ${image})`,
        err,
      );
    },
  );
  const words = out.trim().split(/\s+/);
  // docker: a registry digest when the image came from one, else the image id.
  const digest = runtime === 'docker' ? (PINNED.exec(words[1] ?? '')?.[1] ?? words[0]) : words[0];
  if (digest === undefined || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw fail(`${runtime} image inspect answered ${JSON.stringify(out.trim())}, not a digest`);
  }
  return digest;
}

function run(
  program: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stderr }));
        else resolve(stdout);
      },
    );
  });
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}
