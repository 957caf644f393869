// Export and import of the whole inventory: every table, byte-identical round
// trip, refusal of non-empty targets and of damaged documents (leaving the target
// empty), ids and the audit chain kept, the search index rebuilt, and the CLI
// commands end to end. The inventory is filled by real discovery runs of a
// programmable fleet and real tool calls through the MCP client.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SourceFactory } from "../src/app/sources.js";
import { closeDb, openDb, type Db } from "../src/db/open.js";
import * as schema from "../src/db/schema.js";
import type { DiscoverySource } from "../src/discovery/types.js";
import { appendAudit, verifyAuditChain } from "../src/inventory/audit.js";
import { recordEvents } from "../src/inventory/events.js";
import { rebuildSearchIndex, searchFleet, verifySearchIndex } from "../src/inventory/search.js";
import { exportInventory, exportInventoryText, exportInventoryToFile, ImportError, importInventory, latestSchemaTag } from "../src/inventory/export.js";
import { startRun } from "../src/inventory/store.js";
import { container, fleetSource, port, service, type HostSpec } from "./support/fleet.js";
import { auditRows, startHarness } from "./support/harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
/** A configured secret: calls pass it as an argument; the export must never contain it. */
const SECRET = "Vault-s3cret-Passw0rd-4711";

let work = "";
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "fleet-mcp-export-"));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

let seq = 0;
const newPath = (name: string) => join(work, `${++seq}-${name}`);

/** Every schema table, found independently of the exporter. */
const SCHEMA_TABLES = Object.values(schema)
  .filter((v) => is(v, SQLiteTable))
  .map((t) => getTableConfig(t as SQLiteTable).name)
  .sort();

/** The programmable fleet's source, plus the SSH endpoint a real SSH source would report (so ssh_endpoints fills). */
function sshLike(inner: DiscoverySource): DiscoverySource {
  return {
    ...inner,
    async discover(ctx) {
      const r = await inner.discover(ctx);
      return {
        ...r,
        targets: r.targets.map((t) =>
          t.address
            ? {
                ...t,
                endpoint: {
                  key: `ssh:${t.address}:22`,
                  presentedKey: { fingerprint: `SHA256:${t.name}-key`, type: "ssh-ed25519" },
                  hostKeyCheck: "first_use" as const,
                },
              }
            : t,
        ),
      };
    },
  };
}

function firstFleet(): HostSpec[] {
  return [
    {
      name: "web-1",
      services: [
        service("ssh"),
        // Text that JSON must escape, and characters beyond ASCII (split across chunks in the chunking test).
        service("nginx", { description: 'nginx "front" \\ proxy\nGrüße ✓ 日本 🚀' }),
        service("backup", { active: "failed", sub: "failed" }),
      ],
      containers: [
        container("app", "registry.local/app:1.4", {
          composeProject: "shop",
          composeService: "app",
          labels: { "com.docker.compose.project": "shop", tier: "front" },
          ports: "0.0.0.0:8080->80/tcp",
        }),
        container("redis", "redis:7", { state: "exited", status: "Exited (1) 3 minutes ago", exitCode: 1, restartCount: 4 }),
      ],
      stacks: [{ name: "shop", status: "running(1), exited(1)", configFiles: ["/srv/shop/compose.yaml"] }],
      ports: [port(22, "sshd"), port(443, "nginx"), port(53, null, { protocol: "udp", address: "127.0.0.53" })],
      interfaces: [
        {
          name: "eth0",
          mac: "52:54:00:12:34:56",
          mtu: 1500,
          state: "UP",
          master: null,
          addresses: [
            { family: "inet", address: "10.0.0.10", prefixlen: 24, scope: "global" },
            { family: "inet6", address: "fe80::5054:ff:fe12:3456", prefixlen: 64, scope: "link" },
          ],
        },
      ],
    },
    { name: "db-1", services: [service("ssh"), service("postgresql")], ports: [port(5432, "postgres")] },
    { name: "pve1", kind: "proxmox_node", identity: ["machine-id:pve1"] },
    { name: "ct-101", kind: "lxc", parentIdentity: "machine-id:pve1", address: "10.0.0.101" },
    { name: "down-1", status: "unreachable", error: "connect ECONNREFUSED 10.0.0.99:22", address: "10.0.0.99" },
  ];
}

