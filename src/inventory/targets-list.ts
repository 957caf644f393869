// list_targets: the fleet as a filtered, sorted, paged table ("production
// targets", "unhealthy targets", "stale targets"). Pages are keyset-based on
// (sort value, id), so walking a long list never skips or repeats a target even
// when many share a sort value or the inventory changes between pages.
import { and, count, eq, inArray, lt, ne, or, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";
import { targets } from "../db/schema.js";
import type { HealthIssue } from "./health.js";

export const TARGET_SORTS = ["name", "health", "last_seen", "kind"] as const;
export type TargetSort = (typeof TARGET_SORTS)[number];
export const LIFECYCLES = ["discovered", "active", "unreachable", "stale", "retired"] as const;

export interface TargetListFilter {
  kind?: string;
  role?: string;
  /** Default: every lifecycle but retired. */
  lifecycle?: string;
  tag?: string;
  /** Target ids of the parents (resolved by the caller). */
  parentIds?: string[];
  /** os_id (exact, case-insensitive) or a substring of the OS name. */
  os?: string;
  healthBelow?: number;
  /** Not reached since this time (or never, when found before it). */
  unseenSince?: Date;
  /** Substring of name or address. */
  text?: string;
}

/** Where the previous page ended: its last sort value and id. */
export interface TargetListPosition {
  value: string | number;
  id: string;
}

export interface TargetListQuery {
  filter: TargetListFilter;
  sort: TargetSort;
  desc: boolean;
  limit: number;
  after?: TargetListPosition;
}

export interface TargetListItem {
  id: string;
  name: string;
  kind: string;
  role: string;
  roleSource: string | null;
  roleReason: string | null;
  lifecycle: string;
  address: string | null;
  os: string | null;
  healthScore: number | null;
  healthCheckedAt: string | null;
  issues: HealthIssue[];
  lastSeenAt: string | null;
  parent: { id: string; name: string } | null;
  tags: string[];
  cpuCount: number | null;
  memTotalBytes: number | null;
  memAvailableBytes: number | null;
  diskTotalBytes: number | null;
  diskUsedBytes: number | null;
}

export interface TargetListPage {
  total: number;
  items: TargetListItem[];
  /** Position after the last item, when there is more. */
  next: TargetListPosition | null;
}

/** `%…%` LIKE pattern of a literal substring; use with ESCAPE '\'. */
export function likeContains(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The sort expression. Targets without a score or never seen go last in both
 * directions of health and last_seen sorts (an unknown is neither best nor
 * worst); names sort case-insensitively.
 */
function sortKey(sort: TargetSort, desc: boolean): SQL {
  switch (sort) {
    case "name":
      return sql`lower(${targets.name})`;
    case "kind":
      // kind and name in one key keeps the keyset to two columns.
      return sql`${targets.kind} || '/' || lower(${targets.name})`;
    case "health":
      return desc ? sql`coalesce(${targets.healthScore}, -1)` : sql`coalesce(${targets.healthScore}, 2)`;
    case "last_seen":
      return desc ? sql`coalesce(${targets.lastSeenAt}, '')` : sql`coalesce(${targets.lastSeenAt}, '~')`;
  }
}

export function listTargets(db: Db, q: TargetListQuery): TargetListPage {
  return db.transaction(
    (tx) => {
      const f = q.filter;
      const conds: Array<SQL | undefined> = [
        f.lifecycle ? eq(targets.lifecycle, f.lifecycle) : ne(targets.lifecycle, "retired"),
        f.kind ? eq(targets.kind, f.kind) : undefined,
        f.role ? eq(targets.role, f.role) : undefined,
        // Tags are a JSON array of strings: match the quoted element, which is portable where json_each is not.
        f.tag ? sql`${targets.tags} LIKE ${likeContains(JSON.stringify(f.tag))} ESCAPE '\\'` : undefined,
        f.parentIds ? (f.parentIds.length ? inArray(targets.parentId, f.parentIds) : sql`0 = 1`) : undefined,
        f.os
          ? or(sql`lower(coalesce(${targets.osId}, '')) = lower(${f.os})`, sql`coalesce(${targets.osName}, '') LIKE ${likeContains(f.os)} ESCAPE '\\'`)
          : undefined,
        f.healthBelow !== undefined ? lt(targets.healthScore, f.healthBelow) : undefined,
        f.unseenSince ? sql`coalesce(${targets.lastSeenAt}, ${targets.firstSeenAt}) < ${f.unseenSince.toISOString()}` : undefined,
        f.text
          ? or(sql`${targets.name} LIKE ${likeContains(f.text)} ESCAPE '\\'`, sql`coalesce(${targets.address}, '') LIKE ${likeContains(f.text)} ESCAPE '\\'`)
          : undefined,
      ];
      const where = and(...conds);
      const total = tx.select({ n: count() }).from(targets).where(where).get()?.n ?? 0;

      const key = sortKey(q.sort, q.desc);
      const dir = q.desc ? sql`desc` : sql`asc`;
      const after = q.after
        ? q.desc
          ? sql`(${key}, ${targets.id}) < (${q.after.value}, ${q.after.id})`
          : sql`(${key}, ${targets.id}) > (${q.after.value}, ${q.after.id})`
        : undefined;
      const parent = alias(targets, "parent");
      const rows = tx
        .select({
          t: targets,
          sortValue: sql<string | number>`${key}`,
          parentName: parent.name,
        })
        .from(targets)
        .leftJoin(parent, eq(parent.id, targets.parentId))
        .where(and(where, after))
        .orderBy(sql`${key} ${dir}`, sql`${targets.id} ${dir}`)
        .limit(q.limit + 1)
        .all();
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        total,
        items: page.map(({ t, parentName }) => ({
          id: t.id,
          name: t.name,
          kind: t.kind,
          role: t.role,
          roleSource: t.roleSource,
          roleReason: t.roleReason,
          lifecycle: t.lifecycle,
          address: t.address,
          os: t.osName ?? t.osId,
          healthScore: t.healthScore,
          healthCheckedAt: t.healthCheckedAt,
          issues: parseJsonArray<HealthIssue>(t.healthIssues),
          lastSeenAt: t.lastSeenAt,
          parent: t.parentId ? { id: t.parentId, name: parentName ?? t.parentId } : null,
          tags: parseJsonArray<string>(t.tags),
          cpuCount: t.cpuCount,
          memTotalBytes: t.memTotalBytes,
          memAvailableBytes: t.memAvailableBytes,
          diskTotalBytes: t.diskTotalBytes,
          diskUsedBytes: t.diskUsedBytes,
        })),
        next: rows.length > q.limit && last ? { value: last.sortValue, id: last.t.id } : null,
      };
    },
    { behavior: "deferred" },
  );
}

/** Targets a `parent` filter names: by id, else by name (case-insensitive; several may share it). */
export function resolveParents(db: Db, ref: string): Array<{ id: string; name: string }> {
  const byId = db.select({ id: targets.id, name: targets.name }).from(targets).where(eq(targets.id, ref)).all();
  if (byId.length) return byId;
  return db
    .select({ id: targets.id, name: targets.name })
    .from(targets)
    .where(sql`lower(${targets.name}) = lower(${ref})`)
    .all();
}

function parseJsonArray<T>(json: string): T[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}
