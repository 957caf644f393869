import { createReadStream, existsSync } from "node:fs";
import { closeDb, openDb } from "../../db/open.js";
import { ImportError, importInventory, type TransferSummary } from "../../inventory/export.js";
import { EXIT, UsageError, type Command } from "../command.js";

export function describeTransfer(s: TransferSummary): string {
  const tables = Object.values(s.tables).filter((n) => n > 0).length;
  return `${s.rows} row(s) in ${tables} non-empty table(s) of ${Object.keys(s.tables).length}, schema ${s.schema}, inventory as of ${s.inventoryAsOf ?? "never"}`;
}

export const importCommand: Command = {
  name: "import",
  summary: "Load an export into an empty inventory",
  usage: "fleet-mcp import FILE [--db PATH]",
  help: `Loads a document written by \`fleet-mcp export\` (FILE, or - for stdin) into the
database given by --db / FLEET_DB. Refused, with nothing written, when that database
already holds an inventory or the document is damaged.

Exit: 0 imported, 1 refused (damaged document or non-empty database), 2 bad usage.`,
  async run(ctx) {
    if (ctx.args.length !== 1) throw new UsageError("import needs one FILE (an export; - reads stdin)");
    const file = ctx.args[0]!;
    if (file !== "-" && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const dbPath = ctx.config().dbPath;
    const db = openDb(dbPath);
    try {
      const input = file === "-" ? process.stdin : createReadStream(file);
      const summary = await importInventory(db, input);
      ctx.out.error(`imported ${describeTransfer(summary)} into ${dbPath}`);
      return EXIT.OK;
    } catch (err) {
      // Whatever failed (the document, a row, reading the file), the transaction was rolled back.
      const why = err instanceof ImportError ? err.message : (err as Error).message;
      ctx.out.error(`import refused, nothing was written: ${why}`);
      return EXIT.PROBLEM;
    } finally {
      closeDb(db);
    }
  },
};
