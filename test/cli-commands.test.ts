// The CLI's commands for people, end to end: the built CLI (dist/cli.js) against an
// inventory filled by a real `fleet-mcp discover` of simulated SSH hosts (ssh2
// servers on 127.0.0.1, password auth from a named environment variable, TOFU host
// keys). Checks the tables, that --json is the tool's structured result, filters and
// paging, diff after a host changed, --fail-on exit codes, config check masking a
// secret, --help everywhere, missing databases, and that nothing prints escape codes
// (colour only on a terminal: checked in-process with a fake TTY).
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { COMMANDS } from "../src/cli/commands/index.js";
import { compareSnapshots } from "../src/tools/compare-snapshots.js";
import { createSnapshot } from "../src/tools/create-snapshot.js";
import { doctor } from "../src/tools/doctor.js";
import { generateFleetReport } from "../src/tools/generate-fleet-report.js";
import { getChangeEvents } from "../src/tools/get-change-events.js";
import { getFleetOverview } from "../src/tools/get-fleet-overview.js";
import { getTarget } from "../src/tools/get-target.js";
import { listSnapshotsTool } from "../src/tools/list-snapshots.js";
import { listTargetsTool } from "../src/tools/list-targets.js";
import { runHealthCheck } from "../src/tools/run-health-check.js";
import { searchFleet } from "../src/tools/search-fleet.js";
import { ensureBuilt, runCli, show, type CliResult } from "./support/cli.js";
import { debianHost } from "../src/sim/canned-hosts.js";
import { simData } from "../src/sim/data.js";
import { machineIdFor, startSimHost, type SimHost } from "./support/ssh-sim.js";

const PASSWORD = `cli-pw-${randomBytes(12).toString("hex")}`;
const PW_ENV = "FLEET_TEST_CLI_PW";
const T = 90_000;

let work = "";
let cfg = "";
let baseDb = "";
const sims: SimHost[] = [];
let seq = 0;

/** A fresh directory under the run's temp dir. */
function dir(name: string): string {
  const d = join(work, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Runs the CLI with the test's config and the password in its environment, and checks
 * what holds for every run: no escape codes (stdout is no terminal), never the secret.
 */
async function cli(args: string[], opts: { env?: Record<string, string>; home?: string } = {}): Promise<CliResult> {
  const r = await runCli(args, { cwd: work, home: opts.home ?? join(work, "home"), env: { [PW_ENV]: PASSWORD, ...opts.env } });
  expect(r.timedOut, show(r)).toBe(false);
  // eslint-disable-next-line no-control-regex
  expect(r.stdout + r.stderr, `control character in output${show(r)}`).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  expect(r.stdout + r.stderr, `the secret leaked${show(r)}`).not.toContain(PASSWORD);
  return r;
}

/** The shared inventory, read only. */
const q = (...args: string[]) => cli([...args, "--config", cfg, "--db", baseDb]);

type S = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function json(r: CliResult): S {
  try {
    return JSON.parse(r.stdout) as S;
  } catch (err) {
    throw new Error(`stdout is not one JSON document (${(err as Error).message})${show(r)}`);
  }
}

/** A copy of the shared inventory for a test that changes it. */
function copyDb(name: string): string {
  const to = join(dir(name), "fleet.db");
  copyFileSync(baseDb, to);
  for (const ext of ["-wal", "-shm"]) if (existsSync(baseDb + ext)) copyFileSync(baseDb + ext, to + ext);
  return to;
}

/** The header line and the rows of the first table in the text. */
function tableOf(text: string, firstHeader: string): { header: string; rows: string[] } {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`${firstHeader} `));
  if (start < 0) throw new Error(`no table starting with ${firstHeader} in:\n${text}`);
  const rows: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.trim()) break;
    rows.push(l);
  }
  return { header: lines[start]!, rows };
}

const NAMES = ["web-1", "db-1", "cache-1"] as const;

