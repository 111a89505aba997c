import { type ExecFileException, execFile } from 'node:child_process';
import { AutoctrlError, ExecutorUnavailableError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';

/** A Slurm command that answered, but with a refusal (bad option, invalid partition...). */
export class SlurmCommandError extends AutoctrlError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(
      'slurm_command',
      `${command} failed (exit ${exitCode ?? 'signal'}): ${firstLines(stderr) || 'no message'}`,
      options,
    );
  }
}

/** Output of a Slurm command that autoctrl cannot read: names the command and the line. */
export class SlurmOutputError extends AutoctrlError {
  constructor(
    readonly command: string,
    readonly line: string,
    why: string,
  ) {
    super(
      'slurm_output',
      `${command} printed ${JSON.stringify(line.slice(0, 200))}, which autoctrl cannot read: ${why}; is this Slurm 22.05 or newer?`,
    );
  }
}

/**
 * What Slurm's commands print when slurmctld (or munge, which every request
 * goes through) cannot be reached: the batch system is away, not the job wrong.
 */
const UNREACHABLE =
  /Unable to contact slurm controller|Socket timed out|Connection refused|Connection timed out|Zero Bytes were transmitted|temporarily unable|Communication connection failure|Unable to establish controller|configuration source|munge|slurm_persist_conn|Transport endpoint/i;

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, 3).join(' / ');
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs Slurm's client commands: argv only (no shell), a bounded time, and an
 * environment of our choosing. `sbatch` exports its own environment into the
 * job record (the batch script then clears it), so it gets PATH (to find the
 * commands) and SLURM_CONF when configured, never the controller's secrets.
 */
export class SlurmCommands {
  readonly #env: Record<string, string>;

  constructor(
    private readonly executor: string,
    private readonly timeoutMs: number,
    slurmConf: string | null,
    private readonly log: Logger,
  ) {
    this.#env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      // Fixed output (dates, messages) whatever the controller's locale.
      LC_ALL: 'C',
      ...(slurmConf === null ? {} : { SLURM_CONF: slurmConf }),
    };
  }

  /**
   * Throws `ExecutorUnavailableError` when the command is missing, times out,
   * or says it cannot reach slurmctld; `SlurmCommandError` for any other failure.
   */
  run(command: string, args: readonly string[]): Promise<CommandResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      execFile(
        command,
        args,
        {
          env: this.#env,
          timeout: this.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 256 * 1024 * 1024,
          encoding: 'utf8',
        },
        (err, stdout, stderr) => {
          this.log.debug({ command, ms: Date.now() - started, failed: err !== null }, 'slurm');
          if (err === null) return resolve({ stdout, stderr });
          reject(this.#classify(command, err, stderr));
        },
      );
    });
  }

  #classify(command: string, err: ExecFileException, stderr: string): Error {
    if (err.code === 'ENOENT') {
      return new ExecutorUnavailableError(
        this.executor,
        `${command} not found on PATH: install Slurm's client commands (Debian: slurm-client) on the controller`,
        { cause: err },
      );
    }
    if (err.killed === true) {
      return new ExecutorUnavailableError(
        this.executor,
        `${command} did not answer within ${this.timeoutMs / 1000} s (command_timeout)`,
        { cause: err },
      );
    }
    if (UNREACHABLE.test(stderr)) {
      return new ExecutorUnavailableError(this.executor, `${command}: ${firstLines(stderr)}`, {
        cause: err,
      });
    }
    const code = typeof err.code === 'number' ? err.code : null;
    return new SlurmCommandError(command, code, stderr, { cause: err });
  }
}
