// Snapshots: the inventory's state captured in one read transaction, stored as a
// gzip-compressed columnar JSON document (format in diff.ts), listed, loaded,
// and expired by the retention policy (archived as gzip JSON files or deleted).
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { and, asc, count, desc, eq, inArray, isNotNull, lt, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { FleetConfig } from "../config.js";
import { writeFileAtomic } from "./files.js";
import type { Db } from "../db/open.js";
import { addresses, containers, filesystems, interfaces, observations, ports, services, snapshots, sshEndpoints, stacks, targets } from "../db/schema.js";
import {
  documentCounts,
  DocumentBuilder,
  ENTITY_SPECS,
  packDocument,
  SNAPSHOT_FORMAT,
  type Cell,
  type EntityType,
  type Scalar,
  type TableBuilder,
  type SnapshotDocument,
  unpackDocument,
} from "./diff.js";

export const SNAPSHOT_TYPES = ["manual", "scheduled", "pre_deployment", "post_deployment", "auto"] as const;
export type SnapshotType = (typeof SNAPSHOT_TYPES)[number];

/** Snapshot references that are not names: compare_snapshots' sides. */
export const RESERVED_SNAPSHOT_REFS = ["latest", "live"] as const;

export interface SnapshotMeta {
  id: number;
  name: string;
  description: string | null;
  type: string;
  tags: string[];
  createdAt: string;
  runId: number | null;
  targetCount: number;
  entityCount: number;
  healthMean: number | null;
  format: number;
  sizeBytes: number;
}

export interface TakenSnapshot extends SnapshotMeta {
  counts: Record<EntityType, number>;
}

/** A name the caller chose is taken or not allowed; the message says which and why. */
export class SnapshotNameError extends Error {
  override name = "SnapshotNameError";
}

function read<T>(db: Db, fn: (db: Db) => T): T {
  return db.transaction((tx) => fn(tx as unknown as Db), { behavior: "deferred" });
}

// gzip level 4: on a 10,000-target document (6.6 MB of JSON) it is 3% larger
// than level 6 (1.59 vs 1.54 MB) in less than half the time (72 vs 155 ms).
const GZIP_LEVEL = 4;

type Row = Scalar[];

/** Which source's row wins when several report the same entity: the freshest observation, then the source id. */
class SourcePriority {
  private observed: Map<string, string> | null = null;

  constructor(private readonly db: Db) {}

  private at(target: string, source: string, collection: string): string {
    if (this.observed === null) {
      this.observed = new Map(
        this.db
          .select({ t: observations.targetId, s: observations.sourceId, c: observations.collection, at: observations.observedAt })
          .from(observations)
          .all()
          .map((o) => [`${o.t}\u0000${o.s}\u0000${o.c}`, o.at]),
      );
    }
    return this.observed.get(`${target}\u0000${source}\u0000${collection}`) ?? "";
  }

  /** Rows are [...key, ...fields, source] in source order; returns the group ordered best first. */
  order(group: Row[], collection: string): Row[] {
    const target = String(group[0]![0]);
    const src = group[0]!.length - 1;
    return group
      .map((r) => ({ r, at: this.at(target, String(r[src]), collection) }))
      .sort((x, y) => (x.at < y.at ? 1 : x.at > y.at ? -1 : 0))
      .map((x) => x.r);
  }
}

/**
 * One entity per (target, key) from rows keyed (target, source, key): the
 * freshest source's row, its unknown (null) fields filled from the others.
 * Input rows are [...key, ...fields, source], grouped by key; output rows drop the source.
 */
function mergeSources(rows: Row[], keyLen: number, collection: string, priority: SourcePriority): Row[] {
  const out: Row[] = [];
  const sameKey = (x: Row, y: Row) => {
    for (let c = 0; c < keyLen; c++) if (x[c] !== y[c]) return false;
    return true;
  };
  for (let i = 0; i < rows.length;) {
    let end = i + 1;
    while (end < rows.length && sameKey(rows[i]!, rows[end]!)) end++;
    const group = end === i + 1 ? [rows[i]!] : priority.order(rows.slice(i, end), collection);
    const merged = group[0]!.slice(0, -1);
    for (let c = keyLen; c < merged.length; c++) {
      for (let g = 1; merged[c] === null && g < group.length; g++) merged[c] = group[g]![c] ?? null;
    }
    out.push(merged);
    i = end;
  }
  return out;
}

function canonicalTags(text: string | null): string {
  try {
    const parsed = JSON.parse(text ?? "[]") as unknown;
    return JSON.stringify(Array.isArray(parsed) ? [...new Set(parsed.map(String))].sort() : []);
  } catch {
    return "[]";
  }
}

type ChildTable = typeof services | typeof containers | typeof stacks | typeof ports | typeof interfaces | typeof filesystems;

interface ChildCapture {
  type: Exclude<EntityType, "target">;
  /** The collection name in `observations`. */
  collection: string;
  table: ChildTable;
  /** SQL for each column of the entity after the target, in ENTITY_SPECS order. */
  columns: SQL[];
  /** The key columns after the target, for ORDER BY. */
  order: SQL[];
}

const CHILDREN: ChildCapture[] = [
  {
    type: "service",
    collection: "services",
    table: services,
    columns: [
      sql`${services.name}`,
      sql`${services.description}`,
      sql`${services.loadState}`,
      sql`${services.activeState}`,
      sql`${services.subState}`,
      sql`${services.enabled}`,
    ],
    order: [sql`${services.name}`],
  },
  {
    type: "container",
    collection: "containers",
    table: containers,
    columns: [
      sql`${containers.name}`,
      sql`substr(${containers.containerId}, 1, 12)`,
      sql`${containers.image}`,
      sql`${containers.imageId}`,
      sql`${containers.state}`,
      sql`${containers.status}`,
      sql`${containers.health}`,
      sql`${containers.exitCode}`,
      sql`${containers.restartCount}`,
      sql`${containers.ports}`,
      sql`${containers.composeProject}`,
      sql`${containers.composeService}`,
      // A 0/1 column; json('true') makes it a JSON boolean inside json_array.
      sql`CASE WHEN ${containers.privileged} IS NULL THEN NULL WHEN ${containers.privileged} THEN json('true') ELSE json('false') END`,
      sql`${containers.networkMode}`,
    ],
    order: [sql`${containers.name}`],
  },
  {
    type: "stack",
    collection: "stacks",
    table: stacks,
    columns: [sql`${stacks.name}`, sql`${stacks.status}`, sql`${stacks.configFiles}`],
    order: [sql`${stacks.name}`],
  },
  {
    type: "port",
    collection: "ports",
    table: ports,
    columns: [sql`${ports.protocol}`, sql`${ports.address}`, sql`${ports.port}`, sql`${ports.process}`, sql`${ports.pid}`],
    order: [sql`${ports.protocol}`, sql`${ports.address}`, sql`${ports.port}`],
  },
  {
    type: "interface",
    collection: "interfaces",
    table: interfaces,
    columns: [
      sql`${interfaces.name}`,
      sql`${interfaces.mac}`,
      sql`${interfaces.mtu}`,
      sql`${interfaces.state}`,
      sql`${interfaces.master}`,
      // The union of the addresses every source saw on it, sorted; `|| ''` keeps it text, not nested JSON.
      sql`(SELECT json_group_array(v) FROM (SELECT DISTINCT ${addresses.address} || '/' || ${addresses.prefixlen} AS v FROM ${addresses} WHERE ${addresses.targetId} = ${interfaces.targetId} AND ${addresses.interfaceName} = ${interfaces.name} ORDER BY v)) || ''`,
    ],
    order: [sql`${interfaces.name}`],
  },
  {
    type: "filesystem",
    collection: "filesystems",
    table: filesystems,
    columns: [
      sql`${filesystems.mount}`,
      sql`${filesystems.device}`,
      sql`${filesystems.fstype}`,
      sql`${filesystems.sizeBytes}`,
      sql`${filesystems.usedBytes}`,
      sql`${filesystems.availBytes}`,
    ],
    order: [sql`${filesystems.mount}`],
  },
];

const RS = "\u001e";

/**
 * One entity type, read one target at a time: SQLite aggregates each target's
 * rows into one string of JSON arrays, and a row seen on many targets (the same
 * unit, state and description) is parsed and encoded once. Targets that several
 * sources reported on are read row by row and merged (mergeSources).
 */
function captureChildren(tx: Db, capture: ChildCapture, out: TableBuilder, targetIndex: Map<string, number>, priority: SourcePriority): void {
  const { table } = capture;
  const specs = out.specs;
  // Columns stored inline (ids) would defeat the per-row cache, so they travel apart.
  const inline = specs.map((c, i) => (i > 0 && c.kind === "x" ? i : -1)).filter((i) => i > 0);
  const cached = specs.map((_, i) => i).filter((i) => i > 0 && !inline.includes(i));
  const expr = (i: number) => capture.columns[i - 1]!;
  // No ORDER BY inside the aggregates: SQLite walks the (target, source, key)
  // primary key, so a one-source target's rows arrive in key order, and the two
  // aggregates of one group always see its rows in the same sequence. The diff
  // checks the order and sorts when it does not hold.
  const rows = tx
    .select({
      target: table.targetId,
      sources: sql<number>`CASE WHEN min(${table.sourceId}) = max(${table.sourceId}) THEN 1 ELSE 2 END`,
      payload: sql<string>`group_concat(json_array(${sql.join(cached.map(expr), sql`, `)}), char(30))`,
      inline: inline.length ? sql<string>`'[' || group_concat(json_array(${sql.join(inline.map(expr), sql`, `)}), ',') || ']'` : sql<null>`NULL`,
    })
    .from(table)
    .groupBy(table.targetId)
    .orderBy(asc(table.targetId))
    .values() as Array<[string, number, string, string | null]>;

  const merged = new Map<string, Row[]>();
  if (rows.some((r) => r[1] > 1)) {
    const multi = tx
      .select({ t: table.targetId })
      .from(table)
      .groupBy(table.targetId)
      .having(sql`min(${table.sourceId}) <> max(${table.sourceId})`);
    const list = tx
      .select({ target: table.targetId, row: sql<string>`json_array(${sql.join(capture.columns, sql`, `)})`, source: table.sourceId })
      .from(table)
      .where(inArray(table.targetId, multi))
      .orderBy(asc(table.targetId), ...capture.order, asc(table.sourceId))
      .values() as Array<[string, string, string]>;
    const plain = list.map(([t, row, source]) => [t, ...(JSON.parse(row) as Scalar[]), source]);
    for (const r of mergeSources(plain, ENTITY_SPECS[capture.type].key.length, capture.collection, priority)) {
      const t = String(r[0]);
      let bucket = merged.get(t);
      if (!bucket) merged.set(t, (bucket = []));
      bucket.push(r);
    }
  }

  const cache = new Map<string, Cell[]>();
  const cells: Cell[] = new Array<Cell>(specs.length);
  for (const [target, sources, payload, inlineJson] of rows) {
    const t = targetIndex.get(target);
    if (t === undefined) continue;
    if (sources > 1) {
      for (const r of merged.get(target) ?? []) {
        r[0] = t;
        out.add(r);
      }
      continue;
    }
    const ids = inlineJson === null ? null : (JSON.parse(inlineJson) as Scalar[][]);
    const parts = payload.split(RS);
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      let coded = cache.get(part);
      if (!coded) {
        const values = JSON.parse(part) as Scalar[];
        coded = cached.map((col, i) => out.code(col, values[i]));
        cache.set(part, coded);
      }
      cells[0] = t;
      for (let i = 0; i < cached.length; i++) cells[cached[i]!] = coded[i]!;
      if (ids) for (let i = 0; i < inline.length; i++) cells[inline[i]!] = out.code(inline[i]!, ids[p]![i]);
      out.push(cells);
    }
  }
}

