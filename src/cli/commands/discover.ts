import { DiscoveryBusyError, UnknownSourceError, type RunReport } from "../../app/discovery-service.js";
import { EXIT, type Command } from "../command.js";
import { withApp } from "../db.js";
import { paint, progressBar, table, type Output } from "../output.js";
import { cliConfig } from "../tools.js";

export const discoverCommand: Command = {
  name: "discover",
  summary: "Discover now and print what was found",
  usage: "fleet-mcp discover [--source ID]... [--target NAME]... [--json]",
  help: `Runs every configured source once (or only --source ones), writes the result to the
inventory and prints a summary per source, then the hosts that were not fully probed.
A progress bar is drawn on stderr when it is a terminal. Ctrl-C cancels the run
(what was probed is kept; nothing is marked unreachable because of the cancel).

Options:
  --source ID      Only this source (repeatable)
  --target NAME    Only this host, by configured name, address or inventory name (repeatable)

Exit: 0 when the run succeeded or partly succeeded, 1 when it failed, 2 for an unknown source.`,
  options: { source: { type: "string", multiple: true }, target: { type: "string", multiple: true } },
  async run(ctx) {
    const sources = ctx.values.source as string[] | undefined;
    const targets = ctx.values.target as string[] | undefined;
    return withApp(
      cliConfig(ctx.config()),
      async (app) => {
        const controller = new AbortController();
        const onSigint = () => controller.abort();
        process.once("SIGINT", onSigint);
        const bar = progressBar(ctx.out, "discovering");
        try {
          const report = await app.discovery.run({
            trigger: "cli",
            ...(sources?.length ? { sourceIds: sources } : {}),
            ...(targets?.length ? { targets } : {}),
            signal: controller.signal,
            onProgress: (p) => bar.update(p.done, p.total, `(last: ${p.host})`),
          });
          bar.finish();
          if (ctx.out.json) ctx.out.printJson(report);
          else ctx.out.print(formatReport(report, ctx.out));
          if (controller.signal.aborted) return EXIT.INTERRUPTED;
          return report.status === "failed" ? EXIT.PROBLEM : EXIT.OK;
        } catch (err) {
          bar.finish();
          if (err instanceof DiscoveryBusyError || err instanceof UnknownSourceError) {
            ctx.out.error(err.message);
            return err instanceof UnknownSourceError ? EXIT.USAGE : EXIT.PROBLEM;
          }
          throw err;
        } finally {
          process.removeListener("SIGINT", onSigint);
        }
      },
      { create: true },
    );
  },
};

export function formatReport(r: RunReport, out: Output): string {
  const status = paint(out, r.status === "ok" ? "green" : r.status === "failed" ? "red" : "yellow", r.status);
  const lines = [
    `Discovery run ${r.runId}: ${status} in ${(r.durationMs / 1000).toFixed(1)} s — ${r.targetsSeen} target(s), ${r.targetsAdded} new, ${r.targetsUnreachable} unreachable`,
    "",
    table(
      out,
      [
        { header: "SOURCE", value: (s) => s.id },
        { header: "KIND", value: (s) => s.kind },
        { header: "STATUS", value: (s) => s.status, style: (s) => (s.status === "ok" ? "green" : s.status === "failed" ? "red" : "yellow") },
        { header: "HOSTS OK", value: (s) => s.hostsOk, align: "right" },
        { header: "FAILED", value: (s) => s.hostsFailed, align: "right" },
        { header: "ERROR", value: (s) => s.error ?? "", max: 100 },
      ],
      r.sources,
    ),
  ];
  if (r.problems.length) {
    lines.push("", "Problems:", ...r.problems.map((p) => `  ${p.name} (${p.sourceId}): ${paint(out, "yellow", p.status)}${p.error ? ` — ${p.error}` : ""}`));
  }
  return lines.join("\n");
}