/** The second look: a service stopped, an image changed, a port opened, a host gone. */
function secondFleet(): HostSpec[] {
  const [web, , pve, ct, down] = firstFleet();
  return [
    {
      ...web!,
      services: [service("ssh"), service("nginx", { active: "inactive", sub: "dead", description: web!.services![1]!.description }), web!.services![2]!],
      containers: [container("app", "registry.local/app:1.5", { composeProject: "shop", composeService: "app" }), web!.containers![1]!],
      ports: [...web!.ports!, port(9000, "minio")],
    },
    pve!,
    ct!,
    down!,
  ];
}

/**
 * Fills the database at `path` through the real server: two discovery runs of a
 * changing fleet, a few tool calls (one passing the secret), and a snapshot row.
 */
async function buildInventory(path: string): Promise<void> {
  let fleet = firstFleet();
  const factory: SourceFactory = (cfg) => sshLike(fleetSource(cfg.id, () => fleet));
  let t = Date.parse("2026-11-10T08:00:00.000Z");
  const h = await startHarness({
    sourceFactory: factory,
    db: openDb(path),
    now: () => new Date((t += 1500)),
    config: {
      sources: [{ kind: "local" as const, id: "lab", timeout_ms: 5000, max_output_bytes: 4 * 1024 * 1024 }],
      secretValues: [SECRET],
    },
  });
  try {
    const call = async (name: string, args: Record<string, unknown> = {}) => {
      const r = await h.client.callTool({ name, arguments: args });
      return r;
    };
    const ok = async (name: string, args: Record<string, unknown> = {}) => {
      const r = await call(name, args);
      expect(r.isError, `${name}: ${JSON.stringify(r.content)}`).toBeFalsy();
      return r;
    };
    await ok("run_discovery");
    await ok("create_snapshot", { name: "before-upgrade", description: "taken by hand", tags: ["upgrade"] });
    fleet = secondFleet();
    await ok("run_discovery");
    await ok("set_target_role", { target: "web-1", role: "production" });
    await ok("run_health_check");
    await ok("create_snapshot", { name: "after-upgrade", type: "post_deployment" });
    await ok("get_fleet_overview");
    await ok("get_target", { target: "web-1" });
    // A caller pasting a secret into an argument: the audit row keeps only [REDACTED].
    expect((await call("get_target", { target: SECRET })).isError).toBe(true);
    await ok("query_audit_log", { limit: 5 });
  } finally {
    await h.close();
  }
}

