// Shared reading helpers of the reports. Several sources may report the same
// target; as everywhere else in the inventory, the most recent observation of a
// collection (or of a fact key) is the truth, so each helper picks the freshest
// source per target in one set-based query rather than asking per target.
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { Db } from "../../db/open.js";
import { facts, observations, targets } from "../../db/schema.js";
import type { ROLES } from "../../config.js";

export function read<T>(db: Db, fn: (db: Db) => T): T {
  return db.transaction((tx) => fn(tx as unknown as Db), { behavior: "deferred" });
}

/** A target as the reports name it. */
export interface TargetRef {
  id: string;
  name: string;
  kind: string;
  role: string;
}

/** A capped list: `total` is how many there are, `items` at most the report's limit. */
export interface Listed<T> {
  total: number;
  items: T[];
}

export function listed<T>(items: T[], limit: number): Listed<T> {
  return { total: items.length, items: items.slice(0, limit) };
}

/** Production first: the order in which a person reviews roles. */
const ROLE_ORDER: Record<(typeof ROLES)[number], number> = {
  production: 0,
  gateway: 1,
  staging: 2,
  monitoring: 3,
  testing: 4,
  development: 5,
  lab: 6,
  unassigned: 7,
};

export function roleRank(role: string): number {
  return ROLE_ORDER[role as keyof typeof ROLE_ORDER] ?? 8;
}

/** Every target not retired, by id. */
export function liveTargets(tx: Db): Map<string, typeof targets.$inferSelect> {
  return new Map(
    tx
      .select()
      .from(targets)
      .where(ne(targets.lifecycle, "retired"))
      .all()
      .map((t) => [t.id, t]),
  );
}

export function ref(t: { id: string; name: string; kind: string; role: string }): TargetRef {
  return { id: t.id, name: t.name, kind: t.kind, role: t.role };
}

/**
 * target id -> the source that observed `collection` of it last. Rows of other
 * sources are older news; a target without observation rows has none here (all
 * its rows count).
 */
export function freshestSources(tx: Db, collection: string): Map<string, string> {
  const best = new Map<string, { source: string; at: string }>();
  for (const o of tx
    .select({ t: observations.targetId, s: observations.sourceId, at: observations.observedAt })
    .from(observations)
    .where(eq(observations.collection, collection))
    .all()) {
    const prev = best.get(o.t);
    if (!prev || o.at > prev.at || (o.at === prev.at && o.s < prev.source)) best.set(o.t, { source: o.s, at: o.at });
  }
  return new Map([...best].map(([t, b]) => [t, b.source]));
}

/** Keeps the rows of each target's freshest source of the collection. */
export function fromFreshest<T extends { targetId: string; sourceId: string }>(rows: T[], freshest: Map<string, string>): T[] {
  return rows.filter((r) => {
    const s = freshest.get(r.targetId);
    return s === undefined || s === r.sourceId;
  });
}

export type FactValue = string | number | boolean | null;

/**
 * target id -> key -> value for the given fact keys of targets not retired,
 * each from the source that observed a (non-null) value for that key last.
 */
export function latestFacts(tx: Db, keys: readonly string[]): Map<string, Map<string, FactValue>> {
  const rows = tx
    .select({
      t: facts.targetId,
      s: facts.sourceId,
      k: facts.key,
      v: facts.value,
      at: sql<string>`coalesce(${observations.observedAt}, '')`,
    })
    .from(facts)
    .innerJoin(targets, eq(targets.id, facts.targetId))
    .leftJoin(observations, and(eq(observations.targetId, facts.targetId), eq(observations.sourceId, facts.sourceId), eq(observations.collection, "facts")))
    .where(and(inArray(facts.key, [...keys]), ne(targets.lifecycle, "retired"), ne(facts.value, "null")))
    .all();
  const best = new Map<string, { at: string; s: string; v: string }>();
  for (const r of rows) {
    const k = `${r.t}\u0000${r.k}`;
    const prev = best.get(k);
    if (!prev || r.at > prev.at || (r.at === prev.at && r.s < prev.s)) best.set(k, { at: r.at, s: r.s, v: r.v });
  }
  const out = new Map<string, Map<string, FactValue>>();
  for (const [k, b] of best) {
    const [t, key] = k.split("\u0000") as [string, string];
    let m = out.get(t);
    if (!m) out.set(t, (m = new Map()));
    m.set(key, JSON.parse(b.v) as FactValue);
  }
  return out;
}

export function num(v: FactValue | undefined): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: reachable from the machine itself only. */
export function isLoopback(address: string): boolean {
  const a = address
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "")
    .toLowerCase();
  return a === "::1" || a === "localhost" || /^127\./.test(a) || /^::ffff:127\./.test(a);
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Percent to one decimal. */
export function pct(part: number, whole: number): number {
  return round((part * 100) / whole, 1);
}

// Read-only or image filesystems are full by design and overlay mounts repeat
// their host's filesystem (the same list as the health check's).
export const NEVER_FULL_FSTYPES = new Set(["squashfs", "iso9660", "udf", "erofs", "cramfs", "overlay", "overlayfs", "fuse.snapfuse", "fuse.lxcfs", "nsfs"]);
