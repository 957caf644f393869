// The machine fleet-mcp runs on, probed without SSH through the local runner:
// the zero-config source. The same probe runs remotely through the SSH runner.
import { hostname } from "node:os";
import { observedCollections, probe } from "../probe.js";
import { LocalRunner } from "../runners/local.js";
import type { CommandRunner } from "../runner.js";
import type { DiscoveryContext, DiscoverySource, SourceResult, TargetObservation } from "../types.js";

export interface LocalSourceOptions {
  id: string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Tests inject a runner; the default spawns /bin/sh. */
  runner?: CommandRunner;
  /** Targeted run: probe only if "local" or this machine's hostname is listed. */
  only?: string[];
}

export function createLocalSource(opts: LocalSourceOptions): DiscoverySource {
  const runner = opts.runner ?? new LocalRunner();
  return {
    id: opts.id,
    kind: "local",
    async discover(ctx: DiscoveryContext): Promise<SourceResult> {
      const startedAt = ctx.now();
      if (opts.only && !opts.only.includes("local") && !opts.only.includes(hostname())) {
        return { sourceId: opts.id, kind: "local", status: "ok", startedAt, finishedAt: ctx.now(), targets: [], warnings: [] };
      }
      const result = await probe(runner, { signal: ctx.signal, timeoutMs: opts.timeoutMs, maxBytes: opts.maxOutputBytes });
      const p = result.interpretation;
      const name = p.name || hostname();
      const obs: TargetObservation = {
        kind: "host",
        // The endpoint key comes from this process, not from the probe's output, so a
        // probe that failed before reading the machine-id still lands on the same target.
        identity: [...p.identity, `endpoint:local/${hostname()}`],
        name,
        address: "local",
        status: result.status,
        ...(result.error ? { error: result.error } : {}),
        sections: p.sections,
        facts: p.facts,
        ...observedCollections(p),
        observedAt: ctx.now(),
        durationMs: result.durationMs,
      };
      ctx.onHostDone?.(1, 1, name);
      if (result.status !== "ok") ctx.log.warn("local probe incomplete", { status: result.status, error: result.error });
      const status = result.status === "ok" ? "ok" : result.status === "partial" ? "partial" : result.status === "cancelled" ? "cancelled" : "failed";
      return {
        sourceId: opts.id,
        kind: "local",
        status,
        startedAt,
        finishedAt: ctx.now(),
        targets: [obs],
        warnings: result.status === "ok" ? [] : [`local: ${result.error ?? result.status}`],
        ...(status === "failed" ? { error: result.error ?? result.status } : {}),
      };
    },
  };
}
