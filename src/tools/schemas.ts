// Output shapes shared by several tools, so the same thing reads the same everywhere.
import { z } from "zod";

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
