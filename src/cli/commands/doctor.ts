import type { z } from "zod";
import { doctor } from "../../tools/doctor.js";
import { EXIT, type Command } from "../command.js";
import { clean, paint, table } from "../output.js";
import { defined, noArgs, strs, withTools } from "../tools.js";

type Check = z.output<typeof doctor.output>["checks"][number];

const STATUS_TEXT: Record<Check["status"], string> = { ok: "ok", warning: "warn", error: "FAIL" };

export const doctorCommand: Command = {
  name: "doctor",
  summary: "Check every configured source (reach, TLS, auth, privileges) and say how to fix it",
  usage: "fleet-mcp doctor [--source ID]... [--json]",
  help: `Checks each configured source the way discovery uses it — reachability, TLS (with the
certificate fingerprint to pin), authentication, the privileges discovery needs, SSH
and sudo on hosts (at most 20 hosts per source) — and prints one row per check, then
the fix for each problem. Nothing is written to the inventory. It works before the
first discovery too: without a database it runs against an empty in-memory one.

Options:
  --source ID      Only this source (repeatable)

Calls the MCP tool doctor (audited, client fleet-mcp-cli, when the database exists);
--json prints its structured result ({checks, errors, warnings}).

Examples:
  fleet-mcp doctor
  fleet-mcp doctor --source pve --json | jq -r '.checks[] | select(.status != "ok") | .fix'

Exit: 0 every check passed or only warned, 1 a check failed (or a tool error, e.g. an
unknown --source), 2 bad usage or an invalid config.`,
  options: { source: { type: "string", multiple: true } },
  async run(ctx) {
    noArgs(ctx, "doctor");
    const args = defined({ sources: strs(ctx, "source") });
    return withTools(
      ctx,
      async (s) => {
        const r = await s.call(doctor, args, { sources: "--source" });
        if (ctx.out.json) {
          ctx.out.printJson(r);
          return r.errors > 0 ? EXIT.PROBLEM : EXIT.OK;
        }
        const out = ctx.out;
        const lines = [
          table<Check>(
            out,
            [
              { header: "SOURCE", value: (c) => c.source },
              { header: "KIND", value: (c) => c.kind },
              { header: "TARGET", value: (c) => c.target, max: 40 },
              { header: "CHECK", value: (c) => c.check },
              {
                header: "STATUS",
                value: (c) => STATUS_TEXT[c.status],
                style: (c) => (c.status === "ok" ? "green" : c.status === "warning" ? "yellow" : "red"),
              },
              { header: "MESSAGE", value: (c) => c.message, max: 100 },
            ],
            r.checks,
          ),
        ];
        const fixes = r.checks.filter((c) => c.status !== "ok" && c.fix);
        if (fixes.length) {
          lines.push("", paint(out, "bold", "Fixes:"));
          for (const c of fixes)
            lines.push(`  ${paint(out, c.status === "error" ? "red" : "yellow", `${clean(c.source)} ${clean(c.target)} (${c.check})`)}: ${clean(c.fix)}`);
        }
        const verdict =
          r.errors > 0
            ? paint(out, "red", `${r.errors} check(s) failed`)
            : r.warnings > 0
              ? paint(out, "yellow", "no failures")
              : paint(out, "green", "all checks passed");
        lines.push("", `${r.checks.length} check(s): ${verdict}${r.warnings ? `, ${r.warnings} warning(s)` : ""}`);
        out.print(lines.join("\n"));
        return r.errors > 0 ? EXIT.PROBLEM : EXIT.OK;
      },
      { memoryIfMissing: true },
    );
  },
};
