// What one source knows of one collection (services, containers, ports, ...) of
// one target, brought up to date with what it just observed: rows are inserted,
// updated or deleted only where something changed, and the differences are
// returned so the caller can record change events. Writing only changes keeps a
// steady-state discovery of a large fleet cheap: most rows are read and compared,
// not rewritten (when each collection was observed lives in `observations`).
import { and, eq, getTableName, is, Param, Placeholder, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";
import { addresses, containers, filesystems, interfaces, ports, services, stacks } from "../db/schema.js";

export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type Row = Record<string, unknown>;

export interface CollectionSpec {
  /** The `observations.collection` name this table is observed under. */
  collection: string;
  table: SQLiteTable & { targetId: SQLiteColumn; sourceId: SQLiteColumn };
  /** Columns (JS names) that name a row within one target and source. */
  key: readonly string[];
  /** Columns compared to detect a change. */
  values: readonly string[];
  /** Columns written when they differ but never reported as a change (readings such as "Up 3 hours", pids, used bytes). */
  volatile: readonly string[];
  /** The table has first_observed_at: set when the row is first written. */
  firstObserved: boolean;
  /** Columns where null means "not known this time" (e.g. docker inspect failed), not "none": the previous value is kept. */
  keepWhenNull?: readonly string[];
}

export const SERVICES: CollectionSpec = {
  collection: "services",
  table: services,
  key: ["name"],
  values: ["description", "loadState", "activeState", "subState", "enabled"],
  volatile: [],
  firstObserved: true,
};
export const CONTAINERS: CollectionSpec = {
  collection: "containers",
  table: containers,
  key: ["name"],
  values: [
    "containerId",
    "image",
    "imageId",
    "state",
    "ports",
    "labels",
    "composeProject",
    "composeService",
    "createdAt",
    "health",
    "exitCode",
    "privileged",
    "networkMode",
  ],
  volatile: ["status", "restartCount"],
  firstObserved: true,
  keepWhenNull: ["imageId", "privileged", "networkMode"],
};
export const STACKS: CollectionSpec = {
  collection: "stacks",
  table: stacks,
  key: ["name"],
  values: ["status", "configFiles"],
  volatile: [],
  firstObserved: true,
};
export const PORTS: CollectionSpec = {
  collection: "ports",
  table: ports,
  key: ["protocol", "address", "port"],
  values: ["process"],
  volatile: ["pid"],
  firstObserved: true,
};
export const INTERFACES: CollectionSpec = {
  collection: "interfaces",
  table: interfaces,
  key: ["name"],
  values: ["mac", "mtu", "state", "master"],
  volatile: [],
  firstObserved: false,
};
export const ADDRESSES: CollectionSpec = {
  collection: "interfaces",
  table: addresses,
  key: ["interfaceName", "address"],
  values: ["family", "prefixlen", "scope"],
  volatile: [],
  firstObserved: false,
};
export const FILESYSTEMS: CollectionSpec = {
  collection: "filesystems",
  table: filesystems,
  key: ["mount"],
  values: ["device", "fstype", "sizeBytes"],
  volatile: ["usedBytes", "availBytes"],
  firstObserved: false,
};

export interface Changed {
  before: Row;
  after: Row;
  /** Non-volatile columns that differ. */
  fields: string[];
}

export interface SyncResult {
  added: Row[];
  removed: Row[];
  changed: Changed[];
}

/** SQLite has no booleans and no undefined: compare and bind values as the driver stores them. */
export function norm(v: unknown): unknown {
  if (v === undefined) return null;
  if (v === true) return 1;
  if (v === false) return 0;
  return v;
}

const keyOf = (spec: CollectionSpec, row: Row) => spec.key.map((k) => String(row[k])).join("\u0000");

/**
 * Makes the rows of (target, source) in `spec.table` equal to `rows` (one per
 * key; later duplicates win), writing only the differences.
 */
export function syncCollection(tx: Tx, spec: CollectionSpec, targetId: string, sourceId: string, rows: Row[], at: string, fresh = false): SyncResult {
  const st = statements(tx, spec);
  // fresh: the target was created by this observation, so there is nothing to read.
  const before = new Map(fresh ? [] : (st.select.all({ t: targetId, s: sourceId }) as Row[]).map((r) => [keyOf(spec, r), r]));
  const after = new Map<string, Row>();
  for (const r of rows) after.set(keyOf(spec, r), r);
  const out: SyncResult = { added: [], removed: [], changed: [] };
  for (const [k, observed] of after) {
    const old = before.get(k);
    let row = observed;
    if (old && spec.keepWhenNull) {
      row = { ...observed };
      for (const c of spec.keepWhenNull) if (row[c] === null || row[c] === undefined) row[c] = old[c];
    }
    const bind: Row = { t: targetId, s: sourceId };
    for (const c of [...spec.key, ...spec.values, ...spec.volatile]) bind[c] = norm(row[c]);
    if (!old) {
      if (spec.firstObserved) bind.firstObservedAt = at;
      st.insert.run(bind);
      out.added.push(row);
      continue;
    }
    const fields = spec.values.filter((c) => norm(old[c]) !== norm(row[c]));
    const volatileDiffers = spec.volatile.some((c) => norm(old[c]) !== norm(row[c]));
    if (fields.length > 0 || volatileDiffers) st.update.run(bind);
    if (fields.length > 0) out.changed.push({ before: old, after: row, fields });
  }
  for (const [k, old] of before) {
    if (after.has(k)) continue;
    const bind: Row = { t: targetId, s: sourceId };
    for (const c of spec.key) bind[c] = norm(old[c]);
    st.delete.run(bind);
    out.removed.push(old);
  }
  return out;
}

// The hot statements of an ingest run once per row for up to a million rows.
// Drizzle builds them (so the SQL stays generated from the schema) once per
// transaction; they are then executed on the driver directly: building a Drizzle
// query and mapping its rows costs several times what SQLite takes to run it.
export interface Prepared {
  run(values?: Record<string, unknown>): unknown;
  all(values?: Record<string, unknown>): Row[];
  get(values?: Record<string, unknown>): Row | undefined;
}
interface Compilable {
  toSQL(): { sql: string; params: unknown[] };
  _?: { selectedFields?: Record<string, unknown> };
}
interface DriverEncoder {
  mapToDriverValue(v: unknown): unknown;
}
interface DriverStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  raw(on: boolean): DriverStatement;
  reader: boolean;
}
interface Driver {
  prepare(sql: string): DriverStatement;
}
const drivers = new WeakMap<object, Driver>();
const cache = new WeakMap<object, Map<string, Prepared>>();

