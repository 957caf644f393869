import { z } from "zod";
import { computeHealth, HEALTH_CODES, HEALTH_SEVERITIES, listHealthIssues } from "../inventory/health.js";
import { findTargets } from "../inventory/queries.js";
import { resolveOneTarget } from "./targets.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

const Issue = z.object({
  code: z.enum(HEALTH_CODES),
  severity: z.enum(HEALTH_SEVERITIES),
  message: z.string(),
  deduction: z.number().describe("What this issue took off the score (docs/health.md)."),
});

export const runHealthCheck = defineTool({
  name: "run_health_check",
  title: "Run a health check",
  description:
    "Recomputes the health score (0.0-1.0) of every target from what the inventory knows (reachability and staleness, load, memory, swap, filesystems, failed units, troubled containers, changed host keys) and returns the fleet's mean, distribution and worst targets with the issues by severity. Call get_target for one target's details, list_targets with health_below to list unhealthy targets, or run_discovery first if the data is old.",
  input: z
    .object({
      target: z.string().min(1).max(256).optional().describe("Only list the issues of this target (id, name or address); the whole fleet is still scored."),
      min_severity: z.enum(HEALTH_SEVERITIES).optional().describe("Only issues at least this severe (info < warning < critical)."),
      limit: z.number().int().min(1).max(200).default(25).describe("Issues per page (1-200, default 25)."),
      cursor: z.string().max(500).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    checked_at: z.string(),
    targets: z.number().int().describe("Targets scored (all but retired)."),
    mean: z.number().nullable().describe("Mean score of the fleet; null when it is empty."),
    distribution: z.object({
      healthy: z.number().int().describe("score >= 0.9"),
      degraded: z.number().int().describe("0.6 <= score < 0.9"),
      unhealthy: z.number().int().describe("score < 0.6"),
    }),
    worst: z
      .array(
        z.object({
          id: z.string(),
          name: z.string(),
          kind: z.string(),
          lifecycle: z.string(),
          score: z.number(),
          issues: z.array(Issue).describe("Its largest deductions, at most three."),
        }),
      )
      .describe("Up to 10 targets with issues, lowest score first."),
    issue_counts: z.object({
      total: z.number().int(),
      by_severity: z.object({ info: z.number().int(), warning: z.number().int(), critical: z.number().int() }),
      by_code: z.record(z.string(), z.number().int()),
    }),
    target: z.object({ id: z.string(), name: z.string(), score: z.number().nullable() }).nullable().describe("The target named by `target`, if given."),
    issues: z.object({
      total: z.number().int().describe("Issues matching target and min_severity."),
      items: z.array(Issue.extend({ target: z.object({ id: z.string(), name: z.string(), kind: z.string(), score: z.number().nullable() }) })),
    }),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db, config } = ctx.app;
    const target = args.target ? resolveOneTarget(db, args.target) : null;
    let after: { rank: number; name: string; id: string; index: number } | undefined;
    if (args.cursor) {
      const c = decodeCursor(args.cursor, ["r", "n", "i", "x"]);
      if (typeof c.r !== "number" || typeof c.x !== "number")
        throw new ToolError("Invalid cursor: pass back the exact next_cursor value, or omit it to start over.");
      after = { rank: c.r, name: String(c.n), id: String(c.i), index: c.x };
    }
    const summary = computeHealth(db, config.health, { now: ctx.app.now(), staleAfterMs: config.lifecycle.staleAfterMs });
    const page = listHealthIssues(db, {
      ...(target ? { targetId: target.id } : {}),
      ...(args.min_severity ? { minSeverity: args.min_severity } : {}),
      ...(after ? { after } : {}),
      limit: args.limit,
    });
    const last = page.items[page.items.length - 1];
    return {
      checked_at: summary.checkedAt,
      targets: summary.targets,
      mean: summary.mean,
      distribution: summary.distribution,
      worst: summary.worst,
      issue_counts: { total: summary.issues.total, by_severity: summary.issues.bySeverity, by_code: summary.issues.byCode as Record<string, number> },
      target: target ? { id: target.id, name: target.name, score: findTargets(db, target.id)[0]?.healthScore ?? null } : null,
      issues: {
        total: page.total,
        items: page.items.map((i) => ({
          code: i.code,
          severity: i.severity,
          message: i.message,
          deduction: i.deduction,
          target: { id: i.targetId, name: i.targetName, kind: i.targetKind, score: i.score },
        })),
      },
      next_cursor: page.more && last ? encodeCursor({ r: last.rank, n: last.targetName, i: last.targetId, x: last.index }) : null,
    };
  },
  summarize(o) {
    if (o.targets === 0) return "No targets to score. Call run_discovery first.";
    const d = o.distribution;
    const sev = o.issue_counts.by_severity;
    const head = o.target
      ? `${o.target.name}: health ${o.target.score ?? "unknown"}, ${o.issues.total} issue(s).`
      : `${o.targets} target(s), mean health ${o.mean}: ${d.healthy} healthy, ${d.degraded} degraded, ${d.unhealthy} unhealthy; ${sev.critical} critical and ${sev.warning} warning issue(s).`;
    const worst = !o.target && o.worst.length ? ` Worst: ${o.worst[0]!.name} (${o.worst[0]!.score}: ${o.worst[0]!.issues[0]?.message ?? "?"}).` : "";
    return `${head}${worst}${o.next_cursor ? " More issues: pass next_cursor." : ""}`;
  },
});