/** db-1: Ubuntu, only ssh (whose description carries a terminal escape), no failed unit; `changed` breaks it. */
function dbHost(sim: SimHost, changed: boolean) {
  const units = [
    {
      unit: "ssh.service",
      load: "loaded",
      active: changed ? "failed" : "active",
      sub: changed ? "failed" : "running",
      description: "OpenBSD Secure Shell server \u001b[31mRED\u001b]0;pwned\u0007",
    },
  ];
  const ports = simData("ss-Htlnp.txt") + (changed ? `LISTEN 0      128      0.0.0.0:5432 0.0.0.0:* users:(("postgres",pid=900,fd=5))\n` : "");
  const df = simData("df-PkT.txt").trimEnd() + (changed ? "\n/dev/vdb                ext4         1000000   950000     50000      95% /data\n" : "\n");
  return debianHost({
    hostname: { body: "db-1" },
    machine_id: { body: machineIdFor("db-1") },
    host_keys: { body: `${sim.publicKey} root@db-1` },
    os: { body: simData("os-release-ubuntu2404.txt") },
    systemd: { body: `#json\n${JSON.stringify(units)}` },
    ports: { body: `#ss\n${ports}` },
    filesystems: { body: df },
  });
}

function writeConfig(path: string, hosts: SimHost[], extra: Record<string, unknown> = {}): void {
  const config = {
    sources: [
      {
        kind: "ssh",
        id: "lab",
        hosts: hosts.map((s, i) => ({ address: s.address, port: s.port, name: NAMES[i] ?? `extra-${i}`, tags: ["lab"] })),
        auth: { agent: false, password_env: PW_ENV },
        host_key_policy: "tofu",
        known_hosts_file: join(work, "known_hosts"),
        timeout_ms: 5000,
        retries: 0,
        retry_min_delay_ms: 0,
      },
    ],
    roles: [{ role: "production", name: "db-*" }],
    ...extra,
  };
  writeFileSync(path, `# fleet-mcp test config\n${JSON.stringify(config, null, 2)}\n`);
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "fleet-mcp-cli-commands-"));
  for (const name of NAMES) sims.push(await startSimHost({ name, users: { root: { password: PASSWORD } } }));
  sims[1]!.setHost(dbHost(sims[1]!, false));
  sims[2]!.setHost(
    debianHost({
      hostname: { body: "cache-1" },
      machine_id: { body: machineIdFor("cache-1") },
      host_keys: { body: `${sims[2]!.publicKey} root@cache-1` },
      os: { body: simData("os-release-alpine323.txt") },
    }),
  );
  cfg = join(work, "fleet.config.yaml");
  writeConfig(cfg, sims);
  baseDb = join(dir("base"), "fleet.db");
  const r = await cli(["discover", "--config", cfg, "--db", baseDb]);
  expect(r.code, show(r)).toBe(0);
  expect(r.stdout, show(r)).toMatch(/^lab\s+ssh\s+ok\s+3\s+0/m);
}, 320_000);

afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("--help", () => {
  it("every registered command has help that exits 0 and states its exit codes", { timeout: T }, async () => {
    const names = [...COMMANDS.map((c) => c.name), "help"];
    for (const mine of ["overview", "targets", "target", "search", "report", "snapshot", "diff", "health", "events", "doctor", "config"])
      expect(names).toContain(mine);
    const runs = await Promise.all(names.map((n) => cli([n, "--help"])));
    for (const r of runs) {
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr, show(r)).toBe("");
      expect(r.stdout, show(r)).toMatch(/^Usage: fleet-mcp/);
      expect(r.stdout, show(r)).toMatch(/^Exit\b/m);
      expect(r.stdout, show(r)).toContain("--json");
    }
    const top = await cli(["--help"]);
    for (const n of names.filter((n) => !COMMANDS.find((c) => c.name === n)?.hidden)) expect(top.stdout, show(top)).toMatch(new RegExp(`^  ${n}\\s`, "m"));
  });
});

describe("overview", () => {
  it("prints counts by kind, lifecycle, role and OS, health and the last discovery", { timeout: T }, async () => {
    const r = await q("overview");
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/^Fleet: 3 target\(s\)/m);
    expect(r.stdout, show(r)).toMatch(/^by kind:\s+host 3$/m);
    expect(r.stdout, show(r)).toMatch(/^by lifecycle:\s+active 3$/m);
    expect(r.stdout, show(r)).toMatch(/^by role:\s+unassigned 2, production 1$/m);
    expect(r.stdout, show(r)).toMatch(/^by OS:\s+.*\balpine 1\b/m);
    expect(r.stdout, show(r)).toMatch(/^health:\s+mean 0\.\d\d: 3 healthy, 0 degraded, 0 unhealthy$/m);
    expect(r.stdout, show(r)).toMatch(/^last discovery:\s+run 1 ok/m);
    const worst = tableOf(r.stdout, "NAME");
    expect(worst.header).toMatch(/^NAME\s+KIND\s+ROLE\s+HEALTH\s+TOP ISSUE$/);
    expect(worst.rows.map((l) => l.split(/\s+/)[0]).sort()).toEqual(["cache-1", "web-1"]);
    expect(worst.rows.join("\n")).toContain("backup.service has failed");
  });

  it("--json is get_fleet_overview's result plus by_role and health", { timeout: T }, async () => {
    const r = await q("overview", "--json");
    expect(r.code, show(r)).toBe(0);
    const o = json(r);
    const base = getFleetOverview.output.parse(o);
    expect(base.targets.total).toBe(3);
    expect(base.targets.by_kind).toEqual({ host: 3 });
    expect(o.by_role).toEqual({ unassigned: 2, production: 1 });
    expect(o.health.distribution).toEqual({ healthy: 3, degraded: 0, unhealthy: 0 });
  });
});

