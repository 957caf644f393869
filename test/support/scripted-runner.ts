// A CommandRunner that answers the real probe script with canned section
// outputs (built from the captured fixtures), in the probe's own framing: the
// nonce is read from the script it is given, exactly as a shell would see it.
// The canned hosts themselves live in src/sim (they also serve `fleet-mcp demo`).
import { readFileSync } from "node:fs";
import { RunnerError, type CommandRunner, type RunOptions, type RunResult } from "../../src/discovery/runner.js";
import { renderProbeOutput, type CannedHost } from "../../src/sim/canned-hosts.js";

export * from "../../src/sim/canned-hosts.js";

/** A capture from test/fixtures, as recorded. */
export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
}

export type RunnerBehaviour =
  { kind: "answer"; host: CannedHost; delayMs?: number } | { kind: "throw"; code: RunnerError["code"]; message: string } | { kind: "hang" };

/** Answers each run according to `behave()`, which the test may change between runs. */
export class ScriptedRunner implements CommandRunner {
  readonly where = "scripted";
  calls = 0;
  constructor(public behave: () => RunnerBehaviour) {}

  async run(_command: string, opts: RunOptions): Promise<RunResult> {
    this.calls++;
    const b = this.behave();
    const nonce = /M='@@fleet-([0-9a-f]+)@@'/.exec(opts.stdin ?? "")?.[1];
    if (!nonce) throw new Error("ScriptedRunner: no probe nonce in the script");
    if (b.kind === "throw") throw new RunnerError(b.code, b.message);
    const started = performance.now();
    const wait = b.kind === "hang" ? opts.timeoutMs : (b.delayMs ?? 0);
    const aborted = await new Promise<boolean>((resolve) => {
      if (opts.signal?.aborted) return resolve(true);
      const t = setTimeout(() => resolve(false), wait);
      opts.signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(t);
          resolve(true);
        },
        { once: true },
      );
    });
    const base = { stderr: "", truncated: false, durationMs: performance.now() - started };
    if (aborted) return { ...base, stdout: "", exitCode: null, timedOut: false, aborted: true };
    if (b.kind === "hang") return { ...base, stdout: "", exitCode: null, timedOut: true, aborted: false };
    return { ...base, stdout: renderProbeOutput(nonce, b.host), exitCode: 0, timedOut: false, aborted: false };
  }
}
