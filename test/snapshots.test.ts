// Snapshots through the MCP client: a programmable fleet is discovered, changed
// and discovered again, and compare_snapshots must report exactly what changed —
// nothing missed, nothing invented, volatile readings left out — with the
// health impact and the critical changes; plus lookup, paging and retention.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { FleetConfig } from "../src/config.js";
import { unpackDocument } from "../src/inventory/diff.js";
import { applySnapshotRetention } from "../src/inventory/snapshots.js";
import { container, fleetHarnessOptions, port, service, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T0 = new Date("2026-11-23T08:00:00Z");
const HOUR = 3600_000;

/** A clock the test moves by hand. */
function clock(start = T0) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms: number) => (now += ms), set: (d: Date) => (now = d.getTime()) };
}

async function start(fleet: () => HostSpec[], opts: { clock?: ReturnType<typeof clock>; snapshots?: Partial<FleetConfig["snapshots"]> } = {}) {
  const base = fleetHarnessOptions({ lab: fleet });
  const c = opts.clock ?? clock();
  h = await startHarness({
    ...base,
    now: c.now,
    config: {
      ...base.config,
      ...(opts.snapshots
        ? { snapshots: { auto: false, retentionMs: null, minKeep: 10, archiveDir: "/nonexistent", onExpire: "archive", ...opts.snapshots } }
        : {}),
    },
  });
  return { h, clock: c };
}

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function discover() {
  const out = await call("run_discovery");
  expect(out.status).toBe("ok");
  return out;
}

function targetId(name: string): string {
  const row = h!.app.db.$client.prepare("SELECT id FROM targets WHERE name = ?").get(name) as { id: string } | undefined;
  if (!row) throw new Error(`no target ${name}`);
  return row.id;
}

/** Every listed change, compact: "type change target/entity [field:before->after,...]". */
function render(changes: S[]): string[] {
  return changes
    .map((c) => {
      const fields = c.fields.map((f: S) => `${f.field}:${JSON.stringify(f.before)}->${JSON.stringify(f.after)}`).join(",");
      return `${c.type} ${c.change} ${c.target_name}/${c.entity}${fields ? ` ${fields}` : ""}`;
    })
    .sort();
}

const zero = { created: 0, modified: 0, deleted: 0 };