/** The whole inventory now, as a snapshot document. One read transaction: never half a discovery run. */
export function captureInventory(db: Db, now: Date): SnapshotDocument {
  return read(db, (tx) => {
    const doc = new DocumentBuilder(now.toISOString());
    const priority = new SourcePriority(tx);

    const keys = new Map<string, { pinned: string[]; pending: string[] }>();
    for (const e of tx
      .select({ t: sshEndpoints.targetId, pinned: sshEndpoints.pinnedFingerprint, pending: sshEndpoints.pendingFingerprint })
      .from(sshEndpoints)
      .where(isNotNull(sshEndpoints.targetId))
      .all()) {
      let k = keys.get(e.t!);
      if (!k) keys.set(e.t!, (k = { pinned: [], pending: [] }));
      if (e.pinned) k.pinned.push(e.pinned);
      if (e.pending) k.pending.push(e.pending);
    }
    const joinKeys = (list: string[] | undefined) => (list && list.length ? [...new Set(list)].sort().join(" ") : null);

    const targetRows = tx
      .select({
        id: targets.id,
        kind: targets.kind,
        name: targets.name,
        parentId: targets.parentId,
        role: targets.role,
        lifecycle: targets.lifecycle,
        address: targets.address,
        tags: targets.tags,
        osId: targets.osId,
        osVersion: targets.osVersion,
        osName: targets.osName,
        kernel: targets.kernel,
        arch: targets.arch,
        cpu: targets.cpuCount,
        mem: targets.memTotalBytes,
        disk: targets.diskTotalBytes,
        diskUsed: targets.diskUsedBytes,
        memAvail: targets.memAvailableBytes,
        uptime: targets.uptimeSeconds,
        score: targets.healthScore,
        issues: targets.healthIssues,
      })
      .from(targets)
      .orderBy(asc(targets.id))
      .values() as Row[];
    const targetTable = doc.table("target");
    const targetIndex = new Map<string, number>();
    for (const r of targetRows) {
      const id = String(r[0]);
      r[7] = canonicalTags(r[7] as string | null);
      const k = keys.get(id);
      r.push(joinKeys(k?.pinned), joinKeys(k?.pending));
      targetIndex.set(id, targetTable.rows);
      targetTable.add(r);
    }
    for (const capture of CHILDREN) captureChildren(tx, capture, doc.table(capture.type), targetIndex, priority);
    return doc.build();
  });
}

