import { z } from "zod";
import { listRuns } from "../inventory/queries.js";
import { recentRunDurations } from "../inventory/run-history.js";
import { SourceRunSchema, type SourceRunStatus } from "./schemas.js";
import { decodeCursor, defineTool, encodeCursor } from "./tool.js";

export const getDiscoveryStatus = defineTool({
  name: "get_discovery_status",
  title: "Discovery status",
  description:
    "Shows whether a discovery is running now, the outcome of the latest runs per source, and the server's schedule (next discovery and health check, skipped ticks, recent run durations). Call run_discovery to start one, or get_fleet_overview to read what they found.",
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
    schedule: z.object({
      enabled: z.boolean().describe("A scheduler runs in this server (`fleet-mcp serve`): periodic discovery and health checks."),
      reason: z.string().nullable().describe("Why not, when enabled is false."),
      discovery: z
        .object({
          enabled: z.boolean(),
          interval_s: z.number().describe("Seconds between the end of one run and the next scheduled one; 0 = off."),
          jitter: z.number().describe("Each wait is the interval ± this fraction."),
          next_run_at: z.string().nullable().describe("null while a scheduled run is in progress or when off."),
          running_run_id: z.number().int().nullable().describe("The scheduled run in progress."),
          last_run_id: z.number().int().nullable().describe("The last run the scheduler started."),
          skipped: z.number().int().describe("Ticks skipped because a run was already in progress."),
          last_skipped_at: z.string().nullable(),
          last_skip_reason: z.string().nullable(),
          last_error: z.string().nullable(),
        })
        .nullable(),
      health_check: z
        .object({
          enabled: z.boolean(),
          interval_s: z.number().describe("Seconds between health checks with the stale-cleanup pass; 0 = off."),
          next_run_at: z.string().nullable(),
          last_run_at: z.string().nullable(),
          last_duration_ms: z.number().int().nullable(),
          last_lifecycle_changes: z.number().int().nullable().describe("Targets the last pass moved to stale or retired."),
          skipped: z.number().int(),
          last_skipped_at: z.string().nullable(),
          last_skip_reason: z.string().nullable(),
          last_error: z.string().nullable(),
        })
        .nullable(),
      recent_durations_ms: z.array(z.number().int()).describe("Durations of the last completed discovery runs (any trigger), newest first."),
    }),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const running = ctx.app.discovery.current();
    const beforeId = args.cursor ? Number(decodeCursor(args.cursor, ["before"]).before) : undefined;
    const page = listRuns(ctx.app.db, args.limit + 1, beforeId);
    const more = page.length > args.limit;
    const runs = more ? page.slice(0, args.limit) : page;
    const { scheduler, config } = ctx.app;
    const status = scheduler?.status();
    const schedule = status
      ? {
          enabled: status.active,
          reason: status.active ? null : "The scheduler is stopped: the server is shutting down.",
          discovery: status.discovery,
          health_check: status.health_check,
          recent_durations_ms: status.recent_durations_ms,
        }
      : {
          enabled: false,
          reason: `No scheduler runs in this process (a one-shot command): discovery runs only on demand. \`fleet-mcp serve\` runs ${
            config.schedule.discoveryIntervalMs > 0 ? `one every ${config.schedule.discoveryIntervalMs / 1000} s` : "none (schedule.discovery_interval is 0)"
          }.`,
          discovery: null,
          health_check: null,
          recent_durations_ms: recentRunDurations(ctx.app.db, 10),
        };
    return {
      schedule,
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
    const d = o.schedule.discovery;
    const scheduled = !o.schedule.enabled
      ? " No scheduled discovery in this process."
      : !d?.enabled
        ? " Scheduled discovery is off."
        : ` Next scheduled discovery: ${d.next_run_at ?? "after the one in progress"} (every ${d.interval_s} s).${
            d.last_skipped_at ? ` Last skipped ${d.last_skipped_at}: ${d.last_skip_reason}.` : ""
          }`;
    return now + lastText + scheduled;
  },
});
