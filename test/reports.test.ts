// generate_fleet_report through the MCP client, over a programmable fleet run
// through the real discovery: every kind in both formats, the security
// findings (new port on a production host, privileged and host-network
// containers, password and root logins, an OS past end of life next to a
// supported one, insecure source settings, a changed host key), over- and
// under-used machines on a Proxmox cluster, and the summary's "what changed"
// before and after a snapshot.
import { afterEach, describe, expect, it } from "vitest";
import { buildReport } from "../src/inventory/reports/index.js";
import type { SourceFactory } from "../src/app/sources.js";
import { container, fleetSource, HOST_KEY_MISMATCH, port, service, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const T0 = new Date("2026-11-23T10:00:00.000Z");
const HOUR = 3600_000;
const GiB = 2 ** 30;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function report(kind: string, args: Record<string, unknown> = {}): Promise<Json> {
  const res = await h!.client.callTool({ name: "generate_fleet_report", arguments: { kind, ...args } });
  expect(res.isError, text(res)).toBeFalsy();
  const out = res.structuredContent as Json;
  // Exactly the member named by kind.
  expect(Object.keys(out.data)).toEqual([kind]);
  // content is a short line, never the report or the JSON again.
  expect(text(res).length).toBeLessThan(400);
  expect(text(res)).not.toContain("|");
  expect(lastAudit(h!.app)).toMatchObject({ tool: "generate_fleet_report", outcome: "ok" });
  return { ...out, text: text(res) };
}

let fleet: HostSpec[] = [];
let pve: HostSpec[] = [];
let now = T0;
const OLD_KEY = `SHA256:${"A".repeat(43)}`;
const NEW_KEY = `SHA256:${"B".repeat(43)}`;
let keyChanged = false;

/** Every configured source maps to a programmable fleet; "lab" also reports the SSH endpoint of host "keyed". */
/** What "lab" reports: the fleet, with the SSH endpoint of host "keyed" (its key changed once keyChanged). */
function reported(): HostSpec[] {
  return fleet.map((spec) =>
    spec.name === "keyed"
      ? {
          ...spec,
          endpoint: {
            key: "ssh:10.0.0.9:22",
            presentedKey: { fingerprint: keyChanged ? NEW_KEY : OLD_KEY, type: "ssh-ed25519" },
            hostKeyCheck: keyChanged ? ("mismatch" as const) : ("first_use" as const),
          },
          ...(keyChanged ? HOST_KEY_MISMATCH : {}),
        }
      : spec,
  );
}
const sourceFactory: SourceFactory = (cfg) => fleetSource(cfg.id, () => (cfg.id === "lab" ? reported() : cfg.id === "pve" ? pve : []));

const CONFIG = {
  roles: [
    { role: "production", name: "web-*" },
    { role: "staging", name: "stage-*" },
  ],
  sources: [
    { kind: "local", id: "lab" },
    { kind: "local", id: "pve" },
    { kind: "proxmox", id: "pve-api", host: "127.0.0.1", token_id: "root@pam!fleet", token_secret_env: "PVE_TOKEN", insecure: true },
    { kind: "ssh", id: "legacy", hosts: [{ address: "127.0.0.1" }], auth: { agent: false, password_env: "LEGACY_PW" }, host_key_policy: "off" },
  ],
};

async function start() {
  now = T0;
  keyChanged = false;
  h = await startHarness({ configJson: CONFIG, env: { PVE_TOKEN: "t0ken-secret", LEGACY_PW: "pw-secret" }, sourceFactory, now: () => now });
}

function labFleet(): HostSpec[] {
  return [
    {
      name: "web-1",
      facts: { "sshd.password_authentication": true, "sshd.permit_root_login": "yes", "firewall.active": false, "updates.security_pending": 3 },
      ports: [port(22, "sshd"), port(443, "nginx")],
      containers: [
        container("agent", "example/agent:1", { privileged: true, networkMode: "bridge" }),
        container("netdata", "netdata/netdata:v1", { privileged: false, networkMode: "host" }),
        container("app", "example/app:2", { privileged: false, networkMode: "bridge" }),
      ],
    },
    { name: "stage-old", facts: { "os.id": "debian", "os.version_id": "10", "os.pretty_name": "Debian GNU/Linux 10 (buster)" } },
    {
      name: "bionic",
      facts: { "os.id": "ubuntu", "os.version_id": "18.04", "os.pretty_name": "Ubuntu 18.04.6 LTS", "sshd.permit_root_login": "prohibit-password" },
    },
    { name: "modern", facts: { "sshd.password_authentication": false, "firewall.active": true, "updates.security_pending": 0 } },
    { name: "mystery", facts: { "os.id": "debian", "os.version_id": "99", "os.pretty_name": "Debian GNU/Linux 99" } },
    { name: "keyed" },
  ];
}

describe("generate_fleet_report", () => {
  it("security: new port on a production host, containers, logins, end of life, source settings, host keys", async () => {
    fleet = labFleet();
    pve = [];
    await start();
    await call("run_discovery");
    await call("create_snapshot", { name: "before" });
    // Change the fleet: web-1 opens a public and a loopback port; keyed presents another host key.
    now = new Date(T0.getTime() + HOUR);
    fleet[0]!.ports = [port(22, "sshd"), port(443, "nginx"), port(8443, "java"), port(6379, "redis", { address: "127.0.0.1" })];
    keyChanged = true;
    await call("run_discovery");

    const out = await report("security", { format: "json" });
    expect(out.markdown).toBeNull();
    const s = out.data.security;

    const lp = s.listening_ports;
    expect(lp.new_since).toBe(T0.toISOString());
    expect(lp.by_role[0]).toEqual({ role: "production", targets: 1, ports: 4, exposed: 3, new: 2 });
    const newPorts = lp.ports.items.filter((p: Json) => p.new);
    expect(newPorts.map((p: Json) => [p.name, p.role, p.port, p.address, p.exposed])).toEqual([
      ["web-1", "production", 8443, "0.0.0.0", true],
      ["web-1", "production", 6379, "127.0.0.1", false],
    ]);
    // Production first; nothing else is new.
    expect(lp.ports.items[0]).toMatchObject({ name: "web-1", port: 8443 });
    expect(lp.ports.items.filter((p: Json) => p.new)).toHaveLength(2);
    expect(lp.by_role.find((r: Json) => r.role === "staging")).toEqual({ role: "staging", targets: 1, ports: 1, exposed: 1, new: 0 });

    expect(s.containers).toEqual({
      total: 2,
      items: [
        expect.objectContaining({ name: "web-1", role: "production", container: "agent", privileged: true, host_network: false }),
        expect.objectContaining({ name: "web-1", container: "netdata", image: "netdata/netdata:v1", privileged: false, host_network: true }),
      ],
    });
    expect(Object.keys(s)).toEqual([
      "listening_ports",
      "host_keys",
      "insecure_sources",
      "ssh_pw_login",
      "root_login",
      "containers",
      "firewall_inactive",
      "security_updates",
      "os_eol",
    ]);
    expect(s.ssh_pw_login.items.map((t: Json) => t.name)).toEqual(["web-1"]);
    // prohibit-password (key only) is not a root password login.
    expect(s.root_login.items.map((t: Json) => [t.name, t.permit_root_login])).toEqual([["web-1", "yes"]]);
    expect(s.firewall_inactive.items.map((t: Json) => t.name)).toEqual(["web-1"]);
    expect(s.security_updates).toMatchObject({ targets: 1, packages: 3, items: { total: 1, items: [expect.objectContaining({ name: "web-1", pending: 3 })] } });

    // Debian 10 and Ubuntu 18.04 are past end of life; Debian 12 (the default) is not flagged; Debian 99 is unknown, not guessed.
    expect(s.os_eol.counts).toEqual({ eol: 2, eol_soon: 0, supported: 3, unknown: 1, untracked: 0 });
    expect(s.os_eol.items.items.map((t: Json) => [t.name, t.status, t.eol])).toEqual([
      ["stage-old", "eol", "2024-06-30"],
      ["bionic", "eol", "2023-05-31"],
      ["mystery", "unknown", null],
    ]);
    expect(s.os_eol.items.items.find((t: Json) => t.name === "modern")).toBeUndefined();
    expect(s.os_eol.items.items[0].source).toBe("https://www.debian.org/releases/");

    expect(s.insecure_sources.items.map((x: Json) => [x.source_id, x.issue])).toEqual([
      ["pve-api", "tls_verification_off"],
      ["legacy", "host_key_checking_off"],
      ["legacy", "password_auth"],
    ]);
    // Secrets never appear, only the variable names.
    expect(JSON.stringify(out)).not.toMatch(/t0ken-secret|pw-secret/);

    expect(s.host_keys.pending.items).toEqual([
      { endpoint: "ssh:10.0.0.9:22", target: expect.objectContaining({ name: "keyed" }), pinned: OLD_KEY, presented: NEW_KEY, since: now.toISOString() },
    ]);
    expect(s.host_keys.events.total).toBe(1);

    // The markdown carries the same findings in tables, with the same numbers.
    const md = (await report("security")).markdown as string;
    expect(md).toMatch(/^# Fleet security\n/);
    expect(md).toContain("| web-1 | production | tcp/8443 | 0.0.0.0 | java | NEW, network |");
    expect(md).toContain("| web-1 | production | tcp/6379 | 127.0.0.1 | redis | NEW, loopback only |");
    expect(md).toContain("| production | 1 | 4 | 3 | 2 |");
    expect(md).toContain("| web-1 | production | agent | example/agent:1 | yes | no |");
    expect(md).toContain("| stage-old | staging | Debian GNU/Linux 10 (buster) | past end of life | 2024-06-30 |");
    expect(md).toContain("| pve-api | proxmox | tls_verification_off |");
    expect(md).not.toMatch(/\| modern \|.*end of life/);
    expect(md).not.toMatch(/[\u{1F300}-\u{1FAFF}\u2705\u274C]/u);

    // A short list says how many it left out.
    const cut = await report("security", { limit: 1 });
    expect(cut.data.security.listening_ports.ports.items).toHaveLength(1);
    expect(cut.data.security.listening_ports.ports.total).toBe(lp.ports.total);
    expect(cut.markdown).toContain(`...and ${lp.ports.total - 1} more`);
  });

  it("resources: a Proxmox cluster with guests, over- and under-used machines, in both formats", async () => {
    fleet = [
      { name: "web-full", filesystems: [{ source: "/dev/sda1", fstype: "ext4", sizeBytes: 100 * GiB, usedBytes: 95 * GiB, availBytes: 5 * GiB, mount: "/" }] },
      { name: "busy", facts: { "load.5m": 8 } },
      { name: "normal" },
      // Squashfs is full by design, never over-used.
      { name: "snappy", filesystems: [{ source: "/dev/loop0", fstype: "squashfs", sizeBytes: GiB, usedBytes: GiB, availBytes: 0, mount: "/snap/core/1" }] },
    ];
    const node = (name: string, availGiB: number, load: number): HostSpec => ({
      name,
      kind: "proxmox_node",
      identity: [`pve-node:c1/${name}`],
      facts: {
        "pve.cluster": "c1",
        "cpu.count": 16,
        "memory.total_bytes": 64 * GiB,
        "memory.available_bytes": availGiB * GiB,
        "load.5m": load,
        "disk.total_bytes": 100 * GiB,
        "disk.used_bytes": 40 * GiB,
      },
    });
    const guest = (name: string, parent: string, status: string, cpus: number, memGiB: number, availGiB: number): HostSpec => ({
      name,
      kind: "lxc",
      identity: [`pve-guest:c1/${name}`],
      parentIdentity: `pve-node:c1/${parent}`,
      facts: { "pve.status": status, "cpu.count": cpus, "memory.total_bytes": memGiB * GiB, "memory.available_bytes": availGiB * GiB, "load.5m": 0.05 },
    });
    pve = [
      node("pve1", 4, 2), // 93.7% memory used: over
      node("pve2", 60, 0.5), // 6% used, 0.03 per CPU: under
      guest("ct101", "pve1", "running", 4, 8, 6),
      guest("ct102", "pve1", "running", 8, 16, 15), // 6% used, load 0.006 per CPU: under
      guest("ct201", "pve2", "stopped", 2, 4, 4), // stopped: allocated nothing, never judged
    ];
    await start();
    await call("run_discovery");

    const out = await report("resources", { format: "json" });
    const r = out.data.resources;
    expect(r.thresholds).toEqual({ memory_over_pct: 90, filesystem_over_pct: 90, load_per_cpu_over: 1.5, memory_under_pct: 20, load_per_cpu_under: 0.1 });
    expect(r.clusters).toEqual([
      {
        name: "c1",
        nodes: 2,
        cpu_count: 32,
        memory_bytes: 128 * GiB,
        memory_used_bytes: 64 * GiB,
        disk_bytes: 200 * GiB,
        disk_used_bytes: 80 * GiB,
        guests: 3,
        running: 2,
        allocated_cpu: 12,
        allocated_memory_bytes: 24 * GiB,
        cpu_ratio: 0.38,
        memory_ratio: 0.19,
      },
    ]);
    expect(r.nodes.items.map((n: Json) => [n.name, n.cluster, n.guests, n.running, n.allocated_cpu, n.memory_used_pct, n.load_per_cpu])).toEqual([
      ["pve1", "c1", 2, 2, 12, 93.8, 0.13],
      ["pve2", "c1", 1, 0, 0, 6.3, 0.03],
    ]);
    expect(Object.fromEntries(r.over_used.items.map((m: Json) => [m.name, m.reasons]))).toEqual({
      "web-full": ["/ 95% full (over at 90%)"],
      pve1: ["memory 93.8% used (over at 90%)"],
      busy: ["load 2 per CPU (over at 1.5)"],
    });
    expect(r.under_used.items.map((m: Json) => m.name)).toEqual(["ct102", "pve2"]);
    // Guests count in their node's capacity, not twice.
    expect(r.totals).toMatchObject({ targets: 9, cpu_count: 4 * 4 + 32 });

    const md = (await report("resources")).markdown as string;
    expect(md).toMatch(/^# Fleet resources\n/);
    expect(md).toContain("| c1 | 2 | 32 | 128.0 GiB | 64.0 GiB | 200.0 GiB | 80.0 GiB | 3 (2) | 12 (0.38x) | 24.0 GiB (0.19x) |");
    expect(md).toContain("| web-full | host | production | / 95% full (over at 90%) |");
    expect(md).toMatch(/## Under-used\n\n\| Target[^\n]*\n[^\n]*\n\| ct102 \| lxc \|/);
  });

  it("summary: counts, health, and what changed since the newest snapshot (or the last run without one)", async () => {
    fleet = labFleet().filter((f) => f.name !== "keyed");
    pve = [];
    await start();
    await call("run_discovery");

    // No snapshot yet: the change events of the latest run, said so.
    let out = await report("summary", { format: "json" });
    let s = out.data.summary;
    expect(s.targets).toMatchObject({ total: 5, by_kind: { host: 5 }, by_role: { production: 1, staging: 1, unassigned: 3 } });
    expect(s.targets.by_os).toEqual({ debian: 4, ubuntu: 1 });
    expect(s.changes).toMatchObject({ basis: "last_run_events", run_id: 1, snapshot: null, since: T0.toISOString() });
    expect(s.changes.counts.target_added).toBe(5);
    expect(s.last_discovery).toMatchObject({
      run_id: 1,
      status: "ok",
      targets_seen: 5,
      sources: expect.arrayContaining([expect.objectContaining({ id: "lab", status: "ok" })]),
    });
    expect(s.health.mean).toBe(1);
    expect(out.text).toMatch(/change event\(s\) in run 1 \(no snapshot yet\)/);

    await call("create_snapshot", { name: "baseline" });
    now = new Date(T0.getTime() + HOUR);
    fleet[0]!.ports = [port(22, "sshd"), port(443, "nginx"), port(8443, "java")];
    fleet[0]!.services = [service("ssh"), service("cron", { active: "failed", sub: "failed" })];
    fleet = fleet.filter((f) => f.name !== "mystery");
    await call("run_discovery");

    out = await report("summary");
    s = out.data.summary;
    expect(s.changes).toMatchObject({ basis: "snapshot", snapshot: { name: "baseline" }, since: T0.toISOString() });
    expect(s.changes.counts).toMatchObject({ "port created": 1, "service modified": 1 });
    expect(s.changes.critical.items.map((c: Json) => [c.target_name, c.change])).toEqual(
      expect.arrayContaining([
        ["web-1", "new_port_on_production"],
        ["web-1", "service_failed"],
      ]),
    );
    expect(s.changes.items.items.map((c: Json) => c.message)).toEqual(expect.arrayContaining(["port tcp 0.0.0.0:8443 created"]));
    expect(s.health.worst.items.map((t: Json) => t.name)).toContain("web-1");
    expect(s.health.top_issue_codes.service_failed).toBe(1);
    expect(s.last_discovery.run_id).toBe(2);
    const md = out.markdown as string;
    expect(md).toMatch(/^# Fleet summary\n\nGenerated 2026-11-23T11:00:00.000Z\. /);
    expect(md).toContain('## Changes since snapshot 1 "baseline"');
    expect(md).toContain("| port created | 1 |");
    expect(md).toContain("| web-1 | port tcp 0.0.0.0:8443 created |");
    expect(md).toContain("| production | 1 |");
    expect(out.text).toMatch(/change\(s\) since snapshot 1\. The full report is in structuredContent\.markdown\.$/);
  });

  it("health: the stored scores, worst targets with their issues, in both formats, with progress per section", async () => {
    fleet = [{ name: "sick", facts: { "load.5m": 20 }, services: [service("nginx.service", { active: "failed", sub: "failed" })] }, { name: "fine" }];
    pve = [];
    await start();
    await call("run_discovery");
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const res = await h!.client.callTool({ name: "generate_fleet_report", arguments: { kind: "health" } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    const out = res.structuredContent as Json;
    const d = out.data.health;
    expect(d).toMatchObject({ targets: 2, unscored: 0, distribution: { healthy: 1, degraded: 1, unhealthy: 0 } });
    expect(d.issues.by_code).toEqual({ high_load: 1, service_failed: 1 });
    expect(d.worst.items.map((t: Json) => [t.name, t.issues.map((i: Json) => i.code)])).toEqual([["sick", ["high_load", "service_failed"]]]);
    // The report reads, it does not rescore: the stored score is what it says.
    const stored = await call("list_targets", { detail: "full" });
    expect(d.mean).toBe((stored.items[0].health_score + stored.items[1].health_score) / 2);
    expect(out.markdown).toMatch(/^# Fleet health\n/);
    expect(out.markdown).toContain("| sick | host | unassigned | active | 0.65 | critical: 5-minute load");
    expect(progress.map((p) => [p.progress, p.total])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(progress[0]!.message).toBe("health report: health");

    const json = await report("health", { format: "json" });
    expect(json.markdown).toBeNull();
    expect(json.data.health).toEqual(d);

    // Summary has three sections, security four.
    const seen: number[] = [];
    await h!.client.callTool({ name: "generate_fleet_report", arguments: { kind: "security" } }, undefined, { onprogress: (p) => seen.push(p.progress) });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it("stops between sections when the client cancels", async () => {
    fleet = labFleet();
    pve = [];
    await start();
    await call("run_discovery");
    const controller = new AbortController();
    const seen: number[] = [];
    const call1 = h!.client.callTool({ name: "generate_fleet_report", arguments: { kind: "security" } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        seen.push(p.progress);
        // Cancel once the first section has started.
        if (p.progress === 0) controller.abort("enough");
      },
    });
    await expect(call1).rejects.toThrow();
    // The server sees the cancellation before the next section: no further progress, a cancelled audit row.
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([0]);
    expect(lastAudit(h!.app)).toMatchObject({ tool: "generate_fleet_report", outcome: "cancelled" });

    // The builder itself: aborted during the first section, it builds no other.
    const local = new AbortController();
    const sections: string[] = [];
    const build = buildReport(h!.app.db, "security", {
      now: T0,
      limit: 25,
      eolWindowDays: 90,
      config: h!.app.config,
      signal: local.signal,
      onSection: (_i, _n, name) => {
        sections.push(name);
        local.abort(new Error("stop"));
      },
    });
    await expect(build).rejects.toThrow("stop");
    expect(sections).toEqual(["listening ports"]);
  });

  it("refuses unknown kinds and out-of-range limits", async () => {
    fleet = [];
    pve = [];
    await start();
    for (const args of [{ kind: "costs" }, { kind: "health", limit: 0 }, { kind: "health", limit: 201 }, { kind: "security", eol_window_days: 5000 }]) {
      const res = await h!.client.callTool({ name: "generate_fleet_report", arguments: args });
      expect(res.isError, JSON.stringify(args)).toBe(true);
    }
    // An empty inventory is a report that says so, not an error.
    const out = await report("summary");
    expect(out.data.summary.changes.basis).toBe("none");
    expect(out.markdown).toContain("Discovery never ran: call run_discovery.");
  });
});
