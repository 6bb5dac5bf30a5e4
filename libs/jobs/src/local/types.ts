export interface LocalLauncherOptions {
  /** The trainer entry, e.g. [process.execPath, '--import', 'tsx', '/repo/apps/trainer/src/main.ts']; request.args are appended. */
  command: string[];
  cwd?: string;
  /**
   * The job's stdout and stderr go to <logDir>/<runId>.log (appended, so a rerun keeps the earlier run),
   * and its pid, start time and log to <logDir>/<runId>.job.json: a launcher started later (after a
   * restart) with the same logDir finds the job there.
   */
  logDir: string;
  /** Base environment (default process.env); request.env is merged over it. */
  env?: NodeJS.ProcessEnv;
  /** Receives each JSON object the job prints on stdout, one per line. */
  onEvent?: (runId: string, event: Record<string, unknown>) => void;
  /** How long cancel() waits after SIGTERM before SIGKILL (default 10 s, Cloud Run's own grace period). */
  killGraceMs?: number;
  /** A job still running this long after it started is stopped (SIGTERM, then SIGKILL) and failed as expired (default 24 h). */
  maxRunMs?: number;
  /** How often a job started by an earlier launcher (found after a restart) is checked for having ended (default 1 s). */
  pollMs?: number;
}
