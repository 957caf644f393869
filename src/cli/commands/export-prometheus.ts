// `fleet-mcp export prometheus`: the inventory's scrape targets as Prometheus
// file_sd / http_sd JSON, the same document export_prometheus_targets returns and
// the server writes after each discovery run.
import { renderFileSd, updateFileSd } from "../../app/file-sd.js";
import { EXIT, UsageError, type CommandContext } from "../command.js";
import { withDb } from "../db.js";

export const PROMETHEUS_USAGE = "fleet-mcp export prometheus [--format file_sd|http_sd] [--out FILE | --write]";

export const PROMETHEUS_HELP = `\`export prometheus\` prints the scrape targets as Prometheus service-discovery JSON
([{"targets":["addr:port"],"labels":{...}}]): every active target with an address, one
group per target with fleet_role, fleet_kind, fleet_name, fleet_node, fleet_os and the
configured prometheus.static_labels, on prometheus.default_port. --out FILE or --write
(the configured prometheus.file_sd_path) replaces the file atomically (temp file in the
same directory, fsync, rename; an existing file keeps its mode, a new one gets 0644),
and leaves it alone when it already holds exactly this list.

Options (export prometheus):
  --format F       file_sd (default) or http_sd: the same JSON, for an HTTP SD endpoint
  --out FILE       Write to FILE instead of stdout
  --write          Write to the configured prometheus.file_sd_path`;

export const PROMETHEUS_OPTIONS = { format: { type: "string" }, write: { type: "boolean" } } as const;

export async function exportPrometheus(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 1) throw new UsageError(`export prometheus takes no arguments (got ${JSON.stringify(ctx.args.slice(1).join(" "))})`);
  const format = (ctx.values.format as string | undefined) ?? "file_sd";
  if (format !== "file_sd" && format !== "http_sd") throw new UsageError(`--format must be file_sd or http_sd (got ${JSON.stringify(format)})`);
  const out = ctx.values.out as string | undefined;
  const write = ctx.values.write === true;
  if (out !== undefined && write) throw new UsageError("--out and --write both name the file to write: give one of them");
  const config = ctx.config();
  const cfg = config.prometheus;
  if (write && format !== "file_sd") throw new UsageError("--write needs --format file_sd: an http_sd endpoint serves the list itself");
  if (write && !cfg.fileSdPath)
    throw new UsageError(
      'no prometheus.file_sd_path is configured: add "prometheus": {"file_sd_path": "/etc/prometheus/file_sd/fleet.json"} to the config file, or use --out FILE',
    );
  const path = write ? cfg.fileSdPath! : (out ?? null);
  return withDb(config, (db) => {
    const counted = (doc: ReturnType<typeof renderFileSd>) =>
      `${doc.targetCount} target(s) in ${doc.groups.length} group(s) on port ${cfg.defaultPort}${
        doc.skippedNoAddress.length ? `; ${doc.skippedNoAddress.length} active target(s) without an address skipped` : ""
      }`;
    if (!path) {
      const doc = renderFileSd(db, cfg);
      ctx.out.stdout.write(doc.json);
      ctx.out.note(counted(doc));
      return EXIT.OK;
    }
    const r = updateFileSd(db, cfg, path, write ? undefined : { what: "--out", change: "pass another --out" });
    if (r.problem !== null) {
      ctx.out.error(`export failed: ${r.problem}`);
      return EXIT.PROBLEM;
    }
    ctx.out.note(`${counted(r.doc)}: ${r.written ? "written to" : "unchanged in"} ${path}`);
    return EXIT.OK;
  });
}
