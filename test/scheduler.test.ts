// The scheduler of the long-running server, against the real discovery service
// and a real (in-memory) database: periodic discovery and health checks at short
// intervals, skipping a tick while another run is in progress, cancelling a
// scheduled run on stop() (against in-process SSH peers on 127.0.0.1), the
// stale-cleanup pass on an injected clock, the schedule in get_discovery_status,
// and limits.max_fleet_size. Every wait polls with a bound; nothing asserts on
// how long something took.
import { execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import type { FleetConfig } from "../src/config.js";
import type { DiscoverySource } from "../src/discovery/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { Scheduler, type SchedulerOptions, type SchedulerTimers } from "../src/app/scheduler.js";
import type { SourceFactory } from "../src/app/sources.js";
import { fleetHarnessOptions, fleetSource, type HostSpec } from "./support/fleet.js";
import { callOk, startHarness, text, type Harness } from "./support/harness.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";
import { waitFor } from "./support/wait.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const HOUR = 3600_000;
const PASSWORD = "sched-ssh-passw0rd";

let h: Harness | undefined;
let scheduler: Scheduler | undefined;
const sims: SimHost[] = [];
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await h?.close();
  h = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** Real timers that remember which are pending, so a test can see stop() cleared them all. */
function trackedTimers(): SchedulerTimers & { pending: Set<unknown> } {
  const pending = new Set<unknown>();
  return {
    pending,
    set(fn, ms) {
      const t = setTimeout(() => {
        pending.delete(t);
        fn();
      }, ms);
      pending.add(t);
      return t;
    },
    clear(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
      pending.delete(handle);
    },
  };
}

function runs(): Array<{ id: number; trigger: string; status: string; started_at: string; finished_at: string | null }> {
  return h!.app.db.$client.prepare("SELECT id, trigger, status, started_at, finished_at FROM discovery_runs ORDER BY id").all() as never;
}

function target(name: string): S {
  return h!.app.db.$client.prepare("SELECT * FROM targets WHERE name = ?").get(name) as S;
}

function schedule(over: Partial<FleetConfig["schedule"]>): FleetConfig["schedule"] {
  return { discoveryIntervalMs: 0, healthCheckIntervalMs: 0, jitter: 0.1, ...over };
}

function startScheduler(opts: SchedulerOptions = {}): Scheduler {
  scheduler = new Scheduler(h!.app, { firstRunDelayMs: 10, recheckMs: 100, ...opts });
  h!.app.scheduler = scheduler;
  return scheduler.start();
}

/** A programmable fleet source that holds its run open until `release()` (or until it is cancelled). */
function heldSource(id: string, fleet: () => HostSpec[]) {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const inner = fleetSource(id, fleet);
  const source: DiscoverySource = {
    id,
    kind: inner.kind,
    async discover(ctx) {
      await Promise.race([gate, new Promise((r) => ctx.signal.addEventListener("abort", r, { once: true }))]);
      return inner.discover(ctx);
    },
  };
  return {
    source,
    release: () => release(),
    /** Later runs are held again. */
    hold: () => (gate = new Promise<void>((r) => (release = r))),
  };
}

describe("scheduler", () => {
  it("runs discovery and the health check at their intervals, one run at a time, and stop() clears every timer", async () => {
    const fleet: HostSpec[] = [{ name: "web-1" }, { name: "db-1" }];
    const opts = fleetHarnessOptions({ lab: () => fleet });
    h = await startHarness({ ...opts, config: { ...opts.config, schedule: schedule({ discoveryIntervalMs: 300, healthCheckIntervalMs: 200 }) } });
    const timers = trackedTimers();
    const s = startScheduler({ timers });

    await waitFor("two scheduled runs", () => runs().filter((r) => r.trigger === "scheduler" && r.status === "ok").length >= 2);
    await waitFor("a scheduled health check", () => s.status().health_check.last_run_at);
    const all = runs();
    expect(all.every((r) => r.trigger === "scheduler")).toBe(true);
    // Never overlapping: each run starts after the previous one ended.
    for (let i = 1; i < all.length; i++) {
      if (all[i - 1]!.finished_at) expect(all[i]!.started_at >= all[i - 1]!.finished_at!).toBe(true);
    }
    expect(target("web-1")).toMatchObject({ lifecycle: "active" });
    expect(target("web-1").health_score).not.toBeNull();

    const st = s.status();
    expect(st.active).toBe(true);
    expect(st.discovery).toMatchObject({ enabled: true, interval_s: 0.3, jitter: 0.1, skipped: 0, last_error: null });
    expect(st.discovery.last_run_id).toBeGreaterThanOrEqual(all[1]!.id);
    expect(st.health_check).toMatchObject({ enabled: true, interval_s: 0.2, last_error: null });
    expect(st.health_check.last_duration_ms).toBeGreaterThanOrEqual(0);
    expect(st.recent_durations_ms.length).toBeGreaterThanOrEqual(2);

    // The same through the MCP client.
    const res = await h.client.callTool({ name: "get_discovery_status", arguments: {} });
    const out = res.structuredContent as S;
    expect(out.schedule).toMatchObject({ enabled: true, reason: null, discovery: { enabled: true, interval_s: 0.3 }, health_check: { interval_s: 0.2 } });
    expect(out.schedule.recent_durations_ms.length).toBeGreaterThanOrEqual(2);
    expect(out.runs[0].trigger).toBe("scheduler");
    expect(text(res)).toMatch(/Next scheduled discovery: (\S+Z|after the one in progress) \(every 0\.3 s\)/);

    await s.stop();
    expect(timers.pending.size).toBe(0);
    expect(s.status()).toMatchObject({ active: false, discovery: { next_run_at: null }, health_check: { next_run_at: null } });
    // Idempotent.
    await s.stop();
    expect(runs().some((r) => r.status === "running")).toBe(false);
  });

  it("plans the first run soon after start when the inventory was never discovered, else at the last run + interval, and follows config changes", async () => {
    const fleet: HostSpec[] = [{ name: "web-1" }];
    const T0 = new Date("2026-11-23T10:00:00.000Z");
    const opts = fleetHarnessOptions({ lab: () => fleet });
    h = await startHarness({
      ...opts,
      now: () => T0,
      config: { ...opts.config, schedule: schedule({ discoveryIntervalMs: 3600_000, healthCheckIntervalMs: 60_000 }) },
    });
    // random 0.5: no jitter, so the planned times are exact.
    const fresh = new Scheduler(h.app, { random: () => 0.5, recheckMs: 100 });
    fresh.start();
    expect(fresh.status().discovery.next_run_at).toBe(new Date(T0.getTime() + 2000).toISOString());
    expect(fresh.status().health_check.next_run_at).toBe(new Date(T0.getTime() + 60_000).toISOString());
    await fresh.stop();

    await callOk(h, "run_discovery");
    const last = runs().at(-1)!;
    scheduler = new Scheduler(h.app, { random: () => 0.5, recheckMs: 100 }).start();
    expect(scheduler.status().discovery.next_run_at).toBe(new Date(Date.parse(last.finished_at!) + 3600_000).toISOString());

    // A config update reschedules.
    h.app.applyConfig({ ...h.app.config, schedule: schedule({ discoveryIntervalMs: 600_000, healthCheckIntervalMs: 0 }) });
    expect(scheduler.status().discovery).toMatchObject({
      enabled: true,
      interval_s: 600,
      next_run_at: new Date(Date.parse(last.finished_at!) + 600_000).toISOString(),
    });
    expect(scheduler.status().health_check).toMatchObject({ enabled: false, next_run_at: null });
    h.app.applyConfig({ ...h.app.config, schedule: schedule({ discoveryIntervalMs: 0 }) });
    expect(scheduler.status().discovery).toMatchObject({ enabled: false, next_run_at: null });

    // Jitter stays within interval × (1 ± jitter).
    h.app.applyConfig({ ...h.app.config, schedule: schedule({ discoveryIntervalMs: 100_000, jitter: 0.2 }) });
    for (const r of [0, 0.999]) {
      const j = new Scheduler(h.app, { random: () => r }).start();
      const wait = Date.parse(j.status().discovery.next_run_at!) - Date.parse(last.finished_at!);
      expect(wait).toBeGreaterThanOrEqual(80_000);
      expect(wait).toBeLessThanOrEqual(120_000);
      expect(wait).not.toBe(100_000);
      await j.stop();
    }
  });

  it("skips a tick while a manual run is in progress, says which run, and runs at the next tick", async () => {
    const fleet: HostSpec[] = [{ name: "web-1" }];
    const held = heldSource("lab", () => fleet);
    const factory: SourceFactory = () => held.source;
    const opts = fleetHarnessOptions({ lab: () => fleet });
    h = await startHarness({ sourceFactory: factory, config: { ...opts.config, schedule: schedule({ discoveryIntervalMs: 200, healthCheckIntervalMs: 50 }) } });

    const manual = h.client.callTool({ name: "run_discovery", arguments: {} });
    const busy = await waitFor("the manual run", () => h!.app.discovery.current());
    const s = startScheduler();
    await waitFor("a skipped discovery tick", () => s.status().discovery.skipped >= 1);
    await waitFor("a skipped health check", () => s.status().health_check.skipped >= 1);
    const st = s.status().discovery;
    expect(st.last_skip_reason).toContain(`discovery run ${busy.runId}`);
    expect(st.last_skipped_at).not.toBeNull();
    expect(s.status().health_check.last_skip_reason).toContain(`discovery run ${busy.runId} was in progress`);
    expect(h.logs.some((l) => l.includes("scheduled discovery skipped") && l.includes(`"run_id":${busy.runId}`))).toBe(true);
    // Only the manual run exists: the skipped tick started nothing.
    expect(runs().map((r) => r.trigger)).toEqual(["tool"]);

    const status = await callOk(h, "get_discovery_status");
    expect(status.running).toEqual({ run_id: busy.runId, started_at: busy.startedAt });
    expect(status.schedule.discovery.last_skip_reason).toContain(`discovery run ${busy.runId}`);

    held.release();
    expect((await manual).isError).toBeFalsy();
    await waitFor("a scheduled run after the manual one", () => runs().some((r) => r.trigger === "scheduler" && r.status === "ok"));
    const text1 = text(await h.client.callTool({ name: "get_discovery_status", arguments: {} }));
    expect(text1).toContain(`Last skipped ${st.last_skipped_at}`);
  });

  it("stop() during a slow scheduled discovery cancels it: the run ends cancelled and the previous inventory stays", async () => {
    for (const name of ["sim-a", "sim-b"]) sims.push(await startSimHost({ name, users: { root: { password: PASSWORD } } }));
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "ssh",
            id: "lab",
            hosts: sims.map((s, i) => ({ address: s.address, port: s.port, name: `sim-${"ab"[i]}` })),
            auth: { agent: false, password_env: "FLEET_TEST_SSH_PASSWORD" },
            timeout_ms: 20_000,
            retry_min_delay_ms: 0,
          },
        ],
      },
      env: { FLEET_TEST_SSH_PASSWORD: PASSWORD },
      config: { schedule: schedule({ discoveryIntervalMs: 200 }) },
    });
    const first = await callOk(h, "run_discovery");
    expect(first.status).toBe("ok");
    const before = ["sim-a", "sim-b"].map(target);
    expect(before.map((t) => t.lifecycle)).toEqual(["active", "active"]);
    const factsBefore = h.app.db.$client.prepare("SELECT count(*) AS n FROM facts").get() as { n: number };

    // From now on a probe authenticates and then hangs: the scheduled run stays in progress until cancelled.
    for (const sim of sims) sim.setFault("hang_after_auth");
    const execsBefore = sims.map((s) => s.execs);
    const timers = trackedTimers();
    const s = startScheduler({ timers });
    const runId = await waitFor("the scheduled run", () => s.status().discovery.running_run_id);
    await waitFor("both probes hanging", () => sims.every((sim, i) => sim.execs > execsBefore[i]!));

    await s.stop();
    expect(timers.pending.size).toBe(0);
    const run = runs().find((r) => r.id === runId)!;
    expect(run).toMatchObject({ trigger: "scheduler", status: "cancelled" });
    expect(run.finished_at).not.toBeNull();
    expect(runs().some((r) => r.status === "running")).toBe(false);
    // Nothing the cancelled run saw was written over what the first run knew.
    const after = ["sim-a", "sim-b"].map(target);
    for (const [i, t] of after.entries()) {
      expect(t).toMatchObject({
        last_seen_at: before[i]!.last_seen_at,
        os_id: before[i]!.os_id,
        kernel: before[i]!.kernel,
        mem_total_bytes: before[i]!.mem_total_bytes,
        // A cancelled probe says nothing about the host: it stays active, not unreachable.
        lifecycle: "active",
      });
    }
    expect(h.app.db.$client.prepare("SELECT count(*) AS n FROM facts").get()).toEqual(factsBefore);
    expect(h.logs.some((l) => l.includes("cancelling the scheduled discovery run"))).toBe(true);
  });

  it("moves a target nobody reached for stale_after to stale between runs, on an injected clock", async () => {
    let skew = 0;
    const now = () => new Date(Date.now() + skew);
    let bStatus: HostSpec["status"] = "ok";
    const fleet = () => [{ name: "a" }, { name: "b", status: bStatus, ...(bStatus === "ok" ? {} : { error: "connect timed out" }) }];
    const opts = fleetHarnessOptions({ lab: fleet });
    h = await startHarness({
      ...opts,
      now,
      config: { ...opts.config, lifecycle: { staleAfterMs: 2 * HOUR, retireAfterMs: null }, schedule: schedule({ healthCheckIntervalMs: 100 }) },
    });
    await callOk(h, "run_discovery");
    skew = 1 * HOUR;
    bStatus = "timeout";
    await callOk(h, "run_discovery");
    expect([target("a").lifecycle, target("b").lifecycle]).toEqual(["active", "unreachable"]);

    // 2.5 h after b was last reached (a was reached 1.5 h ago): no run, only the scheduler's pass.
    skew = 2.5 * HOUR;
    const s = startScheduler();
    await waitFor("b stale", () => target("b").lifecycle === "stale");
    expect(target("a").lifecycle).toBe("active");
    await waitFor("the pass recorded", () => s.status().health_check.last_lifecycle_changes === 1);
    const ev = h.app.db.$client.prepare("SELECT * FROM events WHERE type = 'lifecycle_changed' AND target_id = ? ORDER BY id DESC").get(target("b").id) as S;
    expect(ev).toMatchObject({ run_id: null, severity: "warning" });
    expect(JSON.parse(ev.data)).toMatchObject({ before: "unreachable", after: "stale" });
    // The health recompute of the same pass scores it as stale.
    expect(JSON.parse(target("b").health_issues).map((i: S) => i.code)).toContain("stale");
    expect(runs().length).toBe(2);
  });

  it("get_discovery_status without a scheduler says so, and still lists recent run durations", async () => {
    const opts = fleetHarnessOptions({ lab: () => [{ name: "web-1" }] });
    h = await startHarness({ ...opts, config: { ...opts.config, schedule: schedule({ discoveryIntervalMs: 300_000 }) } });
    await callOk(h, "run_discovery");
    const res = await h.client.callTool({ name: "get_discovery_status", arguments: {} });
    const out = res.structuredContent as S;
    expect(out.schedule).toMatchObject({ enabled: false, discovery: null, health_check: null });
    expect(out.schedule.reason).toContain("No scheduler runs in this process");
    expect(out.schedule.reason).toContain("one every 300 s");
    expect(out.schedule.recent_durations_ms).toEqual([out.runs[0].duration_ms]);
    expect(text(res)).toContain("No scheduled discovery in this process.");
  });
});

