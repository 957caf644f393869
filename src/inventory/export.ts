// Export and import of the whole inventory as one JSON document, lossless:
// export -> import into an empty database -> export gives the same bytes.
//
// Every table of src/db/schema.ts is exported, found by iterating the schema
// module, so a table added later cannot be silently left out. Derived data (the
// FTS5 search index and its pending-changes queue, tables of a custom migration
// kept by triggers) is not exported: inserting the base rows rebuilds it.
//
// Both directions stream: export yields the document in chunks while it reads
// rows, and import parses one row at a time from chunks of any size, so a
// million rows never sit in memory as one document. The document is laid out
// one row per line, but import does not rely on the layout: any valid JSON with
// the same content (pretty-printed, re-indented) imports the same.
//
// Raw SQL through db.$client here, deliberately: rows are read and written as
// SQLite stores them (Drizzle would map booleans, JSON and blobs on the way),
// reading streams with .iterate(), the import's transaction spans awaited input
// (Drizzle's better-sqlite3 transactions are synchronous), and sqlite_sequence
// and deferred foreign keys have no Drizzle form.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { is, max } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { MIGRATIONS_DIR, type Db } from "../db/open.js";
import * as schema from "../db/schema.js";
import { discoveryRuns } from "../db/schema.js";
import { flushSearchIndex } from "./search.js";

export const EXPORT_FORMAT = "fleet-mcp-inventory";
/** Version of the document layout; the schema tag says which tables and columns it holds. */
export const EXPORT_VERSION = 1;

/** Thrown when the database cannot be exported losslessly; the message names the table, row and column. */
export class ExportError extends Error {
  override name = "ExportError";
}

/** Thrown when a document is refused; nothing was written. The message says what is wrong and where. */
export class ImportError extends Error {
  override name = "ImportError";
}

export interface ExportColumn {
  name: string;
  /** Written as base64 in the document. */
  blob: boolean;
}

export interface ExportTable {
  name: string;
  columns: ExportColumn[];
  /** The primary key columns (every column when there is none): the row order, so output is deterministic. */
  orderBy: string[];
  /** The AUTOINCREMENT id column, whose sqlite_sequence value is exported too. */
  autoIncrement: string | null;
}

export interface TransferSummary {
  /** Migration tag of the schema the rows belong to. */
  schema: string;
  /** Latest finished_at of discovery_runs, or null. */
  inventoryAsOf: string | null;
  /** Rows per table, in document order. */
  tables: Record<string, number>;
  rows: number;
}

let tablesCache: ExportTable[] | null = null;

/**
 * The exported tables: every SQLiteTable the schema module exports, parents
 * before children (by foreign key), then by name.
 */
export function exportTables(): ExportTable[] {
  if (tablesCache) return tablesCache;
  const found = new Map<string, { table: ExportTable; parents: Set<string> }>();
  for (const value of Object.values(schema)) {
    if (!is(value, SQLiteTable)) continue;
    const cfg = getTableConfig(value);
    const composite = cfg.primaryKeys[0]?.columns.map((c) => c.name);
    const single = cfg.columns.filter((c) => c.primary).map((c) => c.name);
    const pk = composite?.length ? composite : single;
    const auto = cfg.columns.find((c) => c.primary && "autoIncrement" in c && c.autoIncrement === true);
    found.set(cfg.name, {
      table: {
        name: cfg.name,
        columns: cfg.columns.map((c) => ({ name: c.name, blob: c.getSQLType() === "blob" })),
        orderBy: pk.length ? pk : cfg.columns.map((c) => c.name),
        autoIncrement: auto?.name ?? null,
      },
      parents: new Set(cfg.foreignKeys.map((fk) => getTableConfig(fk.reference().foreignTable).name).filter((p) => p !== cfg.name)),
    });
  }
  const ordered: ExportTable[] = [];
  const done = new Set<string>();
  const names = [...found.keys()].sort();
  while (ordered.length < names.length) {
    const next = names.find((n) => !done.has(n) && [...found.get(n)!.parents].every((p) => done.has(p) || !found.has(p)));
    // A foreign-key cycle cannot be ordered; fall back to name order for what is left (import defers FK checks anyway).
    const pick = next ?? names.find((n) => !done.has(n))!;
    done.add(pick);
    ordered.push(found.get(pick)!.table);
  }
  tablesCache = ordered;
  return ordered;
}

