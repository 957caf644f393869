import { z } from "zod";
import { DiscoveryBusyError, UnknownSourceError, type RunReport } from "../app/discovery-service.js";
import { SourceRunSchema, type SourceRunStatus } from "./schemas.js";
import { defineTool, ToolError, type ToolCallContext } from "./tool.js";

/** Most host failures sent as MCP log messages per run; the result lists the first 50 anyway. */
const MAX_HOST_LOGS = 50;

// Source warnings and host failures as MCP log messages (level warning), so a
// client shows them as they happen instead of only inside the result.
function logRunProblems(r: RunReport, ctx: ToolCallContext): void {
  if (!ctx.log) return;
  for (const s of r.sources) {
    if (s.error) ctx.log("warning", `source ${s.id} (${s.kind}) ${s.status}: ${s.error}`, { run_id: r.runId, source: s.id });
    for (const w of s.warnings.slice(0, 20)) ctx.log("warning", `source ${s.id}: ${w}`, { run_id: r.runId, source: s.id });
  }
  for (const p of r.problems.slice(0, MAX_HOST_LOGS)) {
    ctx.log("warning", `host ${p.name} (${p.sourceId}) ${p.status}${p.error ? `: ${p.error}` : ""}`, {
      run_id: r.runId,
      source: p.sourceId,
      target_id: p.targetId,
    });
  }
  if (r.problems.length > MAX_HOST_LOGS)
    ctx.log("warning", `${r.problems.length - MAX_HOST_LOGS} more host(s) with problems: see get_discovery_status.`, { run_id: r.runId });
}

export const runDiscovery = defineTool({
  name: "run_discovery",
  title: "Run discovery",
  description:
    "Probes the configured sources now (by default just this machine) and records what they see in the inventory, returning per-source and per-host status. Afterwards call get_fleet_overview for the picture or get_target for one machine.",
  input: z
    .object({
      sources: z
        .array(z.string().min(1).max(63))
        .max(50)
        .optional()
        .describe("Ids of the sources to run (see get_discovery_status); all configured sources when omitted."),
      targets: z
        .array(z.string().min(1).max(253))
        .max(100)
        .optional()
        .describe("Only these hosts, by configured name or address (e.g. to re-probe one machine); every host of the chosen sources when omitted."),
    })
    .strict(),
  output: z.object({
    run_id: z.number().int(),
    status: z.enum(["ok", "partial", "failed", "cancelled", "running", "interrupted"]),
    started_at: z.string(),
    duration_ms: z.number().int(),
    targets_seen: z.number().int(),
    targets_added: z.number().int(),
    targets_unreachable: z.number().int(),
    sources: z.array(SourceRunSchema),
    problems: z
      .array(
        z.object({
          target_id: z.string(),
          name: z.string(),
          source: z.string(),
          status: z.string(),
          error: z.string().nullable(),
        }),
      )
      .describe("Hosts not fully probed: unreachable, timed out, or with failed sections (first 50)."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx) {
    try {
      const r = await ctx.app.discovery.run({
        trigger: "tool",
        ...(args.sources ? { sourceIds: args.sources } : {}),
        ...(args.targets ? { targets: args.targets } : {}),
        signal: ctx.signal,
        onProgress: (p) => ctx.progress(p.done, p.total, p.message),
      });
      logRunProblems(r, ctx);
      return {
        run_id: r.runId,
        status: r.status,
        started_at: r.startedAt.toISOString(),
        duration_ms: Math.round(r.durationMs),
        targets_seen: r.targetsSeen,
        targets_added: r.targetsAdded,
        targets_unreachable: r.targetsUnreachable,
        sources: r.sources.map((s) => ({
          id: s.id,
          kind: s.kind,
          status: s.status as SourceRunStatus,
          targets: s.targets,
          hosts_ok: s.hostsOk,
          hosts_failed: s.hostsFailed,
          duration_ms: Math.round(s.durationMs),
          error: s.error,
          warnings: s.warnings.slice(0, 20),
        })),
        problems: r.problems.slice(0, 50).map((p) => ({ target_id: p.targetId, name: p.name, source: p.sourceId, status: p.status, error: p.error })),
      };
    } catch (err) {
      if (err instanceof DiscoveryBusyError || err instanceof UnknownSourceError) throw new ToolError(err.message);
      throw err;
    }
  },
  summarize(o) {
    const probs = o.problems.length ? ` ${o.problems.length} host(s) with problems, e.g. ${o.problems[0]!.name}: ${o.problems[0]!.status}.` : "";
    return `Discovery run ${o.run_id} ${o.status} in ${(o.duration_ms / 1000).toFixed(1)} s: ${o.targets_seen} target(s), ${o.targets_added} new, ${o.targets_unreachable} unreachable.${probs} Next: get_fleet_overview, or get_target for one machine.`;
  },
});
