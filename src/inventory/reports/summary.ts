// The summary report: what the fleet is (counts by kind, lifecycle, role, OS and
// totals), how healthy it is (stored scores), what changed since the previous
// snapshot, and when discovery last ran.
import { count, desc, eq, ne, sql } from "drizzle-orm";
import type { Db } from "../../db/open.js";
import { discoveryRuns, discoverySourceResults, events, targets } from "../../db/schema.js";
import { diffDocuments, type JsonValue } from "../diff.js";
import { getOverview, totalsOut } from "../queries.js";
import { captureInventory, findSnapshot, loadSnapshotDocument } from "../snapshots.js";
import { listed, read, type Listed } from "./common.js";
import { buildHealthReport, sortedCounts, type HealthReport } from "./health.js";

export interface ChangeLine {
  target_id: string | null;
  target_name: string | null;
  /** created | modified | deleted for a snapshot comparison, the event type for events. */
  change: string;
  message: string;
}

export interface SummaryChanges {
  /**
   * snapshot: the newest snapshot compared with the inventory now (volatile
   * readings left out); last_run_events: no snapshot exists, so the change
   * events recorded by the latest discovery run; none: neither exists.
   */
  basis: "snapshot" | "last_run_events" | "none";
  since: string | null;
  snapshot: { id: number; name: string; created_at: string } | null;
  run_id: number | null;
  total: number;
  /** snapshot: "<entity type> <change>" (e.g. "port created"); events: the event type. */
  counts: Record<string, number>;
  /** Production targets gone, new ports on production, host key changes, failed services (snapshot); critical events (events). */
  critical: Listed<ChangeLine>;
  items: Listed<ChangeLine>;
}

export interface SummaryReport {
  targets: {
    total: number;
    by_kind: Record<string, number>;
    by_lifecycle: Record<string, number>;
    by_role: Record<string, number>;
    by_os: Record<string, number>;
  };
  totals: { cpu_count: number; memory_bytes: number; memory_available_bytes: number; disk_bytes: number; disk_used_bytes: number };
  services: { total: number; running: number; failed: number };
  containers: { total: number; running: number };
  stacks: number;
  health: Pick<HealthReport, "checked_at" | "mean" | "distribution" | "unscored" | "worst"> & {
    issues_total: number;
    top_issue_codes: Record<string, number>;
  };
  changes: SummaryChanges;
  last_discovery: {
    run_id: number;
    status: string;
    trigger: string;
    started_at: string;
    finished_at: string | null;
    targets_seen: number;
    targets_added: number;
    targets_unreachable: number;
    sources: Array<{ id: string; kind: string; status: string; error: string | null }>;
  } | null;
}

export interface SummaryOptions {
  limit: number;
  now: Date;
}

export function buildSummaryTotals(db: Db): Pick<SummaryReport, "targets" | "totals" | "services" | "containers" | "stacks" | "last_discovery"> {
  const o = getOverview(db);
  return read(db, (tx) => {
    const byRole = Object.fromEntries(
      tx
        .select({ k: targets.role, n: count() })
        .from(targets)
        .where(ne(targets.lifecycle, "retired"))
        .groupBy(targets.role)
        .all()
        .map((r) => [r.k, r.n]),
    ) as Record<string, number>;
    const run = tx.select().from(discoveryRuns).orderBy(desc(discoveryRuns.id)).limit(1).get();
    const sources = run
      ? tx
          .select({
            id: discoverySourceResults.sourceId,
            kind: discoverySourceResults.kind,
            status: discoverySourceResults.status,
            error: discoverySourceResults.error,
          })
          .from(discoverySourceResults)
          .where(eq(discoverySourceResults.runId, run.id))
          .orderBy(discoverySourceResults.sourceId)
          .all()
      : [];
    return {
      targets: {
        total: o.targets.total,
        by_kind: sortedCounts(o.targets.byKind),
        by_lifecycle: sortedCounts(o.targets.byLifecycle),
        by_role: sortedCounts(byRole),
        by_os: sortedCounts(o.targets.byOs),
      },
      totals: totalsOut(o.totals),
      services: o.services,
      containers: o.containers,
      stacks: o.stacks,
      last_discovery: run
        ? {
            run_id: run.id,
            status: run.status,
            trigger: run.trigger,
            started_at: run.startedAt,
            finished_at: run.finishedAt,
            targets_seen: run.targetsSeen,
            targets_added: run.targetsAdded,
            targets_unreachable: run.targetsUnreachable,
            sources,
          }
        : null,
    };
  });
}

