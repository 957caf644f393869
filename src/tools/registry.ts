// The one registration seam. Every tools/call, whatever its fate (unknown tool,
// malformed or invalid arguments, expected error, bug, cancellation, success),
// goes through callTool and leaves exactly one audit row.
//
// Why a dispatcher on the low-level server instead of McpServer.registerTool:
// registerTool validates arguments before any of our code runs, so rejected and
// unknown calls would never be audited.
import { randomUUID } from "node:crypto";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol } from "@modelcontextprotocol/sdk/shared/protocol.js";
import { ListToolsRequestSchema, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AppContext } from "../app/context.js";
import { appendAudit, type AuditOutcome } from "../inventory/audit.js";
import { withLogContext } from "../log.js";
import { redactSecretValues, redactValue } from "../redact.js";
import { ToolError, type ToolDefinition } from "./tool.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTool = ToolDefinition<any, any>;

export interface CallerInfo {
  clientName: string | null;
  clientVersion: string | null;
  sessionId?: string | null;
  principal?: string | null;
}

export interface CallToolRequestLike {
  name: unknown;
  arguments: unknown;
  progressToken?: string | number;
}

export interface CallEnvironment {
  signal: AbortSignal;
  caller: CallerInfo;
  sendProgress?: (progress: number, total: number | undefined, message: string | undefined) => void;
  /** Sends an MCP log message to the caller (the server honours the client's logging/setLevel). */
  sendLog?: (level: "info" | "warning" | "error", message: string, data?: Record<string, unknown>) => void;
}

export function toolToListEntry(tool: AnyTool): Tool {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(tool.input, "input") as Tool["inputSchema"],
    outputSchema: jsonSchema(tool.output, "output") as Tool["outputSchema"],
    annotations: { title: tool.title, ...tool.annotations },
  };
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

export class ToolRegistry {
  /** `logger` of the MCP log messages tools send. */
  readonly loggerName = "fleet-mcp";
  private readonly byName = new Map<string, AnyTool>();
  private readonly listing: Tool[];

  constructor(
    readonly tools: readonly AnyTool[],
    private readonly app: AppContext,
  ) {
    for (const t of tools) {
      if (this.byName.has(t.name)) throw new Error(`duplicate tool name ${t.name}`);
      this.byName.set(t.name, t);
    }
    this.listing = tools.map(toolToListEntry);
  }

  list(): Tool[] {
    return this.listing;
  }

  private readonly inFlight = new Set<Promise<unknown>>();