function countRows(db: Db, table: string): number {
  return (db.$client.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
}

/** Every schema table, sqlite_sequence and the FTS indexes: all empty. */
function expectEmpty(db: Db): void {
  const nonEmpty = SCHEMA_TABLES.filter((t) => countRows(db, t) > 0);
  expect(nonEmpty).toEqual([]);
  expect(db.$client.prepare("SELECT * FROM sqlite_sequence").all()).toEqual([]);
  for (const t of [...ftsTables(db), ...DERIVED_TABLES]) expect(countRows(db, t), t).toBe(0);
}

/**
 * Tables of custom migrations that hold derived data, rebuilt from the base rows
 * (the search index's queue of changed rowids and its flush trigger table): not
 * exported. Any other table missing from schema.ts fails the first test.
 */
const DERIVED_TABLES = ["search_pending", "search_index_flush"];

function ftsTables(db: Db): string[] {
  return (db.$client.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'").all() as Array<{ name: string }>).map(
    (r) => r.name,
  );
}

interface Doc {
  format: string;
  version: number;
  schema: string;
  inventory_as_of: string | null;
  tables: Record<string, { columns: string[]; sequence?: number; rows: unknown[][] }>;
}

// One populated database shared by the read-only tests; tests that change a source build their own.
let sourcePath = "";
let sourceDoc = "";
beforeAll(async () => {
  sourcePath = newPath("source.db");
  await buildInventory(sourcePath);
  const db = openDb(sourcePath);
  sourceDoc = exportInventoryText(db);
  closeDb(db);
}, 60_000);

describe("export", () => {
  it("holds every table of the schema, and every table of the database except the derived search index", () => {
    const doc = JSON.parse(sourceDoc) as Doc;
    expect(Object.keys(doc.tables).sort()).toEqual(SCHEMA_TABLES);
    const db = openDb(sourcePath);
    try {
      // A table created by a custom migration without a schema.ts entry would be lost: only FTS (derived) may be missing.
      const fts = ftsTables(db);
      const real = (db.$client.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>)
        .map((r) => r.name)
        .filter(
          (n) => !n.startsWith("sqlite_") && n !== "__drizzle_migrations" && !DERIVED_TABLES.includes(n) && !fts.some((f) => n === f || n.startsWith(`${f}_`)),
        );
      expect(real.sort()).toEqual(SCHEMA_TABLES);
      for (const [name, t] of Object.entries(doc.tables)) {
        const cols = (db.$client.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string }>).map((c) => c.name);
        expect([...t.columns].sort(), name).toEqual(cols.sort());
        // So the round trip below covers every table: a table added later must be filled here too.
        expect(t.rows.length, `${name} has no rows in the fixture inventory: fill it in buildInventory`).toBeGreaterThan(0);
        expect(t.rows.length).toBe(countRows(db, name));
      }
    } finally {
      closeDb(db);
    }
  });

  it("has the documented header, rows ordered by primary key, blobs as base64, and no secret", () => {
    const doc = JSON.parse(sourceDoc) as Doc;
    expect(doc.format).toBe("fleet-mcp-inventory");
    expect(doc.version).toBe(1);
    expect(doc.schema).toBe(latestSchemaTag());
    const runs = doc.tables.discovery_runs!;
    const finished = runs.rows.map((r) => r[runs.columns.indexOf("finished_at")] as string).sort();
    expect(doc.inventory_as_of).toBe(finished[finished.length - 1]);
    const audit = doc.tables.audit_log!;
    expect(audit.rows.map((r) => r[0])).toEqual(audit.rows.map((_, i) => i + 1));
    const services = doc.tables.services!;
    const keys = services.rows.map((r) => JSON.stringify([r[0], r[1], r[2]]));
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const snap = doc.tables.snapshots!;
    const data = Buffer.from(snap.rows[0]![snap.columns.indexOf("data")] as string, "base64");
    expect(data.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    // The secret went into a tool call; the audit log kept it redacted, so the export cannot hold it.
    expect(sourceDoc).not.toContain(SECRET);
    expect(sourceDoc).toContain("[REDACTED]");
    // One row per line: diffable, and greppable.
    expect(sourceDoc.split("\n").length).toBeGreaterThan(Object.values(doc.tables).reduce((n, t) => n + t.rows.length, 0));
  });

  it("streams in chunks and reads one consistent picture", async () => {
    const p = newPath("stream.db");
    await buildInventory(p);
    const db = openDb(p);
    try {
      const expected = exportInventoryText(db);
      const it = exportInventory(db, { chunkChars: 512 });
      const chunks: string[] = [];
      let r = it.next();
      // A write between chunks (another connection, as a discovery beside the export) is not seen by it.
      const other = openDb(p);
      appendAudit(other, {
        ts: new Date("2026-11-11T00:00:00Z"),
        correlationId: "late",
        tool: "late_call",
        arguments: {},
        outcome: "ok",
        durationMs: 1,
        error: null,
        clientName: null,
        clientVersion: null,
      });
      closeDb(other);
      while (!r.done) {
        chunks.push(r.value);
        r = it.next();
      }
      expect(chunks.length).toBeGreaterThan(5);
      expect(chunks.join("")).toBe(expected);
      expect(r.value.rows).toBe(Object.values((JSON.parse(expected) as Doc).tables).reduce((n, t) => n + t.rows.length, 0));
      expect(exportInventoryText(db)).toContain("late_call");
    } finally {
      closeDb(db);
    }
  });
});

describe("import", () => {
  let path = "";
  let doc = "";
  beforeAll(() => {
    path = sourcePath;
    doc = sourceDoc;
  });

  it("export -> import into an empty database -> export gives the same bytes; the audit chain verifies", async () => {
    const target = openDb(":memory:");
    try {
      const summary = await importInventory(target, [doc]);
      expect(summary.schema).toBe(latestSchemaTag());
      expect(summary.rows).toBe(Object.values((JSON.parse(doc) as Doc).tables).reduce((n, t) => n + t.rows.length, 0));
      expect(exportInventoryText(target)).toBe(doc);
      const src = openDb(path);
      const [a, b] = [verifyAuditChain(src), verifyAuditChain(target)];
      closeDb(src);
      expect(b.ok).toBe(true);
      expect(b).toEqual(a);
      expect(b.rows).toBeGreaterThanOrEqual(6);
    } finally {
      closeDb(target);
    }
  });

  it("new rows continue after the imported ids, exactly as they would have in the original", async () => {
    const p = newPath("seq.db");
    await buildInventory(p);
    const src = openDb(p);
    // Rows deleted before the export leave sqlite_sequence above the largest id: that must survive too.
    const lastRun = (src.$client.prepare("SELECT max(id) AS m FROM discovery_runs").get() as { m: number }).m;
    src.$client.prepare("DELETE FROM discovery_runs WHERE id = ?").run(lastRun);
    const text = exportInventoryText(src);
    expect((JSON.parse(text) as Doc).tables.discovery_runs!.sequence).toBe(lastRun);
    const dst = openDb(":memory:");
    try {
      await importInventory(dst, [text]);
      expect(exportInventoryText(dst)).toBe(text);
      const next = (db: Db) => ({
        run: startRun(db, { correlationId: "c", trigger: "cli", now: new Date("2026-11-12T00:00:00Z"), ownerPid: 1, ownerHost: "h" }),
        audit: appendAudit(db, {
          ts: new Date("2026-11-12T00:00:00Z"),
          correlationId: "c",
          tool: "t",
          arguments: {},
          outcome: "ok",
          durationMs: 0,
          error: null,
          clientName: null,
          clientVersion: null,
        }).id,
        event:
          (recordEvents(db, [{ ts: "2026-11-12T00:00:00Z", targetId: null, runId: null, type: "target_added", severity: "info", message: "m", data: {} }]),
          (db.$client.prepare("SELECT max(id) AS m FROM events").get() as { m: number }).m),
      });
      const inOriginal = next(src);
      const inImported = next(dst);
      expect(inImported).toEqual(inOriginal);
      expect(inImported.run).toBe(lastRun + 1);
      expect(verifyAuditChain(dst).ok).toBe(true);
    } finally {
      closeDb(dst);
      closeDb(src);
    }
  });

  it("rebuilds the search index through the triggers: search answers as on a freshly indexed original", async () => {
    // The reference: the original with its index re-derived from the base rows. (A
    // live index's bm25 statistics carry its write history, so scores on the
    // original itself may differ from any freshly built index.)
    const reference = newPath("search-reference.db");
    const src = openDb(path);
    await src.$client.backup(reference);
    closeDb(src);
    const ref = openDb(reference);
    rebuildSearchIndex(ref);
    const dst = openDb(":memory:");
    try {
      const fts = ftsTables(dst);
      expect(fts.length, "the search index migration is applied").toBeGreaterThan(0);
      await importInventory(dst, [doc]);
      for (const t of fts) expect(countRows(dst, t), t).toBe(countRows(ref, t));
      // Every term of every row indexed, nothing pending: the import left a complete index.
      verifySearchIndex(dst);
      for (const query of ["nginx", "redis", "web", "minio", "port:443", "image:registry.local/app", "state:failed", "role:production"]) {
        const [a, b] = [searchFleet(ref, { query, limit: 50 }), searchFleet(dst, { query, limit: 50 })];
        expect(a.items.length, query).toBeGreaterThan(0);
        expect(b.items, query).toEqual(a.items);
        expect(b.total, query).toBe(a.total);
      }
    } finally {
      closeDb(dst);
      closeDb(ref);
    }
  });

  it("snapshots come back usable: compare_snapshots answers the same on the imported inventory", async () => {
    const dst = openDb(":memory:");
    await importInventory(dst, [doc]);
    // Tool calls write audit rows: call them on a page-level copy of the source, which the other tests share.
    const copy = newPath("compare-copy.db");
    const src = openDb(path);
    await src.$client.backup(copy);
    closeDb(src);
    const [a, b] = [await startHarness({ db: openDb(copy) }), await startHarness({ db: dst })];
    try {
      const args = { name: "compare_snapshots", arguments: { a: "before-upgrade", b: "after-upgrade" } };
      const [ra, rb] = [await a.client.callTool(args), await b.client.callTool(args)];
      expect(ra.isError, JSON.stringify(ra.content)).toBeFalsy();
      expect(rb.structuredContent).toEqual(ra.structuredContent);
      expect(JSON.stringify(ra.structuredContent)).toContain("nginx");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("reads any JSON layout of the same content, and input split anywhere (inside escapes, inside UTF-8 characters)", async () => {
    const pretty = JSON.stringify(JSON.parse(doc), null, 2);
    const bytes = Buffer.from(doc, "utf8");
    const inputs: Array<[string, Array<string | Uint8Array>]> = [
      ["pretty-printed", [pretty]],
      ["1-byte chunks", Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1))],
      ["7-byte chunks", Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7))],
      ["1-character strings", [...doc]],
    ];
    for (const [what, input] of inputs) {
      const dst = openDb(":memory:");
      try {
        await importInventory(dst, input);
        expect(exportInventoryText(dst), what).toBe(doc);
      } finally {
        closeDb(dst);
      }
    }
  });

  it("refuses a database that is not empty, and changes nothing in it", async () => {
    const db = openDb(path);
    try {
      const before = exportInventoryText(db);
      await expect(importInventory(db, [doc])).rejects.toThrow(/not empty \(rows in audit_log, .*targets.*\).*new --db path/);
      expect(exportInventoryText(db)).toBe(before);
    } finally {
      closeDb(db);
    }
    // One audit row is enough to make an inventory non-empty.
    const h = await startHarness();
    try {
      await h.client.callTool({ name: "get_fleet_overview", arguments: {} });
      expect(auditRows(h.app)).toHaveLength(1);
      await expect(importInventory(h.app.db, [doc])).rejects.toThrow(/not empty \(rows in audit_log\)/);
      expect(auditRows(h.app)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  describe("refuses a damaged document with a clear error and leaves the database empty", () => {
    /** The document's lines; `rowLine(table, i)` is the index of row i of a table. */
    const lines = () => doc.split("\n");
    const tableLine = (ls: string[], table: string) => ls.findIndex((l) => l.startsWith(`"${table}":{`));
    const edit = (f: (ls: string[]) => void) => {
      const ls = lines();
      f(ls);
      return ls.join("\n");
    };
    const replaceOnce = (from: string, to: string) => {
      expect(doc.split(from).length, from).toBe(2);
      return doc.replace(from, to);
    };
    const lastTable = () => Object.keys((JSON.parse(doc) as Doc).tables).at(-1)!;
    /** Rewrites row 0 of `table` (one row per line, a trailing comma unless it is the last). */
    const editRow = (table: string, f: (row: unknown[], columns: string[]) => void) =>
      edit((ls) => {
        const i = tableLine(ls, table) + 1;
        const comma = ls[i]!.endsWith(",");
        const row = JSON.parse(comma ? ls[i]!.slice(0, -1) : ls[i]!) as unknown[];
        f(row, (JSON.parse(doc) as Doc).tables[table]!.columns);
        ls[i] = `${JSON.stringify(row)}${comma ? "," : ""}`;
      });

    const cases: Array<[string, () => string, RegExp]> = [
      [
        "a wrong format",
        () => replaceOnce('"format":"fleet-mcp-inventory"', '"format":"other-tool"'),
        /not a fleet-mcp inventory export: "format" is "other-tool"/,
      ],
      ["a newer version", () => replaceOnce('"version":1', '"version":2'), /version 2, newer than this fleet-mcp reads \(1\): upgrade/],
      [
        "an unknown schema",
        () => replaceOnce(`"schema":"${latestSchemaTag()}"`, '"schema":"0999_future"'),
        /schema "0999_future", which this fleet-mcp does not know.*upgrade/,
      ],
      ["an unknown table", () => replaceOnce('"tables":{', '"tables":{\n"gizmos":{"columns":["a"],"rows":[]},'), /unknown table "gizmos"/],
      ["an unknown column", () => replaceOnce('"sub_state","enabled"', '"sub_state","enabled_at"'), /unknown column "enabled_at" in table "services"/],
      [
        "a column named twice",
        () => replaceOnce('"data","size_bytes"', '"data","size_bytes","size_bytes"'),
        /column "size_bytes" appears twice in tables\.snapshots\.columns/,
      ],
      [
        "a missing column",
        () =>
          edit((ls) => {
            const i = tableLine(ls, "snapshots");
            ls[i] = ls[i]!.replace(',"size_bytes"', "");
            const comma = ls[i + 1]!.endsWith(",");
            const row = JSON.parse(comma ? ls[i + 1]!.slice(0, -1) : ls[i + 1]!) as unknown[];
            row.pop();
            ls[i + 1] = `${JSON.stringify(row)}${comma ? "," : ""}`;
          }),
        /tables\.snapshots\.columns lacks size_bytes/,
      ],
      [
        "a missing table",
        () =>
          edit((ls) => {
            const i = tableLine(ls, "stacks");
            let j = i;
            while (!ls[j]!.startsWith("]}")) j++;
            ls.splice(i, j - i + 1);
          }),
        /tables missing from the document: stacks/,
      ],
      [
        "truncated JSON (cut inside a row)",
        () => {
          const ls = lines();
          const i = tableLine(ls, "services") + 2;
          return [...ls.slice(0, i), ls[i]!.slice(0, 30)].join("\n");
        },
        /ends early \(truncated\?\) inside tables\.services\.rows\[1\]/,
      ],
      ["truncated JSON (cut between tables)", () => doc.slice(0, doc.indexOf('\n"services":{') + 5), /ends early \(truncated\?\) inside a key of tables$/],
      [
        "a row of the wrong arity (in the last table: every other table was already written)",
        () =>
          editRow(lastTable(), (row) => {
            // The last table in the document, so every other table was written before the refusal.
            expect(lastTable()).toBe("target_identities");
            row.pop();
          }),
        /tables\.target_identities\.rows\[0\] has \d+ value\(s\), but \d+ columns are declared/,
      ],
      [
        "a duplicate primary key",
        () =>
          edit((ls) => {
            const i = tableLine(ls, "services") + 1;
            ls.splice(i + 1, 0, `${ls[i]!.replace(/,$/, "")},`);
          }),
        /tables\.services\.rows\[1\] was refused by the database: UNIQUE constraint failed: services\./,
      ],
      [
        "a row referring to a missing target",
        () => editRow("services", (row) => (row[0] = "no-such-target")),
        /row\(s\) refer to rows that are not in the document \(first: a row of services refers to a missing targets row\)/,
      ],
      [
        "a blob that is not base64",
        () => editRow("snapshots", (row, cols) => (row[cols.indexOf("data")] = "not base64!")),
        /tables\.snapshots\.rows\[0\]: data must be base64 or null/,
      ],
      ["a nested value in a row", () => editRow("targets", (row) => (row[0] = { id: 1 })), /tables\.targets\.rows\[0\]: id must be a string, a number or null/],
      ["a sequence below the largest id", () => doc.replace(/"sequence":\d+/, '"sequence":0'), /sequence is 0, below the largest id/],
      [
        "an inventory_as_of that disagrees with the runs",
        () => doc.replace(/"inventory_as_of":"[^"]*"/, '"inventory_as_of":"1999-01-01T00:00:00.000Z"'),
        /"inventory_as_of" is "1999-01-01T00:00:00.000Z", but the discovery runs in the document say "2026-/,
      ],
      ["a duplicate table", () => doc.replace(/\n\}\}\n$/, ',\n"targets":{"columns":["id"],"rows":[]}\n}}\n'), /table "targets" appears twice/],
      ["something after the document", () => `${doc}{}`, /nothing may follow the document/],
      ["not an object", () => "[1, 2, 3]", /not a fleet-mcp inventory export: the document is not a JSON object/],
      [
        "an unrelated JSON object",
        () => '{"name": "my-package", "version": "1.0.0"}',
        /unknown top-level key "name" \(no "format": "fleet-mcp-inventory" before it/,
      ],
      ["an empty file", () => "", /the document is empty/],
      [
        "invalid JSON inside a row",
        () =>
          edit((ls) => {
            const i = tableLine(ls, "facts") + 1;
            ls[i] = ls[i]!.replace(/,/, ",,");
          }),
        /invalid JSON in tables\.facts\.rows\[0\]/,
      ],
    ];

    for (const [what, make, error] of cases) {
      it(what, async () => {
        const bad = make();
        expect(bad).not.toBe(doc);
        const dst = openDb(":memory:");
        try {
          const err = await importInventory(dst, [bad]).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(ImportError);
          expect((err as Error).message).toMatch(error);
          expect(dst.$client.inTransaction).toBe(false);
          expectEmpty(dst);
          // The refusal left the database usable: the good document imports into it.
          await importInventory(dst, [doc]);
          expect(exportInventoryText(dst)).toBe(doc);
        } finally {
          closeDb(dst);
        }
      });
    }

    it("input that is not UTF-8", async () => {
      const dst = openDb(":memory:");
      try {
        await expect(importInventory(dst, [Buffer.from(doc.slice(0, 200)), Buffer.from([0xff, 0xfe, 0xfd])])).rejects.toThrow(/not valid UTF-8/);
        expectEmpty(dst);
      } finally {
        closeDb(dst);
      }
    });
  });
});

describe("exportInventoryToFile", () => {
  it("writes the document with mode 0600 and replaces an existing file atomically", async () => {
    const db = openDb(sourcePath);
    try {
      const out = newPath("out.json");
      writeFileSync(out, "old content", { mode: 0o644 });
      const summary = await exportInventoryToFile(db, out);
      expect(readFileSync(out, "utf8")).toBe(sourceDoc);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(summary.rows).toBeGreaterThan(0);
      await expect(exportInventoryToFile(db, join(work, "no-such-dir", "x.json"))).rejects.toThrow(/ENOENT/);
    } finally {
      closeDb(db);
    }
  });
});

// ---------------------------------------------------------------------------
// The built CLI, spawned.

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], stdin?: string): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("FLEET_") && k !== "XDG_DATA_HOME" && k !== "HOME") env[k] = v;
  Object.assign(env, { HOME: join(work, "home"), XDG_DATA_HOME: join(work, "xdg"), FLEET_LOG_LEVEL: "warn" });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? "");
  });
}

