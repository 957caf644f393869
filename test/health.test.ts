// Health scores through the MCP client: each signal alone produces exactly its
// issue and deduction, thresholds come from the config, reachability and
// staleness follow injected time, and several sources resolve to the freshest.
import { afterEach, describe, expect, it } from "vitest";
import { container, fleetHarnessOptions, HOST_KEY_MISMATCH, service, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");
const HOUR = 3600_000;
const GiB = 2 ** 30;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

/** Every target's stored score and issues, by name. */
async function scores(): Promise<Map<string, { score: number | null; issues: Json[] }>> {
  const out = new Map<string, { score: number | null; issues: Json[] }>();
  let cursor: string | undefined;
  do {
    const page = await call("list_targets", { detail: "full", limit: 200, ...(cursor ? { cursor } : {}) });
    for (const t of page.items) out.set(t.name, { score: t.health_score, issues: t.issues });
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

const fs = (mount: string, usedPct: number, over: Partial<{ fstype: string; source: string }> = {}) => ({
  source: over.source ?? `/dev/disk-${mount}`,
  fstype: over.fstype ?? "ext4",
  sizeBytes: 100 * GiB,
  usedBytes: usedPct * GiB,
  availBytes: (100 - usedPct) * GiB,
  mount,
});

/** One host per signal; `fine` has none (and carries things that must not count). */
function signalFleet(): HostSpec[] {
  return [
    {
      name: "fine",
      containers: [container("job", "alpine", { state: "exited", status: "Exited (0) 3 hours ago" })],
      filesystems: [
        fs("/", 50),
        fs("/snap/core/1", 100, { fstype: "squashfs", source: "/dev/loop0" }),
        fs("/var/lib/docker/overlay2/x/merged", 99, { fstype: "overlay", source: "overlay" }),
      ],
    },
    { name: "load-warn", facts: { "load.5m": 6.4 } },
    { name: "load-crit", facts: { "load.5m": 13 } },
    { name: "mem-warn", facts: { "memory.available_bytes": Math.round(0.08 * 8 * GiB) } },
    { name: "mem-crit", facts: { "memory.available_bytes": Math.round(0.03 * 8 * GiB) } },
    { name: "swap-warn", facts: { "swap.free_bytes": Math.round(0.4 * GiB) } },
    { name: "swap-crit", facts: { "swap.free_bytes": Math.round(0.1 * GiB) } },
    { name: "fs-warn", filesystems: [fs("/", 85)] },
    { name: "fs-crit", filesystems: [fs("/", 40), fs("/var", 93)] },
    { name: "unit-failed", services: [service("ssh"), service("nginx.service", { active: "failed", sub: "failed" })] },
    { name: "ctr-exited", containers: [container("web", "nginx", { state: "exited", status: "Exited (137) 2 hours ago" })] },
    { name: "ctr-unhealthy", containers: [container("api", "api:1", { status: "Up 2 hours (unhealthy)" })] },
    { name: "ctr-restarting", containers: [container("worker", "worker:1", { state: "restarting", status: "Restarting (1) 5 seconds ago" })] },
  ];
}

const only = (issues: Json[]) => issues.map((i: Json) => ({ code: i.code, severity: i.severity, deduction: i.deduction }));

describe("run_health_check", () => {
  it("gives each signal exactly its issue, deduction and plain-language message; a target without issues scores 1.0", async () => {
    h = await startHarness({ ...fleetHarnessOptions({ lab: signalFleet }), now: () => T0 });
    await call("run_discovery");
    const out = await call("run_health_check", { limit: 200 });
    expect(lastAudit(h.app)).toMatchObject({ tool: "run_health_check", outcome: "ok" });
    const s = await scores();

    const expected: Record<string, { code: string; severity: string; deduction: number; message: RegExp } | null> = {
      fine: null,
      "load-warn": { code: "high_load", severity: "warning", deduction: 0.1, message: /^5-minute load 6\.40 on 4 CPUs is 1\.60 per CPU \(warning at 1\.5\)$/ },
      "load-crit": { code: "high_load", severity: "critical", deduction: 0.25, message: /3\.25 per CPU \(critical at 3\)$/ },
      "mem-warn": { code: "memory_pressure", severity: "warning", deduction: 0.1, message: /^memory is 92% used, .* \(warning at 90%\)$/ },
      "mem-crit": { code: "memory_pressure", severity: "critical", deduction: 0.25, message: /^memory is 97% used.*\(critical at 95%\)$/ },
      "swap-warn": { code: "swap_pressure", severity: "warning", deduction: 0.1, message: /^swap is 60% used.*\(warning at 50%\)$/ },
      "swap-crit": { code: "swap_pressure", severity: "critical", deduction: 0.25, message: /^swap is 90% used.*\(critical at 80%\)$/ },
      "fs-warn": { code: "filesystem_full", severity: "warning", deduction: 0.1, message: /^\/ is 85% full, 15\.0 GiB free \(warning at 80%\)$/ },
      "fs-crit": { code: "filesystem_full", severity: "critical", deduction: 0.25, message: /^\/var is 93% full, 7\.0 GiB free \(critical at 90%\)$/ },
      "unit-failed": { code: "service_failed", severity: "warning", deduction: 0.1, message: /^systemd unit nginx\.service has failed$/ },
      "ctr-exited": { code: "container_exited", severity: "warning", deduction: 0.1, message: /^container web exited with code 137$/ },
      "ctr-unhealthy": { code: "container_unhealthy", severity: "warning", deduction: 0.1, message: /^container api is unhealthy/ },
      "ctr-restarting": { code: "container_restarting", severity: "warning", deduction: 0.1, message: /^container worker keeps restarting/ },
    };
    for (const [name, want] of Object.entries(expected)) {
      const got = s.get(name)!;
      if (!want) {
        expect({ name, ...got }).toEqual({ name, score: 1, issues: [] });
        continue;
      }
      expect({ name, issues: only(got.issues) }).toEqual({ name, issues: [{ code: want.code, severity: want.severity, deduction: want.deduction }] });
      expect(got.issues[0].message).toMatch(want.message);
      expect(got.score).toBeCloseTo(1 - want.deduction, 10);
    }

    // The summary adds up: 13 targets, 1 healthy at 1.0, the 0.9s healthy too, the 0.75s degraded.
    expect(out.targets).toBe(13);
    expect(out.distribution).toEqual({ healthy: 9, degraded: 4, unhealthy: 0 });
    expect(out.mean).toBeCloseTo((1 + 8 * 0.9 + 4 * 0.75) / 13, 3);
    expect(out.issue_counts).toEqual({
      total: 12,
      by_severity: { info: 0, warning: 8, critical: 4 },
      by_code: {
        high_load: 2,
        memory_pressure: 2,
        swap_pressure: 2,
        filesystem_full: 2,
        service_failed: 1,
        container_exited: 1,
        container_unhealthy: 1,
        container_restarting: 1,
      },
    });
    // Worst first, ties by name; issues by severity, critical first.
    expect(out.worst.slice(0, 4).map((w: Json) => [w.name, w.score])).toEqual([
      ["fs-crit", 0.75],
      ["load-crit", 0.75],
      ["mem-crit", 0.75],
      ["swap-crit", 0.75],
    ]);
    expect(out.issues.total).toBe(12);
    expect(out.issues.items.slice(0, 4).map((i: Json) => i.severity)).toEqual(["critical", "critical", "critical", "critical"]);
    expect(out.issues.items.slice(4).every((i: Json) => i.severity === "warning")).toBe(true);
    expect(out.next_cursor).toBeNull();
    expect(text(await h.client.callTool({ name: "run_health_check", arguments: {} }))).toMatch(
      /^13 target\(s\), mean health 0\.8\d+: 9 healthy, 4 degraded, 0 unhealthy; 4 critical and 8 warning issue\(s\)\. Worst: fs-crit/,
    );
  });

  it("deducts once per issue, floors at 0.0, and pages issues by severity without gaps or repeats", async () => {
    const failedUnits = Array.from({ length: 12 }, (_, i) => service(`broken-${String(i).padStart(2, "0")}.service`, { active: "failed", sub: "failed" }));
    h = await startHarness({
      ...fleetHarnessOptions({ lab: () => [{ name: "wreck", services: failedUnits, facts: { "load.5m": 20 } }, { name: "ok-host" }] }),
      now: () => T0,
    });
    await call("run_discovery");
    const first = await call("run_health_check", { target: "wreck", limit: 5 });
    expect(first.target).toMatchObject({ name: "wreck", score: 0 });
    expect(first.issues.total).toBe(13);
    const seen: string[] = first.issues.items.map((i: Json) => i.message);
    let cursor = first.next_cursor;
    while (cursor) {
      const page = await call("run_health_check", { target: "wreck", limit: 5, cursor });
      seen.push(...page.issues.items.map((i: Json) => i.message));
      cursor = page.next_cursor;
    }
    expect(seen).toHaveLength(13);
    expect(new Set(seen).size).toBe(13);
    expect(seen[0]).toMatch(/^5-minute load 20\.00 on 4 CPUs/);
    const s = await scores();
    expect(s.get("wreck")!.issues.reduce((a: number, i: Json) => a + i.deduction, 0)).toBeCloseTo(0.25 + 1.2, 10);
    expect(s.get("ok-host")).toEqual({ score: 1, issues: [] });
    // min_severity filters the listed issues, not the scoring.
    const crit = await call("run_health_check", { min_severity: "critical" });
    expect(crit.issues.items.map((i: Json) => i.code)).toEqual(["high_load"]);
    expect(crit.issue_counts.total).toBe(13);
  });

  it("takes its thresholds from the config file", async () => {
    const opts = fleetHarnessOptions({ lab: signalFleet });
    h = await startHarness({
      ...opts,
      configJson: {
        health: {
          filesystem_warning_pct: 90,
          filesystem_critical_pct: 95,
          memory_warning_pct: 95,
          memory_critical_pct: 98,
          swap_warning_pct: 70,
          swap_critical_pct: 95,
          load_per_cpu_warning: 2,
          load_per_cpu_critical: 4,
        },
      },
      now: () => T0,
    });
    await call("run_discovery");
    await call("run_health_check");
    const s = await scores();
    const codes = (n: string) => only(s.get(n)!.issues);
    expect(codes("fs-warn")).toEqual([]); // 85% < 90%
    expect(codes("fs-crit")).toEqual([{ code: "filesystem_full", severity: "warning", deduction: 0.1 }]); // 93%: warning now
    expect(s.get("fs-crit")!.issues[0].message).toMatch(/\(warning at 90%\)$/);
    expect(codes("load-warn")).toEqual([]); // 1.6 < 2
    expect(codes("load-crit")).toEqual([{ code: "high_load", severity: "warning", deduction: 0.1 }]); // 3.25 < 4
    expect(codes("mem-warn")).toEqual([]); // 92% < 95%
    expect(codes("mem-crit")).toEqual([{ code: "memory_pressure", severity: "warning", deduction: 0.1 }]); // 97% < 98%
    expect(codes("swap-warn")).toEqual([]); // 60% < 70%
    expect(codes("swap-crit")).toEqual([{ code: "swap_pressure", severity: "warning", deduction: 0.1 }]); // 90% < 95%
    expect(s.get("fs-warn")!.score).toBe(1);
  });

  it("scores unreachable and never-reached targets at most 0.4, stale ones at most 0.2, over injected time", async () => {
    let now = T0;
    const down = new Set<string>();
    const fleet = (): HostSpec[] =>
      ["alpha", "beta", "gamma"].map((name) => (down.has(name) ? { name, status: "unreachable" as const, error: "connect ECONNREFUSED" } : { name }));
    h = await startHarness({ ...fleetHarnessOptions({ lab: fleet }), now: () => now });
    // gamma is down from the start: never reached.
    down.add("gamma");
    await call("run_discovery");
    down.add("beta");
    now = new Date(T0.getTime() + 2 * HOUR);
    await call("run_discovery");
    await call("run_health_check");
    let s = await scores();
    expect(s.get("alpha")).toEqual({ score: 1, issues: [] });
    expect(only(s.get("beta")!.issues)).toEqual([{ code: "unreachable", severity: "critical", deduction: 0.6 }]);
    expect(s.get("beta")!.score).toBe(0.4);
    expect(s.get("beta")!.issues[0].message).toBe(`unreachable since ${T0.toISOString()} (last attempt ${now.toISOString()}: connect ECONNREFUSED)`);
    expect(only(s.get("gamma")!.issues)).toEqual([{ code: "unreachable", severity: "critical", deduction: 0.6 }]);
    expect(s.get("gamma")!.issues[0].message).toMatch(/^never reached \(last attempt .*: connect ECONNREFUSED\)$/);

    // 30 hours on, no discovery in between: the clock alone makes beta and gamma stale (24 h default).
    now = new Date(T0.getTime() + 30 * HOUR);
    const out = await call("run_health_check");
    s = await scores();
    expect(only(s.get("beta")!.issues)).toEqual([{ code: "stale", severity: "critical", deduction: 0.8 }]);
    expect(s.get("beta")!.score).toBe(0.2);
    expect(s.get("beta")!.issues[0].message).toMatch(/^not reached for 30 h, since 2026-11-23T10:00:00\.000Z; stale after 24 h/);
    expect(s.get("gamma")!.issues[0].message).toMatch(/^never reached since it was found 30 h ago; stale after 24 h/);
    // alpha was last reached 30 h ago as well: stale too, though nothing failed.
    expect(only(s.get("alpha")!.issues)).toEqual([{ code: "stale", severity: "critical", deduction: 0.8 }]);
    expect(out.distribution).toEqual({ healthy: 0, degraded: 0, unhealthy: 3 });

    // A discovery brings alpha and beta back: healthy again.
    down.clear();
    await call("run_discovery");
    await call("run_health_check");
    s = await scores();
    expect([s.get("alpha")!.score, s.get("beta")!.score, s.get("gamma")!.score]).toEqual([1, 1, 1]);
  });

  it("leaves retired targets out of the check", async () => {
    let now = T0;
    let hosts = ["keep", "gone"];
    h = await startHarness({
      ...fleetHarnessOptions({ lab: () => hosts.map((name) => ({ name })) }),
      config: { ...fleetHarnessOptions({ lab: () => [] }).config, lifecycle: { staleAfterMs: 24 * HOUR, retireAfterMs: 48 * HOUR } },
      now: () => now,
    });
    await call("run_discovery");
    hosts = ["keep"];
    now = new Date(T0.getTime() + 100 * HOUR);
    await call("run_discovery");
    const out = await call("run_health_check");
    expect(out.targets).toBe(1);
    const retired = await call("list_targets", { lifecycle: "retired", detail: "full" });
    expect(retired.items.map((t: Json) => [t.name, t.health_score])).toEqual([["gone", null]]);
  });

  it("reports a changed host key until it is accepted", async () => {
    let mismatch = false;
    const presented = (fp: string) => ({ fingerprint: fp, type: "ssh-ed25519" });
    const OLD = `SHA256:${"A".repeat(43)}`;
    const NEW = `SHA256:${"B".repeat(43)}`;
    // The endpoint an SSH source reports: the pinned key, then a different one (and the probe refused).
    const keyed = (): HostSpec[] => [
      {
        name: "keyed",
        ...(mismatch ? HOST_KEY_MISMATCH : {}),
        endpoint: { key: "ssh:10.0.0.9:22", presentedKey: presented(mismatch ? NEW : OLD), hostKeyCheck: mismatch ? "mismatch" : "first_use" },
      },
    ];
    h = await startHarness({ ...fleetHarnessOptions({ lab: keyed }), now: () => T0 });
    await call("run_discovery");
    mismatch = true;
    await call("run_discovery");
    await call("run_health_check");
    let s = await scores();
    expect(only(s.get("keyed")!.issues)).toEqual([
      { code: "unreachable", severity: "critical", deduction: 0.6 },
      { code: "host_key_changed", severity: "critical", deduction: 0.3 },
    ]);
    expect(s.get("keyed")!.issues[1].message).toMatch(
      new RegExp(`^ssh:10\\.0\\.0\\.9:22 presented a different host key ${NEW.replace(/[+/]/g, "\\$&")} .*accept_host_key$`),
    );
    expect(s.get("keyed")!.score).toBe(0.1);
    await call("accept_host_key", { target: "keyed", fingerprint: NEW });
    await call("run_health_check");
    s = await scores();
    expect(only(s.get("keyed")!.issues)).toEqual([{ code: "unreachable", severity: "critical", deduction: 0.6 }]);
  });

  it("judges a target seen by several sources by the source that observed it last", async () => {
    let now = T0;
    const a = () => [{ name: "shared", facts: { "load.5m": 20 }, services: [service("nginx.service", { active: "failed", sub: "failed" })] }];
    const b = () => [{ name: "shared" }];
    h = await startHarness({ ...fleetHarnessOptions({ a, b }), now: () => now });
    await call("run_discovery", { sources: ["a"] });
    await call("run_health_check");
    expect(only((await scores()).get("shared")!.issues).map((i) => i.code)).toEqual(["high_load", "service_failed"]);
    now = new Date(T0.getTime() + HOUR);
    await call("run_discovery", { sources: ["b"] });
    await call("run_health_check");
    expect((await scores()).get("shared")).toEqual({ score: 1, issues: [] });
    now = new Date(T0.getTime() + 2 * HOUR);
    await call("run_discovery", { sources: ["a"] });
    await call("run_health_check");
    expect(only((await scores()).get("shared")!.issues).map((i) => i.code)).toEqual(["high_load", "service_failed"]);
  });

  it("refuses an unknown target with candidates", async () => {
    h = await startHarness({ ...fleetHarnessOptions({ lab: () => [{ name: "web-1" }] }), now: () => T0 });
    await call("run_discovery");
    const res = await h.client.callTool({ name: "run_health_check", arguments: { target: "web" } });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/^No target "web"\. Close or recent ones: web-1 \(/);
    expect(lastAudit(h.app)).toMatchObject({ tool: "run_health_check", outcome: "tool_error" });
  });
});