describe("compare_snapshots on a changing fleet", () => {
  it("detects every kind of change exactly, invents none, and names the critical ones", async () => {
    let fleet: HostSpec[] = [
      {
        name: "web-1",
        services: [service("ssh.service"), service("cron.service"), service("nginx.service")],
        containers: [container("app", "nginx:1.27", { status: "Up 2 hours" })],
        ports: [port(22, "sshd"), port(80, "nginx")],
      },
      { name: "db-1", services: [service("ssh.service"), service("postgresql.service")], ports: [port(22, "sshd"), port(5432, "postgres")] },
      { name: "guest-1" },
    ];
    const { clock } = await start(() => fleet);
    await discover();
    const before = await call("create_snapshot", { name: "before", type: "pre_deployment", description: "before the deploy", tags: ["deploy"] });
    expect(before).toMatchObject({ id: 1, name: "before", type: "pre_deployment", target_count: 3, counts: { target: 3, service: 7, container: 1, port: 5 } });
    await call("set_target_role", { target: "db-1", role: "production" });

    fleet = [
      {
        name: "web-1",
        facts: {
          "kernel.release": "6.1.0-20-amd64",
          "os.version_id": "13",
          "os.pretty_name": "Debian GNU/Linux 13 (trixie)",
          uptime_seconds: 999,
          "load.1m": 3,
        },
        services: [
          service("ssh.service"),
          service("cron.service", { active: "failed", sub: "failed" }),
          service("nginx.service", { active: "inactive", sub: "dead" }),
        ],
        containers: [container("app", "nginx:1.28", { status: "Up 5 minutes" }), container("cache", "redis:7")],
        stacks: [{ name: "shop", status: "running(2)", configFiles: ["/srv/shop/compose.yaml"] }],
        ports: [port(22, "sshd"), port(8080, "nginx")],
      },
      {
        name: "db-1",
        services: [service("ssh.service"), service("postgresql.service")],
        ports: [port(22, "sshd"), port(5432, "postgres"), port(6379, "redis-server")],
      },
      // guest-1 is gone: not seen for more than stale_after_hours (24 h) it turns stale.
    ];
    clock.advance(25 * HOUR);
    await discover();
    await call("create_snapshot", { name: "after", type: "post_deployment" });

    const cmp = await call("compare_snapshots", { a: "before", b: "after", limit: 200 });
    expect(cmp.a).toMatchObject({ id: 1, name: "before" });
    expect(cmp.b).toMatchObject({ id: 2, name: "after" });
    expect(render(cmp.changes)).toEqual(
      [
        `target modified web-1/${targetId("web-1")} os_version:"12"->"13",os_name:"Debian GNU/Linux 12 (bookworm)"->"Debian GNU/Linux 13 (trixie)",kernel:"6.1.0-18-amd64"->"6.1.0-20-amd64"`,
        `target modified db-1/${targetId("db-1")} role:"unassigned"->"production"`,
        `target modified guest-1/${targetId("guest-1")} lifecycle:"active"->"stale"`,
        `service modified web-1/cron.service active:"active"->"failed",sub:"running"->"failed"`,
        `service modified web-1/nginx.service active:"active"->"inactive",sub:"running"->"dead"`,
        `container modified web-1/app image:"nginx:1.27"->"nginx:1.28"`,
        `container created web-1/cache`,
        `stack created web-1/shop`,
        `port created web-1/tcp 0.0.0.0:8080`,
        `port deleted web-1/tcp 0.0.0.0:80`,
        `port created db-1/tcp 0.0.0.0:6379`,
      ].sort(),
    );
    expect(cmp.summary).toEqual({
      total: 11,
      by_type: {
        target: { created: 0, modified: 3, deleted: 0 },
        service: { created: 0, modified: 2, deleted: 0 },
        container: { created: 1, modified: 1, deleted: 0 },
        stack: { created: 1, modified: 0, deleted: 0 },
        port: { created: 2, modified: 0, deleted: 1 },
        interface: zero,
        filesystem: zero,
      },
      by_change: { created: 4, modified: 6, deleted: 1 },
    });
    expect(cmp.matching).toBe(11);
    expect(cmp.next_cursor).toBeNull();
    expect(cmp.critical.items.map((c: S) => [c.kind, c.target_name])).toEqual([
      ["new_port_on_production", "db-1"],
      ["service_failed", "web-1"],
    ]);
    expect(cmp.critical.items[0].message).toContain("tcp 0.0.0.0:6379 (redis-server)");
    // The failed unit costs web-1 health (the health check runs with discovery).
    const web = cmp.health_impact.items.find((i: S) => i.target_name === "web-1");
    expect(web.after).toBeLessThan(web.before);
    expect(web.new_issues.map((i: S) => i.code)).toContain("service_failed");
    expect(text(await h!.client.callTool({ name: "compare_snapshots", arguments: { a: "before", b: "after" } }))).toMatch(
      /^11 change\(s\) from snapshot 1 "before" to snapshot 2 "after" — target: 3 modified; .* 2 critical: /,
    );

    // Filters narrow the list, never the summary; detail full adds every field.
    const ports = await call("compare_snapshots", { a: "1", b: "2", types: ["port"], change: "created", detail: "full" });
    expect(render(ports.changes)).toEqual(["port created db-1/tcp 0.0.0.0:6379", "port created web-1/tcp 0.0.0.0:8080"]);
    expect(ports.matching).toBe(2);
    expect(ports.summary.total).toBe(11);
    expect(ports.changes.find((c: S) => c.target_name === "db-1").values).toEqual({ process: "redis-server", pid: null });
    expect(lastAudit(h!.app)).toMatchObject({ tool: "compare_snapshots", outcome: "ok" });
  });

  it("reports nothing when only volatile readings moved, and them alone with include_volatile", async () => {
    let facts: HostSpec["facts"] = { uptime_seconds: 100, "load.1m": 0.1, "memory.available_bytes": 6 * 2 ** 30 };
    let status = "Up 2 hours";
    let used = 30;
    const fleet = (): HostSpec[] => [
      {
        name: "web-1",
        facts,
        containers: [container("app", "nginx:1.27", { status })],
        filesystems: [
          { source: "/dev/sda1", fstype: "ext4", sizeBytes: 100 * 2 ** 30, usedBytes: used * 2 ** 30, availBytes: (100 - used) * 2 ** 30, mount: "/" },
        ],
      },
    ];
    const { clock } = await start(fleet);
    await discover();
    await call("create_snapshot");
    facts = { uptime_seconds: 7300, "load.1m": 1.7, "memory.available_bytes": 5 * 2 ** 30 };
    status = "Up 4 hours";
    used = 31;
    clock.advance(2 * HOUR);
    await discover();

    const quiet = await call("compare_snapshots", { a: "latest", b: "live" });
    expect(quiet.summary.total).toBe(0);
    expect(quiet.changes).toEqual([]);
    expect(quiet.critical.total).toBe(0);
    expect(quiet.b).toMatchObject({ ref: "live", id: null, name: "live", captured_at: clock.now().toISOString() });
    expect(text(await h!.client.callTool({ name: "compare_snapshots", arguments: {} }))).toMatch(/^No changes between snapshot 1 ".+" and live/);

    const loud = await call("compare_snapshots", { a: "latest", b: "live", include_volatile: true, limit: 200 });
    const fields = loud.changes.flatMap((c: S) => c.fields.map((f: S) => `${c.type}.${f.field}`)).sort();
    expect(fields).toEqual(
      expect.arrayContaining(["container.status", "filesystem.avail_bytes", "filesystem.used_bytes", "target.memory_available_bytes", "target.uptime_seconds"]),
    );
    const allowed = new Set([
      "container.status",
      "filesystem.avail_bytes",
      "filesystem.used_bytes",
      "target.memory_available_bytes",
      "target.uptime_seconds",
      "target.disk_used_bytes",
      "target.health_score",
      "target.health_issues",
    ]);
    expect(fields.filter((f: string) => !allowed.has(f))).toEqual([]);
  });

  it("takes an auto snapshot after each discovery when configured, so latest vs the one before shows the last run's changes", async () => {
    let fleet: HostSpec[] = [{ name: "web1", ports: [port(22, "sshd")] }];
    await start(() => fleet, { snapshots: { auto: true } });
    await discover();
    fleet = [{ name: "web1", ports: [port(22, "sshd"), port(8080, "java")] }];
    const second = await discover();
    const list = await call("list_snapshots");
    expect(list.snapshots.map((s: S) => [s.type, s.run_id])).toEqual([
      ["auto", second.run_id],
      ["auto", second.run_id - 1],
    ]);
    const [b, a] = list.snapshots;
    const diff = await call("compare_snapshots", { a: String(a.id), b: "latest" });
    expect(diff.changes.map((c: S) => `${c.change}:${c.type}`)).toEqual(["created:port"]);
    expect(b.id).toBeGreaterThan(a.id);
  });

  it("resolves ids, names, latest and live, and refuses unknown snapshots and taken names", async () => {
    let services = [service("ssh.service")];
    await start(() => [{ name: "web-1", services }]);
    await discover();

    const none = await h!.client.callTool({ name: "compare_snapshots", arguments: { a: "latest" } });
    expect(none.isError).toBe(true);
    expect(text(none)).toBe('Snapshot latest not found: there are no snapshots yet. Call create_snapshot first, or compare against "live".');

    const first = await call("create_snapshot", { name: "baseline" });
    await call("create_snapshot");
    services = [service("ssh.service"), service("nginx.service")];
    await discover();

    const byName = await call("compare_snapshots", { a: "baseline", b: "live" });
    const byId = await call("compare_snapshots", { a: String(first.id), b: "live" });
    const latest = await call("compare_snapshots", { a: "latest", b: "live" });
    for (const r of [byName, byId, latest]) expect(render(r.changes)).toEqual(["service created web-1/nginx.service"]);
    expect(latest.a.id).toBe(2);
    expect(byName.a).toMatchObject({ ref: "baseline", id: 1, name: "baseline" });
    // live against live: nothing changed between two captures of the same state.
    expect((await call("compare_snapshots", { a: "live", b: "live" })).summary.total).toBe(0);

    const unknown = await h!.client.callTool({ name: "compare_snapshots", arguments: { a: "42", b: "latest" } });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toBe("Snapshot 42 not found. Known: 2, 1 — call list_snapshots.");
    expect(lastAudit(h!.app)).toMatchObject({ tool: "compare_snapshots", outcome: "tool_error" });

    const taken = await h!.client.callTool({ name: "create_snapshot", arguments: { name: "baseline" } });
    expect(taken.isError).toBe(true);
    expect(text(taken)).toBe('A snapshot named "baseline" already exists; pick another name. list_snapshots shows the names in use.');
    const reserved = await h!.client.callTool({ name: "create_snapshot", arguments: { name: "live" } });
    expect(text(reserved)).toContain("is reserved");
    const numeric = await h!.client.callTool({ name: "create_snapshot", arguments: { name: "123" } });
    expect(text(numeric)).toContain("looks like a snapshot id");

    const page1 = await call("list_snapshots", { limit: 1 });
    expect(page1.total).toBe(2);
    expect(page1.snapshots.map((s: S) => s.id)).toEqual([2]);
    expect(page1.snapshots[0]).not.toHaveProperty("data");
    const page2 = await call("list_snapshots", { limit: 1, cursor: page1.next_cursor });
    expect(page2.snapshots.map((s: S) => [s.id, s.name])).toEqual([[1, "baseline"]]);
    expect(page2.next_cursor).toBeNull();
    expect((await call("list_snapshots", { type: "pre_deployment" })).total).toBe(0);
  });

  it("pages through every change without gaps or repeats, and refuses a cursor from another comparison", async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `node-${String(i).padStart(2, "0")}`);
    let extra = false;
    await start(() =>
      hosts.map((name, i) => ({
        name,
        services: [service("ssh.service"), ...(extra ? [service("a.service"), service("b.service", { active: i % 2 ? "failed" : "active" })] : [])],
        ports: extra ? [port(22, "sshd"), port(9000 + i, "app")] : [port(22, "sshd")],
      })),
    );
    await discover();
    await call("create_snapshot");
    extra = true;
    await discover();

    const all = await call("compare_snapshots", { limit: 200 });
    expect(all.summary.total).toBe(36);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await call("compare_snapshots", { limit: 5, ...(cursor ? { cursor } : {}) });
      expect(page.changes.length).toBeLessThanOrEqual(5);
      expect(page.summary.total).toBe(36);
      seen.push(...page.changes.map((c: S) => `${c.type} ${c.target_name}/${c.entity}`));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(8);
    expect(seen).toEqual(all.changes.map((c: S) => `${c.type} ${c.target_name}/${c.entity}`));
    expect(new Set(seen).size).toBe(36);

    const first = await call("compare_snapshots", { limit: 5 });
    const other = await h!.client.callTool({ name: "compare_snapshots", arguments: { limit: 5, types: ["port"], cursor: first.next_cursor } });
    expect(other.isError).toBe(true);
    expect(text(other)).toContain("This cursor belongs to a different comparison");
  });
});