interface JournalEntry {
  tag: string;
  when: number;
}

function migrationJournal(): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as { entries: JournalEntry[] };
  return journal.entries;
}

/** Tag of the newest migration this build knows. */
export function latestSchemaTag(): string {
  const entries = migrationJournal();
  return entries[entries.length - 1]!.tag;
}

/**
 * The migration the database is at, from drizzle's own record (created_at is the
 * journal's `when`): a database migrated by a newer fleet-mcp has columns this
 * build would not export, so it is refused rather than exported short.
 */
function databaseSchemaTag(db: Db): string {
  let row: { created_at: number | bigint } | undefined;
  try {
    row = db.$client.prepare("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1").safeIntegers(false).get() as typeof row;
  } catch {
    throw new ExportError("this database has no migration record: it was not created by fleet-mcp");
  }
  const entries = migrationJournal();
  const entry = row ? entries.find((e) => e.when === Number(row.created_at)) : undefined;
  if (!entry) throw new ExportError(`this database is at a schema this fleet-mcp does not know (its latest is ${latestSchemaTag()}): upgrade fleet-mcp`);
  if (entry.tag !== entries[entries.length - 1]!.tag) {
    throw new ExportError(`this database is at schema ${entry.tag}, not ${latestSchemaTag()}: open it once with this fleet-mcp (any command) to migrate it`);
  }
  return entry.tag;
}

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

function inventoryAsOf(db: Db): string | null {
  return (
    db
      .select({ v: max(discoveryRuns.finishedAt) })
      .from(discoveryRuns)
      .get()?.v ?? null
  );
}

function sequenceOf(db: Db, table: string): number | null {
  const row = db.$client.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?").safeIntegers(false).get(table) as { seq: number } | undefined;
  return row ? row.seq : null;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function encodeRow(t: ExportTable, row: unknown[], index: number): string {
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    const col = t.columns[i]!;
    if (v === null || typeof v === "string") {
      if (col.blob && v !== null)
        throw new ExportError(`${t.name}.${col.name} of row ${index + 1} holds text in a blob column; it cannot be exported losslessly`);
      continue;
    }
    if (typeof v === "bigint") {
      // JSON numbers are doubles: a larger integer would come back different.
      if (v > MAX_SAFE || v < -MAX_SAFE) throw new ExportError(`${t.name}.${col.name} of row ${index + 1} is ${v}, beyond what JSON keeps exactly`);
      row[i] = Number(v);
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new ExportError(`${t.name}.${col.name} of row ${index + 1} is ${v}, which JSON cannot hold`);
    } else if (Buffer.isBuffer(v)) {
      if (!col.blob) throw new ExportError(`${t.name}.${col.name} of row ${index + 1} holds a blob in a non-blob column; it cannot be exported losslessly`);
      row[i] = v.toString("base64");
    }
  }
  return JSON.stringify(row);
}

/**
 * The inventory as a JSON document, in chunks of about `chunkChars` characters,
 * read in one read transaction (a consistent picture while discovery writes
 * beside it, WAL). The transaction stays open until the generator finishes or
 * is returned, so nothing else may use this connection meanwhile.
 */
export function* exportInventory(db: Db, opts: { chunkChars?: number } = {}): Generator<string, TransferSummary, void> {
  const client = db.$client;
  const limit = opts.chunkChars ?? 64 * 1024;
  const tables = exportTables();
  const ownTx = !client.inTransaction;
  if (ownTx) client.exec("BEGIN");
  try {
    const tag = databaseSchemaTag(db);
    const asOf = inventoryAsOf(db);
    const counts: Record<string, number> = {};
    let total = 0;
    let buf = `{"format":${JSON.stringify(EXPORT_FORMAT)},"version":${EXPORT_VERSION},"schema":${JSON.stringify(tag)},"inventory_as_of":${JSON.stringify(asOf)},"tables":{`;
    for (const [ti, t] of tables.entries()) {
      const seq = t.autoIncrement ? sequenceOf(db, t.name) : null;
      buf += `${ti ? "," : ""}\n${JSON.stringify(t.name)}:{"columns":${JSON.stringify(t.columns.map((c) => c.name))}`;
      buf += `${seq !== null ? `,"sequence":${seq}` : ""},"rows":[`;
      const stmt = client
        .prepare(`SELECT ${t.columns.map((c) => q(c.name)).join(", ")} FROM ${q(t.name)} ORDER BY ${t.orderBy.map(q).join(", ")}`)
        .raw(true)
        .safeIntegers(true);
      let n = 0;
      for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
        buf += `${n ? "," : ""}\n${encodeRow(t, row, n)}`;
        n++;
        if (buf.length >= limit) {
          yield buf;
          buf = "";
        }
      }
      buf += n ? "\n]}" : "]}";
      counts[t.name] = n;
      total += n;
    }
    yield `${buf}\n}}\n`;
    return { schema: tag, inventoryAsOf: asOf, tables: counts, rows: total };
  } finally {
    if (ownTx && client.inTransaction) client.exec("COMMIT");
  }
}

