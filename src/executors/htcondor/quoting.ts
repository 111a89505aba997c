/**
 * Job values written into an HTCondor submit description, following the
 * submit language exactly (the "new syntax" of `arguments` and
 * `environment`, as `condor_utils/condor_arglist.cpp` and `env.cpp` read
 * and write it): an argument with white space or a single quote goes in
 * single quotes with `'` doubled, and the whole list in double quotes with
 * `"` doubled. Backslashes mean nothing there.
 *
 * What the submit language cannot carry at all: a line break (a submit
 * description is read line by line, and HTCondor itself calls newlines
 * unsafe in `environment`), and `$`, which starts a macro (`$(x)`) at submit
 * time and a match-time substitution (`$$(x)`) in the job ad. Values with
 * them go through `escapeForWrapper`, decoded on the worker by a constant
 * POSIX `sh` launcher (`WRAPPER_SCRIPT`).
 */

/** One argument as `join_args` writes it: quoted sections where needed, `''` for an empty one. */
function appendArg(arg: string, out: string): string {
  let result = out.length > 0 ? `${out} ` : out;
  if (arg === '') return `${result}''`;
  for (const ch of arg) {
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === "'") {
      // Joins a quoted section just closed, so that no doubled quote appears by accident.
      if (result.endsWith("'")) result = result.slice(0, -1);
      else result += "'";
      result += ch === "'" ? "''" : ch;
      result += "'";
    } else {
      result += ch;
    }
  }
  return result;
}

/** The raw list (what HTCondor splits back into the same strings). */
export function joinArgsV2Raw(args: readonly string[]): string {
  let out = '';
  for (const arg of args) out = appendArg(arg, out);
  return out;
}

/** The raw list in double quotes, `"` doubled: the value of `arguments =` or `environment =`. */
export function quoteV2(raw: string): string {
  return `"${raw.replaceAll('"', '""')}"`;
}

/** A value the submit language carries as written (no line break, no `$`, no NUL). */
export function isSubmitSafe(value: string): boolean {
  return !/[\n\r$\0]/.test(value);
}

export class SubmitQuotingError extends Error {
  constructor(
    readonly what: string,
    readonly value: string,
    why: string,
  ) {
    super(`${what} ${JSON.stringify(value)} ${why}`);
  }
}

function assertSafe(what: string, value: string): void {
  if (!isSubmitSafe(value)) {
    throw new SubmitQuotingError(
      what,
      value,
      'holds a line break or $, which a submit description cannot carry: escape it first',
    );
  }
}

/** `arguments = ...` for these argv values (new syntax). */
export function quoteArguments(args: readonly string[]): string {
  for (const arg of args) assertSafe('argument', arg);
  return quoteV2(joinArgsV2Raw(args));
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `environment = ...` for exactly these variables (new syntax). */
export function quoteEnvironment(env: Readonly<Record<string, string>>): string {
  const entries: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      throw new SubmitQuotingError(
        'environment variable name',
        name,
        'is not letters, digits and _ (not starting with a digit)',
      );
    }
    assertSafe(`value of ${name}`, value);
    entries.push(`${name}=${value}`);
  }
  return quoteV2(joinArgsV2Raw(entries));
}

/** A ClassAd string literal (`+Attr = "..."`), for values already known to be submit-safe. */
export function classAdString(value: string): string {
  assertSafe('ClassAd string', value);
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * A value made submit-safe for `printf '%b'` to restore: `\` doubled, line
 * breaks and `$` as escapes. With every backslash doubled, no `\c` (which
 * stops `%b`) can appear.
 */
export function escapeForWrapper(value: string): string {
  return value
    .replaceAll('\\', '\\\\')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('$', '\\0044')
    .replaceAll('\0', '');
}

/** Lists the variables the launcher decodes before it runs the job. */
export const ESCAPED_ENV = 'AUTOCTRL_CONDOR_ESCAPED';

/**
 * The launcher for jobs with values `escapeForWrapper` escaped: restores the
 * listed variables and every argument, then replaces itself with the job.
 * It is a file (`WRAPPER_NAME` in the executor's directory, transferred as
 * the executable), since its own `$` could not go into a submit line. The
 * `x` keeps trailing newlines from command substitution.
 */
export const WRAPPER_SCRIPT = `#!/bin/sh
# Written by autoctrl's HTCondor executor: decodes a job's escaped values, then runs it.
for _autoctrl_n in $${ESCAPED_ENV}; do
  eval "_autoctrl_v=\\\${$_autoctrl_n}"
  _autoctrl_v=$(printf '%bx' "$_autoctrl_v")
  export "$_autoctrl_n=\${_autoctrl_v%x}"
done
unset ${ESCAPED_ENV}
_autoctrl_c=$#
while [ "$_autoctrl_c" -gt 0 ]; do
  _autoctrl_v=$(printf '%bx' "$1"); shift
  set -- "$@" "\${_autoctrl_v%x}"
  _autoctrl_c=$((_autoctrl_c - 1))
done
unset _autoctrl_n _autoctrl_v _autoctrl_c
exec "$@"
`;

export const WRAPPER_NAME = 'autoctrl-condor-job.sh';

/** What goes into the submit description for one job's command and environment. */
export interface CommandLines {
  executable: string;
  arguments: string;
  environment: string;
}

/** A path HTCondor runs as it is: absolute, and nothing a submit line would reinterpret. */
const PLAIN_EXECUTABLE = /^\/[A-Za-z0-9_./+@%:,=-]*$/;

/**
 * `executable`, `arguments` and `environment` for a job: as given when every
 * value is submit-safe and the program is an absolute path; otherwise through
 * the launcher (`wrapper`: the path of `WRAPPER_SCRIPT`), which also looks
 * the program up in `PATH` like the local executor does.
 */
export function commandLines(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  wrapper: string,
  viaWrapper = false,
): CommandLines {
  const [program, ...args] = argv;
  if (program === undefined) throw new SubmitQuotingError('argv', '', 'is empty');
  const plain =
    !viaWrapper &&
    PLAIN_EXECUTABLE.test(program) &&
    args.every(isSubmitSafe) &&
    Object.values(env).every(isSubmitSafe);
  if (plain) {
    return {
      executable: program,
      arguments: quoteArguments(args),
      environment: quoteEnvironment(env),
    };
  }
  const escaped: string[] = [];
  const wrappedEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (isSubmitSafe(value)) {
      wrappedEnv[name] = value;
    } else {
      escaped.push(name);
      wrappedEnv[name] = escapeForWrapper(value);
    }
  }
  if (escaped.length > 0) wrappedEnv[ESCAPED_ENV] = escaped.join(' ');
  return {
    executable: wrapper,
    arguments: quoteArguments(argv.map(escapeForWrapper)),
    environment: quoteEnvironment(wrappedEnv),
  };
}
