import { closeDb, openDb } from "../../db/open.js";
import { ExportError, exportInventoryToFile, writeInventoryExport } from "../../inventory/export.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { requireDbPath } from "../db.js";
import { exportPrometheus, PROMETHEUS_HELP, PROMETHEUS_OPTIONS, PROMETHEUS_USAGE } from "./export-prometheus.js";
import { describeTransfer } from "./import.js";

export const exportCommand: Command = {
  name: "export",
  summary: "Write the inventory as one JSON document, or its Prometheus targets (export prometheus)",
  usage: `fleet-mcp export [--out FILE]\n       ${PROMETHEUS_USAGE}`,
  help: `Streams every table of the inventory as one JSON document: to stdout, or with --out
to FILE (written atomically, mode 0600). \`fleet-mcp import\` loads it into an empty
database, byte for byte.

Options:
  --out FILE       Write to FILE instead of stdout

${PROMETHEUS_HELP}

Exit: 0 written, 1 could not write, 2 no such database.`,
  options: { out: { type: "string" }, ...PROMETHEUS_OPTIONS },
  subcommands: ["prometheus"],
  async run(ctx) {
    if (ctx.args[0] === "prometheus") return exportPrometheus(ctx);
    if (ctx.args.length > 0)
      throw new UsageError(
        `export takes no arguments (got ${JSON.stringify(ctx.args.join(" "))}); use --out FILE to write to a file, or \`export prometheus\` for scrape targets`,
      );
    if (ctx.values.format !== undefined || ctx.values.write !== undefined)
      throw new UsageError("--format and --write are options of `fleet-mcp export prometheus`");
    const dbPath = requireDbPath(ctx.config());
    const out = ctx.values.out as string | undefined;
    const db = openDb(dbPath);
    try {
      const summary = out ? await exportInventoryToFile(db, out) : await writeInventoryExport(db, ctx.out.stdout);
      ctx.out.error(`exported ${describeTransfer(summary)} from ${dbPath}${out ? ` to ${out}` : ""}`);
      return EXIT.OK;
    } catch (err) {
      const why = err instanceof ExportError ? err.message : `could not write the export: ${(err as Error).message}`;
      ctx.out.error(`export failed: ${why}`);
      return EXIT.PROBLEM;
    } finally {
      closeDb(db);
    }
  },
};