describe("targets", () => {
  it("lists every target with the documented columns", { timeout: T }, async () => {
    const r = await q("targets");
    expect(r.code, show(r)).toBe(0);
    const t = tableOf(r.stdout, "NAME");
    expect(t.header.split(/\s{2,}/)).toEqual(["NAME", "KIND", "ROLE", "LIFECYCLE", "HEALTH", "OS", "ADDRESS", "LAST SEEN"]);
    expect(t.rows.map((l) => l.split(/\s+/)[0])).toEqual(["cache-1", "db-1", "web-1"]);
    const db = t.rows.find((l) => l.startsWith("db-1 "))!;
    expect(db).toMatch(/^db-1\s+host\s+production\s+active\s+1\.00\s+Ubuntu 24\.04/);
    expect(t.rows.find((l) => l.startsWith("web-1 "))).toMatch(/\s0\.90\s+Debian GNU\/Linux 12/);
    expect(r.stdout, show(r)).toContain("3 of 3 target(s)");
  });

  it("filters: --role, --health-below, TEXT, --os", { timeout: T }, async () => {
    const [role, below, text, os] = await Promise.all([
      q("targets", "--role", "production", "--json"),
      q("targets", "--health-below", "0.95", "--json"),
      q("targets", "web"),
      q("targets", "--os", "alpine", "--json"),
    ]);
    for (const r of [role, below, text, os]) expect(r.code, show(r)).toBe(0);
    expect(json(role).items.map((t: { name: string }) => t.name)).toEqual(["db-1"]);
    expect(
      json(below)
        .items.map((t: { name: string }) => t.name)
        .sort(),
    ).toEqual(["cache-1", "web-1"]);
    expect(tableOf(text.stdout, "NAME").rows.map((l) => l.split(/\s+/)[0])).toEqual(["web-1"]);
    expect(json(os).items.map((t: { name: string }) => t.name)).toEqual(["cache-1"]);
  });

  it("--json is list_targets' result; --limit/--cursor page and --all gets everything", { timeout: T }, async () => {
    const first = await q("targets", "--limit", "2", "--json");
    expect(first.code, show(first)).toBe(0);
    const p1 = listTargetsTool.output.parse(json(first));
    expect(p1.total).toBe(3);
    expect(p1.items.map((t) => t.name)).toEqual(["cache-1", "db-1"]);
    expect(p1.next_cursor).toBeTruthy();
    const second = await q("targets", "--limit", "2", "--cursor", p1.next_cursor!, "--json");
    const p2 = listTargetsTool.output.parse(json(second));
    expect(p2.items.map((t) => t.name)).toEqual(["web-1"]);
    expect(p2.next_cursor).toBeNull();
    const human = await q("targets", "--limit", "2");
    expect(human.stdout, show(human)).toContain(`2 of 3 target(s); next page: --cursor ${p1.next_cursor}`);
    const all = await q("targets", "--all", "--json");
    const everything = listTargetsTool.output.parse(json(all));
    expect(everything.items.map((t) => t.name)).toEqual(["cache-1", "db-1", "web-1"]);
    expect(everything.next_cursor).toBeNull();
  });

  it("a bad filter value exits 2 naming the option; a bad cursor is the tool's error, exit 1", { timeout: T }, async () => {
    const [kind, below, cursor] = await Promise.all([
      q("targets", "--kind", "toaster"),
      q("targets", "--health-below", "lots"),
      q("targets", "--cursor", "bm90LWEtY3Vyc29y"),
    ]);
    expect(kind.code, show(kind)).toBe(2);
    expect(kind.stderr, show(kind)).toContain("--kind");
    expect(kind.stdout).toBe("");
    expect(below.code, show(below)).toBe(2);
    expect(below.stderr, show(below)).toContain("--health-below");
    expect(cursor.code, show(cursor)).toBe(1);
    expect(cursor.stderr, show(cursor)).toMatch(/cursor/i);
  });
});