describe("several sources on one target", () => {
  it("merges them into one entity: the freshest source wins, its unknown fields filled from the others", async () => {
    let lab2Nginx = service("nginx.service", { description: null, enabled: "enabled" });
    const base = fleetHarnessOptions({
      lab: () => [{ name: "web-1", services: [service("nginx.service", { description: "web server", enabled: null })] }],
      lab2: () => [{ name: "web-1", services: [lab2Nginx] }],
    });
    const c = clock();
    h = await startHarness({ ...base, now: c.now });
    await call("create_snapshot", { name: "empty" });
    await discover();
    const first = await call("compare_snapshots", { a: "empty", b: "live", types: ["service"], detail: "full" });
    // Both sources saw it at the same moment: the tie goes to the first source id (lab).
    expect(first.changes).toEqual([
      {
        type: "service",
        change: "created",
        target_id: targetId("web-1"),
        target_name: "web-1",
        entity: "nginx.service",
        fields: [],
        values: { description: "web server", load: "loaded", active: "active", sub: "running", enabled: "enabled" },
      },
    ]);
    await call("create_snapshot", { name: "both" });

    lab2Nginx = service("nginx.service", { description: null, active: "failed", sub: "failed", enabled: "enabled" });
    c.advance(HOUR);
    expect((await call("run_discovery", { sources: ["lab2"] })).status).toBe("ok");
    const cmp = await call("compare_snapshots", { a: "both", b: "live" });
    expect(render(cmp.changes)).toEqual(['service modified web-1/nginx.service active:"active"->"failed",sub:"running"->"failed"']);
    expect(cmp.critical.items.map((x: S) => x.kind)).toEqual(["service_failed"]);
  });
});

