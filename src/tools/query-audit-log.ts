import { z } from "zod";
import { AUDIT_OUTCOMES, queryAudit } from "../inventory/audit.js";
import { IsoTime, parseTime } from "./schemas.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

export const queryAuditLog = defineTool({
  name: "query_audit_log",
  title: "Query the audit log",
  description:
    "Lists recorded tool calls, newest first, filtered by tool, outcome and time range; every call (including rejected and unknown ones) is recorded with redacted arguments. Pass next_cursor back as cursor for the next page; run `fleet-mcp audit verify` to check the hash chain.",
  input: z
    .object({
      tool: z.string().min(1).max(200).optional().describe("Only calls of this tool name."),
      outcome: z.enum(AUDIT_OUTCOMES).optional().describe("Only calls with this outcome."),
      since: IsoTime.optional().describe("Only calls at or after this ISO-8601 time, e.g. 2026-11-23T00:00:00Z."),
      until: IsoTime.optional().describe("Only calls at or before this ISO-8601 time."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(200).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    entries: z.array(
      z.object({
        id: z.number().int(),
        ts: z.string(),
        tool: z.string(),
        outcome: z.enum(AUDIT_OUTCOMES),
        duration_ms: z.number().int(),
        error: z.string().nullable(),
        arguments: z.unknown().describe("The call's arguments, secrets redacted."),
        client: z.object({ name: z.string().nullable(), version: z.string().nullable() }),
        correlation_id: z.string(),
        session_id: z.string().nullable().describe("The Streamable HTTP session of the call (null over stdio)."),
        principal: z.string().nullable().describe("The NAME of the HTTP bearer token that made the call, never the token (null over stdio)."),
      }),
    ),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const since = args.since ? parseTime(args.since) : undefined;
    const until = args.until ? parseTime(args.until) : undefined;
    if (since && until && since > until) throw new ToolError("`since` is after `until`: swap them or drop one.");
    const beforeId = args.cursor ? Number(decodeCursor(args.cursor, ["before"]).before) : undefined;
    const { rows, nextBeforeId } = queryAudit(ctx.app.db, {
      ...(args.tool ? { tool: args.tool } : {}),
      ...(args.outcome ? { outcome: args.outcome } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      limit: args.limit,
      ...(beforeId !== undefined ? { beforeId } : {}),
    });
    return {
      entries: rows.map((r) => ({
        id: r.id,
        ts: r.ts,
        tool: r.tool,
        outcome: r.outcome as (typeof AUDIT_OUTCOMES)[number],
        duration_ms: r.durationMs,
        error: r.error,
        arguments: JSON.parse(r.arguments) as unknown,
        client: { name: r.clientName, version: r.clientVersion },
        correlation_id: r.correlationId,
        session_id: r.sessionId,
        principal: r.principal,
      })),
      next_cursor: nextBeforeId === null ? null : encodeCursor({ before: nextBeforeId }),
    };
  },
  summarize(o) {
    if (o.entries.length === 0) return "No audit entries match.";
    const first = o.entries[0]!;
    const last = o.entries[o.entries.length - 1]!;
    return `${o.entries.length} audit entr${o.entries.length === 1 ? "y" : "ies"}, ${first.ts} back to ${last.ts}.${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});
