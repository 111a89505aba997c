/**
 * Every error autoctrl raises on purpose is an `AutoctrlError`: it has a stable
 * `code` for scripts and the API, structured fields, and a message that says
 * how to fix the problem.
 */
export class AutoctrlError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A state change that the transition tables of `model/` forbid. */
export class IllegalTransitionError extends AutoctrlError {
  constructor(
    readonly entity: 'instance' | 'job',
    readonly id: number | string,
    readonly from: string,
    readonly to: string,
  ) {
    super(
      'illegal_transition',
      `${entity} ${id}: transition ${from} → ${to} is not allowed by the ${entity} state machine`,
    );
  }
}

/**
 * A compare-and-set on the store lost: the record is no longer in the state the
 * caller read. Another controller or a concurrent report moved it; re-read and retry.
 */
export class StaleStateError extends AutoctrlError {
  constructor(
    readonly entity: 'instance' | 'job',
    readonly id: number,
    readonly expected: string,
    readonly actual: string | null,
  ) {
    super(
      'stale_state',
      `${entity} ${id} is ${actual ?? 'missing'}, not ${expected}: it was changed concurrently; re-read it and try again`,
    );
  }
}

/** A record that does not exist. */
export class NotFoundError extends AutoctrlError {
  constructor(
    readonly entity: string,
    readonly key: string | number,
  ) {
    super(
      'not_found',
      `no ${entity} ${key}: check the name or number (\`autoctrl status\` lists them)`,
    );
  }
}

/** Input from a person or a job that cannot be used as given. */
export class InvalidInputError extends AutoctrlError {
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('invalid_input', `${field}: ${message}`, options);
  }
}

/**
 * A report for a job attempt that is over (done, failed, or followed by a
 * newer attempt): a job's token speaks for it only while it is queued or running.
 */
export class AttemptEndedError extends AutoctrlError {
  constructor(
    readonly jobId: number,
    readonly attempt: number,
    readonly ended: string,
    readonly current: number,
  ) {
    super(
      'attempt_ended',
      `job ${jobId}: attempt ${attempt} has ended (${ended}), so it may no longer report${current !== attempt ? `; attempt ${current} reports with its own token` : ''}; nothing was recorded`,
    );
  }
}

/** A campaign name that is taken: campaigns are never replaced, so their history stays true. */
export class CampaignExistsError extends AutoctrlError {
  constructor(readonly campaign: string) {
    super(
      'campaign_exists',
      `campaign ${campaign} exists already: choose another name (\`autoctrl campaign list\` shows the taken ones)`,
    );
  }
}

/**
 * A campaign whose state does not allow what was asked: extending a
 * cancelled one, deleting one with work still open. The message says what
 * to do first.
 */
export class CampaignStateError extends AutoctrlError {
  constructor(
    readonly campaign: string,
    readonly state: string,
    message: string,
  ) {
    super('campaign_state', `campaign ${campaign} is ${state}: ${message}`);
  }
}

/**
 * The store failed in a way worth retrying (a serialization failure, a
 * dropped connection, a busy database): the transaction was rolled back.
 */
export class TransientStoreError extends AutoctrlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_transient', `${message}: the store is busy or unreachable; retrying`, options);
  }
}

/**
 * The disk under the store is full (`SQLITE_FULL`): the transaction was
 * rolled back and nothing was written. Transient: the same write succeeds
 * once space is freed, so callers wait and retry as for any outage.
 */
export class StoreFullError extends TransientStoreError {
  constructor(
    readonly store: string,
    options?: { cause?: unknown },
  ) {
    super(`store ${store} cannot write`, options);
    this.message = `store ${store} cannot write: its disk is full; free some space there (autoctrl waits and retries meanwhile)`;
  }
}

/** A leader-only write carried an epoch that is no longer the lease's: another controller leads now. */
export class FencedError extends AutoctrlError {
  constructor(
    readonly lease: string,
    readonly epoch: number,
    readonly current: number | null,
  ) {
    super(
      'fenced',
      `lease ${lease}: epoch ${epoch} is stale (now ${current ?? 'none'}); another controller leads, this one stops passing`,
    );
  }
}

/** Recording a submission for a job whose claim this process no longer holds. */
export class ClaimLostError extends AutoctrlError {
  constructor(
    readonly jobId: number,
    readonly owner: string,
    readonly holder: string | null,
  ) {
    super(
      'claim_lost',
      `job ${jobId}: claimed by ${holder ?? 'nobody'}, not ${owner}; its claim expired and was taken back`,
    );
  }
}

/** A cursor compare-and-set lost: another writer moved it first. */
export class CursorConflictError extends AutoctrlError {
  constructor(
    readonly key: string,
    readonly expected: string | null,
  ) {
    super('cursor_conflict', `cursor ${key} changed concurrently: re-read it and try again`);
  }
}

/** The store's schema is newer than this autoctrl knows. */
export class StoreSchemaNewerError extends AutoctrlError {
  constructor(
    readonly store: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      'store_schema_newer',
      `store ${store} has schema version ${found}, newer than the ${known} this autoctrl knows: upgrade autoctrl on this host (another controller migrated it)`,
    );
  }
}

/**
 * The store's server cannot be used: unreachable, a wrong database or user,
 * refused credentials. One line naming where it looked, never the password.
 */
export class StoreUnavailableError extends AutoctrlError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly database: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'store_unavailable',
      `cannot use the PostgreSQL store at ${host}:${port}, database ${database}: ${reason}; check that the server runs there, the database exists, and the user and password (PGPASSWORD or password_file) are right`,
      options,
    );
  }
}

/**
 * A batch system did not answer or refused (a timeout, a daemon down): the
 * executor's jobs wait and are tried again; no job's attempt is used up.
 */
export class ExecutorUnavailableError extends AutoctrlError {
  constructor(
    readonly executor: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'executor_unavailable',
      `executor ${executor} is unavailable: ${reason}; its jobs wait until it answers again`,
      options,
    );
  }
}

/**
 * Something around a job failed before it could start (a full disk, an
 * unwritable data directory): not the job's fault, so it is retried without
 * using up the job's own retries once the cause is fixed.
 */
export class InfrastructureError extends AutoctrlError {
  constructor(
    readonly what: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('infrastructure', `${what}: ${reason}`, options);
  }
}

/** A job whose log cannot be read (not submitted yet, or the file is gone). */
export class LogNotFoundError extends AutoctrlError {
  constructor(jobId: number, why: string) {
    super('not_found', `log of job ${jobId}: ${why}`);
  }
}
