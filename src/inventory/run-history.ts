// What the scheduler and get_discovery_status need of past discovery runs: when
// the last one was, and how long recent ones took.
import { desc, inArray } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { discoveryRuns } from "../db/schema.js";

/** Runs that went through to the end (their duration says how long a run takes); cancelled and interrupted ones did not. */
const COMPLETED = ["ok", "partial", "failed"];

/** Durations of the last `limit` completed runs, newest first. */
export function recentRunDurations(db: Db, limit: number): number[] {
  return db
    .select({ durationMs: discoveryRuns.durationMs })
    .from(discoveryRuns)
    .where(inArray(discoveryRuns.status, COMPLETED))
    .orderBy(desc(discoveryRuns.id))
    .limit(limit)
    .all()
    .flatMap((r) => (r.durationMs === null ? [] : [r.durationMs]));
}

export interface LastRun {
  id: number;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
}

/** The newest run, whatever its trigger and status; null before the first. */
export function lastRun(db: Db): LastRun | null {
  return (
    db
      .select({
        id: discoveryRuns.id,
        trigger: discoveryRuns.trigger,
        status: discoveryRuns.status,
        startedAt: discoveryRuns.startedAt,
        finishedAt: discoveryRuns.finishedAt,
      })
      .from(discoveryRuns)
      .orderBy(desc(discoveryRuns.id))
      .limit(1)
      .get() ?? null
  );
}