/** The whole document as one string: for tests and small inventories. */
export function exportInventoryText(db: Db): string {
  let out = "";
  for (const chunk of exportInventory(db)) out += chunk;
  return out;
}

/** Streams the document to `out`, honouring backpressure; resolves once the last chunk is flushed. */
export async function writeInventoryExport(db: Db, out: Writable): Promise<TransferSummary> {
  let failed: Error | null = null;
  const onError = (err: Error) => {
    failed ??= err;
  };
  out.on("error", onError);
  const it = exportInventory(db);
  try {
    for (;;) {
      const r = it.next();
      if (r.done) {
        await new Promise<void>((resolve, reject) => out.write("", (err) => (err ? reject(err) : resolve())));
        if (failed) throw failed;
        return r.value;
      }
      if (failed) throw failed;
      if (!out.write(r.value)) {
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error) => {
            out.off("drain", done);
            out.off("error", done);
            if (err) reject(err);
            else resolve();
          };
          out.once("drain", done);
          out.once("error", done);
        });
      }
    }
  } finally {
    it.return(undefined as never);
    out.off("error", onError);
  }
}

/**
 * Writes the document to `path` atomically: a temp file in the same directory
 * (mode 0600: the audit log holds tool arguments), fsync, rename. A failure
 * leaves any previous file at `path` untouched.
 */
export async function exportInventoryToFile(db: Db, path: string): Promise<TransferSummary> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", 0o600);
  let ok = false;
  try {
    await fh.chmod(0o600);
    const it = exportInventory(db);
    let summary: TransferSummary;
    try {
      for (;;) {
        const r = it.next();
        if (r.done) {
          summary = r.value;
          break;
        }
        await fh.write(r.value);
      }
    } finally {
      it.return(undefined as never);
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    ok = true;
    return summary;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
    }
  }
}

// ---------------------------------------------------------------------------
// Import

type Input = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/**
 * Imports a document into an empty inventory, in one transaction: any refusal
 * (bad document, bad row, a row the database rejects) leaves the database as it
 * was. Ids are kept as exported and sqlite_sequence is set from the document, so
 * new rows continue where the exported database would have.
 */
export async function importInventory(db: Db, input: Input): Promise<TransferSummary> {
  const client = db.$client;
  if (client.inTransaction) throw new Error("importInventory needs a connection with no open transaction");
  const importer = new Importer(db);
  // IMMEDIATE: the emptiness check and the writes see the same database, even beside a running server.
  client.exec("BEGIN IMMEDIATE");
  try {
    // Rows arrive in document order, not foreign-key order: check references once, at the end.
    client.pragma("defer_foreign_keys = ON");
    importer.checkEmpty();
    const scanner = new DocumentScanner(importer);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const decode = (bytes?: Uint8Array) => {
      try {
        return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
      } catch {
        throw new ImportError("the document is not valid UTF-8");
      }
    };
    for await (const chunk of input) scanner.write(typeof chunk === "string" ? chunk : decode(chunk));
    scanner.write(decode());
    scanner.end();
    const summary = importer.finish();
    // The insert triggers only noted the new rows for the search index; index them
    // now, in the same transaction (nested: a savepoint), so the import is complete.
    flushSearchIndex(db);
    client.exec("COMMIT");
    return summary;
  } catch (err) {
    if (client.inTransaction) client.exec("ROLLBACK");
    throw err;
  }
}