export function buildSummaryHealth(db: Db, limit: number): SummaryReport["health"] {
  const h = buildHealthReport(db, { limit });
  return {
    checked_at: h.checked_at,
    mean: h.mean,
    distribution: h.distribution,
    unscored: h.unscored,
    issues_total: h.issues.total,
    top_issue_codes: Object.fromEntries(Object.entries(h.issues.by_code).slice(0, 10)),
    worst: h.worst,
  };
}

function show(v: JsonValue): string {
  if (v === null) return "none";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** What changed since the newest snapshot (or, without one, what the latest run recorded). */
export function buildSummaryChanges(db: Db, opts: SummaryOptions): SummaryChanges {
  const snap = findSnapshot(db, "latest");
  const doc = snap ? loadSnapshotDocument(db, snap.id) : null;
  if (snap && doc) {
    const diff = diffDocuments(doc, captureInventory(db, opts.now), { includeVolatile: false });
    const counts: Record<string, number> = {};
    const items: ChangeLine[] = [];
    for (const c of diff.changes) {
      const d = diff.describe(c, false);
      counts[`${d.type} ${d.change}`] = (counts[`${d.type} ${d.change}`] ?? 0) + 1;
      const fields = d.fields.map((f) => `${f.field} ${show(f.before)} -> ${show(f.after)}`).join(", ");
      const entity = d.type === "target" ? `target ${d.targetName}` : `${d.type} ${d.entity}`;
      items.push({ target_id: d.targetId, target_name: d.targetName, change: d.change, message: `${entity} ${d.change}${fields ? `: ${fields}` : ""}` });
    }
    return {
      basis: "snapshot",
      since: snap.createdAt,
      snapshot: { id: snap.id, name: snap.name, created_at: snap.createdAt },
      run_id: null,
      total: diff.total,
      counts: sortedCounts(counts),
      critical: listed(
        diff.critical.map((c) => ({ target_id: c.targetId, target_name: c.targetName, change: c.kind, message: c.message })),
        opts.limit,
      ),
      items: listed(items, opts.limit),
    };
  }
  return read(db, (tx) => {
    const run = tx.select({ id: discoveryRuns.id, startedAt: discoveryRuns.startedAt }).from(discoveryRuns).orderBy(desc(discoveryRuns.id)).limit(1).get();
    if (!run)
      return {
        basis: "none",
        since: null,
        snapshot: null,
        run_id: null,
        total: 0,
        counts: {},
        critical: { total: 0, items: [] },
        items: { total: 0, items: [] },
      };
    const counts = Object.fromEntries(
      tx
        .select({ k: events.type, n: count() })
        .from(events)
        .where(eq(events.runId, run.id))
        .groupBy(events.type)
        .all()
        .map((r) => [r.k, r.n]),
    ) as Record<string, number>;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // Most severe first, then newest: the lines a reader should see when the list is cut.
    const rows = tx
      .select({ type: events.type, severity: events.severity, message: events.message, targetId: events.targetId, targetName: targets.name })
      .from(events)
      .leftJoin(targets, eq(targets.id, events.targetId))
      .where(eq(events.runId, run.id))
      .orderBy(sql`case ${events.severity} when 'critical' then 0 when 'warning' then 1 else 2 end`, desc(events.id))
      .limit(opts.limit)
      .all();
    const critical = tx
      .select({ type: events.type, message: events.message, targetId: events.targetId, targetName: targets.name })
      .from(events)
      .leftJoin(targets, eq(targets.id, events.targetId))
      .where(sql`${events.runId} = ${run.id} and ${events.severity} = 'critical'`)
      .orderBy(desc(events.id))
      .all();
    const line = (r: { type: string; message: string; targetId: string | null; targetName: string | null }): ChangeLine => ({
      target_id: r.targetId,
      target_name: r.targetName,
      change: r.type,
      message: r.message,
    });
    return {
      basis: "last_run_events",
      since: run.startedAt,
      snapshot: null,
      run_id: run.id,
      total,
      counts: sortedCounts(counts),
      critical: listed(critical.map(line), opts.limit),
      items: { total, items: rows.map(line) },
    };
  });
}
