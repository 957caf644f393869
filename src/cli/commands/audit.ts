import { verifyAuditChain } from "../../inventory/audit.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { withDb } from "../db.js";
import { paint } from "../output.js";

export const auditCommand: Command = {
  name: "audit",
  summary: "Check the audit log's hash chain (audit verify)",
  usage: "fleet-mcp audit verify [--db PATH] [--json]",
  help: `Every MCP tool call leaves one audit row; each row carries the hash of the one before.
\`audit verify\` recomputes the chain and names the first row that was edited, deleted or
reordered. It prints the head hash: record it to notice a truncated tail later.

Exit: 0 chain intact, 1 chain broken, 2 no such database.`,
  subcommands: ["verify"],
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    if (sub !== "verify" || rest.length > 0) {
      throw new UsageError(`unknown audit command ${JSON.stringify(ctx.args.join(" "))}; did you mean \`fleet-mcp audit verify\`?`);
    }
    const config = ctx.config();
    return withDb(config, (db) => {
      const r = verifyAuditChain(db);
      if (ctx.out.json) {
        ctx.out.printJson({ ok: r.ok, rows: r.rows, head_hash: r.ok ? r.headHash : null, first_bad: r.firstBad ?? null, db: config.dbPath });
        return r.ok ? EXIT.OK : EXIT.PROBLEM;
      }
      if (r.ok) {
        ctx.out.print(`audit log ${paint(ctx.out, "green", "OK")}: ${r.rows} row(s), hash chain intact, head ${r.headHash.slice(0, 16)} (${config.dbPath})`);
        return EXIT.OK;
      }
      ctx.out.print(`audit log ${paint(ctx.out, "red", "BROKEN")} at row ${r.firstBad!.id}: ${r.firstBad!.reason} (${r.rows} row(s) read, ${config.dbPath})`);
      return EXIT.PROBLEM;
    });
  },
};