interface TableState {
  spec: ExportTable;
  columns: ExportColumn[] | null;
  sequence: number | null;
  sawRows: boolean;
  rows: number;
  insert: { run(...values: unknown[]): unknown } | null;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEADER_KEYS = ["format", "version", "schema", "inventory_as_of", "tables"];

class Importer {
  private readonly specs = new Map(exportTables().map((t) => [t.name, t]));
  private readonly journal = migrationJournal().map((e) => e.tag);
  private readonly latest = this.journal[this.journal.length - 1]!;
  private readonly header = new Map<string, unknown>();
  private readonly tables = new Map<string, TableState>();
  private sawTables = false;

  constructor(private readonly db: Db) {}

  checkEmpty(): void {
    const used = [...this.specs.values()].filter((t) => this.db.$client.prepare(`SELECT 1 FROM ${q(t.name)} LIMIT 1`).get() !== undefined).map((t) => t.name);
    if (used.length) {
      throw new ImportError(`the target inventory is not empty (rows in ${used.join(", ")}); import only into a new database: pass a new --db path`);
    }
  }

  headerValue(key: string, value: unknown): void {
    if (!HEADER_KEYS.includes(key)) {
      const hint = this.header.has("format") ? "" : ` (no "format": "${EXPORT_FORMAT}" before it: is this a fleet-mcp export?)`;
      throw new ImportError(`unknown top-level key ${JSON.stringify(key)}${hint}; expected ${HEADER_KEYS.join(", ")}`);
    }
    if (this.header.has(key)) throw new ImportError(`duplicate top-level key ${JSON.stringify(key)}`);
    this.header.set(key, value);
    if (key === "format" && value !== EXPORT_FORMAT) {
      throw new ImportError(`not a fleet-mcp inventory export: "format" is ${JSON.stringify(value)}, expected "${EXPORT_FORMAT}"`);
    }
    if (key === "version") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
        throw new ImportError(`"version" must be a positive integer, got ${JSON.stringify(value)}`);
      if (value > EXPORT_VERSION) {
        throw new ImportError(`the document is version ${value}, newer than this fleet-mcp reads (${EXPORT_VERSION}): upgrade fleet-mcp to import it`);
      }
    }
    if (key === "schema") {
      if (typeof value !== "string") throw new ImportError(`"schema" must be a migration tag string, got ${JSON.stringify(value)}`);
      if (!this.journal.includes(value)) {
        throw new ImportError(
          `the document is from schema ${JSON.stringify(value)}, which this fleet-mcp does not know (its latest is ${this.latest}): upgrade fleet-mcp to import it`,
        );
      }
    }
    if (key === "inventory_as_of" && value !== null && typeof value !== "string") {
      throw new ImportError(`"inventory_as_of" must be a string or null, got ${JSON.stringify(value)}`);
    }
  }

  tablesStart(): void {
    if (this.sawTables) throw new ImportError('duplicate top-level key "tables"');
    this.sawTables = true;
  }

  tableStart(name: string): void {
    const spec = this.specs.get(name);
    if (!spec) throw new ImportError(`unknown table ${JSON.stringify(name)}${this.olderHint()}; this fleet-mcp has: ${[...this.specs.keys()].join(", ")}`);
    if (this.tables.has(name)) throw new ImportError(`table ${JSON.stringify(name)} appears twice`);
    this.tables.set(name, { spec, columns: null, sequence: null, sawRows: false, rows: 0, insert: null });
  }

