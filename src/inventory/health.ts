// Health scores. Every non-retired target starts at 1.0 and loses a fixed
// amount per issue found in what the inventory last knew of it; every deduction
// is an issue with a plain-language message, so a score can always be explained.
// The formula and its table live in docs/health.md: keep the two in step.
//
// Computed set-based for the whole fleet, so it can run inside every
// discovery's write transaction: one read of the targets, one query per signal
// that returns only the rows past a warning threshold (the choice between
// sources made inside the SQL), scoring in JS, and one prepared update per
// target whose score or issues changed.
import { and, eq, isNotNull, ne, or, sql, type SQL } from "drizzle-orm";
import { alias, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { HealthThresholds } from "../config.js";
import type { Db } from "../db/open.js";
import { containers, facts, filesystems, observations, services, sshEndpoints, targets } from "../db/schema.js";

export const HEALTH_SEVERITIES = ["info", "warning", "critical"] as const;
export type HealthSeverity = (typeof HEALTH_SEVERITIES)[number];

export const HEALTH_CODES = [
  "stale",
  "unreachable",
  "host_key_changed",
  "filesystem_full",
  "memory_pressure",
  "swap_pressure",
  "high_load",
  "service_failed",
  "container_exited",
  "container_unhealthy",
  "container_restarting",
] as const;
export type HealthCode = (typeof HEALTH_CODES)[number];

export interface HealthIssue {
  code: HealthCode;
  severity: HealthSeverity;
  /** Names the thing and the threshold, e.g. "/var is 93% full (critical at 90%)". */
  message: string;
  /** What this issue took off the score. */
  deduction: number;
}

/** The fixed deductions (docs/health.md). Reachability dominates: an unreachable target scores at most 0.4, a stale one at most 0.2. */
export const DEDUCTIONS = {
  stale: 0.8,
  unreachable: 0.6,
  host_key_changed: 0.3,
  /** A reading (filesystem, memory, swap, load) past its warning or critical threshold. */
  reading: { warning: 0.1, critical: 0.25 },
  /** Each failed unit, errored, unhealthy or restarting container. */
  item: 0.1,
} as const;

/** Score buckets of the fleet distribution. */
export const HEALTH_BUCKETS = { healthy: 0.9, degraded: 0.6 } as const;

export interface WorstTarget {
  id: string;
  name: string;
  kind: string;
  lifecycle: string;
  score: number;
  /** The largest deductions first, at most three. */
  issues: HealthIssue[];
}

export interface HealthSummary {
  checkedAt: string;
  /** Targets scored (every target not retired). */
  targets: number;
  /** Mean score, null when there is no target. */
  mean: number | null;
  /** healthy: score >= 0.9; degraded: 0.6 <= score < 0.9; unhealthy: score < 0.6. */
  distribution: { healthy: number; degraded: number; unhealthy: number };
  /** Lowest scores first (ties by name), at most 10, only targets with issues. */
  worst: WorstTarget[];
  issues: { total: number; bySeverity: Record<HealthSeverity, number>; byCode: Partial<Record<HealthCode, number>> };
}

export interface ComputeHealthOptions {
  now: Date;
  /** Not reached for this long counts as stale, even before the lifecycle clock has moved the target. */
  staleAfterMs: number;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

// Read-only or image filesystems are full by design (snap squashfs, ISO
// images), and overlay mounts of containers repeat their host's filesystem:
// none of them says anything about free space.
const NEVER_FULL_FSTYPES = ["squashfs", "iso9660", "udf", "erofs", "cramfs", "overlay", "overlayfs", "fuse.snapfuse", "fuse.lxcfs", "nsfs"];

/**
 * Recomputes and stores the health score and issues of every target that is not
 * retired, and returns the fleet summary. `db` may be a transaction (discovery
 * calls it after ingest; it then runs as a savepoint).
 */
export function computeHealth(db: Db, thresholds: HealthThresholds, opts: ComputeHealthOptions): HealthSummary {
  return db.transaction((tx) => computeIn(tx, thresholds, opts), { behavior: "immediate" });
}

function computeIn(tx: Tx, th: HealthThresholds, opts: ComputeHealthOptions): HealthSummary {
  const at = opts.now.toISOString();
  const rows = tx
    .select({
      id: targets.id,
      name: targets.name,
      kind: targets.kind,
      lifecycle: targets.lifecycle,
      lastSeenAt: targets.lastSeenAt,
      firstSeenAt: targets.firstSeenAt,
      lastAttemptAt: targets.lastAttemptAt,
      lastStatus: targets.lastStatus,
      lastError: targets.lastError,
      cpuCount: targets.cpuCount,
      memTotal: targets.memTotalBytes,
      memAvailable: targets.memAvailableBytes,
      healthScore: targets.healthScore,
      healthIssues: targets.healthIssues,
    })
    .from(targets)
    .where(ne(targets.lifecycle, "retired"))
    .all();
  const issuesOf = new Map<string, HealthIssue[]>(rows.map((r) => [r.id, []]));
  const add = (targetId: string, issue: HealthIssue) => issuesOf.get(targetId)?.push(issue);

  // Reachability first: it dominates the score.
  for (const r of rows) {
    const lastContact = r.lastSeenAt ?? r.firstSeenAt;
    const age = opts.now.getTime() - Date.parse(lastContact);
    const failure =
      r.lastStatus && r.lastStatus !== "ok" && r.lastStatus !== "partial" ? ` (last attempt ${r.lastAttemptAt}: ${r.lastError ?? r.lastStatus})` : "";
    if (r.lifecycle === "stale" || age > opts.staleAfterMs) {
      add(r.id, {
        code: "stale",
        severity: "critical",
        message: `${r.lastSeenAt ? `not reached for ${duration(age)}, since ${r.lastSeenAt}` : `never reached since it was found ${duration(age)} ago`}; stale after ${duration(opts.staleAfterMs)}${failure}`,
        deduction: DEDUCTIONS.stale,
      });
    } else if (r.lifecycle === "unreachable" || r.lastSeenAt === null) {
      add(r.id, {
        code: "unreachable",
        severity: "critical",
        message: `${r.lastSeenAt ? `unreachable since ${r.lastSeenAt}` : "never reached"}${failure || ` (last attempt ${r.lastAttemptAt})`}`,
        deduction: DEDUCTIONS.unreachable,
      });
    }
  }

  // A changed host key: the endpoint holds a presented key that differs from its pin (cleared by accept_host_key or when the pinned key is back).
  const pending = tx
    .select({ targetId: sshEndpoints.targetId, endpoint: sshEndpoints.endpoint, fp: sshEndpoints.pendingFingerprint, since: sshEndpoints.pendingAt })
    .from(sshEndpoints)
    .where(and(isNotNull(sshEndpoints.pendingFingerprint), isNotNull(sshEndpoints.targetId)))
    .all();
  for (const p of pending) {
    add(p.targetId!, {
      code: "host_key_changed",
      severity: "critical",
      message: `${p.endpoint} presented a different host key ${p.fp}${p.since ? ` (since ${p.since})` : ""}; probes are refused until a person confirms it and calls accept_host_key`,
      deduction: DEDUCTIONS.host_key_changed,
    });
  }

  const reading = (targetId: string, code: HealthCode, value: number, warn: number, crit: number, text: (level: string) => string) => {
    const level = value >= crit ? "critical" : value >= warn ? "warning" : null;
    if (!level) return;
    add(targetId, { code, severity: level, message: text(`${level} at ${level === "critical" ? crit : warn}`), deduction: DEDUCTIONS.reading[level] });
  };

  // Filesystems: percent as df shows it, used / (used + available), so blocks
  // reserved for root count as full. Only rows past the warning threshold are read.
  const capacity = sql`case when ${filesystems.usedBytes} + ${filesystems.availBytes} > 0 then ${filesystems.usedBytes} + ${filesystems.availBytes} else ${filesystems.sizeBytes} end`;
  const fsRows = tx
    .select({
      targetId: filesystems.targetId,
      sourceId: filesystems.sourceId,
      mount: filesystems.mount,
      device: filesystems.device,
      used: filesystems.usedBytes,
      avail: filesystems.availBytes,
      size: filesystems.sizeBytes,
    })
    .from(filesystems)
    .where(
      and(
        sql`${filesystems.sizeBytes} > 0`,
        sql`lower(${filesystems.fstype}) not in (${sql.join(
          NEVER_FULL_FSTYPES.map((t) => sql`${t}`),
          sql`, `,
        )})`,
        sql`${filesystems.usedBytes} * 100.0 >= ${th.filesystem_warning_pct} * (${capacity})`,
        freshestCollection("filesystems", filesystems.targetId, filesystems.sourceId),
      ),
    )
    .all();
  // A device mounted twice (bind mounts) is one filesystem: reported once, at its shortest mount path.
  const fsSeen = new Map<string, (typeof fsRows)[number]>();
  for (const f of fsRows) {
    const key = f.device.startsWith("/") ? `${f.targetId}\0${f.device}` : `${f.targetId}\0${f.device}\0${f.mount}`;
    const prev = fsSeen.get(key);
    if (!prev || f.mount.length < prev.mount.length) fsSeen.set(key, f);
  }
  for (const f of [...fsSeen.values()].sort((a, b) => a.mount.localeCompare(b.mount))) {
    const cap = f.used + f.avail > 0 ? f.used + f.avail : f.size;
    const pct = (f.used * 100) / cap;
    reading(
      f.targetId,
      "filesystem_full",
      pct,
      th.filesystem_warning_pct,
      th.filesystem_critical_pct,
      (t) => `${f.mount} is ${pctText(pct)}% full, ${gib(f.avail)} free (${t}%)`,
    );
  }

  // Memory from the summary columns of every target read above.
  for (const r of rows) {
    if (r.memTotal && r.memTotal > 0 && r.memAvailable !== null) {
      const pct = ((r.memTotal - r.memAvailable) * 100) / r.memTotal;
      reading(
        r.id,
        "memory_pressure",
        pct,
        th.memory_warning_pct,
        th.memory_critical_pct,
        (t) => `memory is ${pctText(pct)}% used, ${gib(r.memAvailable!)} of ${gib(r.memTotal!)} available (${t}%)`,
      );
    }
  }

  // Load and swap from facts, only the rows past the warning threshold, each
  // from the source that observed that key last. Readings are JSON numbers.
  const load = alias(facts, "load");
  const loadRows = tx
    .select({ targetId: load.targetId, value: load.value, cpus: targets.cpuCount })
    .from(load)
    .innerJoin(targets, eq(targets.id, load.targetId))
    .where(
      and(
        eq(load.key, "load.5m"),
        sql`${targets.cpuCount} > 0`,
        sql`cast(${load.value} as real) >= ${th.load_per_cpu_warning} * ${targets.cpuCount}`,
        freshestFact(load),
      ),
    )
    .all();
  for (const l of maxPerTarget(loadRows, (x) => Number(x.value))) {
    const value = Number(l.value);
    const perCpu = value / l.cpus!;
    reading(
      l.targetId,
      "high_load",
      perCpu,
      th.load_per_cpu_warning,
      th.load_per_cpu_critical,
      (t) => `5-minute load ${value.toFixed(2)} on ${l.cpus} CPU${l.cpus === 1 ? "" : "s"} is ${perCpu.toFixed(2)} per CPU (${t})`,
    );
  }
  // Total and free from the same source; freshness goes by the free reading, which only full probes give.
  const total = alias(facts, "swap_total");
  const free = alias(facts, "swap_free");
  const swapRows = tx
    .select({ targetId: free.targetId, total: total.value, free: free.value })
    .from(free)
    .innerJoin(total, and(eq(total.targetId, free.targetId), eq(total.sourceId, free.sourceId), eq(total.key, "swap.total_bytes")))
    .where(
      and(
        eq(free.key, "swap.free_bytes"),
        sql`cast(${total.value} as real) > 0`,
        sql`(cast(${total.value} as real) - cast(${free.value} as real)) * 100.0 >= ${th.swap_warning_pct} * cast(${total.value} as real)`,
        freshestFact(free),
      ),
    )
    .all();
  for (const w of maxPerTarget(swapRows, (x) => 1 - Number(x.free) / Number(x.total))) {
    const swapTotal = Number(w.total);
    const used = swapTotal - Number(w.free);
    const pct = (used * 100) / swapTotal;
    reading(
      w.targetId,
      "swap_pressure",
      pct,
      th.swap_warning_pct,
      th.swap_critical_pct,
      (t) => `swap is ${pctText(pct)}% used, ${gib(used)} of ${gib(swapTotal)} (${t}%)`,
    );
  }

  const failed = tx
    .select({ targetId: services.targetId, sourceId: services.sourceId, name: services.name })
    .from(services)
    .where(and(eq(services.activeState, "failed"), freshestCollection("services", services.targetId, services.sourceId)))
    .all();
  const unitSeen = new Set<string>();
  for (const s of failed.sort((a, b) => a.name.localeCompare(b.name))) {
    if (unitSeen.has(`${s.targetId}\0${s.name}`)) continue;
    unitSeen.add(`${s.targetId}\0${s.name}`);
    add(s.targetId, { code: "service_failed", severity: "warning", message: `systemd unit ${s.name} has failed`, deduction: DEDUCTIONS.item });
  }

  // Only containers that can be a problem are read: exited (but not with 0), restarting, unhealthy.
  const troubled = tx
    .select({
      targetId: containers.targetId,
      sourceId: containers.sourceId,
      name: containers.name,
      state: containers.state,
      status: containers.status,
      health: containers.health,
      exitCode: containers.exitCode,
      restartCount: containers.restartCount,
    })
    .from(containers)
    .where(
      and(
        or(
          and(
            eq(containers.state, "exited"),
            or(ne(containers.exitCode, 0), and(sql`${containers.exitCode} is null`, sql`coalesce(${containers.status}, '') not like 'Exited (0)%'`)),
          ),
          eq(containers.state, "restarting"),
          eq(containers.health, "unhealthy"),
          sql`${containers.status} like '%(unhealthy)%'`,
        ),
        freshestCollection("containers", containers.targetId, containers.sourceId),
      ),
    )
    .all();
  const ctrSeen = new Set<string>();
  for (const c of troubled.sort((a, b) => a.name.localeCompare(b.name))) {
    if (ctrSeen.has(`${c.targetId}\0${c.name}`)) continue;
    ctrSeen.add(`${c.targetId}\0${c.name}`);
    if (c.state === "exited") {
      const code = c.exitCode ?? exitCodeFromStatus(c.status);
      // Exited without a readable code: an error only when docker said so.
      if (code === 0) continue;
      add(c.targetId, {
        code: "container_exited",
        severity: "warning",
        message: `container ${c.name} exited with ${code === null ? "an error" : `code ${code}`}`,
        deduction: DEDUCTIONS.item,
      });
    } else if (c.state === "restarting") {
      add(c.targetId, {
        code: "container_restarting",
        severity: "warning",
        message: `container ${c.name} keeps restarting${c.restartCount ? ` (restarted ${c.restartCount} times)` : ""}`,
        deduction: DEDUCTIONS.item,
      });
    } else {
      add(c.targetId, {
        code: "container_unhealthy",
        severity: "warning",
        message: `container ${c.name} is unhealthy: its health check fails`,
        deduction: DEDUCTIONS.item,
      });
    }
  }

  // Score, then write only what changed; the check time moves for every target at once.
  const update = tx
    .update(targets)
    .set({ healthScore: sql.placeholder("score"), healthIssues: sql.placeholder("issues") } as unknown as Partial<typeof targets.$inferInsert>)
    .where(eq(targets.id, sql.placeholder("id")))
    .prepare();
  const scored: Array<{ row: (typeof rows)[number]; score: number; issues: HealthIssue[] }> = [];
  for (const r of rows) {
    const issues = issuesOf.get(r.id)!.sort(byWeight);
    const score = scoreOf(issues);
    const json = JSON.stringify(issues);
    if (r.healthScore !== score || r.healthIssues !== json) update.run({ id: r.id, score, issues: json });
    scored.push({ row: r, score, issues });
  }
  tx.update(targets).set({ healthCheckedAt: at }).where(ne(targets.lifecycle, "retired")).run();
  // A retired machine has no health: its last score would only mislead.
  tx.update(targets)
    .set({ healthScore: null, healthIssues: "[]", healthCheckedAt: null })
    .where(and(eq(targets.lifecycle, "retired"), isNotNull(targets.healthScore)))
    .run();

  const bySeverity: Record<HealthSeverity, number> = { info: 0, warning: 0, critical: 0 };
  const byCode: Partial<Record<HealthCode, number>> = {};
  const distribution = { healthy: 0, degraded: 0, unhealthy: 0 };
  let sum = 0;
  for (const s of scored) {
    sum += s.score;
    if (s.score >= HEALTH_BUCKETS.healthy) distribution.healthy++;
    else if (s.score >= HEALTH_BUCKETS.degraded) distribution.degraded++;
    else distribution.unhealthy++;
    for (const i of s.issues) {
      bySeverity[i.severity]++;
      byCode[i.code] = (byCode[i.code] ?? 0) + 1;
    }
  }
  const worst = scored
    .filter((s) => s.issues.length > 0)
    .sort((a, b) => a.score - b.score || a.row.name.localeCompare(b.row.name) || a.row.id.localeCompare(b.row.id))
    .slice(0, 10)
    .map((s) => ({ id: s.row.id, name: s.row.name, kind: s.row.kind, lifecycle: s.row.lifecycle, score: s.score, issues: s.issues.slice(0, 3) }));
  return {
    checkedAt: at,
    targets: scored.length,
    mean: scored.length ? round(sum / scored.length) : null,
    distribution,
    worst,
    issues: { total: bySeverity.info + bySeverity.warning + bySeverity.critical, bySeverity, byCode },
  };
}

/** 1.0 minus every deduction, floored at 0.0, to three decimals. */
export function scoreOf(issues: readonly HealthIssue[]): number {
  return Math.max(0, round(1 - issues.reduce((s, i) => s + i.deduction, 0)));
}

const SEVERITY_RANK: Record<HealthSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** Largest deduction first, then the most severe, then the code and message (stable across runs). */
function byWeight(a: HealthIssue, b: HealthIssue): number {
  return (
    b.deduction - a.deduction || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.code.localeCompare(b.code) || a.message.localeCompare(b.message)
  );
}

// Several sources may report the same target (its own SSH probe and the
// Proxmox API, say). Their rows are all kept; the most recent observation is
// the truth. These clauses keep a row only when no other source observed the
// same thing more recently. A source without an observations row (data older
// than that table) counts as oldest.

/** When `source` last observed `collection` of `target`, as SQL ('' when unknown). */
function observedAt(targetCol: SQL | SQLiteColumn, sourceCol: SQL | SQLiteColumn, collection: string): SQL {
  return sql`coalesce((select m.observed_at from ${observations} m where m.target_id = ${targetCol} and m.source_id = ${sourceCol} and m.collection = ${collection}), '')`;
}

/** The row's source is the last to have observed this whole collection (services, containers, filesystems) of its target. */
function freshestCollection(collection: string, targetCol: SQLiteColumn, sourceCol: SQLiteColumn): SQL {
  return sql`not exists (select 1 from ${observations} o where o.target_id = ${targetCol} and o.collection = ${collection} and o.source_id <> ${sourceCol} and o.observed_at > ${observedAt(targetCol, sourceCol, collection)})`;
}

/** The fact row's source is the last to have observed a value for this key (another source's facts without the key do not count). */
function freshestFact(f: { targetId: SQLiteColumn; sourceId: SQLiteColumn; key: SQLiteColumn }): SQL {
  // Driven from the target's few observation rows, then one primary-key probe of facts: never a scan by key.
  return sql`not exists (select 1 from ${observations} o cross join ${facts} other where o.target_id = ${f.targetId} and o.collection = 'facts' and o.source_id <> ${f.sourceId} and o.observed_at > ${observedAt(f.targetId, f.sourceId, "facts")} and other.target_id = o.target_id and other.source_id = o.source_id and other.key = ${f.key} and other.value <> 'null')`;
}

/** One row per target (two sources observed at the same instant): the worst reading. */
function maxPerTarget<T extends { targetId: string }>(rows: T[], value: (row: T) => number): T[] {
  const best = new Map<string, T>();
  for (const r of rows) {
    const prev = best.get(r.targetId);
    if (!prev || value(r) > value(prev)) best.set(r.targetId, r);
  }
  return [...best.values()];
}

/** Docker's status line of an exited container: "Exited (137) 2 hours ago". */
export function exitCodeFromStatus(status: string | null): number | null {
  const m = status ? /^Exited \((-?\d+)\)/i.exec(status.trim()) : null;
  return m ? Number(m[1]) : null;
}

/** Whole percent, never rounded up past a threshold; the epsilon keeps an exact 97% computed as 96.999... at 97. */
function pctText(pct: number): number {
  return Math.floor(pct + 1e-6);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function duration(ms: number): string {
  const h = ms / 3600_000;
  if (h < 1) return `${Math.max(1, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${Math.round(h * 10) / 10} h`;
  return `${Math.round(h / 24)} days`;
}

export interface HealthIssueRow extends HealthIssue {
  targetId: string;
  targetName: string;
  targetKind: string;
  score: number | null;
}

export interface HealthIssueQuery {
  targetId?: string;
  minSeverity?: HealthSeverity;
  /** Keyset position: the last row of the previous page. */
  after?: { rank: number; name: string; id: string; index: number };
  limit: number;
}

/**
 * The stored issues (as the last computeHealth wrote them) of non-retired
 * targets, most severe first, then by target name and the issue's place in its
 * target's list. Only targets with issues are read.
 */
export function listHealthIssues(
  db: Db,
  q: HealthIssueQuery,
): { total: number; items: Array<HealthIssueRow & { rank: number; index: number }>; more: boolean } {
  const rows = db
    .select({ id: targets.id, name: targets.name, kind: targets.kind, score: targets.healthScore, issues: targets.healthIssues })
    .from(targets)
    .where(and(ne(targets.lifecycle, "retired"), ne(targets.healthIssues, "[]"), q.targetId ? eq(targets.id, q.targetId) : undefined))
    .all();
  const maxRank = q.minSeverity ? SEVERITY_RANK[q.minSeverity] : 2;
  const all: Array<HealthIssueRow & { rank: number; index: number }> = [];
  for (const r of rows) {
    (JSON.parse(r.issues) as HealthIssue[]).forEach((i, index) => {
      const rank = SEVERITY_RANK[i.severity] ?? 2;
      if (rank <= maxRank) all.push({ ...i, targetId: r.id, targetName: r.name, targetKind: r.kind, score: r.score, rank, index });
    });
  }
  const cmp = (a: { rank: number; name: string; id: string; index: number }, b: { rank: number; name: string; id: string; index: number }) =>
    a.rank - b.rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || a.index - b.index;
  const key = (i: HealthIssueRow & { rank: number; index: number }) => ({ rank: i.rank, name: i.targetName, id: i.targetId, index: i.index });
  all.sort((a, b) => cmp(key(a), key(b)));
  const after = q.after;
  const rest = after ? all.filter((i) => cmp(key(i), after) > 0) : all;
  return { total: all.length, items: rest.slice(0, q.limit), more: rest.length > q.limit };
}