describe("critical changes and health impact", () => {
  it("flags a production target that is gone or retired, and a host key change", async () => {
    await start(() => [{ name: "db-1" }, { name: "db-2" }, { name: "web-1" }]);
    await discover();
    await call("set_target_role", { target: "db-1", role: "production" });
    await call("set_target_role", { target: "db-2", role: "production" });
    const c = h!.app.db.$client;
    c.prepare("INSERT INTO ssh_endpoints (endpoint, target_id, pinned_fingerprint) VALUES ('ssh:10.0.0.9:22', ?, 'SHA256:old')").run(targetId("web-1"));
    await call("create_snapshot", { name: "before" });
    const db1 = targetId("db-1");
    // What an operator's purge and the lifecycle clock do; no discovery runs in between.
    c.prepare("DELETE FROM targets WHERE id = ?").run(db1);
    c.prepare("UPDATE targets SET lifecycle = 'retired' WHERE name = 'db-2'").run();
    c.prepare("UPDATE ssh_endpoints SET pending_fingerprint = 'SHA256:new' WHERE endpoint = 'ssh:10.0.0.9:22'").run();

    const cmp = await call("compare_snapshots", { a: "before", b: "live", limit: 200 });
    expect(cmp.critical.items.map((x: S) => [x.kind, x.target_name])).toEqual([
      ["production_target_gone", "db-1"],
      ["production_target_gone", "db-2"],
      ["host_key_changed", "web-1"],
    ]);
    expect(cmp.critical.items[1].message).toContain("was retired");
    expect(cmp.critical.items[2].message).toContain("SHA256:new");
    expect(cmp.summary.by_type.target).toEqual({ created: 0, modified: 2, deleted: 1 });
    expect(render(cmp.changes)).toEqual(
      expect.arrayContaining([
        `target deleted db-1/${db1}`,
        `service deleted db-1/ssh`,
        `target modified db-2/${targetId("db-2")} lifecycle:"active"->"retired"`,
        `target modified web-1/${targetId("web-1")} host_key_pending:null->"SHA256:new"`,
      ]),
    );
  });

  it("lists targets whose health dropped, with their new issues, without counting health as a change", async () => {
    await start(() => [{ name: "web-1" }, { name: "web-2" }]);
    await discover();
    const c = h!.app.db.$client;
    const set = c.prepare("UPDATE targets SET health_score = ?, health_issues = ? WHERE name = ?");
    set.run(1, "[]", "web-1");
    set.run(0.9, JSON.stringify([{ code: "fs_usage", severity: "warning", message: "/ is 85% full", deduction: 0.1 }]), "web-2");
    await call("create_snapshot");
    set.run(0.5, JSON.stringify([{ code: "service_failed", severity: "warning", message: "systemd unit x has failed", deduction: 0.5 }]), "web-1");
    // The same issue again is not new; a worse severity of it is.
    set.run(0.7, JSON.stringify([{ code: "fs_usage", severity: "critical", message: "/ is 93% full", deduction: 0.3 }]), "web-2");

    const cmp = await call("compare_snapshots");
    expect(cmp.summary.total).toBe(0);
    expect(cmp.health_impact).toEqual({
      targets_dropped: 2,
      items: [
        {
          target_id: targetId("web-1"),
          target_name: "web-1",
          role: "unassigned",
          before: 1,
          after: 0.5,
          new_issues: [{ code: "service_failed", severity: "warning", message: "systemd unit x has failed" }],
        },
        {
          target_id: targetId("web-2"),
          target_name: "web-2",
          role: "unassigned",
          before: 0.9,
          after: 0.7,
          new_issues: [{ code: "fs_usage", severity: "critical", message: "/ is 93% full" }],
        },
      ],
    });
    expect(text(await h!.client.callTool({ name: "compare_snapshots", arguments: {} }))).toContain("Health dropped on 2 target(s).");
  });
});