  tableField(name: string, key: string, value: unknown): void {
    const t = this.tables.get(name)!;
    if (key === "columns") {
      if (t.columns) throw new ImportError(`tables.${name}: "columns" appears twice`);
      if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === "string")) {
        throw new ImportError(`tables.${name}.columns must be a non-empty array of column names`);
      }
      const byName = new Map(t.spec.columns.map((c) => [c.name, c]));
      const seen = new Set<string>();
      t.columns = (value as string[]).map((c) => {
        const col = byName.get(c);
        if (!col)
          throw new ImportError(
            `unknown column ${JSON.stringify(c)} in table ${JSON.stringify(name)}${this.olderHint()}; its columns: ${[...byName.keys()].join(", ")}`,
          );
        if (seen.has(c)) throw new ImportError(`column ${JSON.stringify(c)} appears twice in tables.${name}.columns`);
        seen.add(c);
        return col;
      });
      this.checkMissingColumns(t);
      t.insert = this.db.$client.prepare(
        `INSERT INTO ${q(name)} (${t.columns.map((c) => q(c.name)).join(", ")}) VALUES (${t.columns.map(() => "?").join(", ")})`,
      );
    } else if (key === "sequence") {
      if (!t.spec.autoIncrement) throw new ImportError(`tables.${name} has a "sequence", but ${name} has no AUTOINCREMENT id`);
      if (t.sequence !== null) throw new ImportError(`tables.${name}: "sequence" appears twice`);
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
        throw new ImportError(`tables.${name}.sequence must be a non-negative integer`);
      t.sequence = value;
    } else {
      throw new ImportError(`unknown key ${JSON.stringify(key)} in tables.${name}; expected columns, sequence, rows`);
    }
  }

  rowsStart(name: string): void {
    const t = this.tables.get(name)!;
    if (t.sawRows) throw new ImportError(`tables.${name}: "rows" appears twice`);
    if (!t.columns) throw new ImportError(`tables.${name}: "columns" must come before "rows"`);
    t.sawRows = true;
  }

  row(name: string, index: number, value: unknown): void {
    const t = this.tables.get(name)!;
    const cols = t.columns!;
    const where = `tables.${name}.rows[${index}]`;
    if (!Array.isArray(value)) throw new ImportError(`${where} is not an array`);
    if (value.length !== cols.length) {
      throw new ImportError(`${where} has ${value.length} value(s), but ${cols.length} columns are declared (${cols.map((c) => c.name).join(", ")})`);
    }
    for (let i = 0; i < cols.length; i++) {
      const v: unknown = value[i];
      if (v === null) continue;
      if (cols[i]!.blob) {
        if (typeof v !== "string" || !BASE64.test(v)) throw new ImportError(`${where}: ${cols[i]!.name} must be base64 or null`);
        value[i] = Buffer.from(v, "base64");
      } else if (typeof v !== "string" && typeof v !== "number") {
        throw new ImportError(`${where}: ${cols[i]!.name} must be a string, a number or null, got ${JSON.stringify(v).slice(0, 60)}`);
      }
    }
    try {
      t.insert!.run(...value);
    } catch (err) {
      throw new ImportError(`${where} was refused by the database: ${(err as Error).message}`);
    }
    t.rows++;
  }

  tableEnd(name: string): void {
    const t = this.tables.get(name)!;
    if (!t.sawRows) throw new ImportError(`tables.${name} has no "rows"`);
    const id = t.spec.autoIncrement;
    if (!id) return;
    // Inserting explicit ids already moved sqlite_sequence to the largest one; the
    // exported value may be higher (rows deleted before the export) and wins.
    const client = this.db.$client;
    const top = (client.prepare(`SELECT max(${q(id)}) AS m FROM ${q(name)}`).get() as { m: number | null }).m;
    const want = t.sequence ?? top;
    if (want !== null && top !== null && want < top) throw new ImportError(`tables.${name}.sequence is ${want}, below the largest ${id} (${top})`);
    client.prepare("DELETE FROM sqlite_sequence WHERE name = ?").run(name);
    if (want !== null) client.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)").run(name, want);
  }

  finish(): TransferSummary {
    for (const key of ["format", "version", "schema"]) {
      if (!this.header.has(key)) throw new ImportError(`not a fleet-mcp inventory export: no "${key}"`);
    }
    if (!this.sawTables) throw new ImportError('the document has no "tables"');
    for (const t of this.tables.values()) this.checkMissingColumns(t);
    if (this.header.get("schema") === this.latest) {
      const missing = [...this.specs.keys()].filter((n) => !this.tables.has(n));
      if (missing.length) throw new ImportError(`tables missing from the document: ${missing.join(", ")} (a ${this.latest} export has every table)`);
    }
    const violations = this.db.$client.pragma("foreign_key_check") as Array<{ table: string; parent: string }>;
    if (violations.length) {
      const first = violations[0]!;
      throw new ImportError(
        `${violations.length} row(s) refer to rows that are not in the document (first: a row of ${first.table} refers to a missing ${first.parent} row)`,
      );
    }
    const asOf = inventoryAsOf(this.db);
    const declared = this.header.get("inventory_as_of") ?? null;
    if (declared !== asOf) {
      throw new ImportError(`"inventory_as_of" is ${JSON.stringify(declared)}, but the discovery runs in the document say ${JSON.stringify(asOf)}`);
    }
    const counts: Record<string, number> = {};
    let total = 0;
    for (const [name, t] of this.tables) {
      counts[name] = t.rows;
      total += t.rows;
    }
    return { schema: this.header.get("schema") as string, inventoryAsOf: asOf, tables: counts, rows: total };
  }

  /** An older document may lack columns added since (they take their defaults); a current one must have them all. */
  private checkMissingColumns(t: TableState): void {
    if (!t.columns || !this.header.has("schema") || this.header.get("schema") !== this.latest) return;
    const have = new Set(t.columns.map((c) => c.name));
    const missing = t.spec.columns.filter((c) => !have.has(c.name)).map((c) => c.name);
    if (missing.length) throw new ImportError(`tables.${t.spec.name}.columns lacks ${missing.join(", ")} (a ${this.latest} export has every column)`);
  }

  private olderHint(): string {
    const s = this.header.get("schema");
    return typeof s === "string" && s !== this.latest ? ` (the document is from schema ${s}; this fleet-mcp is at ${this.latest})` : "";
  }
}

