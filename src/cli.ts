#!/usr/bin/env node
// Entry point: `fleet-mcp [serve]` speaks MCP on stdio (stdout is the protocol's
// alone; everything else goes to stderr); `discover` and `audit verify` are for
// people at a terminal.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createApp, type AppContext } from "./app/context.js";
import { DiscoveryBusyError, UnknownSourceError, type RunReport } from "./app/discovery-service.js";
import { ConfigError, loadConfig } from "./config.js";
import { closeDb, openDb } from "./db/open.js";
import { verifyAuditChain } from "./inventory/audit.js";
import { buildServer } from "./server.js";
import { VERSION } from "./version.js";

const USAGE = `fleet-mcp ${VERSION} — a live, audited inventory of your machines for AI agents (MCP)

Usage:
  fleet-mcp [serve]            Run the MCP server on stdio (what MCP clients start)
  fleet-mcp discover           Discover now and print a summary (--json for JSON)
  fleet-mcp audit verify       Check the audit log's hash chain; names the first bad row

Options:
  --db PATH        Inventory database (default: $FLEET_DB, else
                   $XDG_DATA_HOME/fleet-mcp/fleet.db, else ~/.local/share/fleet-mcp/fleet.db)
  --config PATH    JSON config file (default: $FLEET_CONFIG; none = discover this machine)
  --source ID      discover: only this source (repeatable)
  --json           discover: print the run report as JSON
  -h, --help       Show this help
  -v, --version    Show the version

Environment: FLEET_DB, FLEET_CONFIG, FLEET_LOG_LEVEL (debug|info|warn|error|silent).
Exit codes: 0 ok; 1 the command ran and found a problem (discovery failed, audit chain broken);
2 bad usage or configuration.`;

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
    default:
      process.stderr.write(`fleet-mcp: unknown command ${JSON.stringify(command)}\n\n${USAGE}\n`);
      return 2;
  }
}

async function serve(app: AppContext): Promise<number> {
  const { server, registry } = buildServer(app);
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
