import type { ContainerConfig } from '../../config/types.ts';
import { AutoctrlError } from '../../errors.ts';

/** What of a job's launch the container wrapping needs. */
export interface ContainerLaunch {
  argv: readonly string[];
  /** The job's whole environment (explicit: nothing else reaches the container). */
  env: Readonly<Record<string, string>>;
  cwd: string;
  workDir: string;
  /** Further host paths the job needs inside (its inputs' directories...), bound at the same place. */
  binds?: readonly string[];
  /** A name for the container (podman, docker), so a cancel can remove it; unique per attempt. */
  name?: string;
  /** The user docker runs the job as, so its files are the user's and not root's (docker's daemon runs as root). */
  user?: { uid: number; gid: number };
}

/** The program to start instead of the job's own: the runtime, with the job's argv inside. */
export interface WrappedLaunch {
  argv: string[];
  /** The environment to start the runtime with (the job's values travel through it, never on the argv). */
  env: Record<string, string>;
}

/** A path the runtimes' bind syntax cannot say (`:` and `,` are its separators). */
export class ContainerPathError extends AutoctrlError {
  constructor(readonly path: string) {
    super(
      'container_path',
      `cannot bind ${JSON.stringify(path)} into a container: container runtimes read ":" and "," in a bound path as separators; rename the directory (data_dir, the task's cwd or container.binds)`,
    );
  }
}

/**
 * Variables that describe the host, not the container: the image's own apply
 * inside (its PATH; HOME and TMPDIR may name directories that are not bound).
 */
const HOST_ONLY = new Set(['PATH', 'HOME', 'TMPDIR']);

/**
 * The argv that runs a job's command inside its container, with no shell:
 * the work directory, the cwd and the declared paths bound at the same
 * place, the cwd as the working directory, and the job's environment passed
 * explicitly by name (podman, docker: `--env NAME`, value taken from the
 * runtime's own environment) or by prefix (apptainer: `--cleanenv` and
 * `APPTAINERENV_NAME`), so no value shows in the process list or needs
 * quoting. `container.args` go right before the image.
 */
export function wrapInContainer(
  container: ContainerConfig,
  launch: ContainerLaunch,
): WrappedLaunch {
  const binds = [
    ...new Set([launch.workDir, launch.cwd, ...(launch.binds ?? []), ...container.binds]),
  ];
  for (const p of binds) if (/[:,]/.test(p)) throw new ContainerPathError(p);
  const names = Object.keys(launch.env)
    .filter((n) => !HOST_ONLY.has(n))
    .sort();
  const env = { ...launch.env };
  if (container.runtime === 'apptainer') {
    for (const n of names) env[`APPTAINERENV_${n}`] = launch.env[n] as string;
    return {
      argv: [
        'apptainer',
        'exec',
        '--cleanenv',
        '--pwd',
        launch.cwd,
        ...binds.flatMap((p) => ['--bind', p]),
        ...container.args,
        container.image,
        ...launch.argv,
      ],
      env,
    };
  }
  return {
    argv: [
      container.runtime,
      'run',
      '--rm',
      // A shell as PID 1 ignores SIGTERM: an init passes a cancel or timeout on to the job.
      '--init',
      ...(launch.name !== undefined ? ['--name', launch.name] : []),
      ...(container.runtime === 'docker' && launch.user
        ? ['--user', `${launch.user.uid}:${launch.user.gid}`]
        : []),
      '--workdir',
      launch.cwd,
      ...binds.flatMap((p) => ['--mount', `type=bind,source=${p},target=${p}`]),
      ...names.flatMap((n) => ['--env', n]),
      ...container.args,
      container.image,
      ...launch.argv,
    ],
    env,
  };
}

/**
 * What removes a job's container left behind when its runtime process was
 * killed outright (docker's daemon keeps it running); null for apptainer,
 * whose container is the job's own process tree. A missing container makes
 * the command fail, which is no error for a cancel.
 */
export function removeContainerArgv(container: ContainerConfig, name: string): string[] | null {
  return container.runtime === 'apptainer' ? null : [container.runtime, 'rm', '--force', name];
}
