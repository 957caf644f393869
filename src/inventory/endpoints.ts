// SSH endpoint memory read by discovery (pins, breaker state) and the explicit
// accept of a changed host key.
import { eq, isNotNull, isNull, or } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { events, sshEndpoints } from "../db/schema.js";

export interface EndpointStateRow {
  pinnedFingerprints: string[];
  consecutiveFailures: number;
  lastFailureAt: Date | null;
  everReached: boolean;
}

export function loadEndpointStates(db: Db): Map<string, EndpointStateRow> {
  const rows = db.select().from(sshEndpoints).all();
  return new Map(
    rows.map((r) => [
      r.endpoint,
      {
        pinnedFingerprints: r.pinnedFingerprint ? [r.pinnedFingerprint] : [],
        consecutiveFailures: r.consecutiveFailures,
        lastFailureAt: r.lastFailureAt ? new Date(r.lastFailureAt) : null,
        everReached: r.lastSuccessAt !== null,
      },
    ]),
  );
}

export type EndpointRow = typeof sshEndpoints.$inferSelect;

export function endpointsOfTarget(db: Db, targetId: string): EndpointRow[] {
  return db.select().from(sshEndpoints).where(eq(sshEndpoints.targetId, targetId)).all();
}

export function endpointsWithPendingKeys(db: Db): EndpointRow[] {
  return db.select().from(sshEndpoints).where(isNotNull(sshEndpoints.pendingFingerprint)).all();
}

/**
 * Trusts the key an endpoint presented last in place of the pinned one. When
 * `fingerprint` is given it must equal the pending key, so an agent cannot
 * accept a key it has not seen.
 */
export function acceptHostKey(db: Db, ref: { endpoint?: string; targetId?: string }, fingerprint: string | undefined, now: Date): EndpointRow[] {
  return db.transaction(
    (tx) => {
      const rows = tx
        .select()
        .from(sshEndpoints)
        .where(or(ref.endpoint ? eq(sshEndpoints.endpoint, ref.endpoint) : undefined, ref.targetId ? eq(sshEndpoints.targetId, ref.targetId) : undefined))
        .all()
        .filter((r) => r.pendingFingerprint && (!fingerprint || r.pendingFingerprint === fingerprint));
      const at = now.toISOString();
      for (const r of rows) {
        tx.update(sshEndpoints)
          .set({
            pinnedFingerprint: r.pendingFingerprint,
            pinnedKeyType: r.pendingKeyType,
            pinnedAt: at,
            pendingFingerprint: null,
            pendingKeyType: null,
            pendingAt: null,
            consecutiveFailures: 0,
          })
          .where(eq(sshEndpoints.endpoint, r.endpoint))
          .run();
        tx.insert(events)
          .values({
            ts: at,
            targetId: r.targetId,
            type: "host_key_accepted",
            severity: "warning",
            message: `${r.endpoint}: host key ${r.pendingFingerprint} accepted in place of ${r.pinnedFingerprint ?? "none"}`,
            data: JSON.stringify({ endpoint: r.endpoint, before: r.pinnedFingerprint, after: r.pendingFingerprint }),
          })
          .run();
      }
      return rows;
    },
    { behavior: "immediate" },
  );
}

/** TOFU for helper connections (no observation follows them): pin the first key seen, never replace one. */
export function pinHostKeyOnFirstUse(db: Db, endpoint: string, key: { fingerprint: string; type: string }, now: Date): void {
  const at = now.toISOString();
  db.insert(sshEndpoints)
    .values({ endpoint, pinnedFingerprint: key.fingerprint, pinnedKeyType: key.type, pinnedAt: at })
    .onConflictDoUpdate({
      target: sshEndpoints.endpoint,
      set: { pinnedFingerprint: key.fingerprint, pinnedKeyType: key.type, pinnedAt: at },
      where: isNull(sshEndpoints.pinnedFingerprint),
    })
    .run();
}