describe("target", () => {
  it("shows one target with its services, containers and ports, escape codes from the host made harmless", { timeout: T }, async () => {
    const r = await q("target", "db-1");
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/^db-1 {2}\(h-[0-9a-f]+, host\)$/m);
    expect(r.stdout, show(r)).toMatch(/^role:\s+production \(rule\)$/m);
    expect(r.stdout, show(r)).toMatch(/^Services \(1\):$/m);
    // The host sent ESC [31m and an OSC title sequence ending in BEL: they arrive as inert characters.
    expect(r.stdout, show(r)).toMatch(/OpenBSD Secure Shell server .\[31mRED.\]0;pwned./);
    expect(tableOf(r.stdout, "UNIT").header).toMatch(/^UNIT\s+ACTIVE\s+SUB\s+ENABLED\s+DESCRIPTION$/);
    expect(r.stdout, show(r)).toMatch(/^Containers \(\d+\):$/m);
    expect(r.stdout, show(r)).toMatch(/^Listening ports \(\d+\):$/m);
    expect(r.stdout, show(r)).toMatch(/^tcp\s+0\.0\.0\.0\s+2222\s+python3 \(7861\)$/m);
  });

  it("--json is get_target's result; an unknown name exits 1 with the tool's suggestions", { timeout: T }, async () => {
    const [ok, missing, none] = await Promise.all([q("target", "web-1", "--json"), q("target", "web-9"), q("target")]);
    const d = getTarget.output.parse(json(ok));
    expect(d.target.name).toBe("web-1");
    expect(d.services.items.map((s) => s.name)).toContain("backup.service");
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.stderr, show(missing)).toMatch(/No target "web-9"/);
    expect(missing.stdout).toBe("");
    expect(none.code, show(none)).toBe(2);
  });
});

describe("search", () => {
  it("groups matches by kind of entity", { timeout: T }, async () => {
    const r = await q("search", "nginx");
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toMatch(/^Services \(2\):$/m);
    expect(r.stdout, show(r)).toMatch(/^Containers \(\d+\):$/m);
    const services = r.stdout.split(/^Services \(2\):\n/m)[1]!;
    const t = tableOf(services, "NAME");
    expect(t.header).toMatch(/^NAME\s+STATE\s+TARGET\s+SOURCE\s+DETAILS$/);
    expect(t.rows.map((l) => l.split(/\s+/)[2]).sort()).toEqual(["cache-1", "web-1"]);
  });

  it("--json is search_fleet's result; filters in the query and --type narrow it", { timeout: T }, async () => {
    const [failed, typed, empty] = await Promise.all([
      q("search", "state:failed", "--json"),
      q("search", "nginx", "--type", "container", "--json"),
      q("search"),
    ]);
    const f = searchFleet.output.parse(json(failed));
    expect(f.matches.map((m) => `${m.type}:${m.name}@${m.target.name}`).sort()).toEqual(["service:backup.service@cache-1", "service:backup.service@web-1"]);
    const t = searchFleet.output.parse(json(typed));
    expect(t.matches.length).toBeGreaterThan(0);
    expect(new Set(t.matches.map((m) => m.type))).toEqual(new Set(["container"]));
    expect(empty.code, show(empty)).toBe(2);
  });
});