export function encodeDocument(doc: SnapshotDocument): Buffer {
  return gzipSync(JSON.stringify(packDocument(doc)), { level: GZIP_LEVEL });
}

export function decodeDocument(data: Buffer): SnapshotDocument {
  return unpackDocument(JSON.parse(gunzipSync(data).toString("utf8")));
}

/** Mean health of the targets that are not retired and have a score; null when none has. */
function healthMean(doc: SnapshotDocument): number | null {
  const t = doc.tables.target;
  const scores = t.columns.health_score!;
  const lifecycle = t.columns.lifecycle!;
  const retired = t.dicts.lifecycle!.indexOf("retired");
  let sum = 0;
  let n = 0;
  for (let i = 0; i < t.rows; i++) {
    const s = scores[i];
    if (typeof s === "number" && lifecycle[i] !== retired) {
      sum += s;
      n++;
    }
  }
  return n === 0 ? null : sum / n;
}

export function checkSnapshotName(name: string): void {
  if ((RESERVED_SNAPSHOT_REFS as readonly string[]).includes(name.toLowerCase()))
    throw new SnapshotNameError(`"${name}" is reserved (it means the newest snapshot or the inventory now in compare_snapshots); pick another name.`);
  if (/^\d+$/.test(name)) throw new SnapshotNameError(`"${name}" looks like a snapshot id; pick a name with at least one non-digit.`);
}

