// Builds the MCP server: identity, instructions and the tool seam. Only this
// file and src/tools/registry.ts import the MCP SDK.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AppContext } from "./app/context.js";
import { ALL_TOOLS } from "./tools/index.js";
import { attachTools, ToolRegistry, type AnyTool } from "./tools/registry.js";
import { VERSION } from "./version.js";

export const INSTRUCTIONS = `fleet-mcp keeps a persistent inventory of machines (this host, and the sources in its config).
Workflow: get_fleet_overview first; if it is empty or old, run_discovery, then get_fleet_overview again.
Drill into one machine with get_target (id, name or address); facts carry the source and time they were seen.
get_discovery_status tells whether a run is going and how recent runs went; query_audit_log lists past tool calls.
Errors that start with a fix ("call run_discovery first") are meant to be followed.`;

export interface BuildServerOptions {
  tools?: readonly AnyTool[];
  /** Streamable HTTP session and token name, recorded in audit rows. */
  sessionPrincipal?: string | null;
}

export function buildServer(app: AppContext, opts: BuildServerOptions = {}): { server: McpServer; registry: ToolRegistry } {
  const server = new McpServer({ name: "fleet-mcp", version: VERSION, title: "fleet-mcp" }, { instructions: INSTRUCTIONS });
  const registry = new ToolRegistry(opts.tools ?? ALL_TOOLS, app);
  attachTools(server.server, registry, (sessionId) => {
    const client = server.server.getClientVersion();
    return { clientName: client?.name ?? null, clientVersion: client?.version ?? null, sessionId: sessionId ?? null, principal: opts.sessionPrincipal ?? null };
  });
  return { server, registry };
}
