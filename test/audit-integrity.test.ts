// Audit integrity (issue 9, item 6): what `fleet-mcp audit verify` (the built
// CLI, as an operator runs it) catches when the audit log is tampered with, and
// what it cannot. Every tampering here first drops the append-only triggers, as
// an attacker with write access to the database file would. audit.test.ts and
// cli.test.ts cover the triggers themselves, one edit, one middle deletion and
// one swap; this file goes column by column and covers the remaining ways in:
// first/last/all rows deleted, ids renumbered, rows inserted or appended with and
// without the hash scheme, and a rewrite that re-chains everything after it.
// The limits (tail truncation, an unkeyed chain recomputed by someone with write
// access) are asserted as limits, together with what does reveal them: the row
// count and head hash that `audit verify` prints, compared with a recorded pair.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, openDb } from "../src/db/open.js";
import { appendAudit, auditRowHash, GENESIS_HASH, type AuditEntryInput, type AuditRow } from "../src/inventory/audit.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const ROWS = 6;

let work = "";
let pristine = "";
/** The chain as written: rows[i] is row id i + 1. */
let written: AuditRow[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = mkdtempSync(join(tmpdir(), "fleet-audit-integrity-"));
  pristine = join(work, "pristine.db");
  const db = openDb(pristine);
  try {
    const base: Partial<AuditEntryInput> = { clientName: "claude-code", clientVersion: "2.1.0", sessionId: null, principal: null };
    const entries: AuditEntryInput[] = [
      { ts: "2026-03-01T10:00:00.000Z", tool: "get_fleet_overview", arguments: {}, outcome: "ok", durationMs: 14, error: null },
      {
        ts: "2026-03-01T10:00:05.250Z",
        tool: "get_target",
        arguments: { target: "web-01" },
        outcome: "tool_error",
        durationMs: 3,
        error: 'No target named "web-01".',
      },
      { ts: "2026-03-01T10:01:00.000Z", tool: "run_discovery", arguments: { sources: ["lab"] }, outcome: "ok", durationMs: 1840, error: null },
      // Over HTTP: a session and the bearer token's name are recorded (and hashed) too.
      {
        ts: "2026-03-01T10:02:00.000Z",
        tool: "set_target_role",
        arguments: { target: "db-1", role: "production" },
        outcome: "ok",
        durationMs: 7,
        error: null,
        sessionId: "sess-7f3a",
        principal: "ops-laptop",
      },
      { ts: "2026-03-01T10:03:00.000Z", tool: "drop_all_tables", arguments: { really: true }, outcome: "unknown_tool", durationMs: 0, error: "Unknown tool" },
      {
        ts: "2026-03-01T10:04:00.000Z",
        tool: "query_audit_log",
        arguments: { limit: 10 },
        outcome: "ok",
        durationMs: 2,
        error: null,
        sessionId: "sess-7f3a",
        principal: "ops-laptop",
      },
    ].map((e, i) => ({ ...base, ...e, ts: new Date(e.ts), correlationId: `00000000-0000-4000-8000-00000000000${i + 1}` }) as AuditEntryInput);
    written = entries.map((e) => appendAudit(db, e));
  } finally {
    closeDb(db);
  }
  expect(written.map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 6]);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

let seq = 0;
/** A fresh copy of the pristine database, tampered with by `fn` with the append-only triggers dropped. */
function tampered(fn: (raw: Database.Database) => void): string {
  const path = join(work, `case-${++seq}.db`);
  copyFileSync(pristine, path);
  const raw = new Database(path);
  try {
    raw.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
    fn(raw);
  } finally {
    raw.close();
  }
  return path;
}

interface Verify {
  code: number;
  stdout: string;
  stderr: string;
}