export interface TakeSnapshotInput {
  /** Default: "<type>-<ISO time>". */
  name?: string;
  description?: string | null;
  type: SnapshotType;
  tags?: string[];
  /** The discovery run this snapshot follows, if any. */
  runId?: number | null;
  now: Date;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "SQLITE_CONSTRAINT_UNIQUE";
}

/**
 * Captures the inventory and stores it. A chosen name that is taken is a
 * SnapshotNameError; a default name that collides (two snapshots in one
 * millisecond) gets a numeric suffix. Must not run inside another transaction.
 */
export function takeSnapshot(db: Db, input: TakeSnapshotInput): TakenSnapshot {
  if (input.name !== undefined) checkSnapshotName(input.name);
  const doc = captureInventory(db, input.now);
  const data = encodeDocument(doc);
  const counts = documentCounts(doc);
  const entityCount = Object.values(counts).reduce((a, n) => a + n, 0);
  const base = input.name ?? `${input.type}-${input.now.toISOString()}`;
  const tags = [...new Set(input.tags ?? [])];
  const row = {
    description: input.description ?? null,
    type: input.type,
    tags: JSON.stringify(tags),
    createdAt: input.now.toISOString(),
    runId: input.runId ?? null,
    targetCount: counts.target,
    entityCount,
    healthMean: healthMean(doc),
    format: SNAPSHOT_FORMAT,
    data,
    sizeBytes: data.length,
  };
  for (let attempt = 1; ; attempt++) {
    const name = attempt === 1 ? base : `${base}-${attempt}`;
    try {
      const { id } = db
        .insert(snapshots)
        .values({ ...row, name })
        .returning({ id: snapshots.id })
        .get();
      const { data: _data, ...meta } = row;
      return { ...meta, id, name, tags, counts };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (input.name !== undefined) throw new SnapshotNameError(`A snapshot named "${input.name}" already exists; pick another name.`);
      if (attempt >= 100) throw err;
    }
  }
}

