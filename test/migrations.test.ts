// The committed migrations must match src/db/schema.ts, and openDb must leave a
// database that has every table, index and column of the schema, foreign keys on,
// WAL, and the audit log's append-only triggers.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { afterAll, describe, expect, it } from "vitest";
import { closeDb, openDb, type Db } from "../src/db/open.js";
import * as schema from "../src/db/schema.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MIGRATIONS = join(ROOT, "src", "db", "migrations");
const SCHEMA = join(ROOT, "src", "db", "schema.ts");
const DRIZZLE_TIMEOUT_MS = 60_000;

const tmpDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `fleet-mcp-${prefix}-`));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function drizzleKit(): { cmd: string; args: string[] } {
  const bin = join(ROOT, "node_modules", "drizzle-kit", "bin.cjs");
  if (existsSync(bin)) return { cmd: process.execPath, args: [bin] };
  const shim = join(ROOT, "node_modules", ".bin", "drizzle-kit");
  if (existsSync(shim)) return { cmd: shim, args: [] };
  throw new Error("drizzle-kit is not installed (neither node_modules/drizzle-kit/bin.cjs nor node_modules/.bin/drizzle-kit): run npm ci");
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

interface GenerateResult {
  newSql: string[];
  newOther: string[];
  output: string;
  status: number | null;
  error: string | null;
}

/**
 * Runs `drizzle-kit generate` for `schemaPath` against a copy of the committed
 * migrations and reports what it added. drizzle-kit mangles absolute --out/--schema
 * paths (it prefixes "./") and still exits 0, so both are passed relative to the
 * project root, and its output is checked for errors.
 */
function generateAgainstCommitted(schemaPath: string): GenerateResult {
  const out = join(tempDir("migrations"), "migrations");
  cpSync(MIGRATIONS, out, { recursive: true });
  const before = new Set(listFiles(out));
  const { cmd, args } = drizzleKit();
  const r = spawnSync(cmd, [...args, "generate", "--dialect", "sqlite", "--schema", relative(ROOT, schemaPath), "--out", relative(ROOT, out)], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: DRIZZLE_TIMEOUT_MS,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const output = `--- drizzle-kit stdout ---\n${r.stdout ?? ""}\n--- drizzle-kit stderr ---\n${r.stderr ?? ""}`;
  const added = listFiles(out).filter((f) => !before.has(f));
  let error: string | null = null;
  if (r.error)
    error = `could not run drizzle-kit: ${r.error.message}${r.signal ? ` (${r.signal}; it may be waiting for an interactive rename prompt — run \`npm run db:generate\` yourself)` : ""}`;
  else if (r.status !== 0) error = `drizzle-kit exited ${r.status}`;
  else if (/\berror\b/i.test(r.stderr ?? "")) error = "drizzle-kit reported an error (it exits 0 even then)";
  else if (!/\d+ tables?/.test(r.stdout ?? "")) error = "drizzle-kit did not print its table summary: did it read the schema?";
  return {
    newSql: added.filter((f) => f.endsWith(".sql")),
    newOther: added.filter((f) => !f.endsWith(".sql")),
    output,
    status: r.status,
    error,
  };
}

describe("committed migrations match src/db/schema.ts", () => {
  it(
    "drizzle-kit generate finds nothing to migrate",
    () => {
      const r = generateAgainstCommitted(SCHEMA);
      expect(r.error, `${r.error}\n${r.output}`).toBeNull();
      expect(
        r.newSql,
        `src/db/schema.ts changed without a committed migration. Run \`npm run db:generate\` and commit the new files in src/db/migrations.\n` +
          `drizzle-kit would add: ${[...r.newSql, ...r.newOther].join(", ")}\n${r.output}`,
      ).toEqual([]);
      expect(r.newOther, `drizzle-kit added files without SQL:\n${r.output}`).toEqual([]);
    },
    DRIZZLE_TIMEOUT_MS + 10_000,
  );

  it(
    "self-test: a schema with an extra table does produce a new migration",
    () => {
      // The schema copy needs drizzle-orm: give its directory the project's node_modules.
      const dir = tempDir("schema");
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
      const changed = join(dir, "schema.ts");
      writeFileSync(changed, `${readFileSync(SCHEMA, "utf8")}\nexport const zzCanary = sqliteTable("zz_canary", { id: integer("id").primaryKey() });\n`);
      const r = generateAgainstCommitted(changed);
      expect(r.error, `${r.error}\n${r.output}`).toBeNull();
      expect(r.newSql, r.output).toHaveLength(1);
    },
    DRIZZLE_TIMEOUT_MS + 10_000,
  );

  it("every .sql file is in the journal, with a snapshot, in increasing time order", () => {
    const journal = JSON.parse(readFileSync(join(MIGRATIONS, "meta", "_journal.json"), "utf8")) as {
      dialect: string;
      entries: Array<{ idx: number; when: number; tag: string }>;
    };
    expect(journal.dialect).toBe("sqlite");
    const sqlFiles = readdirSync(MIGRATIONS)
      .filter((f) => f.endsWith(".sql"))
      .sort();
    // A .sql file missing from the journal is silently never applied.
    expect(sqlFiles, "src/db/migrations/*.sql and meta/_journal.json disagree").toEqual(journal.entries.map((e) => `${e.tag}.sql`).sort());
    journal.entries.forEach((e, i) => {
      expect(e.idx, `journal entry ${e.tag}`).toBe(i);
      expect(existsSync(join(MIGRATIONS, "meta", `${String(e.idx).padStart(4, "0")}_snapshot.json`)), `snapshot of ${e.tag}`).toBe(true);
      // The SQLite migrator skips, on existing databases, a migration not newer than the last applied one.
      if (i > 0) expect(e.when, `journal "when" of ${e.tag} must be later than the previous entry's`).toBeGreaterThan(journal.entries[i - 1]!.when);
    });
  });
});

