import { z } from "zod";
import { getInventoryStatistics } from "../inventory/statistics.js";
import { defineTool } from "./tool.js";

const Counts = z.record(z.string(), z.number().int());
const Ts = z.string().nullable();

export const getInventoryStatisticsTool = defineTool({
  name: "get_inventory_statistics",
  title: "Inventory statistics",
  description:
    "Reports how large the inventory is and how far back it reaches: rows per kind of data (targets by kind and lifecycle, services, containers, stacks, ports, facts, events, snapshots, audit rows, discovery runs), the database size on disk with its write-ahead log, and the oldest and newest data. Call list_snapshots or query_audit_log to look at the history, or get_fleet_overview for the fleet itself.",
  input: z.object({}).strict(),
  output: z.object({
    targets: z.object({ total: z.number().int().describe("Every target, retired included."), by_kind: Counts, by_lifecycle: Counts }),
    services: z.number().int(),
    containers: z.number().int(),
    stacks: z.number().int(),
    ports: z.number().int(),
    facts: z.number().int(),
    events: z.number().int(),
    snapshots: z.object({ count: z.number().int(), bytes: z.number().int().describe("Compressed size of all snapshots in the database.") }),
    audit_rows: z.number().int(),
    discovery_runs: z.object({ total: z.number().int(), by_status: Counts }),
    database: z.object({
      path: z.string().nullable().describe("null for an in-memory database."),
      page_size: z.number().int(),
      page_count: z.number().int(),
      free_pages: z.number().int().describe("Pages a VACUUM would give back."),
      bytes: z.number().int().describe("page_count * page_size."),
      wal_bytes: z.number().int().nullable().describe("Size of the write-ahead log file; null in memory."),
    }),
    oldest: z.object({ target_first_seen: Ts, event: Ts, audit_row: Ts, snapshot: Ts, discovery_run: Ts }),
    newest: z.object({ target_last_seen: Ts, event: Ts, audit_row: Ts, snapshot: Ts, discovery_run: Ts }),
    last_run: z.object({ run_id: z.number().int(), status: z.string(), started_at: z.string(), finished_at: z.string().nullable() }).nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_args, ctx) {
    const s = getInventoryStatistics(ctx.app.db);
    return {
      targets: { total: s.targets.total, by_kind: s.targets.byKind, by_lifecycle: s.targets.byLifecycle },
      services: s.services,
      containers: s.containers,
      stacks: s.stacks,
      ports: s.ports,
      facts: s.facts,
      events: s.events,
      snapshots: s.snapshots,
      audit_rows: s.auditRows,
      discovery_runs: { total: s.discoveryRuns.total, by_status: s.discoveryRuns.byStatus },
      database: {
        path: s.database.path,
        page_size: s.database.pageSize,
        page_count: s.database.pageCount,
        free_pages: s.database.freePages,
        bytes: s.database.bytes,
        wal_bytes: s.database.walBytes,
      },
      oldest: {
        target_first_seen: s.oldest.targetFirstSeen,
        event: s.oldest.event,
        audit_row: s.oldest.auditRow,
        snapshot: s.oldest.snapshot,
        discovery_run: s.oldest.discoveryRun,
      },
      newest: {
        target_last_seen: s.newest.targetLastSeen,
        event: s.newest.event,
        audit_row: s.newest.auditRow,
        snapshot: s.newest.snapshot,
        discovery_run: s.newest.discoveryRun,
      },
      last_run: s.lastRun ? { run_id: s.lastRun.id, status: s.lastRun.status, started_at: s.lastRun.startedAt, finished_at: s.lastRun.finishedAt } : null,
    };
  },
  summarize(o) {
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    return `${o.targets.total} target(s), ${o.services} services, ${o.containers} containers, ${o.events} events, ${o.snapshots.count} snapshot(s), ${o.audit_rows} audit rows, ${o.discovery_runs.total} discovery run(s); database ${mib(o.database.bytes)} MiB${o.database.wal_bytes ? ` + ${mib(o.database.wal_bytes)} MiB WAL` : ""}. Data since ${o.oldest.target_first_seen ?? "never"}.`;
  },
});
