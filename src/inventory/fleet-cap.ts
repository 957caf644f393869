// limits.max_fleet_size: a run may not grow the inventory past the cap. Targets
// the inventory already knows are always kept (a cap must never make a known
// machine look gone); observations of machines it does not know yet are left
// out once the cap is reached, in the order the sources listed them, and the
// affected source says how many.
import { inArray, ne, sql } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { targetIdentities, targets } from "../db/schema.js";
import type { SourceResult, TargetObservation } from "../discovery/types.js";
import { deriveTargetId } from "./store.js";

export interface FleetCapOutcome {
  results: SourceResult[];
  /** Per source that lost observations (its warnings say so): how many distinct new targets were left out of it. */
  leftOut: Array<{ sourceId: string; targets: number }>;
  /** Targets the inventory holds (not retired) once this run is written. */
  held: number;
  max: number;
}

/** SQLite caps the number of bound parameters per statement. */
const CHUNK = 500;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * Drops observations of new targets beyond `max`. "New" follows the store's own
 * identity resolution (any identity key already owned by a target, or the id the
 * first key derives, is a known target), except that a weaker key pointing at a
 * target with another machine-id counts as known here: a replaced machine at a
 * known address may then still be written, but a known one is never dropped.
 * Observations of the same new machine (sharing any identity key) count once.
 */
export function capNewTargets(db: Db, results: SourceResult[], max: number): FleetCapOutcome {
  return db.transaction(
    (tx) => {
      const rd = tx as unknown as Db;
      const held = Number(
        rd
          .select({ n: sql<number>`count(*)` })
          .from(targets)
          .where(ne(targets.lifecycle, "retired"))
          .get()?.n ?? 0,
      );
      const all = results.flatMap((r) => r.targets);
      const keys = [...new Set(all.flatMap((t) => t.identity))];
      const owned = new Set<string>();
      for (const part of chunks(keys)) {
        for (const row of rd.select({ identity: targetIdentities.identity }).from(targetIdentities).where(inArray(targetIdentities.identity, part)).all())
          owned.add(row.identity);
      }
      const ids = [...new Set(all.flatMap((t) => (t.identity[0] ? [deriveTargetId(t.kind, t.identity[0])] : [])))];
      const existingIds = new Set<string>();
      for (const part of chunks(ids)) {
        for (const row of rd.select({ id: targets.id }).from(targets).where(inArray(targets.id, part)).all()) existingIds.add(row.id);
      }
      const isKnown = (t: TargetObservation) =>
        t.identity.some((k) => owned.has(k)) || (t.identity[0] !== undefined && existingIds.has(deriveTargetId(t.kind, t.identity[0])));

      // Distinct new machines, in listing order: observations sharing a key are one machine.
      const machineOfKey = new Map<string, number>();
      const admitted = new Set<number>();
      let machines = 0;
      let room = Math.max(0, max - held);
      const leftOut = new Map<string, Set<number>>();
      const kept = results.map((r) => ({
        ...r,
        targets: r.targets.filter((t) => {
          if (isKnown(t)) return true;
          let machine = t.identity.map((k) => machineOfKey.get(k)).find((m) => m !== undefined);
          if (machine === undefined) {
            machine = machines++;
            if (room > 0) {
              room--;
              admitted.add(machine);
            }
          }
          for (const k of t.identity) if (!machineOfKey.has(k)) machineOfKey.set(k, machine);
          if (admitted.has(machine)) return true;
          const set = leftOut.get(r.sourceId) ?? new Set<number>();
          set.add(machine);
          leftOut.set(r.sourceId, set);
          return false;
        }),
      }));
      const total = held + admitted.size;
      if (leftOut.size === 0) return { results, leftOut: [], held: total, max };
      return {
        // The source that lost observations says so in its own warnings.
        results: kept.map((r) => {
          const n = leftOut.get(r.sourceId)?.size;
          return n ? { ...r, warnings: [...r.warnings, fleetCapWarning(n, total, max)] } : r;
        }),
        leftOut: [...leftOut].map(([sourceId, set]) => ({ sourceId, targets: set.size })),
        held: total,
        max,
      };
    },
    { behavior: "deferred" },
  );
}

/** The warning a source carries when new targets were left out of it. */
export function fleetCapWarning(leftOut: number, held: number, max: number): string {
  return `${leftOut} new target(s) left out: the inventory holds ${held} of max_fleet_size ${max}; raise limits.max_fleet_size / FLEET_MAX_FLEET_SIZE`;
}
