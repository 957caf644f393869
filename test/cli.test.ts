// The built CLI (dist/cli.js), end to end: usage and exit codes, discover, where
// the database goes, `audit verify` against a tampered audit log, config errors.
// Every run gets a temp database and temp HOME/XDG_DATA_HOME, never the real ones.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, RUN_TIMEOUT_MS, ensureBuilt, runCli as runCliIn, show, type CliResult } from "./support/cli.js";
import { closeDb, openDb } from "../src/db/open.js";
import { appendAudit, type AuditEntryInput } from "../src/inventory/audit.js";

const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 10_000;

let work = "";
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "fleet-mcp-cli-"));
  ensureBuilt();
}, 320_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

let seq = 0;
/** A fresh directory under the run's temp dir. */
function dir(name: string): string {
  const d = join(work, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Runs `node dist/cli.js ...args` isolated from the user's environment and files (a fresh home unless given). */
function runCli(args: string[], opts: { env?: Record<string, string>; home?: string } = {}): Promise<CliResult> {
  return runCliIn(args, { cwd: work, home: opts.home ?? dir("home"), ...(opts.env ? { env: opts.env } : {}) });
}

describe("fleet-mcp CLI (dist/cli.js)", () => {
  it("--help exits 0 and prints the usage on stdout", { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await runCli(["--help"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr, show(r)).toBe("");
    for (const word of ["Usage", "serve", "discover", "audit", "--db", "--config", "Exit codes"]) expect(r.stdout, show(r)).toContain(word);
  });

  it("--version exits 0 and prints package.json's version", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await runCli(["--version"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.trim(), show(r)).toBe(version);
  });

  it("an unknown command exits 2 naming it, with the usage", { timeout: TEST_TIMEOUT_MS }, async () => {
    const d = dir("unknown");
    const r = await runCli(["frobnicate", "--db", join(d, "fleet.db")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stdout, show(r)).toBe("");
    expect(r.stderr, show(r)).toMatch(/unknown command "frobnicate"/);
    expect(r.stderr, show(r)).toContain("Usage");
  });

  it("serve with a tools.allow name that is no tool exits 2 naming it, without a stack trace", { timeout: TEST_TIMEOUT_MS }, async () => {
    const d = dir("bad-tools");
    const cfg = join(d, "fleet.config.json");
    writeFileSync(cfg, JSON.stringify({ tools: { allow: ["no_such_tool"] } }));
    const r = await runCli(["serve", "--config", cfg, "--db", join(d, "fleet.db")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr, show(r)).toContain("no_such_tool");
    expect(r.stderr, show(r)).not.toMatch(/\n\s+at /);
  });

  it("an unknown option exits 2", { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await runCli(["discover", "--frobnicate"]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr, show(r)).toMatch(/frobnicate/);
  });

  it("`audit` without `verify` exits 2 and suggests it", { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await runCli(["audit", "--db", join(dir("audit-sub"), "fleet.db")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr, show(r)).toContain("audit verify");
  });

  describe("discover", () => {
    it("prints a summary with the run number and the local source", { timeout: TEST_TIMEOUT_MS }, async () => {
      const db = join(dir("discover"), "fleet.db");
      const r = await runCli(["discover", "--db", db]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout, show(r)).toContain("Discovery run 1");
      expect(r.stdout, show(r)).toMatch(/^local\s+local\s/m);
      expect(existsSync(db)).toBe(true);
    });

    it("--json prints only a JSON run report", { timeout: TEST_TIMEOUT_MS }, async () => {
      const db = join(dir("discover-json"), "fleet.db");
      const r = await runCli(["discover", "--json", "--db", db]);
      expect(r.code, show(r)).toBe(0);
      let report: { runId: number; status: string; targetsSeen: number; sources: Array<{ id: string }> };
      try {
        report = JSON.parse(r.stdout) as typeof report;
      } catch (err) {
        throw new Error(`stdout is not JSON (${(err as Error).message})${show(r)}`);
      }
      expect(["ok", "partial"], show(r)).toContain(report.status);
      expect(report.targetsSeen, show(r)).toBe(1);
      expect(report.runId, show(r)).toBe(1);
      expect(report.sources.map((s) => s.id)).toEqual(["local"]);
    });

    it("--source with an unknown id exits 2 and lists the configured sources", { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await runCli(["discover", "--source", "nope", "--db", join(dir("discover-nope"), "fleet.db")]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stdout, show(r)).toBe("");
      expect(r.stderr, show(r)).toMatch(/"nope"/);
      expect(r.stderr, show(r)).toMatch(/\blocal\b/);
    });
  });

  describe("where the database goes", () => {
    it("without --db, FLEET_DB is used (parents created)", { timeout: TEST_TIMEOUT_MS }, async () => {
      const home = dir("fleet-db-env");
      const db = join(home, "from-env", "nested", "fleet.db");
      const r = await runCli(["discover"], { home, env: { FLEET_DB: db } });
      expect(r.code, show(r)).toBe(0);
      expect(existsSync(db), `${db} was not created${show(r)}`).toBe(true);
      expect(existsSync(join(home, "xdg", "fleet-mcp")), "XDG default used although FLEET_DB was set").toBe(false);
    });

    it("--db wins over FLEET_DB", { timeout: TEST_TIMEOUT_MS }, async () => {
      const home = dir("db-flag-wins");
      const flag = join(home, "flag.db");
      const env = join(home, "env.db");
      const r = await runCli(["discover", "--db", flag], { home, env: { FLEET_DB: env } });
      expect(r.code, show(r)).toBe(0);
      expect(existsSync(flag)).toBe(true);
      expect(existsSync(env)).toBe(false);
    });

    it("with neither, it is $XDG_DATA_HOME/fleet-mcp/fleet.db (and nothing under HOME)", { timeout: TEST_TIMEOUT_MS }, async () => {
      const home = dir("xdg-default");
      const r = await runCli(["discover"], { home });
      expect(r.code, show(r)).toBe(0);
      const db = join(home, "xdg", "fleet-mcp", "fleet.db");
      expect(existsSync(db), `${db} was not created${show(r)}`).toBe(true);
      expect(existsSync(join(home, "home")), "something was written under HOME").toBe(false);
    });
  });

  describe("audit verify", () => {
    it("on a fresh database exits 0 and says OK", { timeout: TEST_TIMEOUT_MS }, async () => {
      const path = join(dir("audit-fresh"), "fleet.db");
      closeDb(openDb(path));
      const r = await runCli(["audit", "verify", "--db", path]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout, show(r)).toMatch(/audit log OK: 0 row\(s\), hash chain intact, head 0{16}/);
    });

    it("a database path that does not exist exits 2 instead of creating an empty log and calling it OK", { timeout: TEST_TIMEOUT_MS }, async () => {
      const path = join(dir("audit-missing"), "typo", "fleet.db");
      const r = await runCli(["audit", "verify", "--db", path]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toContain(`no database at ${path}`);
      expect(existsSync(path)).toBe(false);
    });

    it("an empty FLEET_DB counts as unset", { timeout: TEST_TIMEOUT_MS }, async () => {
      const home = dir("empty-fleet-db");
      const r = await runCli(["discover"], { home, env: { FLEET_DB: "", FLEET_LOG_LEVEL: "" } });
      expect(r.code, show(r)).toBe(0);
      expect(existsSync(join(home, "xdg", "fleet-mcp", "fleet.db"))).toBe(true);
    });

    /** A database with three chained audit rows written by the real appendAudit; row 2 is a tool_error. */
    function auditedDb(name: string): string {
      const path = join(dir(name), "fleet.db");
      const db = openDb(path);
      try {
        const base = { clientName: "claude-code", clientVersion: "2.1.0", sessionId: null, principal: null } satisfies Partial<AuditEntryInput>;
        const rows = [
          appendAudit(db, {
            ...base,
            ts: new Date("2026-03-01T10:00:00.000Z"),
            correlationId: randomUUID(),
            tool: "get_fleet_overview",
            arguments: {},
            outcome: "ok",
            durationMs: 14,
            error: null,
          }),
          appendAudit(db, {
            ...base,
            ts: new Date("2026-03-01T10:00:05.250Z"),
            correlationId: randomUUID(),
            tool: "get_target",
            arguments: { name: "web-01" },
            outcome: "tool_error",
            durationMs: 3,
            error: 'No target named "web-01". Did you mean "web-1"?',
          }),
          appendAudit(db, {
            ...base,
            ts: new Date("2026-03-01T10:01:00.000Z"),
            correlationId: randomUUID(),
            tool: "run_discovery",
            arguments: { sources: ["local"] },
            outcome: "ok",
            durationMs: 1840,
            error: null,
          }),
        ];
        expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
      } finally {
        closeDb(db);
      }
      return path;
    }

    it("accepts the chain appendAudit wrote", { timeout: TEST_TIMEOUT_MS }, async () => {
      const path = auditedDb("audit-intact");
      const r = await runCli(["audit", "verify", "--db", path]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout, show(r)).toContain("OK");
      expect(r.stdout, show(r)).toMatch(/\b3 row/);
    });

    it("names row 2 when row 2 was edited (update trigger dropped)", { timeout: TEST_TIMEOUT_MS }, async () => {
      const path = auditedDb("audit-edited");
      const raw = new Database(path);
      try {
        raw.exec("DROP TRIGGER audit_log_no_update");
        const before = raw.prepare("SELECT outcome FROM audit_log WHERE id = 2").get() as { outcome: string };
        expect(before.outcome).not.toBe("ok");
        expect(raw.prepare("UPDATE audit_log SET outcome = 'ok' WHERE id = 2").run().changes).toBe(1);
      } finally {
        raw.close();
      }
      const r = await runCli(["audit", "verify", "--db", path]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stdout, show(r)).toMatch(/\brow 2\b/);
      expect(r.stdout, show(r)).not.toMatch(/\bOK\b/); // ("BROKEN" contains "OK")
    });

    it("names row 3 when row 2 was deleted (delete trigger dropped)", { timeout: TEST_TIMEOUT_MS }, async () => {
      const path = auditedDb("audit-deleted");
      const raw = new Database(path);
      try {
        raw.exec("DROP TRIGGER audit_log_no_delete");
        expect(raw.prepare("DELETE FROM audit_log WHERE id = 2").run().changes).toBe(1);
      } finally {
        raw.close();
      }
      const r = await runCli(["audit", "verify", "--db", path]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stdout, show(r)).toMatch(/\brow 3\b/);
    });

    it("with the triggers intact, the database itself refuses UPDATE and DELETE", () => {
      const path = auditedDb("audit-triggers");
      const raw = new Database(path);
      try {
        expect(() => raw.prepare("UPDATE audit_log SET outcome = 'ok' WHERE id = 2").run()).toThrow(/append-only/);
        expect(() => raw.prepare("DELETE FROM audit_log WHERE id = 2").run()).toThrow(/append-only/);
        expect((raw.prepare("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n).toBe(3);
        expect((raw.prepare("SELECT outcome FROM audit_log WHERE id = 2").get() as { outcome: string }).outcome).toBe("tool_error");
      } finally {
        raw.close();
      }
    });
  });

  describe("config file errors", () => {
    it("an unknown key exits 2 and names the key, before creating the database", { timeout: TEST_TIMEOUT_MS }, async () => {
      const d = dir("config-unknown-key");
      const config = join(d, "config.json");
      writeFileSync(config, JSON.stringify({ sources: [{ kind: "local" }], discovery_interval: 60 }));
      const db = join(d, "fleet.db");
      const r = await runCli(["discover", "--config", config, "--db", db]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toContain("discovery_interval");
      expect(r.stdout, show(r)).toBe("");
      expect(existsSync(db), "the database was created despite the bad config").toBe(false);
    });

    it("an unknown key inside a source exits 2 and names it", { timeout: TEST_TIMEOUT_MS }, async () => {
      const d = dir("config-unknown-source-key");
      const config = join(d, "config.json");
      writeFileSync(config, JSON.stringify({ sources: [{ kind: "local", timout_ms: 5000 }] }));
      const r = await runCli(["discover", "--config", config, "--db", join(d, "fleet.db")]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toContain("timout_ms");
    });

    it("invalid JSON exits 2 and says so", { timeout: TEST_TIMEOUT_MS }, async () => {
      const d = dir("config-bad-json");
      const config = join(d, "config.json");
      writeFileSync(config, '{ "sources": [ { "kind": "local" } ], }\n');
      const db = join(d, "fleet.db");
      const r = await runCli(["discover", "--config", config, "--db", db]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toMatch(/JSON/);
      expect(r.stderr, show(r)).toContain(config);
      expect(existsSync(db)).toBe(false);
    });

    it("a missing config file exits 2 naming the path", { timeout: TEST_TIMEOUT_MS }, async () => {
      const d = dir("config-missing");
      const config = join(d, "nope.json");
      const r = await runCli(["discover", "--config", config, "--db", join(d, "fleet.db")]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toContain(config);
    });
  });
});
