// Runs commands on this machine through /bin/sh, with the same deadline, byte
// cap and cancellation contract as the SSH runner.
import { spawn } from "node:child_process";
import { RunnerError, type CommandRunner, type RunOptions, type RunResult } from "../runner.js";

export class LocalRunner implements CommandRunner {
  readonly where = "local";

  run(command: string, opts: RunOptions): Promise<RunResult> {
    const started = performance.now();
    return new Promise<RunResult>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new RunnerError("aborted", "cancelled before the command started"));
        return;
      }
      // detached: the command gets its own process group, so a timeout or an
      // abort kills the whole pipeline it started, not only the shell.
      const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      let timedOut = false;
      let truncated = false;
      let aborted = false;
      let settled = false;

      let graceTimer: NodeJS.Timeout | undefined;
      const kill = () => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
        // A grandchild that moved to its own process group (GNU `timeout` does)
        // escapes the group kill and may hold our pipes open: stop waiting for
        // them shortly after the shell itself is gone.
        graceTimer ??= setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          settle(null);
        }, 500);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs);
      const onAbort = () => {
        aborted = true;
        kill();
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });

      const collect = (sink: Buffer[]) => (chunk: Buffer) => {
        if (truncated) return;
        const room = opts.maxBytes - bytes;
        if (chunk.length > room) {
          if (room > 0) sink.push(chunk.subarray(0, room));
          bytes = opts.maxBytes;
          truncated = true;
          kill();
          return;
        }
        bytes += chunk.length;
        sink.push(chunk);
      };
      child.stdout.on("data", collect(out));
      child.stderr.on("data", collect(err));
      child.stdin.on("error", () => undefined); // the command may exit without reading stdin
      child.on("error", (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        reject(new RunnerError("spawn_failed", `cannot start /bin/sh: ${e.message}`, { cause: e }));
      });
      const settle = (code: number | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(graceTimer);
        opts.signal?.removeEventListener("abort", onAbort);
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          exitCode: timedOut || truncated || aborted ? null : code,
          timedOut,
          truncated,
          aborted,
          durationMs: performance.now() - started,
        });
      };
      child.on("close", (code) => settle(code));
      child.stdin.end(opts.stdin ?? "");
    });
  }
}
