// Runs one command on a remote host over SSH (ssh2): connect, verify the host
// key, authenticate, exec, feed stdin, read at most maxBytes, all under one
// deadline that the caller's AbortSignal can cut short. One connection per
// run() call: the probe needs exactly one exec per host.
import { createHash } from "node:crypto";
import { Client, type AuthenticationType, type ConnectConfig } from "ssh2";
import { RunnerError, type CommandRunner, type RunnerErrorCode, type RunOptions, type RunResult } from "../runner.js";

export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
}

export interface SshAuth {
  /** Path of the ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
  privateKey?: string | Buffer;
  passphrase?: string;
  password?: string;
  /** Offer the "none" method first (Tailscale SSH authorises by tailnet identity). */
  tryNone?: boolean;
}

export interface PresentedHostKey {
  fingerprint: string;
  type: string;
}

export interface SshRunnerOptions {
  endpoint: SshEndpoint;
  auth: SshAuth;
  /** Decides whether to trust the key the server presents; false refuses the connection. */
  verifyHostKey: (key: PresentedHostKey) => boolean;
  keepaliveIntervalMs?: number;
  /** Host key types to negotiate first (strict: those known_hosts holds), as OpenSSH orders them. */
  preferredHostKeyTypes?: string[];
}

// ssh2's default server host key order; a preferred type moves to the front.
const HOST_KEY_ALGORITHMS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/** Maps known_hosts key types to the algorithms that present them (an ssh-rsa key is offered as rsa-sha2-*). */
export function hostKeyAlgorithmOrder(preferredTypes: readonly string[]): string[] {
  const first = preferredTypes.flatMap((t) => (t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : HOST_KEY_ALGORITHMS.includes(t) ? [t] : []));
  return [...new Set([...first, ...HOST_KEY_ALGORITHMS])];
}

/** OpenSSH's fingerprint of a public key blob: SHA256, unpadded base64. */
export function fingerprintOfBlob(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type is the first string of the SSH wire-format blob. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return len > 0 && len < 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString("latin1") : "unknown";
}

/** Connection-level errno codes worth another attempt (the host may come back in a moment). */
const TRANSIENT = new Set(["ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNREFUSED", "EPIPE", "EAI_AGAIN"]);

export class SshRunner implements CommandRunner {
  readonly where: string;
  /** The host key the server presented on the last attempt, trusted or not. */
  presentedHostKey: PresentedHostKey | null = null;

  constructor(private readonly opts: SshRunnerOptions) {
    const e = opts.endpoint;
    this.where = `${e.username}@${e.host}:${e.port}`;
  }

