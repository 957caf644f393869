// How big the inventory is and how far back it reaches: row counts per table,
// the database's size on disk, and the oldest and newest data. One read
// transaction; counts are plain COUNT(*) (SQLite walks the smallest index).
import { statSync } from "node:fs";
import { count, max, min, sql, sum } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";
import { auditLog, containers, discoveryRuns, events, facts, ports, services, snapshots, stacks, targets } from "../db/schema.js";

export interface InventoryStatistics {
  targets: { total: number; byKind: Record<string, number>; byLifecycle: Record<string, number> };
  services: number;
  containers: number;
  stacks: number;
  ports: number;
  facts: number;
  events: number;
  snapshots: { count: number; bytes: number };
  auditRows: number;
  discoveryRuns: { total: number; byStatus: Record<string, number> };
  database: {
    /** null for an in-memory database. */
    path: string | null;
    pageSize: number;
    pageCount: number;
    freePages: number;
    /** page_count * page_size: the main file's size. */
    bytes: number;
    /** The write-ahead log beside a file database (0 when checkpointed away); null in memory. */
    walBytes: number | null;
  };
  oldest: { targetFirstSeen: string | null; event: string | null; auditRow: string | null; snapshot: string | null; discoveryRun: string | null };
  newest: { targetLastSeen: string | null; event: string | null; auditRow: string | null; snapshot: string | null; discoveryRun: string | null };
  lastRun: { id: number; status: string; startedAt: string; finishedAt: string | null } | null;
}

function pragmaNumber(db: Db, name: string): number {
  // PRAGMA has no Drizzle form.
  return Number(db.$client.pragma(name, { simple: true }) ?? 0);
}

export function getInventoryStatistics(db: Db): InventoryStatistics {
  return db.transaction(
    (txRaw) => {
      const tx = txRaw as unknown as Db;
      const rows = (table: SQLiteTable) => tx.select({ n: count() }).from(table).get()?.n ?? 0;
      const grouped = (rows: Array<{ k: string | null; n: number }>) => Object.fromEntries(rows.map((r) => [r.k ?? "unknown", r.n])) as Record<string, number>;
      const byKind = grouped(tx.select({ k: targets.kind, n: count() }).from(targets).groupBy(targets.kind).all());
      const byLifecycle = grouped(tx.select({ k: targets.lifecycle, n: count() }).from(targets).groupBy(targets.lifecycle).all());
      const runsByStatus = grouped(tx.select({ k: discoveryRuns.status, n: count() }).from(discoveryRuns).groupBy(discoveryRuns.status).all());
      const t = tx
        .select({ first: min(targets.firstSeenAt), last: max(targets.lastSeenAt) })
        .from(targets)
        .get();
      const ev = tx
        .select({ n: count(), first: min(events.ts), last: max(events.ts) })
        .from(events)
        .get();
      const au = tx
        .select({ n: count(), first: min(auditLog.ts), last: max(auditLog.ts) })
        .from(auditLog)
        .get();
      const sn = tx
        .select({ n: count(), bytes: sum(snapshots.sizeBytes), first: min(snapshots.createdAt), last: max(snapshots.createdAt) })
        .from(snapshots)
        .get();
      const ru = tx
        .select({ first: min(discoveryRuns.startedAt), last: max(discoveryRuns.startedAt) })
        .from(discoveryRuns)
        .get();
      const lastRun = tx
        .select({ id: discoveryRuns.id, status: discoveryRuns.status, startedAt: discoveryRuns.startedAt, finishedAt: discoveryRuns.finishedAt })
        .from(discoveryRuns)
        .orderBy(sql`${discoveryRuns.id} desc`)
        .limit(1)
        .get();

      const pageSize = pragmaNumber(db, "page_size");
      const pageCount = pragmaNumber(db, "page_count");
      const file = db.$client.memory ? null : db.$client.name;
      let walBytes: number | null = null;
      if (file) {
        try {
          walBytes = statSync(`${file}-wal`).size;
        } catch {
          walBytes = 0;
        }
      }
      const total = Object.values(byKind).reduce((a, b) => a + b, 0);
      return {
        targets: { total, byKind, byLifecycle },
        services: rows(services),
        containers: rows(containers),
        stacks: rows(stacks),
        ports: rows(ports),
        facts: rows(facts),
        events: ev?.n ?? 0,
        snapshots: { count: sn?.n ?? 0, bytes: Number(sn?.bytes ?? 0) },
        auditRows: au?.n ?? 0,
        discoveryRuns: { total: Object.values(runsByStatus).reduce((a, b) => a + b, 0), byStatus: runsByStatus },
        database: { path: file, pageSize, pageCount, freePages: pragmaNumber(db, "freelist_count"), bytes: pageSize * pageCount, walBytes },
        oldest: {
          targetFirstSeen: t?.first ?? null,
          event: ev?.first ?? null,
          auditRow: au?.first ?? null,
          snapshot: sn?.first ?? null,
          discoveryRun: ru?.first ?? null,
        },
        newest: {
          targetLastSeen: t?.last ?? null,
          event: ev?.last ?? null,
          auditRow: au?.last ?? null,
          snapshot: sn?.last ?? null,
          discoveryRun: ru?.last ?? null,
        },
        lastRun: lastRun ?? null,
      };
    },
    { behavior: "deferred" },
  );
}
