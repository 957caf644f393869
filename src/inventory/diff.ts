// The snapshot document and the pure semantic diff of two of them. No database
// and no I/O here: snapshots.ts captures and stores documents, tools page and
// shape the result.
//
// The document is columnar: every entity type is a set of equal-length column
// arrays. Low-cardinality string columns (unit names, states, images) hold
// indices into a per-column dictionary, child rows name their target by its row
// in the target table, and rows are sorted by (target id, key). A 10,000-target
// fleet then parses as arrays of small integers instead of millions of repeated
// strings, equality of two cells is an integer compare, and the diff is one
// merge pass — that is what keeps decompress + parse + diff of two such
// snapshots under a second.

export const SNAPSHOT_FORMAT = 1 as const;

export const ENTITY_TYPES = ["target", "service", "container", "stack", "port", "interface", "filesystem"] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export const CHANGE_KINDS = ["created", "modified", "deleted"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export type Scalar = string | number | boolean | null;
export type JsonValue = Scalar | JsonValue[] | { [k: string]: JsonValue };

/**
 * s: a string, stored as an index into the column's dictionary; j: a JSON value
 * stored as its canonical text in the dictionary, compared as text; x: a string
 * stored inline (ids, names, fingerprints: as many values as rows); v: a number
 * or boolean inline; t: a child's target, as the target's row in the target table.
 */
export type ColumnKind = "s" | "j" | "x" | "v" | "t";

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** A reading that moves on its own (uptime, load, used bytes, status text): not a change unless asked for. */
  volatile?: boolean;
  /** Volatile only on rows whose `column` (either side) holds one of `values`. */
  volatileWhen?: { column: string; values: readonly string[] };
}

export interface EntitySpec {
  /** Identity columns; for every type but target the first is the target id. */
  key: readonly ColumnSpec[];
  fields: readonly ColumnSpec[];
  /** Entities that come and go by themselves (veth pairs of containers): skipped unless volatile readings are asked for. */
  volatileEntity?: (key: Scalar[]) => boolean;
  /** How the entity is named within its target, e.g. "tcp 0.0.0.0:443". */
  label(key: Scalar[]): string;
}

