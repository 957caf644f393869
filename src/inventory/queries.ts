// Read side of the inventory. Each public function runs in one read
// transaction, so a reader sees the inventory before or after a discovery's
// write, never half of it.
import { asc, count, desc, eq, inArray, lt, or, sql, sum } from "drizzle-orm";
import type { Db } from "../db/open.js";
import {
  addresses,
  containers,
  discoveryHostResults,
  discoveryRuns,
  discoverySourceResults,
  facts,
  filesystems,
  interfaces,
  observations,
  ports,
  services,
  stacks,
  targets,
} from "../db/schema.js";

function read<T>(db: Db, fn: (db: Db) => T): T {
  return db.transaction((tx) => fn(tx as unknown as Db), { behavior: "deferred" });
}

export interface Overview {
  targets: {
    total: number;
    byKind: Record<string, number>;
    byLifecycle: Record<string, number>;
    byOs: Record<string, number>;
  };
  totals: {
    cpuCount: number;
    memoryBytes: number;
    memoryAvailableBytes: number;
    diskBytes: number;
    diskUsedBytes: number;
  };
  services: { total: number; running: number; failed: number };
  containers: { total: number; running: number };
  stacks: number;
  lastRun: { id: number; status: string; startedAt: string; finishedAt: string | null } | null;
}

/** The fleet totals as tools and reports print them. */
export function totalsOut(t: Overview["totals"]) {
  return {
    cpu_count: t.cpuCount,
    memory_bytes: t.memoryBytes,
    memory_available_bytes: t.memoryAvailableBytes,
    disk_bytes: t.diskBytes,
    disk_used_bytes: t.diskUsedBytes,
  };
}

export function getOverview(db: Db): Overview {
  return read(db, (tx) => {
    const live = sql`${targets.lifecycle} <> 'retired'`;
    const group = (col: typeof targets.kind | typeof targets.lifecycle | typeof targets.osId) =>
      Object.fromEntries(
        tx
          .select({ k: sql<string>`coalesce(${col}, 'unknown')`, n: count() })
          .from(targets)
          .where(col === targets.lifecycle ? undefined : live)
          .groupBy(sql`1`)
          .all()
          .map((r) => [r.k, r.n]),
      ) as Record<string, number>;
    const totals = tx
      .select({
        total: count(),
        cpu: sum(targets.cpuCount),
        mem: sum(targets.memTotalBytes),
        memAvail: sum(targets.memAvailableBytes),
        disk: sum(targets.diskTotalBytes),
        diskUsed: sum(targets.diskUsedBytes),
      })
      .from(targets)
      .where(live)
      .get();
    // Collection counts are kept on each target at ingest: the overview reads one table.
    // Services, containers and stacks of retired targets leave it with their targets.
    const c = tx
      .select({
        services: sum(targets.serviceCount),
        servicesRunning: sum(targets.servicesRunning),
        servicesFailed: sum(targets.servicesFailed),
        containers: sum(targets.containerCount),
        containersRunning: sum(targets.containersRunning),
        stacks: sum(targets.stackCount),
      })
      .from(targets)
      .where(live)
      .get();
    const last = tx.select().from(discoveryRuns).orderBy(desc(discoveryRuns.id)).limit(1).get();
    return {
      targets: { total: totals?.total ?? 0, byKind: group(targets.kind), byLifecycle: group(targets.lifecycle), byOs: group(targets.osId) },
      totals: {
        cpuCount: Number(totals?.cpu ?? 0),
        memoryBytes: Number(totals?.mem ?? 0),
        memoryAvailableBytes: Number(totals?.memAvail ?? 0),
        diskBytes: Number(totals?.disk ?? 0),
        diskUsedBytes: Number(totals?.diskUsed ?? 0),
      },
      services: { total: Number(c?.services ?? 0), running: Number(c?.servicesRunning ?? 0), failed: Number(c?.servicesFailed ?? 0) },
      containers: { total: Number(c?.containers ?? 0), running: Number(c?.containersRunning ?? 0) },
      stacks: Number(c?.stacks ?? 0),
      lastRun: last ? { id: last.id, status: last.status, startedAt: last.startedAt, finishedAt: last.finishedAt } : null,
    };
  });
}

export type TargetRow = typeof targets.$inferSelect;

/** Targets matching an id exactly, else a name (case-insensitive), else an address. */
/** Targets per (lifecycle, kind) pair, retired included: what /metrics exports as fleet_targets. */
export function targetCountsByLifecycleAndKind(db: Db): Array<{ lifecycle: string; kind: string; n: number }> {
  return db.select({ lifecycle: targets.lifecycle, kind: targets.kind, n: count() }).from(targets).groupBy(targets.lifecycle, targets.kind).all();
}