  async call(req: CallToolRequestLike, env: CallEnvironment): Promise<CallToolResult> {
    const correlationId = randomUUID();
    const p = withLogContext({ correlationId }, () => this.callInContext(req, env, correlationId));
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /** Waits (bounded) for calls in progress to finish and write their audit rows, e.g. before closing the database. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.inFlight.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return this.inFlight.size;
  }

  private async callInContext(req: CallToolRequestLike, env: CallEnvironment, correlationId: string): Promise<CallToolResult> {
    const { app } = this;
    const started = performance.now();
    const startedAt = app.now();
    const toolName = typeof req.name === "string" ? req.name : "(invalid)";
    const finish = (outcome: AuditOutcome, error: string | null) => {
      const entry = {
        ts: startedAt,
        correlationId,
        tool: app.redact(toolName),
        arguments: redactValue(req.arguments ?? {}, app.redact),
        outcome,
        durationMs: performance.now() - started,
        error: error === null ? null : app.redact(error),
        clientName: env.caller.clientName,
        clientVersion: env.caller.clientVersion,
        sessionId: env.caller.sessionId ?? null,
        principal: env.caller.principal ?? null,
      };
      let row;
      try {
        row = appendAudit(app.db, entry);
      } catch (err) {
        // The audit row could not be written (database closed or locked): say so
        // loudly, with the entry, rather than lose the record silently.
        app.log.error("AUDIT WRITE FAILED: the tool call is recorded here only", {
          audit_entry: { ...entry, ts: entry.ts.toISOString() },
          error: (err as Error).message,
        });
        throw err;
      }
      app.log.info("tool call", { tool: row.tool, outcome, duration_ms: row.durationMs, audit_id: row.id });
      app.events.emit("tool_call", { tool: row.tool, outcome, durationMs: row.durationMs });
      return row;
    };
    const fail = (outcome: AuditOutcome, message: string): CallToolResult => {
      finish(outcome, message);
      return errorResult(app.redact(message));
    };

    if (typeof req.name !== "string") {
      return fail("rejected", "Invalid tools/call request: `name` must be a string naming a tool. Call tools/list to see the tools.");
    }
    const tool = this.byName.get(req.name);
    if (!tool) {
      const known = [...this.byName.keys()].join(", ");
      return fail("unknown_tool", `Unknown tool "${truncate(app.redact(req.name), 100)}". Available tools: ${known}. Call tools/list for their schemas.`);
    }
    // A configured secret value in the arguments never reaches the handler: it would be echoed back or stored.
    const rawArgs = redactSecretValues(req.arguments ?? {}, app.redact);
    const parsed = tool.input.safeParse(rawArgs);
    if (!parsed.success) {
      return fail(
        "rejected",
        `Invalid arguments for ${tool.name}: ${formatIssues(parsed.error, app.redact)}. Fix them and call again (tools/list has the schema).`,
      );
    }

    try {
      const raw = await tool.handler(parsed.data, {
        app,
        signal: env.signal,
        correlationId,
        progress: (p, total, message) => env.sendProgress?.(p, total, message),
        log: (level, message, data) =>
          env.sendLog?.(level, app.redact(message), data === undefined ? undefined : (redactValue(data, app.redact) as Record<string, unknown>)),
      });
      if (env.signal.aborted) return fail("cancelled", "The call was cancelled by the client.");
      const out = tool.output.safeParse(raw);
      if (!out.success) throw new Error(`output of ${tool.name} does not match its outputSchema: ${formatIssues(out.error, app.redact)}`);
      const structured = redactValue(out.data, app.redact) as Record<string, unknown>;
      const size = Buffer.byteLength(JSON.stringify(structured), "utf8");
      if (size > app.config.limits.maxResultBytes) {
        return fail(
          "tool_error",
          `The result of ${tool.name} is too large (${size} bytes; the cap is ${app.config.limits.maxResultBytes}). Narrow the query: pass a smaller limit, a filter, or fewer sections.`,
        );
      }
      const summary = app.redact(tool.summarize(out.data));
      finish("ok", null);
      return { content: [{ type: "text", text: summary }], structuredContent: structured };
    } catch (err) {
      if (env.signal.aborted) return fail("cancelled", "The call was cancelled by the client.");
      if (err instanceof ToolError) return fail("tool_error", err.message);
      const row = finish("exception", err instanceof Error ? err.message : String(err));
      app.log.error("tool failed with an unexpected error", { tool: tool.name, audit_id: row.id, error: err });
      return errorResult(
        `Internal error in ${tool.name} (audit id ${row.id}, correlation id ${correlationId}). It was logged on the server; retrying will likely fail the same way. Other tools still work.`,
      );
    }
  }
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function formatIssues(error: z.ZodError, redact: (s: string) => string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? redact(i.path.join(".")) : "arguments"}: ${truncate(redact(i.message), 200)}`)
    .join("; ");
}

// tools/call with params we accept as-is, so even a malformed request reaches
// the dispatcher (and the audit log) instead of being refused by the SDK first.
const LooseCallToolRequestSchema = z.object({
  method: z.literal("tools/call"),
  params: z.unknown(),
});

/** Wires the registry into a low-level MCP server: tools/list and tools/call (and tool log messages, when the server declares `logging`). */
export function attachTools(server: Server, registry: ToolRegistry, caller: (sessionId?: string) => CallerInfo): void {
  server.registerCapabilities({ tools: { listChanged: false } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: registry.list() }));
  // Server.setRequestHandler re-validates tools/call params before our handler;
  // Protocol's own registration does not, which is what lets us audit bad calls.
  Protocol.prototype.setRequestHandler.call(server, LooseCallToolRequestSchema, async (request, extra) => {
    const params = (request.params && typeof request.params === "object" ? request.params : {}) as Record<string, unknown>;
    const meta = params._meta as { progressToken?: string | number } | undefined;
    const progressToken = meta?.progressToken;
    return registry.call(
      { name: params.name, arguments: params.arguments },
      {
        signal: extra.signal,
        caller: caller(extra.sessionId),
        sendLog: (level, message, data) => {
          void server.sendLoggingMessage({ level, logger: registry.loggerName, data: { message, ...data } }, extra.sessionId).catch(() => undefined);
        },
        sendProgress:
          progressToken === undefined
            ? undefined
            : (progress, total, message) => {
                void extra
                  .sendNotification({
                    method: "notifications/progress",
                    params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
                  })
                  .catch(() => undefined);
              },
      },
    );
  });
}