const META_COLUMNS = {
  id: snapshots.id,
  name: snapshots.name,
  description: snapshots.description,
  type: snapshots.type,
  tags: snapshots.tags,
  createdAt: snapshots.createdAt,
  runId: snapshots.runId,
  targetCount: snapshots.targetCount,
  entityCount: snapshots.entityCount,
  healthMean: snapshots.healthMean,
  format: snapshots.format,
  sizeBytes: snapshots.sizeBytes,
};

function toMeta(r: { tags: string } & Omit<SnapshotMeta, "tags">): SnapshotMeta {
  return { ...r, tags: JSON.parse(r.tags) as string[] };
}

const newestFirst = [desc(snapshots.createdAt), desc(snapshots.id)];

export interface ListSnapshotsInput {
  limit: number;
  type?: string;
  /** Keyset: the last item of the previous page. */
  after?: { createdAt: string; id: number };
}

/** Newest first, without the data. Returns up to `limit` items and whether more follow. */
export function listSnapshots(db: Db, input: ListSnapshotsInput): { items: SnapshotMeta[]; more: boolean; total: number } {
  return read(db, (tx) => {
    const after = input.after;
    const rows = tx
      .select(META_COLUMNS)
      .from(snapshots)
      .where(
        and(
          input.type ? eq(snapshots.type, input.type) : undefined,
          after ? or(lt(snapshots.createdAt, after.createdAt), and(eq(snapshots.createdAt, after.createdAt), lt(snapshots.id, after.id))) : undefined,
        ),
      )
      .orderBy(...newestFirst)
      .limit(input.limit + 1)
      .all();
    const total =
      tx
        .select({ n: count() })
        .from(snapshots)
        .where(input.type ? eq(snapshots.type, input.type) : undefined)
        .get()?.n ?? 0;
    return { items: rows.slice(0, input.limit).map(toMeta), more: rows.length > input.limit, total };
  });
}

/** A stored snapshot by id (digits), name, or `latest`; null when there is none. */
export function findSnapshot(db: Db, ref: string): SnapshotMeta | null {
  const q = () => db.select(META_COLUMNS).from(snapshots);
  if (ref.toLowerCase() === "latest") {
    const r = q()
      .orderBy(...newestFirst)
      .limit(1)
      .get();
    return r ? toMeta(r) : null;
  }
  if (/^\d+$/.test(ref) && Number.isSafeInteger(Number(ref))) {
    const r = q()
      .where(eq(snapshots.id, Number(ref)))
      .get();
    if (r) return toMeta(r);
  }
  const r = q().where(eq(snapshots.name, ref)).get();
  return r ? toMeta(r) : null;
}