describe("max_fleet_size", () => {
  it("leaves out new targets beyond the cap, never known ones, and says so on the source and in the log", async () => {
    let lab: HostSpec[] = [{ name: "a" }, { name: "b" }];
    let extra: HostSpec[] = [];
    const opts = fleetHarnessOptions({ lab: () => lab, extra: () => extra });
    h = await startHarness({ ...opts, config: { ...opts.config, limits: { maxFleetSize: 4 } as FleetConfig["limits"] } });
    await callOk(h, "run_discovery");

    // Known targets listed after new ones are still kept; `x` is seen by both sources and counts once.
    lab = [{ name: "x" }, { name: "y" }, { name: "a" }, { name: "z" }, { name: "b" }];
    extra = [{ name: "x" }, { name: "w" }];
    const run = await callOk(h, "run_discovery");
    const names = (h.app.db.$client.prepare("SELECT name FROM targets ORDER BY name").all() as S[]).map((r) => r.name);
    expect(names).toEqual(["a", "b", "x", "y"]);
    const warning = (n: number, held: number, max: number) =>
      `${n} new target(s) left out: the inventory holds ${held} of max_fleet_size ${max}; raise limits.max_fleet_size / FLEET_MAX_FLEET_SIZE`;
    const bySource = Object.fromEntries(run.sources.map((s: S) => [s.id, s]));
    expect(bySource.lab.warnings).toEqual([warning(1, 4, 4)]);
    expect(bySource.extra.warnings).toEqual([warning(1, 4, 4)]);
    expect(bySource.lab.targets).toBe(4);
    expect(bySource.extra.targets).toBe(1);
    expect(run.targets_added).toBe(2);
    expect(h.logs.some((l) => l.includes('"level":"warn"') && l.includes(warning(1, 4, 4)) && l.includes('"source":"lab"'))).toBe(true);
    // The run's stored source results carry the warning too.
    const status = await callOk(h, "get_discovery_status", { limit: 1 });
    expect(status.runs[0].sources.find((s: S) => s.id === "lab").warnings).toEqual([warning(1, 4, 4)]);

    // A cap lowered below the inventory: every known target is kept, nothing new is added.
    h.app.applyConfig({ ...h.app.config, limits: { ...h.app.config.limits, maxFleetSize: 2 } });
    const lowered = await callOk(h, "run_discovery");
    expect(lowered.targets_seen).toBe(4);
    expect(lowered.targets_added).toBe(0);
    expect(lowered.sources.find((s: S) => s.id === "lab").warnings).toEqual([warning(1, 4, 2)]);
    expect(["a", "b", "x", "y"].map((n) => target(n).lifecycle)).toEqual(["active", "active", "active", "active"]);

    // No cap: everything is written, without a warning.
    h.app.applyConfig({ ...h.app.config, limits: { ...h.app.config.limits, maxFleetSize: null } });
    const open = await callOk(h, "run_discovery");
    expect(open.targets_added).toBe(2);
    expect(open.sources.flatMap((s: S) => s.warnings)).toEqual([]);
  });
});