export function findTargets(db: Db, ref: string): TargetRow[] {
  return read(db, (tx) => {
    const byId = tx.select().from(targets).where(eq(targets.id, ref)).all();
    if (byId.length) return byId;
    const byName = tx
      .select()
      .from(targets)
      .where(sql`lower(${targets.name}) = lower(${ref})`)
      .all();
    if (byName.length) return byName;
    const byAddr = tx
      .select({ id: addresses.targetId })
      .from(addresses)
      .where(eq(addresses.address, ref))
      .all()
      .map((r) => r.id);
    return tx
      .select()
      .from(targets)
      .where(or(eq(targets.address, ref), byAddr.length ? inArray(targets.id, [...new Set(byAddr)]) : undefined))
      .all();
  });
}

/** A few names close to `ref`, for "did you mean" in errors. */
export function suggestTargets(db: Db, ref: string, limit = 5): Array<{ id: string; name: string }> {
  const needle = `%${ref.replace(/[%_\\]/g, (c) => `\\${c}`).slice(0, 64)}%`;
  const close = db
    .select({ id: targets.id, name: targets.name })
    .from(targets)
    .where(sql`${targets.name} LIKE ${needle} ESCAPE '\\'`)
    .limit(limit)
    .all();
  if (close.length) return close;
  return db.select({ id: targets.id, name: targets.name }).from(targets).orderBy(desc(targets.lastSeenAt)).limit(limit).all();
}

export interface TargetDetailLimits {
  collectionLimit: number;
}

export function getTargetDetail(db: Db, id: string, limits: TargetDetailLimits) {
  return read(db, (tx) => {
    const target = tx.select().from(targets).where(eq(targets.id, id)).get();
    if (!target) return null;
    const lim = limits.collectionLimit;
    const total = (table: typeof services | typeof containers | typeof stacks | typeof ports | typeof filesystems | typeof interfaces) =>
      tx.select({ n: count() }).from(table).where(eq(table.targetId, id)).get()?.n ?? 0;
    const parent = target.parentId
      ? (tx.select({ id: targets.id, name: targets.name, kind: targets.kind }).from(targets).where(eq(targets.id, target.parentId)).get() ?? null)
      : null;
    const lastHost = tx
      .select()
      .from(discoveryHostResults)
      .where(eq(discoveryHostResults.targetId, id))
      .orderBy(desc(discoveryHostResults.runId))
      .limit(1)
      .get();
    return {
      target,
      parent,
      lastProbe: lastHost ?? null,
      facts: tx.select().from(facts).where(eq(facts.targetId, id)).orderBy(asc(facts.key), asc(facts.sourceId)).all(),
      services: tx.select().from(services).where(eq(services.targetId, id)).orderBy(asc(services.name)).limit(lim).all(),
      servicesTotal: total(services),
      containers: tx.select().from(containers).where(eq(containers.targetId, id)).orderBy(asc(containers.name)).limit(lim).all(),
      containersTotal: total(containers),
      stacks: tx.select().from(stacks).where(eq(stacks.targetId, id)).orderBy(asc(stacks.name)).limit(lim).all(),
      stacksTotal: total(stacks),
      interfaces: tx.select().from(interfaces).where(eq(interfaces.targetId, id)).orderBy(asc(interfaces.name)).limit(lim).all(),
      interfacesTotal: total(interfaces),
      addresses: tx.select().from(addresses).where(eq(addresses.targetId, id)).orderBy(asc(addresses.interfaceName), asc(addresses.address)).all(),
      ports: tx.select().from(ports).where(eq(ports.targetId, id)).orderBy(asc(ports.port), asc(ports.protocol)).limit(lim).all(),
      portsTotal: total(ports),
      filesystems: tx.select().from(filesystems).where(eq(filesystems.targetId, id)).orderBy(asc(filesystems.mount)).limit(lim).all(),
      filesystemsTotal: total(filesystems),
      /** When each source last observed each collection: "<source>|<collection>" -> ISO time. */
      observedAt: new Map(
        tx
          .select()
          .from(observations)
          .where(eq(observations.targetId, id))
          .all()
          .map((o) => [`${o.sourceId}|${o.collection}`, o.observedAt]),
      ),
    };
  });
}

export type TargetDetail = NonNullable<ReturnType<typeof getTargetDetail>>;

export function listRuns(db: Db, limit: number, beforeId?: number) {
  return read(db, (tx) => {
    const runs = tx
      .select()
      .from(discoveryRuns)
      .where(beforeId !== undefined ? lt(discoveryRuns.id, beforeId) : undefined)
      .orderBy(desc(discoveryRuns.id))
      .limit(limit)
      .all();
    const ids = runs.map((r) => r.id);
    const sources = ids.length ? tx.select().from(discoverySourceResults).where(inArray(discoverySourceResults.runId, ids)).all() : [];
    return runs.map((r) => ({ ...r, sources: sources.filter((s) => s.runId === r.id) }));
  });
}

export function runningRuns(db: Db) {
  return db.select().from(discoveryRuns).where(eq(discoveryRuns.status, "running")).orderBy(asc(discoveryRuns.id)).all();
}
