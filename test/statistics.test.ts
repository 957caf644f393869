// get_inventory_statistics through the MCP client: every count checked against
// the fleet the test built (and, for the append-only tables, against the rows
// themselves), the database size against SQLite's own page numbers, WAL size for
// a file database, and the oldest/newest times against the injected clock.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "../src/db/open.js";
import { container, fleetHarnessOptions, port, service, type HostSpec } from "./support/fleet.js";
import { auditRows, lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

const T0 = new Date("2026-11-20T08:00:00.000Z");
const T1 = new Date("2026-11-22T09:30:00.000Z");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

let fleet: HostSpec[] = [];
function build() {
  fleet = [
    {
      name: "web-1",
      services: [service("ssh"), service("nginx"), service("cron")],
      containers: [container("app", "app:1"), container("redis", "redis:7")],
      stacks: [{ name: "shop", status: "running(2)", configFiles: ["/srv/shop/compose.yml"] }],
      ports: [port(22, "sshd"), port(80, "nginx"), port(443, "nginx")],
    },
    { name: "db-1", services: [service("ssh"), service("postgresql")], ports: [port(22, "sshd"), port(5432, "postgres")] },
    { name: "pve-1", kind: "proxmox_node", identity: ["pve:node:pve-1"] },
    { name: "ct-1", kind: "lxc", parentIdentity: "pve:node:pve-1", identity: ["pve:ct:101"], address: null },
  ];
}

describe("get_inventory_statistics", () => {
  it("counts what discovery wrote, with history, size and times", async () => {
    build();
    let now = T0;
    const clock = { now: () => now };
    h = await startHarness({ ...fleetHarnessOptions({ lab: () => fleet }), now: () => clock.now() });

    const empty = await call("get_inventory_statistics");
    expect(empty).toMatchObject({ targets: { total: 0 }, services: 0, events: 0, audit_rows: 0, discovery_runs: { total: 0 }, last_run: null });
    expect(empty.oldest.target_first_seen).toBeNull();

    await call("run_discovery");
    now = T1;
    fleet[1]!.services = [service("ssh")];
    fleet = fleet.filter((s) => s.name !== "ct-1");
    await call("run_discovery");
    await call("create_snapshot", { name: "s1" });

    const s = await call("get_inventory_statistics");
    expect(s.targets.total).toBe(4);
    expect(s.targets.by_kind).toEqual({ host: 2, proxmox_node: 1, lxc: 1 });
    expect(Object.values(s.targets.by_lifecycle).reduce((a: number, b) => a + (b as number), 0)).toBe(4);
    // web-1: 3, db-1: 1 (postgresql gone), pve-1: the fleet default 2 (ssh, cron); ct-1 is no longer observed but keeps its rows until retired.
    const db = h.app.db.$client;
    const n = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect(s.services).toBe(n("services"));
    expect(s.services).toBeGreaterThanOrEqual(3 + 1 + 2);
    expect(s.containers).toBe(2);
    expect(s.stacks).toBe(1);
    expect(s.ports).toBe(n("ports"));
    expect(s.facts).toBe(n("facts"));
    expect(s.facts).toBeGreaterThan(0);
    expect(s.events).toBe(n("events"));
    expect(s.events).toBeGreaterThan(0);
    expect(s.snapshots.count).toBe(1);
    expect(s.snapshots.bytes).toBe((db.prepare("SELECT size_bytes AS b FROM snapshots").get() as { b: number }).b);
    // The statistics call's own audit row is written after it answers.
    expect(s.audit_rows).toBe(auditRows(h.app).length - 1);
    expect(s.discovery_runs).toEqual({ total: 2, by_status: { ok: 2 } });
    expect(s.last_run).toMatchObject({ run_id: 2, status: "ok", started_at: T1.toISOString() });

    expect(s.database.path).toBeNull();
    expect(s.database.wal_bytes).toBeNull();
    expect(s.database.page_size).toBe(db.pragma("page_size", { simple: true }));
    expect(s.database.bytes).toBe(s.database.page_size * s.database.page_count);
    expect(s.database.bytes).toBeGreaterThan(0);

    expect(s.oldest.target_first_seen).toBe(T0.toISOString());
    expect(s.newest.target_last_seen).toBe(T1.toISOString());
    expect(s.oldest.discovery_run).toBe(T0.toISOString());
    expect(s.newest.discovery_run).toBe(T1.toISOString());
    expect(s.oldest.event).toBe((db.prepare("SELECT min(ts) AS t FROM events").get() as { t: string }).t);
    expect(s.newest.event).toBe(T1.toISOString());
    expect(s.oldest.snapshot).toBe(T1.toISOString());
    expect(s.oldest.audit_row).toBe(auditRows(h.app)[0]!.ts);
    expect(lastAudit(h.app)).toMatchObject({ tool: "get_inventory_statistics", outcome: "ok" });
  });

  it("reports the file size and the write-ahead log of a database on disk", async () => {
    build();
    dir = mkdtempSync(join(tmpdir(), "fleet-stats-"));
    const path = join(dir, "fleet.db");
    h = await startHarness({ ...fleetHarnessOptions({ lab: () => fleet }), db: openDb(path), now: () => T0 });
    await call("run_discovery");
    const s = await call("get_inventory_statistics");
    expect(s.database.path).toBe(path);
    // The call's own audit row lands in the WAL after the answer: the file can only have grown since.
    expect(s.database.wal_bytes).toBeGreaterThan(0);
    expect(s.database.wal_bytes).toBeLessThanOrEqual(statSync(`${path}-wal`).size);
    expect(s.database.bytes).toBe(s.database.page_count * s.database.page_size);
    expect(s.targets.total).toBe(4);
  });
});
