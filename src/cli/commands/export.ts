import { closeDb, openDb } from "../../db/open.js";
import { ExportError, exportInventoryToFile, writeInventoryExport } from "../../inventory/export.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { requireDbPath } from "../db.js";
import { describeTransfer } from "./import.js";

export const exportCommand: Command = {
  name: "export",
  summary: "Write the whole inventory as one JSON document",
  usage: "fleet-mcp export [--out FILE]",
  help: `Streams every table of the inventory as one JSON document: to stdout, or with --out
to FILE (written atomically, mode 0600). \`fleet-mcp import\` loads it into an empty
database, byte for byte.

Options:
  --out FILE       Write to FILE instead of stdout

Exit: 0 written, 1 could not write, 2 no such database.`,
  options: { out: { type: "string" } },
  async run(ctx) {
    if (ctx.args.length > 0) throw new UsageError(`export takes no arguments (got ${JSON.stringify(ctx.args.join(" "))}); use --out FILE to write to a file`);
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