/** Lets `prepared` run statements of this transaction on the driver of `db`. */
export function bindDriver(tx: Tx, db: Db): void {
  drivers.set(tx, db.$client as unknown as Driver);
}

export function prepared(tx: Tx, key: string, build: () => unknown): Prepared {
  let m = cache.get(tx);
  if (!m) cache.set(tx, (m = new Map()));
  let stmt = m.get(key);
  if (!stmt) m.set(key, (stmt = compile(tx, build() as Compilable)));
  return stmt;
}

function compile(tx: Tx, query: Compilable): Prepared {
  const driver = drivers.get(tx);
  if (!driver) throw new Error("prepared() needs bindDriver(tx, db) at the start of the transaction");
  const { sql: text, params } = query.toSQL();
  // Insert values arrive wrapped in a Param (value + the column that encodes it).
  const order = params.map((p): { name: string | null; value: unknown; encoder: DriverEncoder | null } => {
    const inner = is(p, Param) ? (p as unknown as { value: unknown }).value : p;
    const encoder = is(p, Param) ? ((p as unknown as { encoder?: DriverEncoder }).encoder ?? null) : null;
    if (is(inner, Placeholder)) return { name: (inner as Placeholder).name as string, value: null, encoder };
    return { name: null, value: norm(encoder && inner !== null ? encoder.mapToDriverValue(inner) : inner), encoder: null };
  });
  const bind = (values: Record<string, unknown> = {}) =>
    order.map((o) => {
      if (o.name === null) return o.value;
      const v = values[o.name];
      return norm(o.encoder && v !== null && v !== undefined ? o.encoder.mapToDriverValue(v) : v);
    });
  const stmt = driver.prepare(text);
  const fields = query._?.selectedFields ? Object.keys(query._.selectedFields) : null;
  const rows = stmt.reader ? stmt.raw(true) : stmt;
  const toRow = (a: unknown[]): Row => {
    const r: Row = {};
    fields!.forEach((f, i) => (r[f] = a[i]));
    return r;
  };
  return {
    run: (v) => stmt.run(...bind(v)),
    all: (v) => (rows.all(...bind(v)) as unknown[][]).map(toRow),
    get: (v) => {
      const a = rows.get(...bind(v)) as unknown[] | undefined;
      return a ? toRow(a) : undefined;
    },
  };
}

export const placeholders = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, sql.placeholder(k)]));

const specStatements = new WeakMap<object, Map<CollectionSpec, ReturnType<typeof buildStatements>>>();

function statements(tx: Tx, spec: CollectionSpec) {
  let m = specStatements.get(tx);
  if (!m) specStatements.set(tx, (m = new Map()));
  let st = m.get(spec);
  if (!st) m.set(spec, (st = buildStatements(tx, spec)));
  return st;
}

function buildStatements(tx: Tx, spec: CollectionSpec) {
  const t = spec.table as unknown as Record<string, SQLiteColumn> & SQLiteTable;
  const name = getTableName(spec.table);
  const owner = and(eq(spec.table.targetId, sql.placeholder("t")), eq(spec.table.sourceId, sql.placeholder("s")));
  const byKey = and(owner, ...spec.key.map((k) => eq(t[k]!, sql.placeholder(k))));
  const writable = [...spec.values, ...spec.volatile];
  return {
    select: prepared(tx, `sync:select:${name}`, () =>
      tx
        .select(Object.fromEntries([...spec.key, ...writable].map((c) => [c, t[c]!])))
        .from(spec.table)
        .where(owner),
    ),
    insert: prepared(tx, `sync:insert:${name}`, () =>
      tx.insert(spec.table).values({
        targetId: sql.placeholder("t"),
        sourceId: sql.placeholder("s"),
        ...placeholders([...spec.key, ...writable, ...(spec.firstObserved ? ["firstObservedAt"] : [])]),
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
      } as any),
    ),
    update: prepared(tx, `sync:update:${name}`, () =>
      tx
        .update(spec.table)
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        .set(placeholders(writable) as any)
        .where(byKey),
    ),
    delete: prepared(tx, `sync:delete:${name}`, () => tx.delete(spec.table).where(byKey)),
  };
}
