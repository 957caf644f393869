// Logs go to stderr only: stdout belongs to the MCP transport. JSON lines for
// machines, readable text when a person watches stderr on a TTY. The correlation
// id of the current tool call or discovery run rides in AsyncLocalStorage, so
// every line logged below a call carries it without threading it through.
import { AsyncLocalStorage } from "node:async_hooks";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LogContext {
  correlationId: string;
}

const contextStore = new AsyncLocalStorage<LogContext>();

export function withLogContext<T>(ctx: LogContext, fn: () => T): T {
  return contextStore.run(ctx, fn);
}

export function currentCorrelationId(): string | undefined {
  return contextStore.getStore()?.correlationId;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Text for people (TTY) or JSON lines. */
  pretty: boolean;
  write?: (line: string) => void;
  now?: () => Date;
  /** Applied to every rendered line, so a configured secret never reaches stderr. */
  redact?: (text: string) => string;
}

export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const now = opts.now ?? (() => new Date());
  const redact = opts.redact ?? ((s: string) => s);
  const emit = (level: Exclude<LogLevel, "silent">, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < RANK[opts.level]) return;
    const cid = currentCorrelationId();
    // Redact values before serialising: a secret with quotes or backslashes is
    // escaped in JSON and would no longer match its configured value.
    msg = redact(msg);
    if (fields) fields = redactFields(fields, redact) as Record<string, unknown>;
    let line: string;
    if (opts.pretty) {
      const extra = fields && Object.keys(fields).length > 0 ? " " + safeJson(fields) : "";
      line = `${now().toISOString().slice(11, 19)} ${level.toUpperCase().padEnd(5)} ${msg}${cid ? ` [${cid}]` : ""}${extra}\n`;
    } else {
      line = safeJson({ time: now().toISOString(), level, msg, ...(cid ? { cid } : {}), ...fields }) + "\n";
    }
    write(redact(line));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

function redactFields(value: unknown, redact: (s: string) => string, depth = 0): unknown {
  if (depth > 16) return "[too deep]";
  if (typeof value === "string") return redact(value);
  if (value instanceof Error) return { message: redact(value.message), stack: value.stack ? redact(value.stack) : undefined };
  if (Array.isArray(value)) return value.map((v) => redactFields(v, redact, depth + 1));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactFields(v, redact, depth + 1)]));
  return value;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v));
  } catch {
    return '"[unserialisable]"';
  }
}