describe("fleet-mcp serve, end to end", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const cli = join(root, "dist", "cli.js");

  it("runs a scheduled discovery, and on SIGTERM during one cancels it, exits 0 and leaves no run 'running'", { timeout: 90_000 }, async () => {
    if (!existsSync(cli)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
    const dir = mkdtempSync(join(tmpdir(), "fleet-sched-e2e-"));
    try {
      // Each probe takes 1.5 s: long enough to catch a run in progress.
      for (const name of ["e2e-a", "e2e-b"]) sims.push(await startSimHost({ name, execDelayMs: 1500, users: { root: { password: PASSWORD } } }));
      const config = join(dir, "fleet.yaml");
      writeFileSync(
        config,
        [
          "sources:",
          "  - kind: ssh",
          "    id: lab",
          "    auth: { agent: false, password_env: FLEET_TEST_SSH_PASSWORD }",
          "    timeout_ms: 20000",
          "    hosts:",
          ...sims.map((sim, i) => `      - { address: ${sim.address}, port: ${sim.port}, name: e2e-${"ab"[i]} }`),
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const db = join(dir, "fleet.db");
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [cli, "serve", "--db", db, "--config", config],
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: dir,
          FLEET_LOG_LEVEL: "info",
          FLEET_DISCOVERY_INTERVAL: "5",
          FLEET_TEST_SSH_PASSWORD: PASSWORD,
        },
        stderr: "pipe",
      });
      let stderr = "";
      transport.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
      const client = new Client({ name: "scheduler-e2e", version: "1.0.0" });
      const protocolErrors: Error[] = [];
      client.onerror = (e) => protocolErrors.push(e);
      await client.connect(transport);
      const status = async () => (await client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;

      // The inventory was never discovered: the scheduler runs one soon after start.
      const first = await waitFor(
        "a scheduled run",
        async () => {
          const s = await status();
          return s.runs.some((r: S) => r.trigger === "scheduler" && r.status === "ok") ? s : null;
        },
        30_000,
      );
      expect(first.schedule).toMatchObject({ enabled: true, discovery: { enabled: true, interval_s: 5, jitter: 0.1 } });
      expect(first.schedule.recent_durations_ms.length).toBeGreaterThanOrEqual(1);
      expect(first.runs[0].targets_seen).toBe(2);

      // The next one starts about 5 s after the first ended; SIGTERM while it runs.
      const during = await waitFor(
        "the next scheduled run in progress",
        async () => {
          const s = await status();
          return s.running && s.schedule.discovery.running_run_id === s.running.run_id ? s : null;
        },
        30_000,
      );
      const child = (transport as unknown as { _process?: ChildProcess })._process;
      expect(child?.pid).toBe(transport.pid);
      const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
      process.kill(transport.pid!, "SIGTERM");
      expect(await exited).toBe(0);
      expect(protocolErrors).toEqual([]);
      expect(stderr).toContain('"msg":"scheduler started"');
      expect(stderr).toContain('"msg":"cancelling the scheduled discovery run: the scheduler is stopping"');

      const rd = new Database(db, { readonly: true, fileMustExist: true });
      try {
        const rows = rd.prepare("SELECT id, trigger, status FROM discovery_runs ORDER BY id").all() as S[];
        expect(rows.filter((r) => r.status === "running")).toEqual([]);
        expect(rows.find((r) => r.id === during.running.run_id)).toMatchObject({ trigger: "scheduler", status: "cancelled" });
        expect(rows[0]).toMatchObject({ trigger: "scheduler", status: "ok" });
        // What the first run found is still there.
        expect((rd.prepare("SELECT count(*) AS n FROM targets WHERE os_id IS NOT NULL").get() as S).n).toBe(2);
      } finally {
        rd.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