const show = (r: CliResult) => `\nexit ${r.code}\n--- stdout ---\n${r.stdout.slice(0, 2000)}\n--- stderr ---\n${r.stderr}`;

describe("fleet-mcp export / import (dist/cli.js)", () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, "dist", "inventory", "export.js")) || !existsSync(join(ROOT, "dist", "db", "migrations", "meta", "_journal.json"))) {
      const r = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
      if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
    }
  }, 320_000);

  it("round trips through files and stdin/stdout, verifies the audit log, and refuses a non-empty database", { timeout: 120_000 }, async () => {
    const src = newPath("cli-src.db");
    await buildInventory(src);
    const srcDb = openDb(src);
    const expected = exportInventoryText(srcDb);
    closeDb(srcDb);

    const file = newPath("export.json");
    let r = await runCli(["export", "--db", src, "--out", file]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toBe("");
    expect(r.stderr, show(r)).toMatch(/exported \d+ row\(s\) in 18 non-empty table\(s\) of 18, schema \d{4}_\w+, inventory as of 2026-/);
    expect(readFileSync(file, "utf8")).toBe(expected);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    r = await runCli(["export", "--db", src]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe(expected);

    const dst = newPath("cli-dst.db");
    r = await runCli(["import", file, "--db", dst]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr, show(r)).toMatch(/imported \d+ row\(s\)/);
    r = await runCli(["export", "--db", dst]);
    expect(r.stdout).toBe(expected);
    r = await runCli(["audit", "verify", "--db", dst]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/audit log OK: \d+ row\(s\), hash chain intact/);

    r = await runCli(["import", file, "--db", dst]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr, show(r)).toMatch(/import refused, nothing was written: the target inventory is not empty.*new --db path/);
    r = await runCli(["export", "--db", dst]);
    expect(r.stdout).toBe(expected);

    const viaStdin = newPath("cli-stdin.db");
    r = await runCli(["import", "-", "--db", viaStdin], expected);
    expect(r.code, show(r)).toBe(0);
    r = await runCli(["export", "--db", viaStdin]);
    expect(r.stdout).toBe(expected);
  });

  it("a damaged document exits 1 naming the problem and leaves the database empty", { timeout: 60_000 }, async () => {
    const bad = newPath("bad.json");
    writeFileSync(bad, sourceDoc.replace('"sub_state","enabled"', '"sub_state","enabled_at"'));
    const dst = newPath("cli-bad.db");
    const r = await runCli(["import", bad, "--db", dst]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr, show(r)).toMatch(/unknown column "enabled_at" in table "services"/);
    const db = openDb(dst);
    try {
      expectEmpty(db);
    } finally {
      closeDb(db);
    }
  });

  it("usage errors exit 2; an unwritable --out exits 1; --help documents both commands", { timeout: 60_000 }, async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [["import"], 2, /import needs one FILE[\s\S]*Usage: fleet-mcp import FILE/],
      [["import", "a.json", "b.json"], 2, /Usage: fleet-mcp import FILE/],
      [["import", join(work, "missing.json"), "--db", newPath("x.db")], 2, /no such file: .*missing\.json/],
      [["export", "extra", "--db", newPath("y.db")], 2, /export takes no arguments/],
      [["export", "--db", join(work, "nothing-here.db")], 2, /no database at .*nothing-here\.db/],
      [["discover", "--out", "x.json"], 2, /Unknown option '--out'[\s\S]*Usage: fleet-mcp discover/],
      [["export", "--db", sourcePath, "--out", join(work, "no-such-dir", "x.json")], 1, /export failed: could not write the export: ENOENT/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [i, [args, code, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, `${args.join(" ")}${show(r)}`).toBe(code);
      expect(r.stderr, show(r)).toMatch(message);
      expect(r.stdout, show(r)).toBe("");
    }
    const [exportHelp, importHelp] = await Promise.all([runCli(["export", "--help"]), runCli(["import", "--help"])]);
    expect(exportHelp.code).toBe(0);
    expect(importHelp.code).toBe(0);
    for (const word of ["fleet-mcp export", "--out FILE", "atomically"]) expect(exportHelp.stdout, show(exportHelp)).toContain(word);
    for (const word of ["fleet-mcp import FILE", "Refused", "Exit: 0 imported, 1 refused"]) expect(importHelp.stdout, show(importHelp)).toContain(word);
  });
});