function verify(path: string, json = false): Promise<Verify> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: join(work, "home"), XDG_DATA_HOME: join(work, "xdg") };
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "audit", "verify", "--db", path, ...(json ? ["--json"] : [])], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Verify) => `\nexit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

async function expectBroken(path: string, row: number, reason: RegExp, json = false): Promise<void> {
  const r = await verify(path);
  expect(r.code, show(r)).toBe(1);
  expect(r.stdout, show(r)).toMatch(new RegExp(`BROKEN at row ${row}: `));
  expect(r.stdout, show(r)).toMatch(reason);
  if (!json) return;
  const rj = await verify(path, true);
  expect(rj.code, show(rj)).toBe(1);
  const j = JSON.parse(rj.stdout) as { ok: boolean; head_hash: string | null; first_bad: { id: number; reason: string } };
  expect(j).toMatchObject({ ok: false, head_hash: null, first_bad: { id: row } });
}

const MODIFIED = /was modified/;
const RECHAINED = /rows were removed, inserted or reordered/;
const MISSING = /rows are missing or renumbered/;

/** The row as audit_log stores it, column names as in SQL. */
function sqlRow(r: AuditRow): Record<string, unknown> {
  return {
    id: r.id,
    ts: r.ts,
    correlation_id: r.correlationId,
    tool: r.tool,
    arguments: r.arguments,
    outcome: r.outcome,
    duration_ms: r.durationMs,
    error: r.error,
    client_name: r.clientName,
    client_version: r.clientVersion,
    session_id: r.sessionId,
    principal: r.principal,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

const INSERT = `INSERT INTO audit_log (id, ts, correlation_id, tool, arguments, outcome, duration_ms, error, client_name, client_version, session_id, principal, prev_hash, hash)
  VALUES (@id, @ts, @correlation_id, @tool, @arguments, @outcome, @duration_ms, @error, @client_name, @client_version, @session_id, @principal, @prev_hash, @hash)`;

/** A row that never happened: someone quietly granting a role, chained onto `prev`. */
function forged(id: number, prev: string): Omit<AuditRow, "hash"> {
  return {
    id,
    ts: "2026-03-01T10:02:30.000Z",
    correlationId: "00000000-0000-4000-8000-0000000000ff",
    tool: "set_target_role",
    arguments: '{"target":"bastion","role":"unassigned"}',
    outcome: "ok",
    durationMs: 5,
    error: null,
    clientName: "claude-code",
    clientVersion: "2.1.0",
    sessionId: null,
    principal: null,
    prevHash: prev,
  };
}

describe("audit verify on an intact log", () => {
  it("exits 0 and prints the row count and the head hash, the pair an operator records", async () => {
    const r = await verify(pristine);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(`audit log OK: ${ROWS} row(s), hash chain intact, head ${written[ROWS - 1]!.hash.slice(0, 16)}`);
    const j = JSON.parse((await verify(pristine, true)).stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ ok: true, rows: ROWS, head_hash: written[ROWS - 1]!.hash, first_bad: null });
  });
});

describe("detected: audit verify exits 1 and names the row", () => {
  // Every column but the hash itself is covered by the row's hash.
  const edits: Array<[column: string, value: string | number | null]> = [
    ["ts", "2026-03-01T09:59:00.000Z"],
    ["correlation_id", "00000000-0000-4000-8000-000000000099"],
    ["tool", "get_fleet_overview"],
    ["arguments", '{"sources":["prod"]}'],
    ["outcome", "tool_error"],
    ["duration_ms", 18],
    ["error", "timeout"],
    ["client_name", "cursor"],
    ["client_version", "2.1.1"],
    ["session_id", "sess-0000"],
    ["principal", "intruder"],
  ];
  for (const [column, value] of edits) {
    it(`an edit of row 3's ${column}`, async () => {
      const path = tampered((raw) => expect(raw.prepare(`UPDATE audit_log SET ${column} = ? WHERE id = 3`).run(value).changes).toBe(1));
      await expectBroken(path, 3, MODIFIED, column === "arguments");
    });
  }

  it("an edit of row 4's principal and session (an HTTP call re-attributed)", async () => {
    const path = tampered((raw) => raw.prepare("UPDATE audit_log SET principal = 'ci-bot', session_id = NULL WHERE id = 4").run());
    await expectBroken(path, 4, MODIFIED);
  });

  it("an edit of a row's stored hash or prev_hash", async () => {
    await expectBroken(
      tampered((raw) => raw.prepare("UPDATE audit_log SET hash = ? WHERE id = 2").run("f".repeat(64))),
      2,
      MODIFIED,
    );
    await expectBroken(
      tampered((raw) => raw.prepare("UPDATE audit_log SET prev_hash = ? WHERE id = 2").run("0".repeat(64))),
      2,
      RECHAINED,
    );
  });

  it("an edit whose row hash was recomputed (the scheme is public), without re-chaining the rows after it", async () => {
    const path = tampered((raw) => {
      const row = { ...written[2]!, outcome: "tool_error", error: "nothing happened" };
      raw.prepare("UPDATE audit_log SET outcome = ?, error = ?, hash = ? WHERE id = 3").run(row.outcome, row.error, auditRowHash(row));
    });
    await expectBroken(path, 4, RECHAINED);
  });

  it("the first row deleted", async () => {
    await expectBroken(
      tampered((raw) => raw.prepare("DELETE FROM audit_log WHERE id = 1").run()),
      2,
      MISSING,
    );
  });

  it("a middle row deleted and the ids after it renumbered to close the gap", async () => {
    const path = tampered((raw) => {
      raw.prepare("DELETE FROM audit_log WHERE id = 3").run();
      // Renumber one at a time, lowest first, so the primary key never collides.
      for (let id = 4; id <= ROWS; id++) raw.prepare("UPDATE audit_log SET id = id - 1 WHERE id = ?").run(id);
    });
    // Row 3 is now the old row 4: its id is in its hash, and its prev_hash points at the deleted row.
    await expectBroken(path, 3, RECHAINED);
  });

  it("two rows swapped wholesale (every column but the id, hashes included)", async () => {
    const path = tampered((raw) => {
      const put = raw.prepare(
        `UPDATE audit_log SET ts=@ts, correlation_id=@correlation_id, tool=@tool, arguments=@arguments, outcome=@outcome, duration_ms=@duration_ms,
           error=@error, client_name=@client_name, client_version=@client_version, session_id=@session_id, principal=@principal,
           prev_hash=@prev_hash, hash=@hash WHERE id=@target`,
      );
      // The hash column is unique: park both hashes first.
      raw.prepare("UPDATE audit_log SET hash = 'parked-' || id WHERE id IN (2, 5)").run();
      put.run({ ...sqlRow(written[4]!), target: 2 });
      put.run({ ...sqlRow(written[1]!), target: 5 });
    });
    await expectBroken(path, 2, RECHAINED, true);
  });

  it("two rows reordered by swapping their ids", async () => {
    const path = tampered((raw) => {
      raw.prepare("UPDATE audit_log SET id = 100 WHERE id = 2").run();
      raw.prepare("UPDATE audit_log SET id = 2 WHERE id = 3").run();
      raw.prepare("UPDATE audit_log SET id = 3 WHERE id = 100").run();
    });
    await expectBroken(path, 2, RECHAINED);
  });

  it("a forged row inserted in the middle without a valid hash (ids after it shifted up)", async () => {
    const path = tampered((raw) => {
      for (let id = ROWS; id >= 4; id--) raw.prepare("UPDATE audit_log SET id = id + 1 WHERE id = ?").run(id);
      raw.prepare(INSERT).run(sqlRow({ ...forged(4, written[2]!.hash), hash: "a".repeat(64) }));
    });
    await expectBroken(path, 4, MODIFIED);
  });

  it("a forged row inserted in the middle with a recomputed hash, the rows after it left alone", async () => {
    const path = tampered((raw) => {
      for (let id = ROWS; id >= 4; id--) raw.prepare("UPDATE audit_log SET id = id + 1 WHERE id = ?").run(id);
      const row = forged(4, written[2]!.hash);
      raw.prepare(INSERT).run(sqlRow({ ...row, hash: auditRowHash(row) }));
    });
    // Row 5 (the old row 4) still links to the old row 3, not to the forged row.
    await expectBroken(path, 5, RECHAINED);
  });

  it("a forged row appended with a made-up hash (INSERT needs no trigger dropped)", async () => {
    const path = join(work, `case-${++seq}.db`);
    copyFileSync(pristine, path);
    const raw = new Database(path);
    try {
      raw.prepare(INSERT).run(sqlRow({ ...forged(ROWS + 1, written[ROWS - 1]!.hash), hash: "b".repeat(64) }));
    } finally {
      raw.close();
    }
    await expectBroken(path, ROWS + 1, MODIFIED);
  });

  it("a gap in the ids (rows after a deleted one moved up by one)", async () => {
    const path = tampered((raw) => {
      for (let id = ROWS; id >= 4; id--) raw.prepare("UPDATE audit_log SET id = id + 1 WHERE id = ?").run(id);
    });
    await expectBroken(path, 5, MISSING);
  });
});

