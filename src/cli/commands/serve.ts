import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createApp } from "../../app/context.js";
import { ConfigError } from "../../config.js";
import { closeDb } from "../../db/open.js";
import { buildServer } from "../../server.js";
import { VERSION } from "../../version.js";
import { EXIT, type Command } from "../command.js";

export const serveCommand: Command = {
  name: "serve",
  summary: "Run the MCP server (stdio; the default command)",
  usage: "fleet-mcp [serve] [--config FILE] [--db PATH]",
  help: `Speaks MCP on stdin/stdout: this is what Claude Desktop, Claude Code, Cursor or
VS Code start. stdout carries only the protocol; logs go to stderr.
Stops cleanly on SIGINT, SIGTERM or when stdin closes.`,
  async run(ctx) {
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
            resolve(EXIT.OK);
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
  },
};