describe("report", () => {
  it("prints markdown, writes it with --out, and --json is generate_fleet_report's data", { timeout: T }, async () => {
    const file = join(dir("report"), "security.md");
    const [md, out, js, bad] = await Promise.all([
      q("report"),
      q("report", "security", "--out", file),
      q("report", "health", "--json"),
      q("report", "weather"),
    ]);
    expect(md.code, show(md)).toBe(0);
    expect(md.stdout, show(md)).toMatch(/^# Fleet summary$/m);
    expect(md.stdout, show(md)).toMatch(/^\| production \| 1 \|$/m);
    expect(out.code, show(out)).toBe(0);
    expect(out.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toMatch(/^# Fleet security$/m);
    const h = generateFleetReport.output.parse(json(js));
    expect(h.kind).toBe("health");
    expect(h.markdown).toBeNull();
    expect(h.data.health?.targets).toBe(3);
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr, show(bad)).toContain("weather");
  });
});

describe("health", () => {
  it("lists the issues; --fail-on warning exits 1, --fail-on critical exits 0 on this fleet", { timeout: T }, async () => {
    const [plain, warn, crit, js, bad] = await Promise.all([
      q("health"),
      q("health", "--fail-on", "warning"),
      q("health", "--fail-on", "critical"),
      q("health", "--json"),
      q("health", "--fail-on", "info"),
    ]);
    expect(plain.code, show(plain)).toBe(0);
    expect(plain.stdout, show(plain)).toMatch(/^Health of 3 target\(s\): mean 0\.\d+ — 3 healthy, 0 degraded, 0 unhealthy$/m);
    const t = tableOf(plain.stdout, "SEVERITY");
    expect(t.header).toMatch(/^SEVERITY\s+TARGET\s+HEALTH\s+CODE\s+MESSAGE$/);
    expect(t.rows).toHaveLength(2);
    for (const row of t.rows) expect(row).toMatch(/^warning\s+(web-1|cache-1)\s+0\.90\s+service_failed\s+systemd unit backup\.service has failed$/);
    expect(warn.code, show(warn)).toBe(1);
    expect(warn.stderr, show(warn)).toContain("at or above warning");
    expect(crit.code, show(crit)).toBe(0);
    const h = runHealthCheck.output.parse(json(js));
    expect(h.issue_counts.by_severity).toEqual({ info: 0, warning: 2, critical: 0 });
    expect(bad.code, show(bad)).toBe(2);
  });

  it("--target with --fail-on looks at that target only", { timeout: T }, async () => {
    const [db, web] = await Promise.all([q("health", "--target", "db-1", "--fail-on", "warning"), q("health", "--target", "web-1", "--fail-on", "warning")]);
    expect(db.code, show(db)).toBe(0);
    expect(db.stdout, show(db)).toContain("No issues on this target.");
    expect(web.code, show(web)).toBe(1);
  });
});

describe("events", () => {
  it("lists change events newest first; --type and --since filter; --json is get_change_events' shape", { timeout: T }, async () => {
    const [plain, added, bad, badSince] = await Promise.all([
      q("events", "--since", "24h"),
      q("events", "--type", "target_added", "--all", "--json"),
      q("events", "--type", "weather_changed"),
      q("events", "--since", "yesterday-ish"),
    ]);
    expect(plain.code, show(plain)).toBe(0);
    const t = tableOf(plain.stdout, "TIME");
    expect(t.header).toMatch(/^TIME\s+SEVERITY\s+TYPE\s+TARGET\s+RUN\s+MESSAGE$/);
    expect(t.rows.some((l) => /\brole_changed\s+db-1\s+1\s+db-1: role unassigned -> production/.test(l))).toBe(true);
    const e = getChangeEvents.output.parse(json(added));
    expect(e.events.map((x) => x.target?.name).sort()).toEqual(["cache-1", "db-1", "web-1"]);
    expect(new Set(e.events.map((x) => x.type))).toEqual(new Set(["target_added"]));
    expect(e.next_cursor).toBeNull();
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr, show(bad)).toContain("weather_changed");
    expect(badSince.code, show(badSince)).toBe(2);
    expect(badSince.stderr, show(badSince)).toContain("--since");
  });
});

describe("snapshot and diff", () => {
  it(
    "snapshot create/list; diff after a host changed shows the change, --fail-on-critical and health --fail-on critical exit 1",
    { timeout: 3 * T },
    async () => {
      const db = copyDb("diff");
      const on = (...args: string[]) => cli([...args, "--config", cfg, "--db", db]);

      const created = await on("snapshot", "create", "--name", "before", "--description", "before the change", "--json");
      expect(created.code, show(created)).toBe(0);
      const snap = createSnapshot.output.parse(json(created));
      expect(snap).toMatchObject({ id: 1, name: "before", target_count: 3 });
      const again = await on("snapshot", "create", "--name", "before");
      expect(again.code, show(again)).toBe(1);
      expect(again.stderr, show(again)).toMatch(/before/);

      const list = await on("snapshot", "list");
      expect(list.code, show(list)).toBe(0);
      const lt = tableOf(list.stdout, "ID");
      expect(lt.header).toMatch(/^ID\s+NAME\s+TYPE\s+CREATED\s+TARGETS\s+ENTITIES\s+HEALTH\s+SIZE\s+TAGS\s+DESCRIPTION$/);
      expect(lt.rows).toHaveLength(1);
      expect(lt.rows[0]).toMatch(/^\s*1\s+before\s+manual\s+.*\s3\s+\d+\s+0\.\d\d\s+.*before the change$/);
      expect(listSnapshotsTool.output.parse(json(await on("snapshot", "list", "--json"))).total).toBe(1);

      const unchanged = await on("diff", "before", "--fail-on-critical");
      expect(unchanged.code, show(unchanged)).toBe(0);
      expect(unchanged.stdout, show(unchanged)).toContain("No changes");

      sims[1]!.setHost(dbHost(sims[1]!, true));
      try {
        const rediscover = await on("discover");
        expect(rediscover.code, show(rediscover)).toBe(0);
      } finally {
        sims[1]!.setHost(dbHost(sims[1]!, false));
      }

      const diff = await on("diff", "before", "--fail-on-critical");
      expect(diff.code, show(diff)).toBe(1);
      expect(diff.stdout, show(diff)).toMatch(/^snapshot 1 "before" \(.*\) -> live \(.*\)$/m);
      expect(diff.stdout, show(diff)).toMatch(/^Critical \(\d+\):$/m);
      expect(diff.stdout, show(diff)).toMatch(/service_failed\s+db-1:/);
      const ct = tableOf(diff.stdout, "CHANGE");
      expect(ct.header).toMatch(/^CHANGE\s+TYPE\s+TARGET\s+ENTITY\s+FIELDS$/);
      expect(ct.rows.some((l) => /^modified\s+service\s+db-1\s+ssh\.service\s+.*active: active -> failed/.test(l))).toBe(true);
      expect(ct.rows.some((l) => /^created\s+port\s+db-1\s+.*5432/.test(l))).toBe(true);
      expect(ct.rows.some((l) => /^created\s+filesystem\s+db-1\s+\/data/.test(l))).toBe(true);

      const js = await on("diff", "before", "live", "--type", "service", "--json");
      expect(js.code, show(js)).toBe(0);
      const d = compareSnapshots.output.parse(json(js));
      expect(d.a.name).toBe("before");
      expect(d.b.id).toBeNull();
      expect(d.changes.map((c) => `${c.change} ${c.type} ${c.target_name} ${c.entity}`)).toEqual(["modified service db-1 ssh.service"]);
      expect(d.critical.items.map((c) => c.kind)).toContain("service_failed");

      const health = await on("health", "--fail-on", "critical");
      expect(health.code, show(health)).toBe(1);
      expect(health.stdout, show(health)).toMatch(/^critical\s+db-1\s+\d\.\d\d\s+filesystem_full\s+\/data is 95/m);
      // The shared inventory did not change.
      const shared = await q("health", "--fail-on", "critical");
      expect(shared.code, show(shared)).toBe(0);

      // Every call above was audited as the CLI's, and the chain holds.
      const raw = new Database(db, { readonly: true });
      try {
        const rows = raw.prepare("SELECT tool, client_name AS client, outcome FROM audit_log ORDER BY id").all() as Array<{
          tool: string;
          client: string;
          outcome: string;
        }>;
        expect(new Set(rows.map((r) => r.client))).toEqual(new Set(["fleet-mcp-cli"]));
        expect(rows.map((r) => r.tool)).toEqual(expect.arrayContaining(["create_snapshot", "list_snapshots", "compare_snapshots", "run_health_check"]));
        expect(rows.find((r) => r.tool === "create_snapshot" && r.outcome === "tool_error")).toBeTruthy();
      } finally {
        raw.close();
      }
      const verify = await cli(["audit", "verify", "--db", db]);
      expect(verify.code, show(verify)).toBe(0);
    },
  );

  it("diff with an unknown snapshot is the tool's error, exit 1; bad --type exits 2", { timeout: T }, async () => {
    const [missing, bad] = await Promise.all([q("diff", "nope"), q("diff", "--type", "toaster")]);
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.stderr, show(missing)).toMatch(/Snapshot nope not found/);
    expect(bad.code, show(bad)).toBe(2);
  });
});

