import { generateFleetReport } from "../../tools/generate-fleet-report.js";
import { getFleetOverview } from "../../tools/get-fleet-overview.js";
import { EXIT, type Command } from "../command.js";
import { ago, clean, paint, table } from "../output.js";
import { bytes, counts, fields, healthStyle, healthText, heading, noArgs, withTools } from "../tools.js";

export const overviewCommand: Command = {
  name: "overview",
  summary: "The fleet at a glance: counts, capacity, health, last discovery",
  usage: "fleet-mcp overview [--json]",
  help: `Targets by kind, lifecycle, role and OS; CPUs, memory and disk; services and
containers; the health distribution and the least healthy targets; the last discovery.
Reads the inventory as stored (run \`fleet-mcp discover\` to refresh it).

Calls the MCP tools get_fleet_overview and generate_fleet_report (summary) — each call
is audited with client fleet-mcp-cli. --json prints get_fleet_overview's structured
result with two more members taken from the summary report: \`by_role\` (targets per
role) and \`health\` (mean, distribution, unscored, worst targets).

Examples:
  fleet-mcp overview
  fleet-mcp overview --json | jq .health.distribution

Exit: 0 shown, 1 a tool error, 2 no such database or bad usage.`,
  async run(ctx) {
    noArgs(ctx, "overview");
    return withTools(ctx, async (s) => {
      const o = await s.call(getFleetOverview, {});
      const report = await s.call(generateFleetReport, { kind: "summary", format: "json", limit: 5 });
      const sum = report.data.summary!;
      const health = {
        checked_at: sum.health.checked_at,
        mean: sum.health.mean,
        distribution: sum.health.distribution,
        unscored: sum.health.unscored,
        worst: sum.health.worst,
      };
      if (ctx.out.json) {
        ctx.out.printJson({ ...o, by_role: sum.targets.by_role, health });
        return EXIT.OK;
      }
      const out = ctx.out;
      if (o.targets.total === 0) {
        out.print(`The inventory is empty${o.last_discovery ? "" : " (no discovery yet)"}. Run \`fleet-mcp discover\`.`);
        return EXIT.OK;
      }
      const last = o.last_discovery;
      const lastText = last
        ? `run ${last.run_id} ${paint(out, last.status === "ok" ? "green" : last.status === "failed" ? "red" : "yellow", clean(last.status))}, ${ago(last.finished_at ?? last.started_at)} (${clean(last.started_at)})`
        : paint(out, "yellow", "never");
      const d = health.distribution;
      const lines = [
        heading(out, `Fleet: ${o.targets.total} target(s)`),
        fields([
          ["by kind", clean(counts(o.targets.by_kind))],
          ["by lifecycle", clean(counts(o.targets.by_lifecycle))],
          ["by role", clean(counts(sum.targets.by_role))],
          ["by OS", clean(counts(o.targets.by_os))],
          [
            "capacity",
            `${o.totals.cpu_count} CPUs, ${bytes(o.totals.memory_bytes)} memory (${bytes(o.totals.memory_available_bytes)} available), ${bytes(o.totals.disk_bytes)} disk (${bytes(o.totals.disk_used_bytes)} used)`,
          ],
          [
            "services",
            `${o.services.total} (${o.services.running} running, ${o.services.failed ? paint(out, "red", `${o.services.failed} failed`) : "0 failed"})`,
          ],
          ["containers", `${o.containers.total} (${o.containers.running} running); ${o.stacks} compose stack(s)`],
          [
            "health",
            health.mean === null
              ? "not scored yet"
              : `mean ${paint(out, healthStyle(health.mean), healthText(health.mean))}: ${paint(out, "green", `${d.healthy} healthy`)}, ${paint(out, d.degraded ? "yellow" : "green", `${d.degraded} degraded`)}, ${paint(out, d.unhealthy ? "red" : "green", `${d.unhealthy} unhealthy`)}${health.unscored ? `, ${health.unscored} unscored` : ""}`,
          ],
          ["last discovery", lastText],
        ]),
      ];
      if (health.worst.items.length) {
        lines.push(
          "",
          heading(out, `Least healthy (${health.worst.items.length} of ${health.worst.total} with issues):`),
          table(
            out,
            [
              { header: "NAME", value: (w) => w.name },
              { header: "KIND", value: (w) => w.kind },
              { header: "ROLE", value: (w) => w.role },
              { header: "HEALTH", value: (w) => healthText(w.score), align: "right", style: (w) => healthStyle(w.score) },
              { header: "TOP ISSUE", value: (w) => w.issues[0]?.message ?? "", max: 90 },
            ],
            health.worst.items,
          ),
        );
      }
      out.print(lines.join("\n"));
      return EXIT.OK;
    });
  },
};
