export interface NodeServeOptions {
  /** Defaults to `PORT` (set by Cloud Run), then 8080. Pass 0 for a free port. */
  port?: number;
  /** Defaults to 0.0.0.0 so the container's port is reachable from outside. */
  hostname?: string;
  /** Runs after the last in-flight request has finished (or was cut off at the deadline), e.g. to flush buffered logs. */
  onShutdown?: () => Promise<void>;
  /**
   * Shutdown ends within this, whatever hangs (default 8 s: Cloud Run kills 10 s after SIGTERM). In-flight
   * requests get the first half; connections still open then are closed, and onShutdown gets the rest.
   */
  shutdownDeadlineMs?: number;
  /** Drain and exit on SIGTERM/SIGINT (default). Off when one process hosts several functions and shuts them down itself. */
  handleSignals?: boolean;
}

/** What a function's Node entry (`startNodeHost`) accepts: where to listen, and the environment to read settings from. */
export interface NodeHostOptions {
  port?: number | undefined;
  hostname?: string;
  env?: NodeJS.ProcessEnv;
  handleSignals?: boolean;
}

export interface NodeServer {
  /** The port actually bound (differs from the requested one when that was 0). */
  port: number;
  /** Stops accepting connections, waits for in-flight requests, then runs onShutdown, all within the deadline. */
  close(): Promise<void>;
}
