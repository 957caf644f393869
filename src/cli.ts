#!/usr/bin/env node
// Entry point: `fleet-mcp [serve]` speaks MCP on stdio (stdout is the protocol's
// alone; everything else goes to stderr); `discover`, `audit verify`, `export`
// and `import` are for people at a terminal.
import { createReadStream, existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createApp, type AppContext } from "./app/context.js";
import { DiscoveryBusyError, UnknownSourceError, type RunReport } from "./app/discovery-service.js";
import { ConfigError, loadConfig } from "./config.js";
import { closeDb, openDb } from "./db/open.js";
import { verifyAuditChain } from "./inventory/audit.js";
import { ExportError, exportInventoryToFile, ImportError, importInventory, writeInventoryExport, type TransferSummary } from "./inventory/export.js";
import { buildServer } from "./server.js";
import { VERSION } from "./version.js";

const USAGE = `fleet-mcp ${VERSION} — a live, audited inventory of your machines for AI agents (MCP)

Usage:
  fleet-mcp [serve]            Run the MCP server on stdio (what MCP clients start)
  fleet-mcp discover           Discover now and print a summary (--json for JSON)
  fleet-mcp audit verify       Check the audit log's hash chain; names the first bad row
  fleet-mcp export [--out FILE]
                               Write the whole inventory as one JSON document (stdout
                               without --out; with it, written atomically, mode 0600)
  fleet-mcp import FILE        Load an export (\`-\` reads stdin) into an empty inventory;
                               refused if the --db already holds data

Options:
  --db PATH        Inventory database (default: $FLEET_DB, else
                   $XDG_DATA_HOME/fleet-mcp/fleet.db, else ~/.local/share/fleet-mcp/fleet.db)
  --config PATH    JSON config file (default: $FLEET_CONFIG; none = discover this machine)
  --source ID      discover: only this source (repeatable)
  --json           discover: print the run report as JSON
  --out FILE       export: write to FILE instead of stdout
  -h, --help       Show this help
  -v, --version    Show the version

Environment: FLEET_DB, FLEET_CONFIG, FLEET_LOG_LEVEL (debug|info|warn|error|silent).
Exit codes: 0 ok; 1 the command ran and found a problem (discovery failed, audit chain broken,
export could not be written, import refused: invalid document or non-empty database);
2 bad usage or configuration (including a missing --db for export, a missing FILE for import).`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: "string" },
        config: { type: "string" },
        source: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`fleet-mcp: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stderr.write(`${VERSION}\n`);
    return 0;
  }
  const [command = "serve", sub] = positionals;
  if (values.out !== undefined && command !== "export") {
    process.stderr.write(`fleet-mcp: --out is for \`fleet-mcp export\`\n`);
    return 2;
  }

  let config;
  try {
    config = loadConfig({ ...(values.db ? { db: values.db } : {}), ...(values.config ? { configPath: values.config } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fleet-mcp: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  switch (command) {
    case "serve":
      return serve(createApp({ config }));
    case "discover":
      return discover(createApp({ config }), values.source, values.json);
    case "audit": {
      if (sub !== "verify") {
        process.stderr.write(`fleet-mcp: unknown audit command ${JSON.stringify(sub ?? "")}; did you mean \`fleet-mcp audit verify\`?\n`);
        return 2;
      }
      if (config.dbPath !== ":memory:" && !existsSync(config.dbPath)) {
        process.stderr.write(`fleet-mcp: no database at ${config.dbPath}; pass the right --db or FLEET_DB.\n`);
        return 2;
      }
      const db = openDb(config.dbPath);
      try {
        const r = verifyAuditChain(db);
        if (r.ok) {
          // The head hash lets an operator record where the chain ended and notice a truncated tail later.
          process.stdout.write(`audit log OK: ${r.rows} row(s), hash chain intact, head ${r.headHash.slice(0, 16)} (${config.dbPath})\n`);
          return 0;
        }
        process.stdout.write(`audit log BROKEN at row ${r.firstBad!.id}: ${r.firstBad!.reason} (${r.rows} row(s) read, ${config.dbPath})\n`);
        return 1;
      } finally {
        closeDb(db);
      }
    }
    case "export": {
      if (positionals.length > 1) {
        process.stderr.write(`fleet-mcp: export takes no arguments (got ${JSON.stringify(sub)}); use --out FILE to write to a file\n`);
        return 2;
      }
      if (config.dbPath !== ":memory:" && !existsSync(config.dbPath)) {
        process.stderr.write(`fleet-mcp: no database at ${config.dbPath}; pass the right --db or FLEET_DB.\n`);
        return 2;
      }
      return exportCommand(config.dbPath, values.out);
    }
    case "import": {
      if (positionals.length !== 2) {
        process.stderr.write(`fleet-mcp: usage: fleet-mcp import FILE [--db PATH] (FILE is an export; - reads stdin)\n`);
        return 2;
      }
      if (sub !== "-" && !existsSync(sub!)) {
        process.stderr.write(`fleet-mcp: no such file: ${sub}\n`);
        return 2;
      }
      return importCommand(config.dbPath, sub!);
    }
    default:
      process.stderr.write(`fleet-mcp: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      return 2;
  }
}

async function serve(app: AppContext): Promise<number> {
  let built: ReturnType<typeof buildServer>;
  try {
    built = buildServer(app);
  } catch (err) {
    // A tools.allow/deny name that is no tool: a configuration error, said as such.
    if (err instanceof ConfigError) {
      process.stderr.write(`fleet-mcp: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { server, registry } = built;
  const transport = new StdioServerTransport();
  let closing = false;
  const done = new Promise<number>((resolve) => {
    const shutdown = (why: string) => {
      if (closing) return;
      closing = true;
      app.log.info("shutting down", { reason: why });
      // Closing the server cancels calls in progress; let them write their audit rows before the database closes.
      void server
        .close()
        .then(() => registry.drain(5000))
        .then((left) => {
          if (left > 0) app.log.error("shutting down with tool calls still running; their audit rows may be missing", { calls: left });
        })
        .finally(() => {
          closeDb(app.db);
          resolve(0);
        });
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.stdin.once("end", () => shutdown("stdin closed"));
    transport.onclose = () => shutdown("transport closed");
  });
  await server.connect(transport);
  app.log.info(`fleet-mcp ${VERSION} ready on stdio`, {
    db: app.config.dbPath,
    tools: registry.list().length,
    sources: app.config.sources.map((s) => s.id),
  });
  return done;
}

async function discover(app: AppContext, sources: string[] | undefined, json: boolean): Promise<number> {
  const tty = Boolean(process.stderr.isTTY);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  try {
    const report = await app.discovery.run({
      trigger: "cli",
      ...(sources?.length ? { sourceIds: sources } : {}),
      signal: controller.signal,
      ...(tty ? { onProgress: (p) => process.stderr.write(`\r${p.message}`.padEnd(80) + (p.done === p.total ? "\n" : "")) } : {}),
    });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.status === "failed" ? 1 : 0;
  } catch (err) {
    if (err instanceof DiscoveryBusyError || err instanceof UnknownSourceError) {
      process.stderr.write(`fleet-mcp: ${err.message}\n`);
      return err instanceof UnknownSourceError ? 2 : 1;
    }
    throw err;
  } finally {
    closeDb(app.db);
  }
}

function describeTransfer(s: TransferSummary): string {
  const tables = Object.values(s.tables).filter((n) => n > 0).length;
  return `${s.rows} row(s) in ${tables} non-empty table(s) of ${Object.keys(s.tables).length}, schema ${s.schema}, inventory as of ${s.inventoryAsOf ?? "never"}`;
}

async function exportCommand(dbPath: string, out: string | undefined): Promise<number> {
  const db = openDb(dbPath);
  try {
    const summary = out ? await exportInventoryToFile(db, out) : await writeInventoryExport(db, process.stdout);
    process.stderr.write(`fleet-mcp: exported ${describeTransfer(summary)} from ${dbPath}${out ? ` to ${out}` : ""}\n`);
    return 0;
  } catch (err) {
    const why = err instanceof ExportError ? err.message : `could not write the export: ${(err as Error).message}`;
    process.stderr.write(`fleet-mcp: export failed: ${why}\n`);
    return 1;
  } finally {
    closeDb(db);
  }
}

async function importCommand(dbPath: string, file: string): Promise<number> {
  const db = openDb(dbPath);
  try {
    const input = file === "-" ? process.stdin : createReadStream(file);
    const summary = await importInventory(db, input);
    process.stderr.write(`fleet-mcp: imported ${describeTransfer(summary)} into ${dbPath}\n`);
    return 0;
  } catch (err) {
    // Whatever failed (the document, a row, reading the file), the transaction was rolled back.
    const why = err instanceof ImportError ? err.message : (err as Error).message;
    process.stderr.write(`fleet-mcp: import refused, nothing was written: ${why}\n`);
    return 1;
  } finally {
    closeDb(db);
  }
}

function formatReport(r: RunReport): string {
  const lines = [
    `Discovery run ${r.runId}: ${r.status} in ${(r.durationMs / 1000).toFixed(1)} s — ${r.targetsSeen} target(s), ${r.targetsAdded} new, ${r.targetsUnreachable} unreachable`,
    "",
    `${"SOURCE".padEnd(16)} ${"KIND".padEnd(12)} ${"STATUS".padEnd(10)} ${"HOSTS OK".padStart(8)} ${"FAILED".padStart(7)}  ERROR`,
    ...r.sources.map(
      (s) =>
        `${s.id.padEnd(16)} ${s.kind.padEnd(12)} ${s.status.padEnd(10)} ${String(s.hostsOk).padStart(8)} ${String(s.hostsFailed).padStart(7)}  ${s.error ?? ""}`,
    ),
  ];
  if (r.problems.length) {
    lines.push("", "Problems:", ...r.problems.map((p) => `  ${p.name} (${p.sourceId}): ${p.status}${p.error ? ` — ${p.error}` : ""}`));
  }
  return `${lines.join("\n")}\n`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fleet-mcp: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
