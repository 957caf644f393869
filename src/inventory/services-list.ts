// One list over what runs on the fleet: systemd units (services), Docker
// containers (containers) and Compose projects (stacks). Each runtime is paged
// straight from its primary-key index (target, source, name), so a page costs
// the same on page 1 and page 1,000 and nothing is sorted in memory.
import { and, asc, count, eq, inArray, notInArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { containers, services, stacks, targets } from "../db/schema.js";

export const SERVICE_RUNTIMES = ["systemd", "docker", "compose"] as const;
export type ServiceRuntime = (typeof SERVICE_RUNTIMES)[number];

export interface ServicesCursor {
  /** Runtime rank, then the last row's primary key. */
  r: number;
  t: string;
  s: string;
  n: string;
}

export interface ListServicesOptions {
  runtime: ServiceRuntime | "all";
  /** systemd: active or sub state; docker: container state; compose: a status word ("running" matches "running(3)"). */
  state?: string | undefined;
  /** Only these targets (ids, already resolved); retired targets are included when named here. */
  targetIds?: string[] | undefined;
  /** Compose project: the stack itself and its containers; systemd units have none. */
  stack?: string | undefined;
  limit: number;
  cursor?: ServicesCursor | null | undefined;
}

export interface ServiceItem {
  runtime: ServiceRuntime;
  name: string;
  state: string;
  target: { id: string; name: string };
  source: string;
  /** systemd */
  description?: string | null;
  enabled?: string | null;
  load?: string | null;
  active?: string | null;
  sub?: string | null;
  /** docker */
  image?: string;
  status?: string | null;
  ports?: string | null;
  composeProject?: string | null;
  composeService?: string | null;
  /** compose */
  configFiles?: string[];
  composeServices?: string[];
}

export interface ListServicesResult {
  items: ServiceItem[];
  /** Exact up to COUNT_CAP. */
  total: number;
  totalIsLowerBound: boolean;
  nextCursor: ServicesCursor | null;
}

/** Counted exactly up to here: an unfiltered count of 300,000 rows costs more than the page. */
export const LIST_COUNT_CAP = 1_000;

const RANK: Record<ServiceRuntime, number> = { systemd: 0, docker: 1, compose: 2 };

/** systemd's active states; any other state word is a sub state (running, exited, dead, ...). */
const ACTIVE_STATES = new Set(["active", "inactive", "failed", "activating", "deactivating", "reloading", "maintenance", "refreshing"]);

function read<T>(db: Db, fn: (db: Db) => T): T {
  return db.transaction((tx) => fn(tx as unknown as Db), { behavior: "deferred" });
}

type Table = typeof services | typeof containers | typeof stacks;

export function listServices(db: Db, opts: ListServicesOptions): ListServicesResult {
  const runtimes = opts.runtime === "all" ? [...SERVICE_RUNTIMES] : [opts.runtime];
  // A stack is a Compose notion: systemd units never belong to one.
  const inScope = runtimes.filter((r) => !(opts.stack !== undefined && r === "systemd"));
  const state = opts.state?.toLowerCase();
  const cursor = opts.cursor ?? null;
  return read(db, (tx) => {
    const retired = tx.select({ id: targets.id }).from(targets).where(eq(targets.lifecycle, "retired"));
    const where = (rt: ServiceRuntime): { table: Table; conds: SQL[] } => {
      const table: Table = rt === "systemd" ? services : rt === "docker" ? containers : stacks;
      const conds: SQL[] = [];
      if (opts.targetIds) conds.push(inArray(table.targetId, opts.targetIds));
      else conds.push(notInArray(table.targetId, retired));
      if (state !== undefined) {
        // States are lower-case as systemd and Docker report them, so an index on the column can serve the filter.
        if (rt === "systemd") conds.push(ACTIVE_STATES.has(state) ? eq(services.activeState, state) : eq(services.subState, state));
        if (rt === "docker") conds.push(eq(containers.state, state));
        if (rt === "compose") conds.push(sql`instr(lower(${stacks.status}), ${state}) > 0`);
      }
      if (opts.stack !== undefined) {
        if (rt === "docker") conds.push(eq(containers.composeProject, opts.stack));
        if (rt === "compose") conds.push(eq(stacks.name, opts.stack));
      }
      return { table, conds };
    };

    const picked: Array<{ rt: ServiceRuntime; row: Record<string, unknown> }> = [];
    for (const rt of inScope) {
      const need = opts.limit + 1 - picked.length;
      if (need <= 0) break;
      if (cursor && RANK[rt] < cursor.r) continue;
      const { table, conds } = where(rt);
      const after =
        cursor && RANK[rt] === cursor.r ? [sql`(${table.targetId}, ${table.sourceId}, ${table.name}) > (${cursor.t}, ${cursor.s}, ${cursor.n})`] : [];
      const rows = tx
        .select()
        .from(table)
        .where(and(...conds, ...after))
        .orderBy(asc(table.targetId), asc(table.sourceId), asc(table.name))
        .limit(need)
        .all() as Array<Record<string, unknown>>;
      picked.push(...rows.map((row) => ({ rt, row })));
    }

    let total = 0;
    for (const rt of inScope) {
      if (total > LIST_COUNT_CAP) break;
      const { table, conds } = where(rt);
      const capped = tx
        .select({ one: sql`1` })
        .from(table)
        .where(and(...conds))
        .limit(LIST_COUNT_CAP + 1 - total)
        .as("capped");
      total += tx.select({ n: count() }).from(capped).get()?.n ?? 0;
    }

    const more = picked.length > opts.limit;
    const page = picked.slice(0, opts.limit);
    const ids = [...new Set(page.map((p) => String(p.row.targetId)))];
    const names = new Map(
      ids.length
        ? tx
            .select({ id: targets.id, name: targets.name })
            .from(targets)
            .where(inArray(targets.id, ids))
            .all()
            .map((t) => [t.id, t.name])
        : [],
    );
    const stackServices = composeServicesOf(
      tx,
      page.filter((p) => p.rt === "compose").map((p) => p.row as typeof stacks.$inferSelect),
    );
    const last = page[page.length - 1];
    return {
      items: page.map(({ rt, row }) => toItem(rt, row, names.get(String(row.targetId)) ?? String(row.targetId), stackServices)),
      total: Math.min(total, LIST_COUNT_CAP),
      totalIsLowerBound: total > LIST_COUNT_CAP,
      nextCursor: more && last ? { r: RANK[last.rt], t: String(last.row.targetId), s: String(last.row.sourceId), n: String(last.row.name) } : null,
    };
  });
}

/** Compose services of each listed stack, from its containers' labels (same target and source). */
function composeServicesOf(tx: Db, page: Array<typeof stacks.$inferSelect>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!page.length) return out;
  const rows = tx
    .selectDistinct({ targetId: containers.targetId, sourceId: containers.sourceId, project: containers.composeProject, service: containers.composeService })
    .from(containers)
    .where(
      and(inArray(containers.targetId, [...new Set(page.map((s) => s.targetId))]), inArray(containers.composeProject, [...new Set(page.map((s) => s.name))])),
    )
    .orderBy(asc(containers.composeService))
    .all();
  for (const r of rows) {
    if (!r.service) continue;
    const key = `${r.targetId}\u0000${r.sourceId}\u0000${r.project}`;
    out.set(key, [...(out.get(key) ?? []), r.service]);
  }
  return out;
}