const tables = (Object.values(schema) as unknown[]).filter((v): v is SQLiteTable => is(v, SQLiteTable));

describe("openDb", () => {
  it("applies the migrations: every schema table, column and index exists; foreign keys on; audit triggers present", () => {
    expect(tables.length, "no Drizzle tables found in src/db/schema.ts").toBeGreaterThan(0);
    const db = openDb(":memory:");
    try {
      const master = db.$client.prepare("SELECT type, name, tbl_name AS tbl FROM sqlite_master").all() as Array<{ type: string; name: string; tbl: string }>;
      const names = (type: string) => master.filter((m) => m.type === type).map((m) => m.name);

      const missing = tables.map((t) => getTableConfig(t).name).filter((n) => !names("table").includes(n));
      expect(missing, "schema tables missing from the migrated database").toEqual([]);

      for (const t of tables) {
        const cfg = getTableConfig(t);
        const cols = (db.$client.pragma(`table_info(${JSON.stringify(cfg.name)})`) as Array<{ name: string }>).map((c) => c.name).sort();
        expect(cols, `columns of ${cfg.name}`).toEqual(cfg.columns.map((c) => c.name).sort());
        for (const idx of cfg.indexes) expect(names("index"), `index ${idx.config.name} on ${cfg.name}`).toContain(idx.config.name);
      }

      expect(db.$client.pragma("foreign_keys", { simple: true })).toBe(1);

      const triggers = master.filter((m) => m.type === "trigger");
      for (const name of ["audit_log_no_update", "audit_log_no_delete"]) {
        expect(triggers.find((t) => t.name === name)?.tbl, `trigger ${name}`).toBe("audit_log");
      }
    } finally {
      closeDb(db);
    }
  });

  it("on a file: creates missing parent directories, uses WAL, and reopens without re-migrating", () => {
    const base = tempDir("opendb");
    const path = join(base, "a", "b", "fleet.db");
    expect(existsSync(join(base, "a"))).toBe(false);
    let db: Db = openDb(path);
    try {
      expect(existsSync(path)).toBe(true);
      expect(db.$client.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.$client.pragma("foreign_keys", { simple: true })).toBe(1);
    } finally {
      closeDb(db);
    }
    closeDb(db); // closing twice is harmless
    db = openDb(path);
    try {
      expect(db.$client.pragma("journal_mode", { simple: true })).toBe("wal");
      const applied = db.$client.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
      const journal = JSON.parse(readFileSync(join(MIGRATIONS, "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
      expect(applied.n).toBe(journal.entries.length);
    } finally {
      closeDb(db);
    }
  });
});
