// Promote's refusals. Each names the registry state that forbids the move and carries a code;
// the functions' HTTP layer (@mlops/platform) turns codes into statuses, the CLI reports them.

export class AlreadyChampionError extends Error {
  readonly code = 'ALREADY_CHAMPION';
  constructor(readonly version: string) {
    super(`${version} is already the champion`);
    this.name = 'AlreadyChampionError';
  }
}

/** One canary at a time: another candidate waits until the running one completes or rolls back. */
export class CanaryRunningError extends Error {
  readonly code = 'CANARY_RUNNING';
  constructor(
    readonly running: string,
    readonly candidate: string,
  ) {
    super(`a canary of ${running} is running; it must finish before ${candidate} can start one`);
    this.name = 'CanaryRunningError';
  }
}

/** A rollback without a named version, and the audit trail shows no champion before the current one. */
export class NoEarlierChampionError extends Error {
  readonly code = 'NO_EARLIER_CHAMPION';
  constructor(readonly current: string | undefined) {
    super(`no earlier champion to roll back to${current ? ` from ${current}` : ''}; name a version`);
    this.name = 'NoEarlierChampionError';
  }
}
