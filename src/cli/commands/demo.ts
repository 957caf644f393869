import { randomBytes } from "node:crypto";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { DEMO_CHANGES } from "../../demo/fleet.js";
import { DEMO_CLAUDE_CODE_COMMAND, demoClientConfig, startDemo, type Demo } from "../../demo/demo.js";
import { startHttpServer, type HttpServerHandle } from "../../http/server.js";
import { buildServer } from "../../server.js";
import { VERSION } from "../../version.js";
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js";
import { paint, progressBar, type Output } from "../output.js";
import { portOption } from "../tools.js";

export const demoCommand: Command = {
  name: "demo",
  summary: "Try fleet-mcp on a simulated fleet (Proxmox + SSH on 127.0.0.1, temporary database)",
  usage: "fleet-mcp demo [--stdio | --http [--port P]]",
  help: `Starts, on 127.0.0.1 only, a simulated Proxmox VE cluster (3 nodes, 9 guests, HTTPS API)
and 6 simulated SSH hosts, discovers them into a fresh temporary database, and
prints the MCP client configuration to paste. Every machine is named demo-* and
tagged demo; your own database and config (--db, FLEET_DB, --config) are never read.
Ctrl-C stops it and deletes the temporary directory.

Options:
  --stdio          Serve the demo over MCP on stdin/stdout (what the printed client
                   configuration starts; stdout carries only the protocol)
  --http           Also serve it over Streamable HTTP on 127.0.0.1 with a random bearer
                   token, and print that client configuration instead
  --port P         With --http: the port (default: a free one)

Examples:
  npx -y fleet-mcp demo
  claude mcp add fleet-demo -- npx -y fleet-mcp demo --stdio`,
  options: { stdio: { type: "boolean" }, http: { type: "boolean" }, port: { type: "string" } },
  async run(ctx) {
    const stdio = ctx.values.stdio === true;
    const http = ctx.values.http === true;
    if (stdio && http) throw new UsageError("choose one of --stdio and --http");
    if (ctx.values.port !== undefined && !http) throw new UsageError("--port goes with --http");
    const port = portOption(ctx) ?? 0;
    if (ctx.args.length > 0) throw new UsageError(`demo takes no arguments (got ${JSON.stringify(ctx.args[0])})`);
    if (ctx.values.db !== undefined || ctx.values.config !== undefined) {
      ctx.out.note("fleet-mcp demo: --db and --config are ignored; the demo uses its own temporary database and config.");
    }
    return stdio ? serveStdio(ctx.out) : terminal(ctx, http ? port : null);
  },
};

/** Stops on SIGINT/SIGTERM (and whatever else `extra` wires up); handlers are in place before anything starts. */
function stopSignal(): { stopped: Promise<string>; stop(why: string): void; dispose(): void } {
  let stop!: (why: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    stopped,
    stop: (why) => stop(why),
    dispose() {
      process.removeListener("SIGINT", onInt);
      process.removeListener("SIGTERM", onTerm);
    },
  };
}

/** Starts the demo unless a signal comes first; then closes what started and says so. */
async function startOrStop(signal: ReturnType<typeof stopSignal>, start: () => Promise<Demo>): Promise<Demo | null> {
  const starting = start();
  const first = await Promise.race([starting.then(() => null), signal.stopped]);
  if (first === null) return starting;
  // Interrupted while starting: let the start finish (it owns half-started simulators), then clean up.
  const demo = await starting.catch(() => null);
  await demo?.close();
  return null;
}

/** `demo --stdio`: the simulated fleet and the MCP server in one process, until the client goes away. */
async function serveStdio(out: Output): Promise<number> {
  const signal = stopSignal();
  try {
    const demo = await startOrStop(signal, () => startDemo({ stderrIsTty: out.interactive }));
    if (!demo) return EXIT.INTERRUPTED;
    const { server, registry } = buildServer(demo.app, { demo: true });
    const transport = new StdioServerTransport();
    process.stdin.once("end", () => signal.stop("stdin closed"));
    transport.onclose = () => signal.stop("transport closed");
    await server.connect(transport);
    out.note(`fleet-mcp ${VERSION} DEMO ready on stdio: a simulated fleet of ${demo.summary.targets} targets on 127.0.0.1 (temporary database ${demo.dbPath})`);
    const why = await signal.stopped;
    demo.app.log.info("shutting down the demo", { reason: why });
    // Closing the server cancels calls in progress; let them write their audit rows before the database goes.
    await server.close().catch(() => {});
    await registry.drain(5000);
    await demo.close();
    return EXIT.OK;
  } finally {
    signal.dispose();
  }
}

