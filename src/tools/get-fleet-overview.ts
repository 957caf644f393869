import { z } from "zod";
import { getOverview, totalsOut } from "../inventory/queries.js";
import { defineTool } from "./tool.js";

const Counts = z.record(z.string(), z.number().int());

export const getFleetOverview = defineTool({
  name: "get_fleet_overview",
  title: "Fleet overview",
  description:
    "Summarises the whole inventory: targets by kind, lifecycle and OS, total CPUs, memory and disk, services and containers, and when discovery last ran. Call get_target to drill into one machine, or run_discovery if the data is old or empty.",
  input: z.object({}).strict(),
  output: z.object({
    targets: z.object({
      total: z.number().int().describe("Targets not retired."),
      by_kind: Counts,
      by_lifecycle: Counts,
      by_os: Counts,
    }),
    totals: z.object({
      cpu_count: z.number().int(),
      memory_bytes: z.number().int(),
      memory_available_bytes: z.number().int(),
      disk_bytes: z.number().int().describe("Sum of real (non-pseudo) filesystems, each device counted once."),
      disk_used_bytes: z.number().int(),
    }),
    services: z.object({ total: z.number().int(), running: z.number().int(), failed: z.number().int() }),
    containers: z.object({ total: z.number().int(), running: z.number().int() }),
    stacks: z.number().int(),
    last_discovery: z.object({ run_id: z.number().int(), status: z.string(), started_at: z.string(), finished_at: z.string().nullable() }).nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_args, ctx) {
    const o = getOverview(ctx.app.db);
    return {
      targets: { total: o.targets.total, by_kind: o.targets.byKind, by_lifecycle: o.targets.byLifecycle, by_os: o.targets.byOs },
      totals: totalsOut(o.totals),
      services: o.services,
      containers: o.containers,
      stacks: o.stacks,
      last_discovery: o.lastRun ? { run_id: o.lastRun.id, status: o.lastRun.status, started_at: o.lastRun.startedAt, finished_at: o.lastRun.finishedAt } : null,
    };
  },
  summarize(o) {
    if (o.targets.total === 0) return "The inventory is empty. Call run_discovery to discover this machine and the configured sources.";
    const kinds = Object.entries(o.targets.by_kind)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ");
    const gib = (b: number) => (b / 2 ** 30).toFixed(1);
    return `${o.targets.total} target(s) (${kinds}); ${o.totals.cpu_count} CPUs, ${gib(o.totals.memory_bytes)} GiB memory, ${gib(o.totals.disk_bytes)} GiB disk; ${o.services.total} services (${o.services.failed} failed), ${o.containers.total} containers. Last discovery: ${o.last_discovery ? `run ${o.last_discovery.run_id} ${o.last_discovery.status} at ${o.last_discovery.started_at}` : "never"}.`;
  },
});