describe("doctor", () => {
  it("checks each host: all ok exits 0; a host that refuses fails with a fix and exits 1", { timeout: T }, async () => {
    const ok = await q("doctor");
    expect(ok.code, show(ok)).toBe(0);
    const t = tableOf(ok.stdout, "SOURCE");
    expect(t.header).toMatch(/^SOURCE\s+KIND\s+TARGET\s+CHECK\s+STATUS\s+MESSAGE$/);
    expect(t.rows).toHaveLength(3);
    for (const row of t.rows) expect(row).toMatch(/^lab\s+ssh\s+root@127\.0\.0\.1:\d+\s+ssh\s+ok\s/);

    const down = await startSimHost({ name: "down-1", fault: "refuse", users: { root: { password: PASSWORD } } });
    try {
      const d = dir("doctor");
      const config = join(d, "fleet.config.yaml");
      writeConfig(config, [sims[0]!, down]);
      const missingDb = join(d, "no", "fleet.db");
      const bad = await cli(["doctor", "--config", config, "--db", missingDb]);
      expect(bad.code, show(bad)).toBe(1);
      expect(bad.stdout, show(bad)).toMatch(new RegExp(`^lab\\s+ssh\\s+root@127\\.0\\.0\\.1:${down.port}\\s+\\S+\\s+FAIL\\s`, "m"));
      expect(bad.stdout, show(bad)).toMatch(/^Fixes:$/m);
      expect(bad.stdout, show(bad)).toMatch(/check\(s\) failed/);
      expect(existsSync(missingDb), "doctor created a database").toBe(false);
      const js = await cli(["doctor", "--json", "--config", config, "--db", missingDb]);
      expect(js.code, show(js)).toBe(1);
      const r = doctor.output.parse(json(js));
      expect(r.errors).toBeGreaterThan(0);
      expect(r.checks.find((c) => c.status === "error")?.fix).toBeTruthy();
    } finally {
      await down.close();
    }
  });
});

