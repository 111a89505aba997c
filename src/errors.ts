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

/** A campaign name that is taken: campaigns are never replaced, so their history stays true. */
export class CampaignExistsError extends AutoctrlError {
  constructor(readonly campaign: string) {
    super(
      'campaign_exists',
      `campaign ${campaign} exists already: choose another name (\`autoctrl campaign list\` shows the taken ones)`,
    );
  }
}
