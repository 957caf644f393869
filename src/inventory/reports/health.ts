// The health report: the fleet's stored scores and issues as the last health
// check (run_health_check, or the one every discovery runs) left them. Nothing
// is recomputed here, so a report is a pure read.
import { ne } from "drizzle-orm";
import type { Db } from "../../db/open.js";
import { targets } from "../../db/schema.js";
import { HEALTH_BUCKETS, HEALTH_SEVERITIES, type HealthIssue, type HealthSeverity } from "../health.js";
import { listed, read, ref, round, type Listed, type TargetRef } from "./common.js";

export interface HealthReport {
  /** The newest check time among the scored targets; null when none was ever scored. */
  checked_at: string | null;
  targets: number;
  /** Targets not scored yet (no health check since they were found). */
  unscored: number;
  mean: number | null;
  distribution: { healthy: number; degraded: number; unhealthy: number };
  issues: { total: number; by_severity: Record<HealthSeverity, number>; by_code: Record<string, number> };
  /** Targets with issues, lowest score first, each with every stored issue. */
  worst: Listed<TargetRef & { lifecycle: string; score: number; issues: HealthIssue[] }>;
}

export function buildHealthReport(db: Db, opts: { limit: number }): HealthReport {
  return read(db, (tx) => {
    const rows = tx
      .select({
        id: targets.id,
        name: targets.name,
        kind: targets.kind,
        role: targets.role,
        lifecycle: targets.lifecycle,
        score: targets.healthScore,
        issues: targets.healthIssues,
        checkedAt: targets.healthCheckedAt,
      })
      .from(targets)
      .where(ne(targets.lifecycle, "retired"))
      .all();
    const bySeverity: Record<HealthSeverity, number> = { info: 0, warning: 0, critical: 0 };
    const byCode: Record<string, number> = {};
    const distribution = { healthy: 0, degraded: 0, unhealthy: 0 };
    const worst: HealthReport["worst"]["items"] = [];
    let sum = 0;
    let scored = 0;
    let checkedAt: string | null = null;
    for (const r of rows) {
      if (r.checkedAt && (!checkedAt || r.checkedAt > checkedAt)) checkedAt = r.checkedAt;
      if (r.score === null) continue;
      scored++;
      sum += r.score;
      if (r.score >= HEALTH_BUCKETS.healthy) distribution.healthy++;
      else if (r.score >= HEALTH_BUCKETS.degraded) distribution.degraded++;
      else distribution.unhealthy++;
      const issues = r.issues === "[]" ? [] : (JSON.parse(r.issues) as HealthIssue[]);
      for (const i of issues) {
        if (HEALTH_SEVERITIES.includes(i.severity)) bySeverity[i.severity]++;
        byCode[i.code] = (byCode[i.code] ?? 0) + 1;
      }
      if (issues.length) worst.push({ ...ref(r), lifecycle: r.lifecycle, score: r.score, issues });
    }
    worst.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    return {
      checked_at: checkedAt,
      targets: rows.length,
      unscored: rows.length - scored,
      mean: scored ? round(sum / scored) : null,
      distribution,
      issues: { total: bySeverity.info + bySeverity.warning + bySeverity.critical, by_severity: bySeverity, by_code: sortedCounts(byCode) },
      worst: listed(worst, opts.limit),
    };
  });
}

/** Largest count first, then by name: the order a table shows. */
export function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
