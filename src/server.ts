// Builds the MCP server: identity, instructions, the tool seam (with the
// configured preset), resources, prompts and log messages. Only this file,
// src/tools/registry.ts and src/mcp/* import the MCP SDK.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AppContext } from "./app/context.js";
import { registerPrompts } from "./mcp/prompts.js";
import { registerResources } from "./mcp/resources.js";
import { ALL_TOOLS } from "./tools/index.js";
import { selectTools } from "./tools/presets.js";
import { attachTools, ToolRegistry, type AnyTool } from "./tools/registry.js";
import { VERSION } from "./version.js";

export const INSTRUCTIONS = `fleet-mcp keeps a persistent inventory of machines (this host and the configured sources).
Start with get_fleet_overview; if it is empty or old, call run_discovery, then look again.
Find machines with list_targets (filters) or search_fleet (text), then drill into one with get_target.
What changed: get_change_events (since a time) or compare_snapshots (a snapshot vs "live"); create_snapshot before a change.
Health: run_health_check, then list_targets with health_below. When sources fail, doctor says why.
Lists are paged: pass next_cursor back. Errors say what to do next; follow them.`;

/** What `fleet-mcp demo` puts before the instructions: no one should mistake its fleet for a real one. */
export const DEMO_NOTICE = `DEMO: this is \`fleet-mcp demo\`. Every machine in this inventory is SIMULATED on 127.0.0.1 (names start with demo-, guests and hosts are tagged demo), and the inventory is a temporary database deleted when the demo stops. Nothing here is real infrastructure; say so when you report on it.`;

export interface BuildServerOptions {
  /** The tools to choose from (default: every tool); the configured preset, allow and deny still apply. */
  tools?: readonly AnyTool[];
  /** Streamable HTTP session and token name, recorded in audit rows. */
  sessionPrincipal?: string | null;
  /** `fleet-mcp demo`: the server's name, title and instructions say the fleet is simulated. */
  demo?: boolean;
}

/** Throws ConfigError when tools.allow or tools.deny name a tool that does not exist. */
export function buildServer(app: AppContext, opts: BuildServerOptions = {}): { server: McpServer; registry: ToolRegistry } {
  const tools = selectTools(opts.tools ?? ALL_TOOLS, app.config.tools);
  const server = new McpServer(
    opts.demo
      ? { name: "fleet-mcp-demo", version: VERSION, title: "fleet-mcp DEMO (simulated fleet)" }
      : { name: "fleet-mcp", version: VERSION, title: "fleet-mcp" },
    { instructions: opts.demo ? `${DEMO_NOTICE}\n${INSTRUCTIONS}` : INSTRUCTIONS, capabilities: { logging: {} } },
  );
  const registry = new ToolRegistry(tools, app);
  attachTools(server.server, registry, (sessionId) => {
    const client = server.server.getClientVersion();
    return { clientName: client?.name ?? null, clientVersion: client?.version ?? null, sessionId: sessionId ?? null, principal: opts.sessionPrincipal ?? null };
  });
  registerResources(server, app);
  registerPrompts(server, app);
  return { server, registry };
}
