// The CLI's query commands call the MCP tools, not the queries behind them: the
// same ToolRegistry an MCP client goes through, so a person sees exactly what an
// agent sees, every call leaves an audit row (client "fleet-mcp-cli"), and
// secrets are redacted the same way. The CLI is run by the operator, so it gets
// every tool (ALL_TOOLS), whatever tools.preset / allow / deny say: those shape
// what an MCP client is offered, not what the machine's owner may run.
import { existsSync } from "node:fs";
import type { z } from "zod";
import type { AppContext } from "../app/context.js";
import type { FleetConfig } from "../config.js";
import { ALL_TOOLS } from "../tools/index.js";
import { ToolRegistry } from "../tools/registry.js";
import type { ToolDefinition } from "../tools/tool.js";
import { VERSION } from "../version.js";
import { EXIT, UsageError, type CommandContext } from "./command.js";
import { withApp } from "./db.js";
import { paint, type Output, type Style } from "./output.js";

/** Recorded as the client of every tool call the CLI makes (audit log, query_audit_log). */
export const CLI_CLIENT_NAME = "fleet-mcp-cli";

/** The CLI prints to a terminal or a file, not into a model's context: a far larger cap than limits.max_result_bytes. */
const CLI_MAX_RESULT_BYTES = 256 * 1024 * 1024;

/** The tool reported an error (isError): its text goes to stderr, exit 1. */
export class ToolFailure extends Error {
  override name = "ToolFailure";
}

/** Ctrl-C during a call: exit 130. */
class Interrupted extends Error {
  override name = "Interrupted";
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyInputTool<O extends z.ZodObject> = ToolDefinition<any, O>;

export interface ToolSession {
  app: AppContext;
  /**
   * Validates `args` with the tool's input schema (a violation is a UsageError naming
   * the CLI option from `flags`, exit 2), calls the tool through the registry and
   * returns its structuredContent, or throws ToolFailure with the tool's error text.
   */
  call<O extends z.ZodObject>(tool: AnyInputTool<O>, args: Record<string, unknown>, flags?: Record<string, string>): Promise<z.output<O>>;
}

/**
 * The configuration the CLI's tool calls run with: logs at warn instead of info (a
 * table is not to be interleaved with "tool call" lines; debug still shows
 * everything), and no result cap for people.
 */
export function cliConfig(config: FleetConfig): FleetConfig {
  return {
    ...config,
    logLevel: config.logLevel === "info" ? "warn" : config.logLevel,
    limits: { ...config.limits, maxResultBytes: Math.max(config.limits.maxResultBytes, CLI_MAX_RESULT_BYTES) },
  };
}

/** Drops undefined values, so a tool sees only the options that were given. */
export function defined(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
}

/**
 * Opens the existing inventory (never creates one: a missing database is exit 2),
 * gives `fn` a session to call tools with, and turns a tool error into exit 1 and
 * Ctrl-C into exit 130. `memoryIfMissing`: with no database yet, run against an
 * empty in-memory one instead (doctor: checking sources needs no inventory).
 */
export async function withTools(ctx: CommandContext, fn: (s: ToolSession) => Promise<number>, opts: { memoryIfMissing?: boolean } = {}): Promise<number> {
  let config = cliConfig(ctx.config());
  if (opts.memoryIfMissing && config.dbPath !== ":memory:" && !existsSync(config.dbPath)) {
    ctx.out.note(`(no database at ${config.dbPath} yet: running without the inventory's pinned host keys; nothing is written there)`);
    config = { ...config, dbPath: ":memory:" };
  }
  return withApp(config, async (app) => {
    const registry = new ToolRegistry(ALL_TOOLS, app);
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once("SIGINT", onSigint);
    const session: ToolSession = {
      app,
      async call(tool, args, flags = {}) {
        const parsed = tool.input.safeParse(args);
        if (!parsed.success) {
          const issues = parsed.error.issues.slice(0, 5).map((i: z.core.$ZodIssue) => {
            const key = i.path.length ? String(i.path[0]) : "";
            const where = flags[key] ?? (key ? `--${key.replace(/_/g, "-")}` : "arguments");
            return `${where}: ${i.message}`;
          });
          throw new UsageError(issues.join("; "));
        }
        const res = await registry.call(
          { name: tool.name, arguments: args },
          { signal: controller.signal, caller: { clientName: CLI_CLIENT_NAME, clientVersion: VERSION, sessionId: null, principal: null } },
        );
        if (controller.signal.aborted) throw new Interrupted("interrupted");
        if (res.isError) {
          const text = res.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
          throw new ToolFailure(text || `${tool.name} failed`);
        }
        return res.structuredContent as z.output<typeof tool.output>;
      },
    };
    try {
      return await fn(session);
    } catch (err) {
      if (err instanceof ToolFailure) {
        ctx.out.error(cleanText(err.message));
        return EXIT.PROBLEM;
      }
      if (err instanceof Interrupted) {
        ctx.out.error("interrupted");
        return EXIT.INTERRUPTED;
      }
      throw err;
    } finally {
      process.removeListener("SIGINT", onSigint);
      await registry.drain(5000);
    }
  });
}

/** Pages through a cursor-paged tool until the end (bounded), collecting every item. */
export async function allPages<T, P extends { next_cursor: string | null }>(
  fetch: (cursor: string | undefined) => Promise<P>,
  items: (page: P) => T[],
  maxPages = 100_000,
): Promise<{ first: P; items: T[] }> {
  const first = await fetch(undefined);
  const all = [...items(first)];
  let page = first;
  for (let i = 1; page.next_cursor && i < maxPages; i++) {
    page = await fetch(page.next_cursor);
    all.push(...items(page));
  }
  return { first, items: all };
}

// --- option parsing -------------------------------------------------------

export function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function strs(ctx: CommandContext, name: string): string[] | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
  return list.length ? list : undefined;
}