describe("config", () => {
  it("config check prints the effective config with sources, origins and warnings, never the secret", { timeout: T }, async () => {
    const r = await cli(["config", "check", "--config", cfg, "--db", baseDb], { env: { FLEET_MAX_CONCURRENT_PROBES: "7" } });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout, show(r)).toContain(`Config file: ${cfg} (from --config)`);
    expect(r.stdout, show(r)).toMatch(/^Status:\s+valid/m);
    expect(r.stdout, show(r)).toMatch(/^ {2}lab \(ssh\)$/m);
    expect(r.stdout, show(r)).toMatch(new RegExp(`^\\s+auth\\.password_env\\s+\\$${PW_ENV} \\(value not shown\\)$`, "m"));
    expect(r.stdout, show(r)).toMatch(/^limits\.max_concurrent_probes\s+7\s+env FLEET_MAX_CONCURRENT_PROBES$/m);
    expect(r.stdout, show(r)).toMatch(/^roles\s+.*db-\*.*\s+file$/m);
    expect(r.stdout, show(r)).toMatch(/^lifecycle\.stale_after_hours\s+24\s+default$/m);
    expect(r.stdout, show(r)).toMatch(/^db_path\s+.*\s+--db$/m);
    expect(r.stdout, show(r)).toMatch(/^Warnings \(\d+\):$/m);
    expect(r.stdout, show(r)).toContain(`logs in with a password (from ${PW_ENV})`);

    const js = await cli(["config", "check", "--json", "--config", cfg, "--db", baseDb]);
    expect(js.code, show(js)).toBe(0);
    const doc = json(js);
    expect(doc.valid).toBe(true);
    expect(doc.config.sources[0].env_vars).toEqual([{ setting: "auth.password_env", name: PW_ENV }]);
    expect(doc.origins["db_path"]).toBe("--db");
    expect(doc.warnings.map((w: { message: string }) => w.message).join("\n")).toContain("password");
  });

  it("config check exits 2 on an unknown key, naming it, without creating the database", { timeout: T }, async () => {
    const d = dir("config-bad");
    const bad = join(d, "fleet.config.yaml");
    writeFileSync(bad, readFileSync(cfg, "utf8").replace('"roles":', '"discovery_intervall": 60,\n  "roles":'));
    const db = join(d, "fleet.db");
    const [human, js] = await Promise.all([
      cli(["config", "check", "--config", bad, "--db", db]),
      cli(["config", "check", "--json", "--config", bad, "--db", db]),
    ]);
    expect(human.code, show(human)).toBe(2);
    expect(human.stderr, show(human)).toContain('unknown key "discovery_intervall"');
    expect(human.stdout).toBe("");
    expect(js.code, show(js)).toBe(2);
    expect(json(js)).toMatchObject({ valid: false });
    expect(json(js).error).toContain("discovery_intervall");
    expect(existsSync(db)).toBe(false);
  });

  it("config check exits 2 when the password variable is not set, naming it", { timeout: T }, async () => {
    const r = await runCli(["config", "check", "--config", cfg], { cwd: work, home: join(work, "home") });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr, show(r)).toContain(PW_ENV);
  });

  it("config path names the file and why; with none, the default locations searched", { timeout: T }, async () => {
    const home = dir("config-path");
    const [flag, none] = await Promise.all([cli(["config", "path", "--config", cfg], { home }), cli(["config", "path", "--json"], { home })]);
    expect(flag.code, show(flag)).toBe(0);
    expect(flag.stdout, show(flag)).toMatch(new RegExp(`^${cfg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(from --config\\)$`, "m"));
    const n = json(none);
    expect(n.config_file).toBeNull();
    expect(n.searched.map((s: { path: string }) => s.path)).toEqual([
      join(home, "config", "fleet-mcp", "fleet.config.yaml"),
      join(home, "config", "fleet-mcp", "fleet.config.yml"),
      join(home, "config", "fleet-mcp", "fleet.config.json"),
    ]);
    mkdirSync(join(home, "config", "fleet-mcp"), { recursive: true });
    writeFileSync(join(home, "config", "fleet-mcp", "fleet.config.yml"), "log_level: warn\n");
    const found = json(await cli(["config", "path", "--json"], { home }));
    expect(found).toMatchObject({ config_file: join(home, "config", "fleet-mcp", "fleet.config.yml"), from: "default location", exists: true });
    const fromEnv = json(await cli(["config", "path", "--json"], { home, env: { FLEET_CONFIG: cfg } }));
    expect(fromEnv).toMatchObject({ config_file: cfg, from: "FLEET_CONFIG", exists: true });
  });
});

