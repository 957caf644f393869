import { writeFileAtomic } from "../../inventory/files.js";
import { REPORT_KINDS } from "../../inventory/reports/index.js";
import { generateFleetReport } from "../../tools/generate-fleet-report.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { cleanText, defined, num, str, withTools } from "../tools.js";

export const reportCommand: Command = {
  name: "report",
  summary: "A fleet report as markdown: summary, health, security or resources",
  usage: "fleet-mcp report [summary|health|security|resources] [--out FILE] [--limit N] [--json]",
  help: `Renders a report of the inventory as stored, as markdown (the same text an agent gets
from generate_fleet_report):
  summary    counts, capacity, health, what changed since the newest snapshot, last discovery
  health     stored scores and issues (\`fleet-mcp health\` recomputes them first)
  security   listening ports by role, host key changes, insecure source settings, password
             and root logins, privileged containers, firewalls, updates, OS end of life
  resources  Proxmox clusters and nodes with guest allocation, over- and under-used machines
The default is summary.

Options:
  --out FILE             Write the report to FILE (atomically) instead of stdout
  --limit N              Rows per list (1-200, default 25); totals always count everything
  --eol-window-days N    security: warn this many days before an OS's end of life (default 90)
  --json                 The structured report instead ({kind, format, generated_at, data})

Calls the MCP tool generate_fleet_report (audited, client fleet-mcp-cli).

Examples:
  fleet-mcp report
  fleet-mcp report security --out security.md
  fleet-mcp report health --json | jq .data.health.distribution

Exit: 0 written, 1 a tool error or FILE could not be written, 2 bad usage or no such database.`,
  options: { out: { type: "string" }, limit: { type: "string" }, "eol-window-days": { type: "string" } },
  subcommands: [...REPORT_KINDS],
  async run(ctx) {
    if (ctx.args.length > 1) throw new UsageError(`report takes one kind (got ${JSON.stringify(ctx.args.join(" "))})`);
    const kind = ctx.args[0] ?? "summary";
    if (!(REPORT_KINDS as readonly string[]).includes(kind))
      throw new UsageError(`no report ${JSON.stringify(kind)}; choose one of ${REPORT_KINDS.join(", ")}`);
    const file = str(ctx, "out");
    const args = defined({ kind, format: ctx.out.json ? "json" : "markdown", limit: num(ctx, "limit"), eol_window_days: num(ctx, "eol-window-days") });
    return withTools(ctx, async (s) => {
      const r = await s.call(generateFleetReport, args, { kind: "KIND" });
      const text = ctx.out.json ? `${JSON.stringify(r, null, 2)}\n` : cleanText(r.markdown ?? "").replace(/\n*$/, "\n");
      if (!file) {
        ctx.out.stdout.write(text);
        return EXIT.OK;
      }
      try {
        writeFileAtomic(file, text);
      } catch (err) {
        ctx.out.error(`could not write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return EXIT.PROBLEM;
      }
      ctx.out.note(`wrote the ${kind} report to ${file} (${Buffer.byteLength(text)} bytes)`);
      return EXIT.OK;
    });
  },
};