describe("retention", () => {
  function archiveDir() {
    const d = mkdtempSync(join(tmpdir(), "fleet-snap-archive-"));
    dirs.push(d);
    return join(d, "archive");
  }

  it("archives snapshots past retention as readable gzip JSON, keeps the newest min_keep, and removes them from the database", async () => {
    const dir = archiveDir();
    const c = clock();
    await start(() => [{ name: "web-1", services: [service("ssh.service"), service("nginx.service")] }], {
      clock: c,
      snapshots: { retentionMs: 24 * HOUR, minKeep: 2, archiveDir: dir, onExpire: "archive" },
    });
    await discover();
    for (const name of ["s1", "s2", "s3"]) {
      const out = await call("create_snapshot", { name });
      expect(out.retention).toEqual({ deleted_ids: [], archived_files: 0, error: null });
      c.advance(HOUR);
    }
    c.advance(3 * 24 * HOUR);
    const s4 = await call("create_snapshot", { name: "s4/with odd:chars" });
    // Older than a day: s1, s2, s3; the newest two (s4, s3) stay whatever their age.
    expect(s4.retention).toEqual({ deleted_ids: [1, 2], archived_files: 2, error: null });
    expect((await call("list_snapshots")).snapshots.map((s: S) => s.name)).toEqual(["s4/with odd:chars", "s3"]);

    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(["snapshot-1-s1.json.gz", "snapshot-2-s2.json.gz"]);
    const archived = JSON.parse(gunzipSync(readFileSync(join(dir, files[0]!))).toString("utf8")) as S;
    expect(archived.archive_format).toBe(1);
    expect(archived.snapshot).toMatchObject({ id: 1, name: "s1", type: "manual", created_at: T0.toISOString(), target_count: 1, entity_count: 5 });
    const doc = unpackDocument(archived.document);
    expect(doc.tables.service.rows).toBe(2);
    expect(doc.tables.service.dicts.name).toEqual(expect.arrayContaining(["ssh.service", "nginx.service"]));

    const gone = await h!.client.callTool({ name: "compare_snapshots", arguments: { a: "s1" } });
    expect(text(gone)).toBe("Snapshot s1 not found. Known: 4, 3 — call list_snapshots.");
  });

  it("deletes without archiving under on_expire delete, and does nothing without a retention", async () => {
    const dir = archiveDir();
    const c = clock();
    await start(() => [{ name: "web-1" }], { clock: c, snapshots: { retentionMs: 24 * HOUR, minKeep: 1, archiveDir: dir, onExpire: "delete" } });
    await discover();
    await call("create_snapshot", { name: "old" });
    c.advance(48 * HOUR);
    const out = await call("create_snapshot", { name: "new" });
    expect(out.retention).toEqual({ deleted_ids: [1], archived_files: 0, error: null });
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
    expect((await call("list_snapshots")).snapshots.map((s: S) => s.name)).toEqual(["new"]);

    const keepAll = { auto: false, retentionMs: null, minKeep: 0, archiveDir: dir, onExpire: "delete" as const };
    expect(applySnapshotRetention(h!.app.db, keepAll, new Date(c.now().getTime() + 1000 * 24 * HOUR))).toEqual({ archived: [], deleted: [] });
    // min_keep 0: everything past retention goes.
    expect(applySnapshotRetention(h!.app.db, { ...keepAll, retentionMs: HOUR }, new Date(c.now().getTime() + 2 * HOUR))).toEqual({
      archived: [],
      deleted: [2],
    });
  });

  it("keeps the new snapshot and reports the error when the archive cannot be written", async () => {
    const d = mkdtempSync(join(tmpdir(), "fleet-snap-archive-"));
    dirs.push(d);
    const blocker = join(d, "file");
    (await import("node:fs")).writeFileSync(blocker, "x");
    const c = clock();
    await start(() => [{ name: "web-1" }], {
      clock: c,
      snapshots: { retentionMs: HOUR, minKeep: 0, archiveDir: join(blocker, "archive"), onExpire: "archive" },
    });
    await discover();
    await call("create_snapshot", { name: "old" });
    c.advance(2 * HOUR);
    const out = await call("create_snapshot", { name: "new" });
    expect(out.retention.deleted_ids).toEqual([]);
    expect(out.retention.error).toMatch(/ENOTDIR|EEXIST/);
    expect((await call("list_snapshots")).snapshots.map((s: S) => s.name)).toEqual(["new", "old"]);
  });
});
