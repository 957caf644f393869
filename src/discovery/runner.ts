// One way to run a command on a machine, whatever the transport: the local
// runner spawns /bin/sh, the SSH runner (ssh2) execs over a connection. The
// probe and the Proxmox CLI fallback are written against this interface only.

export interface RunOptions {
  /** Aborts the command (and, for SSH, the connection attempt). */
  signal?: AbortSignal;
  /** Deadline for the whole call: connect (remote runners) and exec. */
  timeoutMs: number;
  /** Stop reading past this many bytes of stdout+stderr; the result says `truncated`. */
  maxBytes: number;
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** null when the command was killed (timeout, abort, truncation) or by a signal. */
  exitCode: number | null;
  timedOut: boolean;
  truncated: boolean;
  aborted: boolean;
  durationMs: number;
}

export type RunnerErrorCode = "spawn_failed" | "unreachable" | "timeout" | "auth_failed" | "host_key_mismatch" | "aborted" | "error";

/** The command could not be run at all (as opposed to running and failing). */
export class RunnerError extends Error {
  override name = "RunnerError";
  /** A fault worth another attempt (connection refused or reset, network unreachable) — never auth or host key. */
  readonly transient: boolean;
  /** How far the remote runner got: connect (TCP/handshake), auth, or exec. */
  readonly stage: "connect" | "auth" | "exec" | undefined;
  constructor(
    readonly code: RunnerErrorCode,
    message: string,
    options?: { cause?: unknown; transient?: boolean; stage?: "connect" | "auth" | "exec" },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options?.transient ?? false;
    this.stage = options?.stage;
  }
}

export interface CommandRunner {
  /** Where commands run, for messages: "local", "root@10.0.0.5:22". */
  readonly where: string;
  run(command: string, opts: RunOptions): Promise<RunResult>;
}