describe("not detectable by the chain alone (limits, compared against a recorded head instead)", () => {
  const recorded = () => ({ rows: ROWS, head: written[ROWS - 1]!.hash });

  async function verifiesAs(path: string): Promise<{ rows: number; head_hash: string }> {
    const r = await verify(path);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/audit log OK: \d+ row\(s\), hash chain intact, head [0-9a-f]{16}/);
    const rj = await verify(path, true);
    expect(rj.code, show(rj)).toBe(0);
    const j = JSON.parse(rj.stdout) as { ok: boolean; rows: number; head_hash: string };
    expect(j.ok).toBe(true);
    // What audit verify prints is exactly what its --json says.
    expect(r.stdout).toContain(`OK: ${j.rows} row(s), hash chain intact, head ${j.head_hash.slice(0, 16)}`);
    return j;
  }

  it("the last row deleted (tail truncation): the chain verifies, but the row count and head hash no longer match the recorded ones", async () => {
    const j = await verifiesAs(tampered((raw) => raw.prepare("DELETE FROM audit_log WHERE id = ?").run(ROWS)));
    expect(j).toEqual(expect.objectContaining({ rows: ROWS - 1, head_hash: written[ROWS - 2]!.hash }));
    expect(j.rows).not.toBe(recorded().rows);
    expect(j.head_hash).not.toBe(recorded().head);
  });

  it("every row deleted: an empty log verifies with the genesis head", async () => {
    const j = await verifiesAs(tampered((raw) => raw.prepare("DELETE FROM audit_log").run()));
    expect(j).toEqual(expect.objectContaining({ rows: 0, head_hash: GENESIS_HASH }));
  });

  it("a forged row appended with the recomputed hash (the chain is unkeyed SHA-256; no trigger needs dropping)", async () => {
    const path = join(work, `case-${++seq}.db`);
    copyFileSync(pristine, path);
    const raw = new Database(path);
    try {
      const row = forged(ROWS + 1, written[ROWS - 1]!.hash);
      raw.prepare(INSERT).run(sqlRow({ ...row, hash: auditRowHash(row) }));
    } finally {
      raw.close();
    }
    const j = await verifiesAs(path);
    expect(j.rows).toBe(ROWS + 1);
    // Appends are normal: only a row count and head recorded after this point would tell the forged row from a real one.
    // What the recorded pair does show is that the rows up to it are unchanged: row 6 still has the recorded hash.
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare("SELECT hash FROM audit_log WHERE id = ?").pluck().get(recorded().rows)).toBe(recorded().head);
    } finally {
      check.close();
    }
  });

  it("a middle row rewritten and every row after it re-chained: verifies, but the recorded head no longer matches its row", async () => {
    const path = tampered((raw) => {
      let prev = written[1]!.hash;
      for (const orig of written.slice(2)) {
        const row = { ...orig, prevHash: prev, ...(orig.id === 3 ? { arguments: '{"sources":["prod"]}' } : {}) };
        const { hash: _old, ...rest } = row;
        const hash = auditRowHash(rest);
        raw.prepare("UPDATE audit_log SET arguments = ?, prev_hash = ?, hash = ? WHERE id = ?").run(row.arguments, prev, hash, row.id);
        prev = hash;
      }
    });
    const j = await verifiesAs(path);
    expect(j.rows).toBe(recorded().rows);
    expect(j.head_hash).not.toBe(recorded().head);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.prepare("SELECT hash FROM audit_log WHERE id = ?").pluck().get(recorded().rows)).not.toBe(recorded().head);
    } finally {
      check.close();
    }
  });
});
