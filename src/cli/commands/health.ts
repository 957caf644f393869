import type { z } from "zod";
import { HEALTH_SEVERITIES } from "../../inventory/health.js";
import { runHealthCheck } from "../../tools/run-health-check.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { clean, paint, table, type Output } from "../output.js";
import { allPages, counts, defined, healthStyle, healthText, heading, noArgs, num, severityStyle, str, withTools } from "../tools.js";

type Result = z.output<typeof runHealthCheck.output>;
type Issue = Result["issues"]["items"][number];
type Severity = (typeof HEALTH_SEVERITIES)[number];

const FLAGS = { target: "--target", min_severity: "--min-severity", limit: "--limit", cursor: "--cursor" };

const rank = (s: string) => HEALTH_SEVERITIES.indexOf(s as Severity);

export const healthCommand: Command = {
  name: "health",
  summary: "Recompute health scores and list the issues (--fail-on for cron and CI)",
  usage: "fleet-mcp health [--target NAME] [--min-severity S] [--fail-on warning|critical] [--limit N] [--json]",
  help: `Scores every target (0.00-1.00) from what the inventory knows — reachability and
staleness, load, memory, swap, filesystems, failed units, troubled containers, changed
host keys (docs/health.md) — stores the scores, and prints the fleet's mean and
distribution, the issue counts and the issues, most severe first. It reads the
inventory only: run \`fleet-mcp discover\` first for fresh readings.

Options:
  --target NAME        Only list this target's issues (the whole fleet is still scored)
  --min-severity S     Only list issues at least this severe: info | warning | critical
  --fail-on S          Exit 1 when any target has an issue at least this severe
                       (warning or critical); the fleet, or --target's issues only
  --limit N            Issues per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one

Calls the MCP tool run_health_check (audited, client fleet-mcp-cli); --json prints its
structured result.

Examples:
  fleet-mcp health
  fleet-mcp health --min-severity warning --limit 200
  fleet-mcp discover >/dev/null && fleet-mcp health --fail-on critical || alert "fleet unhealthy"

Exit: 0 checked (and with --fail-on, nothing at or above it), 1 an issue at or above
--fail-on, or a tool error (e.g. no such --target), 2 bad usage or no such database.`,
  options: {
    target: { type: "string" },
    "min-severity": { type: "string" },
    "fail-on": { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
  async run(ctx) {
    noArgs(ctx, "health");
    const failOn = str(ctx, "fail-on");
    if (failOn !== undefined && failOn !== "warning" && failOn !== "critical")
      throw new UsageError(`--fail-on must be warning or critical (got ${JSON.stringify(failOn)})`);
    const args = defined({ target: str(ctx, "target"), min_severity: str(ctx, "min-severity"), limit: num(ctx, "limit"), cursor: str(ctx, "cursor") });
    return withTools(ctx, async (s) => {
      const r = await s.call(runHealthCheck, args, FLAGS);
      if (ctx.out.json) ctx.out.printJson(r);
      else ctx.out.print(render(ctx.out, r));
      if (failOn === undefined) return EXIT.OK;
      let failing: number;
      if (r.target) {
        // This target's issues at or above the threshold, on every page.
        const { items } = await allPages(
          (cursor) => s.call(runHealthCheck, defined({ target: args.target, min_severity: failOn, limit: 200, cursor }), FLAGS),
          (p) => p.issues.items,
          1000,
        );
        failing = items.length;
      } else {
        const by = r.issue_counts.by_severity;
        failing = by.critical + (failOn === "warning" ? by.warning : 0);
      }
      if (failing > 0) {
        ctx.out.error(`${failing} issue(s) at or above ${failOn}${r.target ? ` on ${clean(r.target.name)}` : ""} (--fail-on ${failOn})`);
        return EXIT.PROBLEM;
      }
      return EXIT.OK;
    });
  },
};

function render(out: Output, r: Result): string {
  if (r.targets === 0) return "No targets to score. Run `fleet-mcp discover` first.";
  const d = r.distribution;
  const sev = r.issue_counts.by_severity;
  const lines = [
    `${heading(out, `Health of ${r.targets} target(s)`)}: mean ${paint(out, healthStyle(r.mean), healthText(r.mean))} — ${paint(out, "green", `${d.healthy} healthy`)}, ${paint(out, d.degraded ? "yellow" : "green", `${d.degraded} degraded`)}, ${paint(out, d.unhealthy ? "red" : "green", `${d.unhealthy} unhealthy`)}`,
    `Issues: ${r.issue_counts.total} — ${paint(out, sev.critical ? "red" : "green", `${sev.critical} critical`)}, ${paint(out, sev.warning ? "yellow" : "green", `${sev.warning} warning`)}, ${sev.info} info${r.issue_counts.total ? ` (${clean(counts(r.issue_counts.by_code))})` : ""}`,
  ];
  if (r.target) lines.push(`${clean(r.target.name)} (${clean(r.target.id)}): health ${paint(out, healthStyle(r.target.score), healthText(r.target.score))}`);
  if (r.issues.items.length) {
    const sorted = [...r.issues.items].sort((a, b) => rank(b.severity) - rank(a.severity));
    lines.push(
      "",
      table<Issue>(
        out,
        [
          { header: "SEVERITY", value: (i) => i.severity, style: (i) => severityStyle(i.severity) },
          { header: "TARGET", value: (i) => i.target.name, max: 32 },
          { header: "HEALTH", value: (i) => healthText(i.target.score), align: "right", style: (i) => healthStyle(i.target.score) },
          { header: "CODE", value: (i) => i.code },
          { header: "MESSAGE", value: (i) => i.message, max: 100 },
        ],
        sorted,
      ),
    );
  } else {
    lines.push("", r.target ? "No issues on this target." : "No issues.");
  }
  if (r.issues.total > r.issues.items.length || r.next_cursor)
    lines.push("", `${r.issues.items.length} of ${r.issues.total} issue(s)${r.next_cursor ? `; next page: --cursor ${r.next_cursor}` : ""}`);
  return lines.join("\n");
}