export function flag(ctx: CommandContext, name: string): boolean | undefined {
  return ctx.values[name] === true ? true : undefined;
}

/** A number option; anything that is not a number is a usage error naming the option. */
export function num(ctx: CommandContext, name: string): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got ${JSON.stringify(v)})`);
  return n;
}

/** `--port P` (0 picks a free port); undefined when not given. */
export function portOption(ctx: CommandContext): number | undefined {
  const raw = ctx.values.port;
  if (typeof raw !== "string") return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, not ${JSON.stringify(raw)}`);
  return port;
}

/** "24h", "90m", "7d", "2w", "30s" or a plain number of hours -> hours. */
export function hoursOf(v: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?\s*$/i.exec(v);
  if (!m) throw new UsageError(`${option} takes a duration like 30m, 24h, 7d or 2w, or an ISO time (got ${JSON.stringify(v)})`);
  const factor = { s: 1 / 3600, m: 1 / 60, min: 1 / 60, h: 1, d: 24, w: 168 }[(m[2]?.toLowerCase() ?? "h") as "s" | "m" | "min" | "h" | "d" | "w"];
  return Number(m[1]) * factor;
}

export function noArgs(ctx: CommandContext, command: string): void {
  if (ctx.args.length > 0) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(ctx.args.join(" "))})`);
}

// --- rendering ------------------------------------------------------------

/** Remote text that spans lines (markdown, messages): control characters but newlines and tabs become "?". */
export function cleanText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?");
}

export function healthStyle(score: number | null | undefined): Style {
  if (score === null || score === undefined) return "gray";
  return score >= 0.9 ? "green" : score >= 0.6 ? "yellow" : "red";
}

export function healthText(score: number | null | undefined): string {
  return score === null || score === undefined ? "-" : score.toFixed(2);
}

export function lifecycleStyle(lifecycle: string): Style | undefined {
  return ({ active: "green", discovered: "cyan", stale: "yellow", unreachable: "red", retired: "gray" } as Record<string, Style>)[lifecycle];
}

export function severityStyle(severity: string): Style | undefined {
  return ({ critical: "red", warning: "yellow", info: "gray", error: "red", ok: "green" } as Record<string, Style>)[severity];
}

/** Byte counts as the reports print them (1.5 GiB). */
export { bytes } from "../inventory/reports/markdown.js";

/** "a 3, b 1" from a count record, largest first. */
export function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(", ") : "-";
}

/** An aligned "label: value" block. Labels are ours; values are cleaned by the caller. */
export function fields(rows: Array<[string, string]>, indent = ""): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${`${k}:`.padEnd(w + 1)}  ${v}`).join("\n");
}

export function heading(out: Pick<Output, "color">, text: string): string {
  return paint(out, "bold", text);
}
