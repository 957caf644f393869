import { z } from "zod";
import { EVENT_SEVERITIES, EVENT_TYPES, queryEvents } from "../inventory/events.js";
import { IsoTime, parseTime } from "./schemas.js";
import { findTargetsOrThrow } from "./targets.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

export const getChangeEvents = defineTool({
  name: "get_change_events",
  title: "List change events",
  description:
    "Lists what changed in the fleet, newest first: targets added, unseen or changed, services started/stopped/failed, containers added/removed/re-imaged, ports opened/closed, stacks, host keys, lifecycle and role transitions, each with before/after values. Filter by target, type, severity and time; pass next_cursor back for more, and call get_target for the current state of a target.",
  input: z
    .object({
      target: z.string().min(1).max(253).optional().describe("Only events of this target: id, name or address."),
      types: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).optional().describe("Only these event types."),
      min_severity: z.enum(EVENT_SEVERITIES).optional().describe("Only events at least this severe (info < warning < critical)."),
      since: IsoTime.optional().describe("Only events at or after this ISO-8601 time, e.g. 2026-11-23T00:00:00Z."),
      since_hours: z.number().min(0.01).max(87_600).optional().describe("Only events of the last N hours (instead of since)."),
      until: IsoTime.optional().describe("Only events at or before this ISO-8601 time."),
      run_id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().describe("Only events recorded by this discovery run."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(200).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    events: z.array(
      z.object({
        id: z.number().int(),
        ts: z.string(),
        type: z.string(),
        severity: z.enum(EVENT_SEVERITIES),
        message: z.string(),
        target: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
        run_id: z.number().int().nullable(),
        data: z.record(z.string(), z.unknown()).describe("Before/after values and the entity's name (service, container, port, field)."),
      }),
    ),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db } = ctx.app;
    if (args.since && args.since_hours !== undefined) throw new ToolError("Give either `since` or `since_hours`, not both.");
    const since = args.since
      ? parseTime(args.since)
      : args.since_hours !== undefined
        ? new Date(ctx.app.now().getTime() - args.since_hours * 3600_000)
        : undefined;
    const until = args.until ? parseTime(args.until) : undefined;
    if (since && until && since > until) throw new ToolError("The start of the time range is after `until`: swap them or drop one.");
    let targetIds: string[] | undefined;
    if (args.target) {
      targetIds = findTargetsOrThrow(db, args.target).map((t) => t.id);
    }
    const beforeId = args.cursor ? Number(decodeCursor(args.cursor, ["before"]).before) : undefined;
    const { rows, nextBeforeId } = queryEvents(db, {
      ...(targetIds ? { targetIds } : {}),
      ...(args.types ? { types: args.types } : {}),
      ...(args.min_severity ? { minSeverity: args.min_severity } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(args.run_id !== undefined ? { runId: args.run_id } : {}),
      ...(beforeId !== undefined ? { beforeId } : {}),
      limit: args.limit,
    });
    return {
      events: rows.map((r) => ({
        id: r.id,
        ts: r.ts,
        type: r.type,
        severity: r.severity as (typeof EVENT_SEVERITIES)[number],
        message: r.message,
        target: r.targetId ? { id: r.targetId, name: r.targetName } : null,
        run_id: r.runId,
        data: r.data,
      })),
      next_cursor: nextBeforeId === null ? null : encodeCursor({ before: nextBeforeId }),
    };
  },
  summarize(o) {
    if (o.events.length === 0) return "No change events match.";
    const bySeverity = o.events.reduce<Record<string, number>>((acc, e) => ((acc[e.severity] = (acc[e.severity] ?? 0) + 1), acc), {});
    const counts = Object.entries(bySeverity)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
    return `${o.events.length} event(s) (${counts}), newest: ${o.events[0]!.message}.${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});