const s = (name: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({ name, kind: "s", ...extra });
const j = (name: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({ name, kind: "j", ...extra });
const v = (name: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({ name, kind: "v", ...extra });
const x = (name: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({ name, kind: "x", ...extra });
const TARGET: ColumnSpec = { name: "target", kind: "t" };
const VOLATILE = { volatile: true } as const;

/** The columns of each entity type, in document order (key first). Adding a column is a format change. */
export const ENTITY_SPECS: Record<EntityType, EntitySpec> = {
  target: {
    key: [x("id")],
    fields: [
      s("kind"),
      x("name"),
      x("parent_id"),
      s("role"),
      s("lifecycle"),
      x("address"),
      j("tags"),
      s("os_id"),
      s("os_version"),
      s("os_name"),
      s("kernel"),
      s("arch"),
      v("cpu_count"),
      v("memory_total_bytes"),
      // The sum over filesystems moves with ZFS pool use; a real resize shows on the filesystem itself.
      v("disk_total_bytes", VOLATILE),
      v("disk_used_bytes", VOLATILE),
      v("memory_available_bytes", VOLATILE),
      v("uptime_seconds", VOLATILE),
      // Derived from readings; reported under health impact rather than as changes.
      v("health_score", VOLATILE),
      j("health_issues", VOLATILE),
      x("host_key"),
      x("host_key_pending"),
    ],
    label: (k) => String(k[0]),
  },
  service: {
    key: [TARGET, s("name")],
    fields: [s("description"), s("load"), s("active"), s("sub"), s("enabled")],
    label: (k) => String(k[1]),
  },
  container: {
    key: [TARGET, s("name")],
    fields: [
      // The short (12 hex digit) id: it changes when the container is recreated.
      x("container_id"),
      s("image"),
      s("image_id"),
      s("state"),
      s("status", VOLATILE),
      s("health"),
      v("exit_code"),
      v("restart_count", VOLATILE),
      s("ports"),
      s("compose_project"),
      s("compose_service"),
      v("privileged"),
      s("network_mode"),
    ],
    label: (k) => String(k[1]),
  },
  stack: {
    key: [TARGET, s("name")],
    fields: [s("status"), j("config_files")],
    label: (k) => String(k[1]),
  },
  port: {
    key: [TARGET, s("protocol"), s("address"), v("port")],
    fields: [s("process"), v("pid", VOLATILE)],
    label: (k) => `${String(k[1])} ${String(k[2]).includes(":") ? `[${String(k[2])}]` : String(k[2])}:${String(k[3])}`,
  },
  interface: {
    key: [TARGET, s("name")],
    fields: [s("mac"), v("mtu"), s("state"), s("master"), j("addresses")],
    volatileEntity: (k) => String(k[1]).startsWith("veth"),
    label: (k) => String(k[1]),
  },
  filesystem: {
    key: [TARGET, s("mount")],
    fields: [
      s("device"),
      s("fstype"),
      // A ZFS dataset's size is its used bytes plus the pool's free space.
      v("size_bytes", { volatileWhen: { column: "fstype", values: ["zfs"] } }),
      v("used_bytes", VOLATILE),
      v("avail_bytes", VOLATILE),
    ],
    label: (k) => String(k[1]),
  },
};

export interface SnapshotTable {
  rows: number;
  /** One array per column of ENTITY_SPECS[type] (key then fields), each `rows` long; `s`/`j` hold indices into `dicts`. */
  columns: Record<string, Cell[]>;
  /** Per `s`/`j` column, its distinct values. */
  dicts: Record<string, string[]>;
}

export interface SnapshotDocument {
  format: typeof SNAPSHOT_FORMAT;
  captured_at: string;
  tables: Record<EntityType, SnapshotTable>;
}

/** A stored cell: an index (s, j, t), an inline string (x), or an inline number/boolean (v); null for unknown. */
export type Cell = number | string | boolean | null;

function columnsOf(type: EntityType): ColumnSpec[] {
  const spec = ENTITY_SPECS[type];
  return [...spec.key, ...spec.fields];
}

/** Encodes the rows of one entity type. Rows must come in key order (targets by id, then the rest of the key), without duplicates. */
export class TableBuilder {
  readonly specs: ColumnSpec[];
  private readonly arrays: Cell[][];
  private readonly dicts: Array<string[] | null>;
  private readonly index: Array<Map<string, number> | null>;
  rows = 0;

  constructor(readonly type: EntityType) {
    this.specs = columnsOf(type);
    this.arrays = this.specs.map(() => []);
    this.dicts = this.specs.map((c) => (c.kind === "s" || c.kind === "j" ? [] : null));
    this.index = this.specs.map((c) => (c.kind === "s" || c.kind === "j" ? new Map() : null));
  }

  /** The cell for `value` in column `col`: interned for s/j, a number for v, as is for x and t (a target's row index). */
  code(col: number, value: Scalar | undefined): Cell {
    if (value === null || value === undefined) return null;
    const index = this.index[col];
    if (index) {
      const text = String(value);
      let i = index.get(text);
      if (i === undefined) {
        i = this.dicts[col]!.length;
        this.dicts[col]!.push(text);
        index.set(text, i);
      }
      return i;
    }
    if (this.specs[col]!.kind === "v" && typeof value === "string") return Number(value);
    return value;
  }

  /** A row of cells already coded with code(). */
  push(cells: readonly Cell[]): void {
    for (let c = 0; c < cells.length; c++) this.arrays[c]!.push(cells[c]!);
    this.rows++;
  }

  /** A row of plain values in column order. */
  add(values: readonly (Scalar | undefined)[]): void {
    for (let c = 0; c < this.specs.length; c++) this.arrays[c]!.push(this.code(c, values[c]));
    this.rows++;
  }

  build(): SnapshotTable {
    const columns: Record<string, Cell[]> = {};
    const dicts: Record<string, string[]> = {};
    this.specs.forEach((c, i) => {
      columns[c.name] = this.arrays[i]!;
      if (this.dicts[i]) dicts[c.name] = this.dicts[i]!;
    });
    return { rows: this.rows, columns, dicts };
  }
}

export class DocumentBuilder {
  private readonly builders = Object.fromEntries(ENTITY_TYPES.map((t) => [t, new TableBuilder(t)])) as Record<EntityType, TableBuilder>;

  constructor(private readonly capturedAt: string) {}

  table(type: EntityType): TableBuilder {
    return this.builders[type];
  }

  build(): SnapshotDocument {
    return {
      format: SNAPSHOT_FORMAT,
      captured_at: this.capturedAt,
      tables: Object.fromEntries(ENTITY_TYPES.map((t) => [t, this.builders[t].build()])) as Record<EntityType, SnapshotTable>,
    };
  }
}

/** A stored column: the cells, or (when that is shorter) their runs as [cell, count, cell, count, ...]. */
export type PackedColumn = Cell[] | { runs: Cell[] };

/** The stored form of a document (database blob, archive file): columns run-length packed where it pays. */
export interface PackedDocument {
  format: typeof SNAPSHOT_FORMAT;
  captured_at: string;
  tables: Record<EntityType, { rows: number; columns: Record<string, PackedColumn>; dicts: Record<string, string[]> }>;
}

/**
 * Run-length packs the columns that repeat (states, flags, a child's target):
 * most of a fleet's cells equal their neighbour's, and every byte saved is a
 * byte JSON.parse does not read when the snapshot is compared.
 */
export function packDocument(doc: SnapshotDocument): PackedDocument {
  const tables = {} as PackedDocument["tables"];
  for (const type of ENTITY_TYPES) {
    const t = doc.tables[type];
    const columns: Record<string, PackedColumn> = {};
    for (const [name, cells] of Object.entries(t.columns)) {
      let runs = 0;
      for (let i = 0; i < cells.length; i++) if (i === 0 || cells[i] !== cells[i - 1]) runs++;
      if (runs * 2 >= cells.length) {
        columns[name] = cells;
        continue;
      }
      const packed: Cell[] = [];
      for (let i = 0; i < cells.length;) {
        let j = i + 1;
        while (j < cells.length && cells[j] === cells[i]) j++;
        packed.push(cells[i]!, j - i);
        i = j;
      }
      columns[name] = { runs: packed };
    }
    tables[type] = { rows: t.rows, columns, dicts: t.dicts };
  }
  return { format: doc.format, captured_at: doc.captured_at, tables };
}

/** Checks a parsed stored document and unpacks its columns in place, so a corrupt one fails here, named, not deep in the diff. */
export function unpackDocument(parsed: unknown): SnapshotDocument {
  const d = parsed as Partial<PackedDocument> | null;
  if (!d || typeof d !== "object") throw new Error("snapshot document is not an object");
  if (d.format !== SNAPSHOT_FORMAT) throw new Error(`snapshot document format ${String(d.format)} is not supported (expected ${SNAPSHOT_FORMAT})`);
  if (!d.tables || typeof d.captured_at !== "string") throw new Error("snapshot document lacks tables or captured_at");
  for (const type of ENTITY_TYPES) {
    const t = d.tables[type];
    if (!t || typeof t.rows !== "number" || !t.columns || !t.dicts) throw new Error(`snapshot document lacks the ${type} table`);
    for (const c of columnsOf(type)) {
      let col = t.columns[c.name];
      if (col && !Array.isArray(col) && Array.isArray(col.runs)) {
        const cells = new Array<Cell>(t.rows);
        let at = 0;
        const runs = col.runs;
        for (let r = 0; r + 1 < runs.length && at <= t.rows; r += 2) {
          const n = Number(runs[r + 1]);
          if (!Number.isInteger(n) || n < 1 || at + n > t.rows) throw new Error(`snapshot document: column ${type}.${c.name} has a bad run`);
          cells.fill(runs[r]!, at, at + n);
          at += n;
        }
        if (at !== t.rows) throw new Error(`snapshot document: column ${type}.${c.name} has ${at} cells, not ${t.rows}`);
        t.columns[c.name] = col = cells;
      }
      if (!Array.isArray(col) || col.length !== t.rows) throw new Error(`snapshot document: column ${type}.${c.name} is missing or has the wrong length`);
      if ((c.kind === "s" || c.kind === "j") && !Array.isArray(t.dicts[c.name]))
        throw new Error(`snapshot document: column ${type}.${c.name} has no dictionary`);
    }
  }
  return d as SnapshotDocument;
}

/** Read access to one table of one document, values decoded. */
class TableView {
  readonly rows: number;
  readonly specs: ColumnSpec[];
  readonly arrays: Cell[][];
  readonly dicts: Array<string[] | null>;
  readonly keyCount: number;
  private readonly targetIds: Cell[];

  constructor(doc: SnapshotDocument, type: EntityType) {
    const table = doc.tables[type];
    this.rows = table.rows;
    this.specs = columnsOf(type);
    this.arrays = this.specs.map((c) => table.columns[c.name]!);
    this.dicts = this.specs.map((c) => table.dicts[c.name] ?? null);
    this.keyCount = ENTITY_SPECS[type].key.length;
    this.targetIds = doc.tables.target.columns.id!;
  }

  /** The stored value: strings decoded, target references as target ids, `j` columns still JSON text. */
  raw(row: number, col: number): Scalar {
    const x = this.arrays[col]![row];
    if (x === null || x === undefined) return null;
    const dict = this.dicts[col];
    if (dict) return dict[x as number]!;
    if (this.specs[col]!.kind === "t") return this.targetIds[x as number] as string;
    return x;
  }

  /** The value as shown to people: `j` columns parsed. */
  value(row: number, col: number): JsonValue {
    const x = this.raw(row, col);
    return this.specs[col]!.kind === "j" && typeof x === "string" ? (JSON.parse(x) as JsonValue) : x;
  }

  key(row: number): Scalar[] {
    const out: Scalar[] = [];
    for (let c = 0; c < this.keyCount; c++) out.push(this.raw(row, c));
    return out;
  }

  col(name: string): number {
    return this.specs.findIndex((c) => c.name === name);
  }
}

function compareScalar(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The one order of entity keys: columns left to right, numbers numerically, strings by UTF-16 code units. */
export function compareKeyTuples(a: readonly Scalar[], b: readonly Scalar[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareScalar(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Compares entity keys (from column `from` on) within and across two
 * documents. Dictionary columns are compared by their rank in the sorted union
 * of both dictionaries, so the hot comparisons are integer subtractions.
 */
class KeyOrder {
  private readonly cols: Array<{ kind: ColumnKind; a: Cell[]; b: Cell[]; rankA: Int32Array | null; rankB: Int32Array | null }> = [];

  constructor(va: TableView, vb: TableView, from: number) {
    for (let c = from; c < va.keyCount; c++) {
      const da = va.dicts[c];
      const db = vb.dicts[c];
      let rankA: Int32Array | null = null;
      let rankB: Int32Array | null = null;
      if (da && db) {
        const union = [...new Set([...da, ...db])].sort((x, y) => compareScalar(x, y));
        const rank = new Map(union.map((v, i) => [v, i]));
        rankA = Int32Array.from(da, (v) => rank.get(v)!);
        rankB = Int32Array.from(db, (v) => rank.get(v)!);
      }
      this.cols.push({ kind: va.specs[c]!.kind, a: va.arrays[c]!, b: vb.arrays[c]!, rankA, rankB });
    }
  }

  private cmp(x: Cell[], xr: Int32Array | null, i: number, y: Cell[], yr: Int32Array | null, k: number): number {
    const p = x[i]!;
    const q = y[k]!;
    if (p === null || q === null) return p === q ? 0 : p === null ? -1 : 1;
    if (xr && yr) return xr[p as number]! - yr[q as number]!;
    return compareScalar(p as Scalar, q as Scalar);
  }

  /** Row i of a against row k of b. */
  ab(i: number, k: number): number {
    for (const c of this.cols) {
      const r = this.cmp(c.a, c.rankA, i, c.b, c.rankB, k);
      if (r !== 0) return r;
    }
    return 0;
  }

  /** Two rows of one side. */
  within(side: "a" | "b", i: number, k: number): number {
    for (const c of this.cols) {
      const r = side === "a" ? this.cmp(c.a, c.rankA, i, c.a, c.rankA, k) : this.cmp(c.b, c.rankB, i, c.b, c.rankB, k);
      if (r !== 0) return r;
    }
    return 0;
  }
}

/** Target rows in id order: the identity for a captured document, sorted here otherwise. */
function targetOrder(rows: number, cmp: (i: number, k: number) => number): Int32Array {
  const order = new Int32Array(rows);
  let sorted = true;
  for (let i = 0; i < rows; i++) {
    order[i] = i;
    if (i > 0 && sorted && cmp(i - 1, i) >= 0) sorted = false;
  }
  if (!sorted) order.sort(cmp);
  return order;
}

/**
 * A child table's rows grouped by target (in target id order) and sorted by key
 * within each target, and where each target's rows are: `from[t]..to[t]` in `order`.
 */
function childOrder(view: TableView, rank: Int32Array, cmp: (i: number, k: number) => number): { order: Int32Array; from: Int32Array; to: Int32Array } {
  const n = view.rows;
  const tcol = view.arrays[0]!;
  const order = new Int32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && sorted) {
      const d = rank[tcol[i - 1] as number]! - rank[tcol[i] as number]!;
      if (d > 0 || (d === 0 && cmp(i - 1, i) >= 0)) sorted = false;
    }
  }
  if (!sorted) order.sort((p, q) => rank[tcol[p] as number]! - rank[tcol[q] as number]! || cmp(p, q));
  const from = new Int32Array(rank.length);
  const to = new Int32Array(rank.length);
  for (let i = 0; i < n;) {
    const t = tcol[order[i]!] as number;
    let j = i + 1;
    while (j < n && tcol[order[j]!] === t) j++;
    from[t] = i;
    to[t] = j;
    i = j;
  }
  return { order, from, to };
}

/** For each entry of a's dictionary, its index in b's (-1 when b lacks it): equality becomes an integer compare. */
function translate(da: string[], db: string[]): Int32Array {
  const index = new Map<string, number>();
  for (let i = 0; i < db.length; i++) index.set(db[i]!, i);
  const out = new Int32Array(da.length);
  for (let i = 0; i < da.length; i++) out[i] = index.get(da[i]!) ?? -1;
  return out;
}

export interface ChangeRef {
  type: EntityType;
  kind: ChangeKind;
  /** Row in document a (-1 when created). */
  a: number;
  /** Row in document b (-1 when deleted). */
  b: number;
  /** Changed field columns (indices into key+fields), for modified. */
  fields: number[];
}

export interface HealthIssue {
  code: string;
  severity: string;
  message: string;
}

export interface HealthDrop {
  targetId: string;
  name: string;
  role: string | null;
  before: number;
  after: number;
  /** Issues in b that a did not have (matched by code and severity). */
  newIssues: HealthIssue[];
}

export const CRITICAL_KINDS = ["production_target_gone", "new_port_on_production", "host_key_changed", "service_failed"] as const;
export type CriticalKind = (typeof CRITICAL_KINDS)[number];

export interface CriticalChange {
  kind: CriticalKind;
  targetId: string;
  targetName: string;
  message: string;
}

export type ChangeCounts = Record<EntityType, Record<ChangeKind, number>>;

export interface DiffOptions {
  includeVolatile: boolean;
}

export interface SnapshotDiff {
  counts: ChangeCounts;
  total: number;
  /** Every change, ordered by type (ENTITY_TYPES order), then entity key. */
  changes: ChangeRef[];
  healthDrops: HealthDrop[];
  critical: CriticalChange[];
  /** The full account of one change: names, field-level before/after, and with `full` every field of the entity. */
  describe(ref: ChangeRef, full: boolean): ChangeDetail;
  /** Where a change sits in `changes`' order, as [type index, ...entity key]: what a cursor remembers. */
  position(ref: ChangeRef): Scalar[];
}

export interface ChangeDetail {
  type: EntityType;
  change: ChangeKind;
  targetId: string;
  targetName: string;
  /** The entity's name within its target (the target's id for targets). */
  entity: string;
  /** Field-level before/after, for modified. */
  fields: Array<{ field: string; before: JsonValue; after: JsonValue }>;
  /** Every field of the entity (after; before for deleted), with detail "full". */
  values: Record<string, JsonValue> | null;
}

function emptyCounts(): ChangeCounts {
  return Object.fromEntries(ENTITY_TYPES.map((t) => [t, { created: 0, modified: 0, deleted: 0 }])) as ChangeCounts;
}

interface TargetIndex {
  view: TableView;
  byId: Map<string, number>;
  name: number;
  role: number;
  lifecycle: number;
}

function indexTargets(doc: SnapshotDocument): TargetIndex {
  const view = new TableView(doc, "target");
  const byId = new Map<string, number>();
  for (let i = 0; i < view.rows; i++) byId.set(String(view.raw(i, 0)), i);
  return { view, byId, name: view.col("name"), role: view.col("role"), lifecycle: view.col("lifecycle") };
}

function parseIssues(text: Scalar): HealthIssue[] {
  if (typeof text !== "string") return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((x): x is Record<string, unknown> => !!x && typeof x === "object")
      .map((x) => ({ code: String(x.code ?? "unknown"), severity: String(x.severity ?? "info"), message: String(x.message ?? "") }));
  } catch {
    return [];
  }
}

function newIssues(before: HealthIssue[], after: HealthIssue[]): HealthIssue[] {
  const seen = new Map<string, number>();
  for (const i of before) seen.set(`${i.code}|${i.severity}`, (seen.get(`${i.code}|${i.severity}`) ?? 0) + 1);
  const out: HealthIssue[] = [];
  for (const i of after) {
    const k = `${i.code}|${i.severity}`;
    const n = seen.get(k) ?? 0;
    if (n > 0) seen.set(k, n - 1);
    else out.push(i);
  }
  return out;
}

/**
 * What changed from a to b. Entities are matched by key; an entity present on
 * both sides is modified only when a non-volatile field differs (any field with
 * includeVolatile). Health drops and critical changes are found on every pass,
 * whatever includeVolatile says.
 */
export function diffDocuments(a: SnapshotDocument, b: SnapshotDocument, opts: DiffOptions): SnapshotDiff {
  const counts = emptyCounts();
  const changes: ChangeRef[] = [];
  const critical: CriticalChange[] = [];
  const healthDrops: HealthDrop[] = [];
  const ta = indexTargets(a);
  const tb = indexTargets(b);
  const targetName = (id: string) => {
    const ib = tb.byId.get(id);
    if (ib !== undefined) return String(tb.view.raw(ib, tb.name));
    const ia = ta.byId.get(id);
    return ia !== undefined ? String(ta.view.raw(ia, ta.name)) : id;
  };
  const isProduction = (t: TargetIndex, id: string) => {
    const i = t.byId.get(id);
    return i !== undefined && t.view.raw(i, t.role) === "production";
  };

  // Targets first: their merge is the order in which every child table is walked.
  const targetKeys = new KeyOrder(ta.view, tb.view, 0);
  const oa = targetOrder(ta.view.rows, (i, k) => targetKeys.within("a", i, k));
  const ob = targetOrder(tb.view.rows, (i, k) => targetKeys.within("b", i, k));
  const rankA = new Int32Array(oa.length);
  oa.forEach((row, i) => (rankA[row] = i));
  const rankB = new Int32Array(ob.length);
  ob.forEach((row, i) => (rankB[row] = i));
  /** [target row in a or -1, target row in b or -1], in target id order. */
  const pairs: Array<[number, number]> = [];
  for (let i = 0, k = 0; i < oa.length || k < ob.length;) {
    const ra = i < oa.length ? oa[i]! : -1;
    const rb = k < ob.length ? ob[k]! : -1;
    const cmp = ra < 0 ? 1 : rb < 0 ? -1 : targetKeys.ab(ra, rb);
    if (cmp < 0) (pairs.push([ra, -1]), i++);
    else if (cmp > 0) (pairs.push([-1, rb]), k++);
    else (pairs.push([ra, rb]), i++, k++);
  }

  const views = {} as Record<EntityType, { va: TableView; vb: TableView }>;
  for (const type of ENTITY_TYPES) {
    const spec = ENTITY_SPECS[type];
    const va = type === "target" ? ta.view : new TableView(a, type);
    const vb = type === "target" ? tb.view : new TableView(b, type);
    views[type] = { va, vb };
    const nCols = va.specs.length;
    const trans = va.specs.map((_, c) => (va.dicts[c] && vb.dicts[c] ? translate(va.dicts[c], vb.dicts[c]) : null));
    const conditional = va.specs.map((c) => (c.volatileWhen ? va.col(c.volatileWhen.column) : -1));
    const skipEntity = (view: TableView, row: number) => !opts.includeVolatile && spec.volatileEntity !== undefined && spec.volatileEntity(view.key(row));
    const hooks = HOOKS[type];
    const ctx: HookContext = { va, vb, ta, tb, critical, healthDrops, targetName, isProduction };

    const visit = (ra: number, rb: number) => {
      if (rb < 0) {
        hooks.deleted?.(ctx, ra);
        if (skipEntity(va, ra)) return;
        counts[type].deleted++;
        changes.push({ type, kind: "deleted", a: ra, b: -1, fields: [] });
        return;
      }
      if (ra < 0) {
        hooks.created?.(ctx, rb);
        if (skipEntity(vb, rb)) return;
        counts[type].created++;
        changes.push({ type, kind: "created", a: -1, b: rb, fields: [] });
        return;
      }
      hooks.matched?.(ctx, ra, rb);
      let changed: number[] | null = null;
      for (let c = va.keyCount; c < nCols; c++) {
        const before = va.arrays[c]![ra]!;
        const after = vb.arrays[c]![rb]!;
        const tr = trans[c];
        const same = tr ? (before === null ? after === null : after !== null && tr[before as number] === after) : before === after;
        if (same) continue;
        if (!opts.includeVolatile) {
          const col = va.specs[c]!;
          if (col.volatile) continue;
          const w = col.volatileWhen;
          if (w && (w.values.includes(String(va.raw(ra, conditional[c]!))) || w.values.includes(String(vb.raw(rb, conditional[c]!))))) continue;
        }
        (changed ??= []).push(c);
      }
      if (changed === null || skipEntity(vb, rb)) return;
      counts[type].modified++;
      changes.push({ type, kind: "modified", a: ra, b: rb, fields: changed });
    };

    if (type === "target") {
      for (const [ra, rb] of pairs) visit(ra, rb);
      continue;
    }
    const keys = new KeyOrder(va, vb, 1);
    const ca = childOrder(va, rankA, (i, k) => keys.within("a", i, k));
    const cb = childOrder(vb, rankB, (i, k) => keys.within("b", i, k));
    for (const [tA, tB] of pairs) {
      let i = tA >= 0 ? ca.from[tA]! : 0;
      const iEnd = tA >= 0 ? ca.to[tA]! : 0;
      let k = tB >= 0 ? cb.from[tB]! : 0;
      const kEnd = tB >= 0 ? cb.to[tB]! : 0;
      while (i < iEnd || k < kEnd) {
        const ra = i < iEnd ? ca.order[i]! : -1;
        const rb = k < kEnd ? cb.order[k]! : -1;
        const cmp = ra < 0 ? 1 : rb < 0 ? -1 : keys.ab(ra, rb);
        if (cmp < 0) (visit(ra, -1), i++);
        else if (cmp > 0) (visit(-1, rb), k++);
        else (visit(ra, rb), i++, k++);
      }
    }
  }
  critical.sort((x, y) => CRITICAL_KINDS.indexOf(x.kind) - CRITICAL_KINDS.indexOf(y.kind) || compareScalar(x.targetName, y.targetName));
  healthDrops.sort((x, y) => x.after - x.before - (y.after - y.before) || compareScalar(x.name, y.name));
  return {
    counts,
    total: changes.length,
    changes,
    healthDrops,
    critical,
    describe(ref, full) {
      const { va, vb } = views[ref.type];
      const view = ref.b >= 0 ? vb : va;
      const row = ref.b >= 0 ? ref.b : ref.a;
      const key = view.key(row);
      const fields = ref.fields.map((c) => ({ field: va.specs[c]!.name, before: va.value(ref.a, c), after: vb.value(ref.b, c) }));
      let values: Record<string, JsonValue> | null = null;
      if (full) {
        values = {};
        for (let c = view.keyCount; c < view.specs.length; c++) values[view.specs[c]!.name] = view.value(row, c);
      }
      const targetId = String(key[0]);
      return { type: ref.type, change: ref.kind, targetId, targetName: targetName(targetId), entity: ENTITY_SPECS[ref.type].label(key), fields, values };
    },
    position(ref) {
      const { va, vb } = views[ref.type];
      return [ENTITY_TYPES.indexOf(ref.type), ...(ref.a >= 0 ? va.key(ref.a) : vb.key(ref.b))];
    },
  };
}

interface HookContext {
  va: TableView;
  vb: TableView;
  ta: TargetIndex;
  tb: TargetIndex;
  critical: CriticalChange[];
  healthDrops: HealthDrop[];
  targetName(id: string): string;
  isProduction(t: TargetIndex, id: string): boolean;
}

interface Hooks {
  created?(ctx: HookContext, rb: number): void;
  deleted?(ctx: HookContext, ra: number): void;
  matched?(ctx: HookContext, ra: number, rb: number): void;
}

// The critical and health rules, per entity type. They look at every entity,
// volatile or not, so they hold whatever the caller asked to see.
const HOOKS: Record<EntityType, Hooks> = {
  target: {
    deleted(ctx, ra) {
      const id = String(ctx.va.raw(ra, 0));
      if (ctx.va.raw(ra, ctx.ta.role) === "production" && ctx.va.raw(ra, ctx.ta.lifecycle) !== "retired") {
        ctx.critical.push({
          kind: "production_target_gone",
          targetId: id,
          targetName: ctx.targetName(id),
          message: `Production target ${ctx.targetName(id)} (${id}) is gone from the inventory.`,
        });
      }
    },
    matched(ctx, ra, rb) {
      const { va, vb } = ctx;
      const id = String(va.raw(ra, 0));
      const name = String(vb.raw(rb, ctx.tb.name));
      const wasProduction = va.raw(ra, ctx.ta.role) === "production" || vb.raw(rb, ctx.tb.role) === "production";
      if (wasProduction && va.raw(ra, ctx.ta.lifecycle) !== "retired" && vb.raw(rb, ctx.tb.lifecycle) === "retired") {
        ctx.critical.push({ kind: "production_target_gone", targetId: id, targetName: name, message: `Production target ${name} (${id}) was retired.` });
      }
      const keyCol = va.col("host_key");
      const pendingCol = va.col("host_key_pending");
      const keyBefore = va.raw(ra, keyCol);
      const keyAfter = vb.raw(rb, keyCol);
      const pendingBefore = va.raw(ra, pendingCol);
      const pendingAfter = vb.raw(rb, pendingCol);
      if (keyBefore !== null && keyAfter !== null && keyBefore !== keyAfter) {
        ctx.critical.push({
          kind: "host_key_changed",
          targetId: id,
          targetName: name,
          message: `${name}: the trusted SSH host key changed from ${String(keyBefore)} to ${String(keyAfter)}.`,
        });
      } else if (pendingAfter !== null && pendingAfter !== pendingBefore) {
        ctx.critical.push({
          kind: "host_key_changed",
          targetId: id,
          targetName: name,
          message: `${name}: presented a different SSH host key ${String(pendingAfter)}; probes are refused until it is accepted (accept_host_key).`,
        });
      }
      const scoreCol = va.col("health_score");
      const before = va.raw(ra, scoreCol);
      const after = vb.raw(rb, scoreCol);
      if (typeof before === "number" && typeof after === "number" && after < before - 1e-9) {
        const issuesCol = va.col("health_issues");
        const role = vb.raw(rb, ctx.tb.role);
        ctx.healthDrops.push({
          targetId: id,
          name,
          role: role === null ? null : String(role),
          before,
          after,
          newIssues: newIssues(parseIssues(va.raw(ra, issuesCol)), parseIssues(vb.raw(rb, issuesCol))),
        });
      }
    },
  },
  service: {
    created(ctx, rb) {
      const id = String(ctx.vb.raw(rb, 0));
      // A new unit on a known target that is already failed; a new target's failures are its health's business.
      if (ctx.vb.raw(rb, ctx.vb.col("active")) === "failed" && ctx.ta.byId.has(id)) {
        ctx.critical.push({
          kind: "service_failed",
          targetId: id,
          targetName: ctx.targetName(id),
          message: `${ctx.targetName(id)}: new service ${String(ctx.vb.raw(rb, 1))} is failed.`,
        });
      }
    },
    matched(ctx, ra, rb) {
      const col = ctx.va.col("active");
      const before = ctx.va.raw(ra, col);
      if (ctx.vb.raw(rb, col) === "failed" && before !== "failed") {
        const id = String(ctx.vb.raw(rb, 0));
        ctx.critical.push({
          kind: "service_failed",
          targetId: id,
          targetName: ctx.targetName(id),
          message: `${ctx.targetName(id)}: service ${String(ctx.vb.raw(rb, 1))} failed (was ${String(before ?? "unknown")}).`,
        });
      }
    },
  },
  container: {},
  stack: {},
  port: {
    created(ctx, rb) {
      const id = String(ctx.vb.raw(rb, 0));
      // Only on a production host that existed before: a new host's ports are all new.
      if (!ctx.ta.byId.has(id) || !ctx.isProduction(ctx.tb, id)) return;
      const process = ctx.vb.raw(rb, ctx.vb.col("process"));
      ctx.critical.push({
        kind: "new_port_on_production",
        targetId: id,
        targetName: ctx.targetName(id),
        message: `Production target ${ctx.targetName(id)}: new listening port ${ENTITY_SPECS.port.label(ctx.vb.key(rb))}${process ? ` (${String(process)})` : ""}.`,
      });
    },
  },
  interface: {},
  filesystem: {},
};

/** Rows per entity type. */
export function documentCounts(doc: SnapshotDocument): Record<EntityType, number> {
  return Object.fromEntries(ENTITY_TYPES.map((t) => [t, doc.tables[t].rows])) as Record<EntityType, number>;
}
