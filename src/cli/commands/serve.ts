import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createApp, type AppContext } from "../../app/context.js";
import { Scheduler } from "../../app/scheduler.js";
import { ConfigError } from "../../config.js";
import { closeDb } from "../../db/open.js";
import { startHttpServer } from "../../http/server.js";
import { buildServer } from "../../server.js";
import { VERSION } from "../../version.js";
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js";
import { portOption } from "../tools.js";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the MCP server (stdio; the default command)",
  usage: "fleet-mcp [serve] [--http [--host H] [--port P]] [--config FILE] [--db PATH]",
  help: `Speaks MCP on stdin/stdout: this is what Claude Desktop, Claude Code, Cursor or
VS Code start. stdout carries only the protocol; logs go to stderr.
Stops cleanly on SIGINT, SIGTERM or when stdin closes.

Options:
  --http           Serve MCP over Streamable HTTP at http://HOST:PORT/mcp instead of stdio,
                   with /healthz, /metrics and /prometheus/targets (docs/http.md). Needs a
                   bearer token: FLEET_HTTP_TOKEN or http.tokens[] in the config file.
  --host H         Address to listen on (default http.host, 127.0.0.1)
  --port P         Port to listen on (default http.port, 8765; 0 picks a free one)`,
  options: { http: { type: "boolean" }, host: { type: "string" }, port: { type: "string" } },
  async run(ctx) {
    if (ctx.values.http === true) return serveHttp(ctx);
    if (ctx.values.host !== undefined || ctx.values.port !== undefined) throw new UsageError("--host and --port go with --http");
    const app = createApp({ config: ctx.config() });
    let built: ReturnType<typeof buildServer>;
    try {
      built = buildServer(app);
    } catch (err) {
      closeDb(app.db);
      // A tools.allow/deny name that is no tool: a configuration error, said as such.
      if (err instanceof ConfigError) {
        ctx.out.error(err.message);
        return EXIT.USAGE;
      }
      throw err;
    }
    const { server, registry } = built;
    const transport = new StdioServerTransport();
    const stop = stopOnSignals(app, async () => {
      await server.close();
      const left = await registry.drain(5000);
      if (left > 0) app.log.error("shutting down with tool calls still running; their audit rows may be missing", { calls: left });
    });
    process.stdin.once("end", () => stop.shutdown("stdin closed"));
    transport.onclose = () => stop.shutdown("transport closed");
    await server.connect(transport);
    if (!stop.closing()) app.scheduler = new Scheduler(app).start();
    app.log.info(`fleet-mcp ${VERSION} ready on stdio`, {
      db: app.config.dbPath,
      tools: registry.list().length,
      sources: app.config.sources.map((s) => s.id),
    });
    return stop.done;
  },
};

/** `serve --http`: until SIGINT or SIGTERM; one line on stderr says where (never the token). */
async function serveHttp(ctx: CommandContext): Promise<number> {
  const port = portOption(ctx);
  const config = ctx.config();
  const app = createApp({ config });
  const host = typeof ctx.values.host === "string" ? ctx.values.host : undefined;
  const handle = await startHttpServer(app, { ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}) }).catch((err: unknown) => {
    closeDb(app.db);
    throw err;
  });
  app.scheduler = new Scheduler(app).start();
  ctx.out.note(`fleet-mcp ${VERSION} serving MCP on ${handle.url} (bearer token required; port ${handle.port})`);
  app.log.info(`fleet-mcp ${VERSION} ready on ${handle.url}`, { db: app.config.dbPath, sources: app.config.sources.map((s) => s.id) });
  return stopOnSignals(app, () => handle.close()).done;
}

/**
 * Clean shutdown on SIGINT/SIGTERM (or whatever calls shutdown): the scheduler
 * first, so a scheduled run is cancelled and written (or rolled back) while the
 * database is open; then the transport (`close`, which lets calls in progress
 * write their audit rows); then the database. `done` resolves with exit 0.
 */
function stopOnSignals(app: AppContext, close: () => Promise<void>): { done: Promise<number>; shutdown(why: string): void; closing(): boolean } {
  let closing = false;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const shutdown = (why: string) => {
    if (closing) return;
    closing = true;
    app.log.info("shutting down", { reason: why });
    void (app.scheduler?.stop() ?? Promise.resolve())
      .then(close)
      .catch((err: unknown) => app.log.error("error while shutting down", { error: err }))
      .finally(() => {
        closeDb(app.db);
        resolveDone(EXIT.OK);
      });
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  return { done, shutdown, closing: () => closing };
}