describe("without a database", () => {
  it("reading commands exit 2 naming the path and do not create it", { timeout: T }, async () => {
    const d = dir("no-db");
    const db = join(d, "typo", "fleet.db");
    const commands = [
      ["overview"],
      ["targets"],
      ["target", "web-1"],
      ["search", "nginx"],
      ["report"],
      ["health"],
      ["events"],
      ["snapshot", "list"],
      ["snapshot", "create"],
      ["diff"],
    ];
    const runs = await Promise.all(commands.map((c) => cli([...c, "--config", cfg, "--db", db])));
    for (const r of runs) {
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr, show(r)).toContain(`no database at ${db}`);
      expect(r.stdout, show(r)).toBe("");
    }
    expect(existsSync(db)).toBe(false);
    expect(existsSync(join(d, "typo"))).toBe(false);
  });
});

describe("colour", () => {
  /** A stdout that says it is a terminal. */
  function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
    const chunks: string[] = [];
    const w = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }) as Writable & { isTTY: boolean; text: () => string };
    w.isTTY = isTTY;
    w.text = () => chunks.join("");
    return w;
  }

  it("is used only on a terminal, and never with NO_COLOR or --no-color", { timeout: T }, async () => {
    const before = process.env[PW_ENV];
    process.env[PW_ENV] = PASSWORD;
    try {
      const run = async (argv: string[], isTTY: boolean, env: NodeJS.ProcessEnv = {}) => {
        const stdout = sink(isTTY);
        const stderr = sink(false);
        const code = await main([...argv, "--config", cfg, "--db", baseDb], { stdout, stderr, env });
        return { code, out: stdout.text(), err: stderr.text() };
      };
      const tty = await run(["targets"], true);
      expect(tty.code, tty.err).toBe(0);
      expect(tty.out).toContain("\u001b[1mNAME");
      expect(tty.out).toMatch(/\u001b\[32m\s*1\.00\u001b\[39m/);
      const noColorEnv = await run(["targets"], true, { NO_COLOR: "1" });
      const noColorFlag = await run(["targets", "--no-color"], true);
      const pipe = await run(["targets"], false);
      const jsonTty = await run(["targets", "--json"], true);
      for (const r of [noColorEnv, noColorFlag, pipe, jsonTty]) {
        expect(r.code, r.err).toBe(0);
        expect(r.out).not.toMatch(/\u001b/);
      }
      expect(JSON.parse(jsonTty.out).total).toBe(3);
    } finally {
      if (before === undefined) delete process.env[PW_ENV];
      else process.env[PW_ENV] = before;
    }
  });
});