/** The newest snapshot ids, for "Known: ..." in errors, and how many there are. */
export function recentSnapshotIds(db: Db, limit: number): { ids: number[]; total: number } {
  return read(db, (tx) => ({
    ids: tx
      .select({ id: snapshots.id })
      .from(snapshots)
      .orderBy(...newestFirst)
      .limit(limit)
      .all()
      .map((r) => r.id),
    total: tx.select({ n: count() }).from(snapshots).get()?.n ?? 0,
  }));
}

export function loadSnapshotDocument(db: Db, id: number): SnapshotDocument | null {
  const row = db.select({ data: snapshots.data }).from(snapshots).where(eq(snapshots.id, id)).get();
  return row ? decodeDocument(row.data) : null;
}

export interface RetentionResult {
  /** Files written, one per archived snapshot. */
  archived: string[];
  /** Snapshot ids that left the database. */
  deleted: number[];
}

function archiveFileName(meta: SnapshotMeta): string {
  const slug = meta.name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);
  return `snapshot-${meta.id}-${slug}.json.gz`;
}

/**
 * Snapshots older than the retention leave the database, except the newest
 * `minKeep`. With onExpire "archive" each is first written to archiveDir as
 * gzip JSON ({archive_format, snapshot: metadata, document}); a snapshot whose
 * file could not be written stays in the database and the error is thrown.
 */
export function applySnapshotRetention(db: Db, policy: FleetConfig["snapshots"], now: Date): RetentionResult {
  const result: RetentionResult = { archived: [], deleted: [] };
  if (policy.retentionMs === null) return result;
  const cutoff = new Date(now.getTime() - policy.retentionMs).toISOString();
  const expired = read(db, (tx) => {
    const kept = tx
      .select({ id: snapshots.id })
      .from(snapshots)
      .orderBy(...newestFirst)
      .limit(policy.minKeep);
    return tx
      .select(META_COLUMNS)
      .from(snapshots)
      .where(and(lt(snapshots.createdAt, cutoff), policy.minKeep > 0 ? notInArray(snapshots.id, kept) : undefined))
      .orderBy(asc(snapshots.createdAt), asc(snapshots.id))
      .all()
      .map(toMeta);
  });
  if (expired.length === 0) return result;
  if (policy.onExpire === "delete") {
    const ids = expired.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 500)
      db.delete(snapshots)
        .where(inArray(snapshots.id, ids.slice(i, i + 500)))
        .run();
    result.deleted.push(...ids);
    return result;
  }
  mkdirSync(policy.archiveDir, { recursive: true, mode: 0o700 });
  for (const meta of expired) {
    const row = db.select({ data: snapshots.data }).from(snapshots).where(eq(snapshots.id, meta.id)).get();
    if (!row) continue; // removed meanwhile by another process
    // The stored document is spliced in as text: no parse and re-serialise of a large document.
    const header = {
      archive_format: 1,
      snapshot: {
        id: meta.id,
        name: meta.name,
        description: meta.description,
        type: meta.type,
        tags: meta.tags,
        created_at: meta.createdAt,
        run_id: meta.runId,
        target_count: meta.targetCount,
        entity_count: meta.entityCount,
        health_mean: meta.healthMean,
        format: meta.format,
        size_bytes: meta.sizeBytes,
      },
    };
    const text = `${JSON.stringify(header).slice(0, -1)},"document":${gunzipSync(row.data).toString("utf8")}}`;
    const path = join(policy.archiveDir, archiveFileName(meta));
    writeFileAtomic(path, gzipSync(text, { level: GZIP_LEVEL }), 0o600);
    db.delete(snapshots).where(eq(snapshots.id, meta.id)).run();
    result.archived.push(path);
    result.deleted.push(meta.id);
  }
  return result;
}