// ---------------------------------------------------------------------------
// A streaming reader for the document. It walks the structure the importer
// needs (the root object, "tables", each table object, each "rows" array) and
// hands every other value, each row included, to JSON.parse whole: so memory is
// one row, and JSON.parse does the validating.

type ObjState = "first" | "key" | "colon" | "value" | "next";
type Frame =
  | { type: "root" | "tables"; state: ObjState; key: string }
  | { type: "table"; name: string; state: ObjState; key: string }
  | { type: "rows"; table: string; state: "first" | "value" | "next"; count: number };

interface Capture {
  kind: "string" | "nested" | "scalar";
  purpose: "key" | "value";
  parts: string[];
  depth: number;
  inStr: boolean;
  esc: boolean;
}

const STRING_STOP = /["\\]/g;
const NESTED_STOP = /["[\]{}]/g;
const SCALAR_STOP = /[\s,\]}:]/g;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

class DocumentScanner {
  private readonly stack: Frame[] = [];
  private cap: Capture | null = null;
  private started = false;
  private finished = false;
  /** Characters consumed before the current chunk, for error positions. */
  private offset = 0;

  constructor(private readonly sink: Importer) {}

  write(s: string): void {
    if (!this.started && this.offset === 0 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    let i = 0;
    while (i < s.length) {
      if (this.cap) {
        i = this.continueCapture(s, i);
        continue;
      }
      const c = s.charCodeAt(i);
      if (isWs(c)) {
        i++;
        continue;
      }
      i = this.structural(s, i);
    }
    this.offset += s.length;
  }

  end(): void {
    if (this.cap?.kind === "scalar") this.finishCapture();
    if (!this.started) throw new ImportError("the document is empty");
    if (this.cap || this.stack.length)
      throw new ImportError(`the document ends early (truncated?) inside ${this.cap?.purpose === "key" ? "a key of " : ""}${this.where()}`);
  }

  private where(): string {
    const top = this.stack[this.stack.length - 1];
    if (!top) return "the document";
    if (top.type === "rows") return `tables.${top.table}.rows[${top.count}]`;
    if (top.type === "table") return `tables.${top.name}`;
    return top.type === "tables" ? "tables" : "the top-level object";
  }

  private fail(s: string, i: number, what: string): never {
    const near = JSON.stringify(s.slice(i, i + 20));
    throw new ImportError(`invalid JSON at character ${this.offset + i} (in ${this.where()}): ${what}, found ${near}`);
  }

  private structural(s: string, i: number): number {
    const ch = s[i]!;
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.finished) this.fail(s, i, "nothing may follow the document");
      if (ch !== "{") throw new ImportError("not a fleet-mcp inventory export: the document is not a JSON object");
      this.started = true;
      this.stack.push({ type: "root", state: "first", key: "" });
      return i + 1;
    }
    if (top.type === "rows") {
      if (top.state === "next") {
        if (ch === ",") top.state = "value";
        else if (ch === "]") this.close();
        else this.fail(s, i, 'expected "," or "]" after a row');
        return i + 1;
      }
      if (top.state === "first" && ch === "]") {
        this.close();
        return i + 1;
      }
      return this.startCapture(s, i, "value");
    }
    switch (top.state) {
      case "first":
      case "key":
        if (ch === "}" && top.state === "first") {
          this.close();
          return i + 1;
        }
        if (ch !== '"') this.fail(s, i, "expected a key");
        return this.startCapture(s, i, "key");
      case "colon":
        if (ch !== ":") this.fail(s, i, 'expected ":"');
        top.state = "value";
        return i + 1;
      case "next":
        if (ch === ",") top.state = "key";
        else if (ch === "}") this.close();
        else this.fail(s, i, 'expected "," or "}"');
        return i + 1;
      case "value":
        return this.startValue(s, i, top);
    }
  }

  /** A value inside one of the walked objects: walk into it, or capture it whole. */
  private startValue(s: string, i: number, top: Exclude<Frame, { type: "rows" }>): number {
    const ch = s[i]!;
    if (top.type === "root" && top.key === "tables") {
      if (ch !== "{") throw new ImportError('"tables" must be an object of tables');
      this.sink.tablesStart();
      this.stack.push({ type: "tables", state: "first", key: "" });
      return i + 1;
    }
    if (top.type === "tables") {
      if (ch !== "{") throw new ImportError(`tables.${top.key} must be an object with columns and rows`);
      this.sink.tableStart(top.key);
      this.stack.push({ type: "table", name: top.key, state: "first", key: "" });
      return i + 1;
    }
    if (top.type === "table" && top.key === "rows") {
      if (ch !== "[") throw new ImportError(`tables.${top.name}.rows must be an array`);
      this.sink.rowsStart(top.name);
      this.stack.push({ type: "rows", table: top.name, state: "first", count: 0 });
      return i + 1;
    }
    return this.startCapture(s, i, "value");
  }

  private close(): void {
    const done = this.stack.pop()!;
    if (done.type === "table") this.sink.tableEnd(done.name);
    const parent = this.stack[this.stack.length - 1];
    if (parent) parent.state = "next";
    else this.finished = true;
  }

  private startCapture(s: string, i: number, purpose: Capture["purpose"]): number {
    const ch = s[i]!;
    const kind = ch === '"' ? "string" : ch === "[" || ch === "{" ? "nested" : "scalar";
    if (purpose === "key" && kind !== "string") this.fail(s, i, "expected a key");
    if (kind === "scalar" && !/[-0-9tfn]/.test(ch)) this.fail(s, i, "expected a value");
    this.cap = { kind, purpose, parts: [], depth: kind === "nested" ? 1 : 0, inStr: kind === "string", esc: false };
    if (kind === "scalar") return this.continueCapture(s, i);
    this.cap.parts.push(ch);
    return this.continueCapture(s, i + 1);
  }

  /** Consumes from `i` until the captured value ends or the chunk does; returns where it stopped. */
  private continueCapture(s: string, i: number): number {
    const cap = this.cap!;
    let j = i;
    let complete = false;
    if (cap.kind === "scalar") {
      SCALAR_STOP.lastIndex = j;
      const m = SCALAR_STOP.exec(s);
      j = m ? m.index : s.length;
      complete = m !== null;
    } else {
      while (j < s.length) {
        if (cap.esc) {
          cap.esc = false;
          j++;
          continue;
        }
        const re = cap.inStr ? STRING_STOP : NESTED_STOP;
        re.lastIndex = j;
        const m = re.exec(s);
        if (!m) {
          j = s.length;
          break;
        }
        const ch = s[m.index];
        j = m.index + 1;
        if (cap.inStr) {
          if (ch === "\\") cap.esc = true;
          else {
            cap.inStr = false;
            if (cap.kind === "string") {
              complete = true;
              break;
            }
          }
        } else if (ch === '"') cap.inStr = true;
        else if (ch === "[" || ch === "{") cap.depth++;
        else if (--cap.depth === 0) {
          complete = true;
          break;
        }
      }
    }
    cap.parts.push(s.slice(i, j));
    if (complete) this.finishCapture();
    return j;
  }

  private finishCapture(): void {
    const cap = this.cap!;
    this.cap = null;
    const raw = cap.parts.join("");
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new ImportError(`invalid JSON in ${this.where()}: ${(err as Error).message}`);
    }
    const top = this.stack[this.stack.length - 1]!;
    if (top.type === "rows") {
      this.sink.row(top.table, top.count, value);
      top.count++;
      top.state = "next";
      return;
    }
    if (cap.purpose === "key") {
      top.key = value as string;
      top.state = "colon";
      return;
    }
    if (top.type === "root") this.sink.headerValue(top.key, value);
    else if (top.type === "table") this.sink.tableField(top.name, top.key, value);
    top.state = "next";
  }
}