function toItem(rt: ServiceRuntime, row: Record<string, unknown>, targetName: string, stackServices: Map<string, string[]>): ServiceItem {
  const base = { runtime: rt, name: String(row.name), target: { id: String(row.targetId), name: targetName }, source: String(row.sourceId) };
  if (rt === "systemd") {
    const s = row as typeof services.$inferSelect;
    return {
      ...base,
      state: s.activeState ? `${s.activeState}${s.subState ? `/${s.subState}` : ""}` : (s.subState ?? "unknown"),
      description: s.description,
      enabled: s.enabled,
      load: s.loadState,
      active: s.activeState,
      sub: s.subState,
    };
  }
  if (rt === "docker") {
    const c = row as typeof containers.$inferSelect;
    return {
      ...base,
      state: c.state,
      image: c.image,
      status: c.status,
      ports: c.ports,
      composeProject: c.composeProject,
      composeService: c.composeService,
    };
  }
  const k = row as typeof stacks.$inferSelect;
  let files: string[] = [];
  try {
    const parsed: unknown = JSON.parse(k.configFiles);
    if (Array.isArray(parsed)) files = parsed.map(String);
  } catch {
    // an unreadable list stays empty rather than failing the page
  }
  return {
    ...base,
    state: k.status,
    configFiles: files,
    composeServices: stackServices.get(`${k.targetId}\u0000${k.sourceId}\u0000${k.name}`) ?? [],
  };
}
