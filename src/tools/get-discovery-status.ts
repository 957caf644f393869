import { z } from "zod";
import { listRuns } from "../inventory/queries.js";
import { SourceRunSchema, type SourceRunStatus } from "./schemas.js";
import { decodeCursor, defineTool, encodeCursor } from "./tool.js";

export const getDiscoveryStatus = defineTool({
  name: "get_discovery_status",
  title: "Discovery status",
  description:
    "Shows whether a discovery is running now and the outcome of the latest runs, per source. Call run_discovery to start one, or get_fleet_overview to read what they found.",
  input: z
    .object({
      limit: z.number().int().min(1).max(200).default(25).describe("Runs per page, newest first (1-200, default 25)."),
      cursor: z.string().max(200).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    running: z.object({ run_id: z.number().int(), started_at: z.string() }).nullable(),
    configured_sources: z.array(z.object({ id: z.string(), kind: z.string() })),
    runs: z.array(
      z.object({
        run_id: z.number().int(),
        trigger: z.string(),
        status: z.string(),
        started_at: z.string(),
        finished_at: z.string().nullable(),
        duration_ms: z.number().int().nullable(),
        targets_seen: z.number().int(),
        targets_added: z.number().int(),
        targets_unreachable: z.number().int(),
        error: z.string().nullable(),
        sources: z.array(SourceRunSchema),
      }),
    ),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const running = ctx.app.discovery.current();
    const beforeId = args.cursor ? Number(decodeCursor(args.cursor, ["before"]).before) : undefined;
    const page = listRuns(ctx.app.db, args.limit + 1, beforeId);
    const more = page.length > args.limit;
    const runs = more ? page.slice(0, args.limit) : page;
    return {
      next_cursor: more ? encodeCursor({ before: runs[runs.length - 1]!.id }) : null,
      running: running ? { run_id: running.runId, started_at: running.startedAt } : null,
      configured_sources: ctx.app.config.sources.map((s) => ({ id: s.id, kind: s.kind })),
      runs: runs.map((r) => ({
        run_id: r.id,
        trigger: r.trigger,
        status: r.status,
        started_at: r.startedAt,
        finished_at: r.finishedAt,
        duration_ms: r.durationMs,
        targets_seen: r.targetsSeen,
        targets_added: r.targetsAdded,
        targets_unreachable: r.targetsUnreachable,
        error: r.error,
        sources: r.sources.map((s) => ({
          id: s.sourceId,
          kind: s.kind,
          status: s.status as SourceRunStatus,
          targets: s.targets,
          hosts_ok: s.hostsOk,
          hosts_failed: s.hostsFailed,
          duration_ms: s.durationMs,
          error: s.error,
          warnings: JSON.parse(s.warnings) as string[],
        })),
      })),
    };
  },
  summarize(o) {
    const now = o.running ? `Run ${o.running.run_id} is running since ${o.running.started_at}.` : "No discovery is running.";
    const last = o.runs[0];
    const lastText = last
      ? ` Last run ${last.run_id}: ${last.status}, ${last.targets_seen} target(s), started ${last.started_at}.`
      : " No discovery has run yet: call run_discovery.";
    return now + lastText;
  },
});