  run(command: string, opts: RunOptions): Promise<RunResult> {
    const started = performance.now();
    const { endpoint, auth } = this.opts;
    return new Promise<RunResult>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new RunnerError("aborted", "cancelled before connecting"));
        return;
      }
      const client = new Client();
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      let stage: "connect" | "auth" | "exec" = "connect";
      let hostKeyRejected = false;
      let truncated = false;
      let exitCode: number | null = null;
      let settled = false;

      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        client.removeAllListeners("ready");
        client.end();
        // end() waits for the peer; destroy() guarantees the socket is gone.
        setImmediate(() => client.destroy());
      };
      const fail = (code: RunnerErrorCode, message: string, cause?: unknown, transient = false) => {
        if (settled) return;
        settled = true;
        cleanup();
        reject(new RunnerError(code, message, { cause, transient, stage }));
      };
      const finish = (flags: { timedOut?: boolean; aborted?: boolean } = {}) => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          exitCode: truncated || flags.timedOut || flags.aborted ? null : exitCode,
          timedOut: flags.timedOut ?? false,
          truncated,
          aborted: flags.aborted ?? false,
          durationMs: performance.now() - started,
        });
      };

      const timer = setTimeout(() => {
        // Past the deadline: whatever was read of the exec is kept (sections that finished still count).
        if (stage === "exec") finish({ timedOut: true });
        else fail("timeout", `no answer from ${this.where} within ${opts.timeoutMs} ms (stage: ${stage})`, undefined, stage === "connect");
      }, opts.timeoutMs);
      const onAbort = () => {
        if (stage === "exec") finish({ aborted: true });
        else fail("aborted", "cancelled");
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });

      const collect = (sink: Buffer[]) => (chunk: Buffer) => {
        if (truncated || settled) return;
        const room = opts.maxBytes - bytes;
        if (chunk.length > room) {
          if (room > 0) sink.push(chunk.subarray(0, room));
          bytes = opts.maxBytes;
          truncated = true;
          finish();
          return;
        }
        bytes += chunk.length;
        sink.push(chunk);
      };

      client.on("connect", () => {
        // Without TCP_NODELAY every small exchange waits on Nagle + delayed ACK (~40-90 ms).
        client.setNoDelay(true);
        stage = "auth";
      });
      client.on("ready", () => {
        stage = "exec";
        client.exec(command, (execErr, stream) => {
          if (execErr) {
            fail("error", `exec refused by ${this.where}: ${execErr.message}`, execErr);
            return;
          }
          stream.on("data", collect(out));
          stream.stderr.on("data", collect(err));
          stream.on("exit", (code: number | null) => {
            exitCode = typeof code === "number" ? code : null;
          });
          stream.on("close", () => finish());
          stream.on("error", (e: Error) => fail("error", `channel error from ${this.where}: ${e.message}`, e));
          stream.end(opts.stdin ?? "");
        });
      });
      client.on("error", (e: Error & { level?: string; code?: string }) => {
        if (hostKeyRejected) {
          fail(
            "host_key_mismatch",
            `${this.where} presented host key ${this.presentedHostKey?.fingerprint ?? "?"}, which is not the trusted one; refusing to connect`,
            e,
          );
        } else if (e.level === "client-authentication") {
          fail("auth_failed", `authentication to ${this.where} failed (methods tried: ${methods.join(", ") || "none"})`, e);
        } else if (e.level === "client-timeout") {
          fail("timeout", `SSH handshake with ${this.where} timed out`, e, true);
        } else if (e.code && TRANSIENT.has(e.code)) {
          fail(
            e.code === "ETIMEDOUT" ? "timeout" : "unreachable",
            `${this.where}: ${e.code === "ECONNREFUSED" ? "connection refused" : e.message}`,
            e,
            stage === "connect" || e.code === "ECONNRESET",
          );
        } else if (stage === "exec") {
          // The connection dropped mid-output: keep what arrived; the probe marks cut-off sections.
          finish();
        } else {
          fail("unreachable", `${this.where}: ${e.message}`, e, false);
        }
      });
      client.on("close", () => {
        if (stage === "exec") finish();
        else fail("unreachable", `${this.where} closed the connection during the ${stage} stage`, undefined, stage === "connect");
      });

      const methods: AuthenticationType[] = [];
      if (auth.tryNone) methods.push("none");
      if (auth.agent) methods.push("agent");
      if (auth.privateKey) methods.push("publickey");
      if (auth.password !== undefined) methods.push("password");
      const config: ConnectConfig = {
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.username,
        readyTimeout: opts.timeoutMs,
        keepaliveInterval: this.opts.keepaliveIntervalMs ?? 5000,
        keepaliveCountMax: 3,
        ...(this.opts.preferredHostKeyTypes?.length ? { algorithms: { serverHostKey: hostKeyAlgorithmOrder(this.opts.preferredHostKeyTypes) as never } } : {}),
        authHandler: methods,
        hostVerifier: (key: Buffer) => {
          const presented = { fingerprint: fingerprintOfBlob(key), type: keyTypeOfBlob(key) };
          this.presentedHostKey = presented;
          const ok = this.opts.verifyHostKey(presented);
          if (!ok) hostKeyRejected = true;
          return ok;
        },
        ...(auth.agent ? { agent: auth.agent } : {}),
        ...(auth.privateKey ? { privateKey: auth.privateKey } : {}),
        ...(auth.passphrase ? { passphrase: auth.passphrase } : {}),
        ...(auth.password !== undefined ? { password: auth.password } : {}),
      };
      try {
        client.connect(config);
      } catch (e) {
        // ssh2 throws synchronously on a bad private key or passphrase.
        fail("auth_failed", `cannot use the configured key for ${this.where}: ${(e as Error).message}`, e);
      }
    });
  }
}
