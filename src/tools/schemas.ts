// Output shapes shared by several tools, so the same thing reads the same everywhere.
import { z } from "zod";
import { ToolError } from "./tool.js";

/** One source's part in a discovery run (run_discovery, get_discovery_status). */
export const SourceRunSchema = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(["ok", "partial", "failed", "cancelled"]).describe("partial: some hosts or sections failed"),
  targets: z.number().int(),
  hosts_ok: z.number().int(),
  hosts_failed: z.number().int(),
  duration_ms: z.number().int(),
  error: z.string().nullable(),
  warnings: z.array(z.string()),
});
export type SourceRun = z.infer<typeof SourceRunSchema>;

export type SourceRunStatus = SourceRun["status"];

// Agents write times many ways: accept a date, a date-time with or without
// seconds, with or without an offset (none means UTC).
export const IsoTime = z
  .string()
  .max(64)
  .regex(
    /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/,
    "use an ISO-8601 date or time, e.g. 2026-11-23 or 2026-11-23T08:00:00Z",
  );

export function parseTime(s: string): Date {
  const full = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : /(?:Z|[+-]\d{2}:?\d{2})$/.test(s) ? s.replace(" ", "T") : `${s.replace(" ", "T")}Z`;
  const d = new Date(full);
  if (Number.isNaN(d.getTime())) throw new ToolError(`"${s}" is not a valid time: use e.g. 2026-11-23 or 2026-11-23T08:00:00Z.`);
  return d;
}