/** `demo` at a terminal: start, print what to paste, wait for Ctrl-C. */
async function terminal(ctx: CommandContext, httpPort: number | null): Promise<number> {
  const { out } = ctx;
  const signal = stopSignal();
  let http: HttpServerHandle | null = null;
  let demo: Demo | null = null;
  try {
    out.note(`fleet-mcp demo: starting a SIMULATED fleet on 127.0.0.1 (nothing real is touched)…`);
    const bar = progressBar(out, "discovering");
    demo = await startOrStop(signal, () =>
      startDemo({
        stderrIsTty: out.interactive,
        ...(httpPort !== null ? { httpTokens: { demo: randomBytes(32).toString("hex") } } : {}),
        onStep: (m) => out.note(`  ${m}`),
        onDiscoveryProgress: (p) => bar.update(p.done, p.total, `(last: ${p.host})`),
      }),
    );
    bar.finish();
    if (!demo) return EXIT.INTERRUPTED;
    if (httpPort !== null) {
      const app = demo.app;
      http = await startHttpServer(app, { host: "127.0.0.1", port: httpPort, buildServer: (a, o) => buildServer(a, { ...o, demo: true }) });
    }
    if (out.json) out.printJson(jsonView(demo, http));
    else out.print(banner(out, demo, http));
    const why = await signal.stopped;
    out.note(`fleet-mcp demo: stopping (${why}); deleting ${demo.dir}`);
    return EXIT.OK;
  } finally {
    signal.dispose();
    await http?.close().catch(() => {});
    await demo?.close();
  }
}

function httpClientConfig(demo: Demo, http: HttpServerHandle) {
  const token = demo.app.config.http.tokens[0]!.token;
  return {
    config: { mcpServers: { "fleet-demo": { type: "http", url: http.url, headers: { Authorization: `Bearer ${token}` } } } },
    claude: `claude mcp add --transport http fleet-demo ${http.url} --header "Authorization: Bearer ${token}"`,
  };
}

function jsonView(demo: Demo, http: HttpServerHandle | null) {
  const client = http ? httpClientConfig(demo, http) : { config: demoClientConfig(), claude: DEMO_CLAUDE_CODE_COMMAND };
  return {
    demo: true,
    directory: demo.dir,
    database: demo.dbPath,
    targets: demo.summary.targets,
    by_kind: demo.summary.byKind,
    attention: demo.summary.health.worst.map((w) => ({ name: w.name, score: w.score, issues: w.issues.map((i) => i.message) })),
    client_config: client.config,
    claude_code: client.claude,
  };
}

function banner(out: Output, demo: Demo, http: HttpServerHandle | null): string {
  const s = demo.summary;
  const kinds = Object.entries(s.byKind)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  const rule = "=".repeat(78);
  const client = http ? httpClientConfig(demo, http) : { config: demoClientConfig(), claude: DEMO_CLAUDE_CODE_COMMAND };
  const lines = [
    paint(out, "yellow", rule),
    paint(out, "bold", ` fleet-mcp DEMO: a SIMULATED fleet on 127.0.0.1. No real machine is touched.`),
    paint(out, "yellow", rule),
    "",
    `Discovered ${s.targets} demo targets (${kinds}): ${s.services.total} services (${s.services.failed} failed), ${s.containers} containers.`,
    ...(s.run.problems.length ? [`Not fully probed: ${s.run.problems.join("; ")}`] : []),
  ];
  if (s.health.worst.length) {
    lines.push("", "Needs attention:");
    const w = Math.max(...s.health.worst.map((t) => t.name.length));
    for (const t of s.health.worst) lines.push(`  ${t.name.padEnd(w)}  ${t.score.toFixed(2)}  ${t.issues.map((i) => i.message).join("; ")}`);
  }
  lines.push(
    "",
    http
      ? `MCP over HTTP: ${http.url} (bearer token below; served by this process until Ctrl-C)`
      : "Connect an MCP client: each client starts its own private demo with `fleet-mcp demo --stdio`.",
    "",
    "Claude Desktop, Cursor, VS Code (the client's MCP servers config):",
    JSON.stringify(client.config, null, 2),
    "",
    "Claude Code:",
    `  ${client.claude}`,
    "",
    "Then ask, for example:",
    '  "Which machines need attention, and why?"',
    '  "What runs on demo-app-1, and which ports are open across the fleet?"',
    '  "Take a snapshot, run discovery again, and tell me what changed."',
    `  (the fleet changes once after start: ${DEMO_CHANGES.join("; ")})`,
    "",
    `Demo database: ${demo.dbPath} (temporary; deleted when the demo stops)`,
    "Press Ctrl-C to stop.",
  );
  return lines.join("\n");
}
