// A tool is data: a name, schemas, hints and a handler that returns a plain
// object. It never builds an MCP result, never touches the server and never
// writes audit rows: registry.ts does that for every tool alike.
import type { z } from "zod";
import type { AppContext } from "../app/context.js";

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolCallContext {
  app: AppContext;
  /** Aborted when the client cancels the call. */
  signal: AbortSignal;
  correlationId: string;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): void;
  /** Sends an MCP log message (notifications/message) to the calling client, if it takes them; absent outside tools/call. */
  log?(level: "info" | "warning" | "error", message: string, data?: Record<string, unknown>): void;
}

export interface ToolDefinition<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** Two sentences: what it does, what to call next. */
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  handler(args: z.output<I>, ctx: ToolCallContext): Promise<z.input<O>>;
  /** A short human line or two for `content`; never the JSON again. */
  summarize(out: z.output<O>): string;
}

export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}

/**
 * An expected, user-actionable failure (unknown id, bad filter, run already in
 * progress). Its message goes to the model as is, so it must say what to do next.
 */
export class ToolError extends Error {
  override name = "ToolError";
}

/** Opaque cursors: callers pass back what we gave them, nothing else. */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, keys: readonly string[]): Record<string, string | number> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (parsed && typeof parsed === "object" && keys.every((k) => ["string", "number"].includes(typeof (parsed as Record<string, unknown>)[k]))) {
      return parsed as Record<string, string | number>;
    }
  } catch {
    // fall through
  }
  throw new ToolError("Invalid cursor: pass back the exact next_cursor value from the previous page, or omit it to start over.");
}
