// Concurrency (issue 9, item 3). Discovery is one run at a time per inventory,
// whoever asks: two MCP sessions of one server, two server processes sharing
// one database file, the scheduler and a manual call. The loser is told which
// run is going (isError naming its id), both calls are in the audit log, no two
// runs ever overlap in the runs table, and a reader in another process sees the
// inventory either before or after a run's write, never half of it.
//
// Determinism: the SSH hosts sit behind loopback relays with a gate. While the
// gate is closed a run cannot get past connecting, so "the other call arrives
// while the first one runs" does not depend on timing luck; every wait polls
// with a bound, and nothing asserts on how long anything took.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scheduler } from "../src/app/scheduler.js";
import { openDb } from "../src/db/open.js";
import type { DiscoverySource } from "../src/discovery/types.js";
import { startHttpServer } from "../src/http/server.js";
import { verifyAuditChain } from "../src/inventory/audit.js";
import { simData } from "../src/sim/data.js";
import { CLI, ensureBuilt, runCli, show } from "./support/cli.js";
import { fleetSource, type HostSpec } from "./support/fleet.js";
import { auditRows, startHarness, text } from "./support/harness.js";
import { debianHost, debianUnitFiles } from "./support/scripted-runner.js";
import { machineIdFor, startSimFleet, type SimHost } from "./support/ssh-sim.js";
import { sleep, waitFor, within } from "./support/wait.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PASSWORD_ENV = "FLEET_CONC_SSH_PASSWORD";
const PASSWORD = `conc-${randomBytes(12).toString("hex")}`;
const BUSY = /Discovery run (\d+) is already running \(started (\S+)\)/;
/** Figures for docs/reliability.md, printed at the end. */
const figures: Record<string, unknown> = {};

// ---------------------------------------------------------------------------
// Helpers

/** While closed, connections through every relay of this gate are accepted but not forwarded (no SSH banner, so no run gets past connecting). */
class Gate {
  private opened = true;
  private waiting: Array<() => void> = [];
  open(): void {
    this.opened = true;
    for (const go of this.waiting.splice(0)) go();
  }
  close(): void {
    this.opened = false;
  }
  pass(go: () => void): void {
    if (this.opened) go();
    else this.waiting.push(go);
  }
  /** Connections waiting at the gate. */
  get held(): number {
    return this.waiting.length;
  }
}

/** A loopback TCP relay to `to`, through `gate`. */
async function startRelay(to: { address: string; port: number }, gate: Gate): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  };
  const server = createServer((down) => {
    track(down);
    down.pause();
    gate.pass(() => {
      if (down.destroyed) return;
      const up = tcpConnect({ host: to.address, port: to.port });
      track(up);
      up.on("close", () => down.destroy());
      down.on("close", () => up.destroy());
      down.pipe(up);
      up.pipe(down);
      down.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function childEnv(home: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: join(home, "home"),
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_DATA_HOME: join(home, "data"),
    FLEET_LOG_LEVEL: "info",
    FLEET_HEALTH_CHECK_INTERVAL: "0",
    [PASSWORD_ENV]: PASSWORD,
    ...extra,
  };
}

interface Proc {
  name: string;
  client: Client;
  pid: number;
  stderr(): string;
  /** Closes stdin and waits (bounded) for the process to end. */
  stop(): Promise<void>;
}

/** The built server over stdio, as an MCP client starts it. */
async function spawnServer(name: string, work: string, cfgPath: string, dbPath: string, env: Record<string, string>): Promise<Proc> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--config", cfgPath, "--db", dbPath],
    cwd: work,
    env: childEnv(work, env),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString("utf8");
    if (stderr.length > 4_000_000) stderr = stderr.slice(-2_000_000);
  });
  const client = new Client({ name: `conc-${name}`, version: "1.0.0" });
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  client.onclose = () => onClosed();
  await within(client.connect(transport), 30_000, `server ${name} to start`);
  const pid = transport.pid!;
  return {
    name,
    client,
    pid,
    stderr: () => stderr,
    async stop() {
      await client.close().catch(() => {});
      await within(closed, 20_000, `server ${name} to stop`).catch(() => {});
    },
  };
}

interface RunRow {
  id: number;
  trigger: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  owner_pid: number;
}

/** Reads the shared database from the test process (its own read-only connection). */
function query<T>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Runs that overlap in time: each run must start at or after the previous one (by start) finished. */
function overlaps(runs: RunRow[]): string[] {
  const sorted = [...runs].sort((a, b) => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : a.id - b.id));
  const out: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.finished_at === null || cur.started_at < prev.finished_at)
      out.push(
        `run ${cur.id} (${cur.trigger}, pid ${cur.owner_pid}) started ${cur.started_at} before run ${prev.id} (${prev.trigger}, pid ${prev.owner_pid}) finished ${prev.finished_at}`,
      );
  }
  return out;
}

function canned(name: string, publicKey: string, gen: number) {
  const unit = (u: string, active: string, sub: string, description: string) => ({ unit: u, load: "loaded", active, sub, description });
  const units = [
    unit("ssh.service", "active", "running", "OpenBSD Secure Shell server"),
    unit("nginx.service", "active", "running", "A high performance web server"),
    unit("backup.service", "active", "exited", "Nightly backup"),
    // Only odd generations run it: a search for it counts either none or every host.
    ...(gen % 2 === 1 ? [unit("fleetmarkb.service", "active", "running", "Generation marker")] : []),
  ];
  return debianHost({
    hostname: { body: name },
    machine_id: { body: machineIdFor(name) },
    host_keys: { body: `${publicKey} root@${name}` },
    kernel: { body: `Linux 6.1.0-${100 + gen}-amd64 x86_64` },
    memory: { body: simData("proc-meminfo.txt").replace(/^MemTotal:\s+\d+ kB$/m, `MemTotal:       ${memKb(gen)} kB`) },
    systemd: { body: `#json\n${JSON.stringify(units)}\n#@unit-files json 0\n${debianUnitFiles()}` },
  });
}

/** Each generation adds 1 GiB to every host. */
const memKb = (gen: number) => 24683656 + gen * 1024 * 1024;

function sshSource(id: string, hosts: Array<{ port: number; name: string }>, knownHosts: string, over: Record<string, unknown> = {}) {
  return {
    kind: "ssh",
    id,
    user: "fleet",
    hosts: hosts.map((h) => ({ address: "127.0.0.1", port: h.port, name: h.name })),
    auth: { agent: false, password_env: PASSWORD_ENV },
    host_key_policy: "tofu",
    known_hosts_file: knownHosts,
    timeout_ms: 120_000,
    retries: 0,
    ...over,
  };
}

// ---------------------------------------------------------------------------
// Shared simulated fleet

const GATED_HOSTS = 6;
const READ_HOSTS = 160;

let work = "";
let gate: Gate;
let gatedFleet: { hosts: SimHost[]; close(): Promise<void> } | undefined;
let relays: Array<{ port: number; close(): Promise<void> }> = [];
let readFleet: { hosts: SimHost[]; close(): Promise<void> } | undefined;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "fleet-conc-"));
  gate = new Gate();
  gatedFleet = await startSimFleet(GATED_HOSTS, (i) => ({ name: `gated-${i}`, users: { fleet: { password: PASSWORD } } }));
  relays = await Promise.all(gatedFleet.hosts.map((h) => startRelay(h, gate)));
  readFleet = await startSimFleet(READ_HOSTS, (i) => ({ name: `rd-${String(i).padStart(3, "0")}`, users: { fleet: { password: PASSWORD } } }));
}, 180_000);

afterAll(async () => {
  gate?.open();
  await Promise.all(relays.map((r) => r.close()));
  await gatedFleet?.close();
  await readFleet?.close();
  if (Object.keys(figures).length) console.log(`[concurrency] figures ${JSON.stringify(figures, null, 2)}`);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh directory with a config file for the gated fleet and a database path. */
function setup(name: string, extra: Record<string, unknown> = {}) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, "", { mode: 0o600 });
  const cfgPath = join(dir, "fleet.config.json");
  const config = {
    log_level: "info",
    sources: [
      sshSource(
        "gated",
        relays.map((r, i) => ({ port: r.port, name: `gated-${i}` })),
        knownHosts,
      ),
    ],
    ...extra,
  };
  writeFileSync(cfgPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return { dir, cfgPath, dbPath: join(dir, "fleet.db") };
}

// ---------------------------------------------------------------------------

describe("two clients call run_discovery at once", () => {
  it("two sessions of one HTTP server: one runs, the other is told which run is going; the audit shows both", async () => {
    const dir = join(work, "http");
    mkdirSync(dir, { recursive: true });
    const tokA = `conc-a-${randomBytes(16).toString("hex")}`;
    const tokB = `conc-b-${randomBytes(16).toString("hex")}`;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const fleet: HostSpec[] = [{ name: "web-1" }, { name: "db-1" }];
    const inner = fleetSource("lab", () => fleet);
    let entered = 0;
    const source: DiscoverySource = {
      id: "lab",
      kind: inner.kind,
      async discover(ctx) {
        entered++;
        await held;
        return inner.discover(ctx);
      },
    };
    const h = await startHarness({
      configJson: {
        sources: [{ kind: "local", id: "lab" }],
        http: {
          tokens: [
            { name: "alice", token_env: "TOK_A" },
            { name: "bob", token_env: "TOK_B" },
          ],
        },
      },
      env: { TOK_A: tokA, TOK_B: tokB },
      sourceFactory: () => source,
      db: openDb(join(dir, "fleet.db")),
    });
    const srv = await startHttpServer(h.app, { host: "127.0.0.1", port: 0 });
    const clients: Client[] = [];
    try {
      const connect = async (token: string, name: string) => {
        const c = new Client({ name, version: "1.0.0" });
        await c.connect(new StreamableHTTPClientTransport(new URL(srv.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
        clients.push(c);
        return c;
      };
      const [alice, bob] = await Promise.all([connect(tokA, "alice-client"), connect(tokB, "bob-client")]);
      const calls = [alice, bob].map((c) => c.callTool({ name: "run_discovery", arguments: {} }));
      const first = await within(Promise.race(calls.map((p, i) => p.then((r) => ({ i, r })))), 30_000, "the first run_discovery answer");
      expect(first.r.isError, text(first.r)).toBe(true);
      const m = BUSY.exec(text(first.r));
      expect(m, text(first.r)).not.toBeNull();
      const busyId = Number(m![1]);
      expect(h.app.discovery.current()?.runId).toBe(busyId);
      expect(entered).toBe(1);
      release();
      const won = await within(calls[1 - first.i]!, 30_000, "the winning run_discovery");
      expect(won.isError, text(won)).toBeFalsy();
      expect((won.structuredContent as S).run_id).toBe(busyId);

      const rows = auditRows(h.app).filter((r) => r.tool === "run_discovery");
      expect(rows).toHaveLength(2);
      const loser = first.i === 0 ? "alice" : "bob";
      const winner = first.i === 0 ? "bob" : "alice";
      expect(rows.find((r) => r.principal === loser)).toMatchObject({ outcome: "tool_error", error: expect.stringMatching(BUSY) });
      expect(rows.find((r) => r.principal === winner)).toMatchObject({ outcome: "ok", error: null });
      expect(new Set(rows.map((r) => r.session_id)).size).toBe(2);
      expect(verifyAuditChain(h.app.db).ok).toBe(true);
      // The error row names the same run.
      expect(String(rows.find((r) => r.principal === loser)!.error)).toContain(`Discovery run ${busyId} `);
    } finally {
      release();
      for (const c of clients) await c.close().catch(() => {});
      await srv.close();
      await h.close();
    }
  });

  it(
    "two server processes sharing one database file: in every round exactly one runs and the other names its run id; runs never overlap",
    { timeout: 240_000 },
    async () => {
      const ROUNDS = 6;
      const { dir, cfgPath, dbPath } = setup("two-proc");
      const noSchedule = { FLEET_DISCOVERY_INTERVAL: "0" };
      const a = await spawnServer("A", dir, cfgPath, dbPath, noSchedule);
      const b = await spawnServer("B", dir, cfgPath, dbPath, noSchedule);
      const procs = [a, b];
      const wins = [0, 0];
      try {
        for (let round = 0; round < ROUNDS; round++) {
          gate.close();
          // Alternate which request goes out first; both are sent in the same tick.
          const order = round % 2 === 0 ? [0, 1] : [1, 0];
          const pending: Array<Promise<{ i: number; r: S }>> = [];
          for (const i of order)
            pending[i] = procs[i]!.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout: 180_000 }).then((r) => ({ i, r: r as S }));
          const first = await within(Promise.race(pending), 60_000, `round ${round}: the first answer (both processes started a run?)`).catch((err: Error) => {
            const running = query<RunRow>(dbPath, "SELECT * FROM discovery_runs WHERE status = 'running'");
            throw new Error(`${err.message}; running rows: ${JSON.stringify(running)}`);
          });
          expect(first.r.isError, `round ${round}: ${text(first.r)}`).toBe(true);
          const m = BUSY.exec(text(first.r));
          expect(m, text(first.r)).not.toBeNull();
          const winner = 1 - first.i;
          // Exactly one run is going, the one named, owned by the other process.
          const running = query<RunRow>(dbPath, "SELECT * FROM discovery_runs WHERE status = 'running'");
          expect(running.map((r) => ({ id: r.id, owner_pid: r.owner_pid }))).toEqual([{ id: Number(m![1]), owner_pid: procs[winner]!.pid }]);
          expect(m![2]).toBe(running[0]!.started_at);
          await waitFor("the winner's connections at the gate", () => gate.held > 0);
          gate.open();
          const won = await within(pending[winner]!, 120_000, `round ${round}: the winning run`);
          expect(won.r.isError, text(won.r)).toBeFalsy();
          expect(won.r.structuredContent.run_id).toBe(Number(m![1]));
          expect(won.r.structuredContent).toMatchObject({ status: "ok", targets_seen: GATED_HOSTS });
          wins[winner]!++;
        }
        gate.open();

        const runs = query<RunRow>(dbPath, "SELECT * FROM discovery_runs ORDER BY id");
        expect(runs).toHaveLength(ROUNDS);
        expect(runs.every((r) => r.status === "ok" && r.trigger === "tool")).toBe(true);
        expect(overlaps(runs)).toEqual([]);
        // The audit shows every call of both processes: one ok and one refused per round, each by its client.
        const audit = query<S>(dbPath, "SELECT * FROM audit_log WHERE tool = 'run_discovery' ORDER BY id");
        expect(audit).toHaveLength(2 * ROUNDS);
        expect(audit.filter((r) => r.outcome === "ok")).toHaveLength(ROUNDS);
        const refused = audit.filter((r) => r.outcome === "tool_error");
        expect(refused).toHaveLength(ROUNDS);
        for (const r of refused) expect(r.error).toMatch(BUSY);
        expect(new Set(refused.map((r) => Number(BUSY.exec(r.error)![1])))).toEqual(new Set(runs.map((r) => r.id)));
        expect(new Set(audit.map((r) => r.client_name))).toEqual(new Set(["conc-A", "conc-B"]));
        // Through MCP too: one process's query_audit_log lists the other's calls.
        const q = await a.client.callTool({ name: "query_audit_log", arguments: { tool: "run_discovery", limit: 50 } });
        expect(q.isError, text(q)).toBeFalsy();
        const entries = (q.structuredContent as S).entries as S[];
        expect(entries.filter((e) => e.client.name === "conc-B")).toHaveLength(ROUNDS);
        // Both processes appended to one hash chain: it verifies.
        const verify = await runCli(["audit", "verify", "--json", "--db", dbPath], { cwd: dir, home: join(dir, "cli-home") });
        expect(verify.code, show(verify)).toBe(0);
        expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
        figures.two_process_rounds = { rounds: ROUNDS, wins_by_process: { A: wins[0], B: wins[1] } };
      } finally {
        gate.open();
        await Promise.all(procs.map((p) => p.stop()));
      }
    },
  );

  it("a burst of simultaneous calls from two processes, ungated: never two runs at once", { timeout: 240_000 }, async () => {
    // Without the gate a run takes a few ms of probing: the two processes'
    // check-then-claim steps collide often, which is the race this guards.
    const BURSTS = 40;
    const { dir, cfgPath, dbPath } = setup("burst");
    const noSchedule = { FLEET_DISCOVERY_INTERVAL: "0", FLEET_LOG_LEVEL: "warn" };
    const a = await spawnServer("A", dir, cfgPath, dbPath, noSchedule);
    const b = await spawnServer("B", dir, cfgPath, dbPath, noSchedule);
    try {
      gate.open();
      let ok = 0;
      let busy = 0;
      for (let i = 0; i < BURSTS; i++) {
        const results = await Promise.all([a, b].map((p) => p.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout: 120_000 })));
        for (const r of results) {
          if (!r.isError) ok++;
          else {
            expect(text(r)).toMatch(BUSY);
            busy++;
          }
        }
      }
      const runs = query<RunRow>(dbPath, "SELECT * FROM discovery_runs ORDER BY id");
      expect(runs).toHaveLength(ok);
      expect(overlaps(runs)).toEqual([]);
      expect(runs.every((r) => r.status === "ok")).toBe(true);
      // Busy answers happened (else the test saw no contention at all).
      expect(busy).toBeGreaterThan(0);
      figures.ungated_bursts = { bursts: BURSTS, calls: 2 * BURSTS, runs: ok, busy_answers: busy };
    } finally {
      await Promise.all([a, b].map((p) => p.stop()));
    }
  });
});

describe("reads during a discovery", () => {
  it(
    "a reader process hammering overview, list_targets and search_fleet sees the complete before-state or the complete after-state, never a mix",
    { timeout: 300_000 },
    async () => {
      const dir = join(work, "reads");
      mkdirSync(dir, { recursive: true });
      const knownHosts = join(dir, "known_hosts");
      writeFileSync(knownHosts, "", { mode: 0o600 });
      const cfgPath = join(dir, "fleet.config.json");
      const dbPath = join(dir, "fleet.db");
      const hosts = readFleet!.hosts;
      const names = hosts.map((_, i) => `rd-${String(i).padStart(3, "0")}`);
      const setGen = (gen: number) => hosts.forEach((h, i) => h.setHost(canned(names[i]!, h.publicKey, gen)));
      writeFileSync(
        cfgPath,
        JSON.stringify({
          sources: [
            sshSource(
              "reads",
              hosts.map((h, i) => ({ port: h.port, name: names[i]! })),
              knownHosts,
              { concurrency: 32 },
            ),
          ],
        }),
        { mode: 0o600 },
      );
      const env = { FLEET_DISCOVERY_INTERVAL: "0", FLEET_LOG_LEVEL: "warn" };
      const writer = await spawnServer("writer", dir, cfgPath, dbPath, env);
      const reader = await spawnServer("reader", dir, cfgPath, dbPath, env);
      const N = hosts.length;
      const GiB = 1024 ** 3;
      const stats: Array<Record<string, number>> = [];
      try {
        setGen(0);
        const r0 = await writer.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout: 240_000 });
        expect((r0.structuredContent as S | undefined)?.targets_seen, text(r0)).toBe(N);

        const call = async (name: string, args: Record<string, unknown>): Promise<S> => {
          const r = await reader.client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
          if (r.isError) throw new Error(`${name}: ${text(r)}`);
          return r.structuredContent as S;
        };
        const base = await call("get_fleet_overview", {});
        const baseList = await call("list_targets", { detail: "full", limit: 200 });
        expect(base.targets.total).toBe(N);
        const hostMem0 = baseList.items[0].memory_total_bytes as number;
        expect(baseList.items.every((t: S) => t.memory_total_bytes === hostMem0)).toBe(true);

        for (const gen of [1, 2, 3, 4]) {
          const prev = await call("get_fleet_overview", {});
          const prevRunId = prev.last_discovery.run_id as number;
          // Every host changes: one more (or one fewer) service and 1 GiB more memory.
          const before = { services: prev.services.total as number, memory: prev.totals.memory_bytes as number, marker: gen % 2 === 1 ? 0 : N };
          const after = {
            services: before.services + (gen % 2 === 1 ? N : -N),
            memory: before.memory + N * GiB,
            marker: gen % 2 === 1 ? N : 0,
          };
          const hostMem = { before: hostMem0 + (gen - 1) * GiB, after: hostMem0 + gen * GiB };
          setGen(gen);
          let done = false;
          const run = writer.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout: 240_000 }).finally(() => (done = true));
          const seen = { overview_before: 0, overview_after: 0, list_before: 0, list_after: 0, search_before: 0, search_after: 0, reads_while_running: 0 };
          let newRunId: number | null = null;
          let answeredAt = 0;
          void run.then(
            () => (answeredAt = Date.now()),
            () => {},
          );
          const spans: Array<[number, number]> = [];
          // Three loops in flight at once over the one reader session, so a read is
          // always in progress, the write's commit included. Bounded: until the run
          // answered, then a couple more reads each.
          const loop = async (k: number) => {
            for (let i = k, extra = 0; i < 6000 + k && extra < 2; i++) {
              if (done) extra++;
              const t0 = Date.now();
              await readOnce(i);
              spans.push([t0, Date.now()]);
            }
          };
          const readOnce = async (i: number) => {
            const which = i % 3;
            if (which === 0) {
              const o = await call("get_fleet_overview", {});
              const pair = [o.services.total, o.totals.memory_bytes];
              const last = o.last_discovery as S;
              if (pair[0] === before.services && pair[1] === before.memory) {
                seen.overview_before++;
                // Before the write: the previous run, or the new one still running.
                if (last.run_id === prevRunId) expect(last.status).toBe("ok");
                else {
                  expect(last).toMatchObject({ status: "running", finished_at: null });
                  newRunId ??= last.run_id;
                  seen.reads_while_running++;
                }
              } else if (pair[0] === after.services && pair[1] === after.memory) {
                seen.overview_after++;
                expect(last.run_id).toBeGreaterThan(prevRunId);
                expect(last.status).toBe("ok");
                expect(last.finished_at).not.toBeNull();
              } else {
                throw new Error(
                  `gen ${gen}: overview read ${i} saw services ${pair[0]} and memory ${pair[1]}: neither before (${before.services}, ${before.memory}) nor after (${after.services}, ${after.memory})`,
                );
              }
            } else if (which === 1) {
              const l = await call("list_targets", { detail: "full", limit: 200 });
              expect(l.total).toBe(N);
              const mems = new Set((l.items as S[]).map((t) => t.memory_total_bytes));
              if (mems.size !== 1) throw new Error(`gen ${gen}: list_targets read ${i} mixes host memory readings ${[...mems].join(", ")}`);
              const m = [...mems][0];
              if (m === hostMem.before) seen.list_before++;
              else if (m === hostMem.after) seen.list_after++;
              else throw new Error(`gen ${gen}: list_targets read ${i} saw memory ${m}, neither ${hostMem.before} nor ${hostMem.after}`);
            } else {
              const s = await call("search_fleet", { query: "fleetmarkb", entity_type: "service", limit: 1 });
              expect(s.total_is_lower_bound).toBe(false);
              if (s.total === before.marker) seen.search_before++;
              else if (s.total === after.marker) seen.search_after++;
              else throw new Error(`gen ${gen}: search read ${i} counted ${s.total} marker services, neither ${before.marker} nor ${after.marker}`);
            }
          };
          await Promise.all([0, 1, 2].map(loop));
          const r = await run;
          expect(r.isError, text(r)).toBeFalsy();
          const rs = r.structuredContent as S;
          expect(rs).toMatchObject({ status: "ok", targets_seen: N });
          if (newRunId !== null) expect(newRunId).toBe(rs.run_id);
          // The write's window: from the run's finished_at (taken just before its one transaction) to its answer.
          const written = query<RunRow>(dbPath, "SELECT * FROM discovery_runs WHERE id = ?", rs.run_id)[0]!;
          const windowStart = Date.parse(written.finished_at!);
          const inWindow = spans.filter(([a, b]) => b >= windowStart && a <= answeredAt).length;
          // The last reads (after the answer) all saw the after-state.
          const end = await call("get_fleet_overview", {});
          expect([end.services.total, end.totals.memory_bytes]).toEqual([after.services, after.memory]);
          expect(seen.overview_after + seen.list_after + seen.search_after).toBeGreaterThan(0);
          expect(seen.overview_before + seen.list_before + seen.search_before).toBeGreaterThan(0);
          stats.push({ gen, ...seen, reads: spans.length, reads_overlapping_the_write: inWindow, write_window_ms: answeredAt - windowStart });
        }
        figures.reads_during_discovery = { hosts: N, per_run: stats };
      } finally {
        await Promise.all([writer.stop(), reader.stop()]);
      }
    },
  );
});

describe("scheduler and manual runs", () => {
  it(
    "in one process: manual calls at random moments against a fast scheduler never overlap a run; every skip is counted and logged",
    { timeout: 120_000 },
    async () => {
      const fleet: HostSpec[] = [{ name: "web-1" }, { name: "web-2" }, { name: "db-1" }];
      const inner = fleetSource("lab", () => fleet);
      let hold: Promise<void> | null = null;
      // Each run takes a little while (a short sleep), or waits while held.
      const source: DiscoverySource = {
        id: "lab",
        kind: inner.kind,
        async discover(ctx) {
          await (hold ?? sleep(5 + Math.floor(Math.random() * 40)));
          return inner.discover(ctx);
        },
      };
      const h = await startHarness({
        configJson: { sources: [{ kind: "local", id: "lab" }] },
        sourceFactory: () => source,
        config: { schedule: { discoveryIntervalMs: 60, healthCheckIntervalMs: 0, jitter: 0.5 } },
      });
      const scheduler = new Scheduler(h.app, { firstRunDelayMs: 0, recheckMs: 50 });
      h.app.scheduler = scheduler;
      scheduler.start();
      try {
        const CALLS = 60;
        let ok = 0;
        const busyIds: number[] = [];
        for (let i = 0; i < CALLS; i++) {
          await sleep(Math.floor(Math.random() * 60));
          const r = await h.client.callTool({ name: "run_discovery", arguments: {} });
          if (r.isError) {
            const m = BUSY.exec(text(r));
            expect(m, text(r)).not.toBeNull();
            busyIds.push(Number(m![1]));
          } else ok++;
        }
        // A skip for certain: a run (trigger "tool", started directly so that no
        // scheduler timer can slip in between the check and the claim) held open
        // across the scheduler's due time.
        let release!: () => void;
        hold = new Promise<void>((r) => (release = r));
        await waitFor("no run in progress", () => h.app.discovery.current() === null);
        const skippedBefore = scheduler.status().discovery.skipped;
        const manual = h.app.discovery.run({ trigger: "tool" });
        const heldRun = h.app.discovery.current()!;
        expect(heldRun).not.toBeNull();
        await waitFor("a skipped scheduler tick", () => scheduler.status().discovery.skipped > skippedBefore);
        hold = null;
        release();
        expect((await manual).runId).toBe(heldRun.runId);
        await scheduler.stop();

        const runs = h.app.db.$client.prepare("SELECT * FROM discovery_runs ORDER BY id").all() as RunRow[];
        expect(runs.every((r) => r.status === "ok" || (r.trigger === "scheduler" && r.status === "cancelled"))).toBe(true);
        expect(overlaps(runs)).toEqual([]);
        expect(runs.filter((r) => r.trigger === "tool")).toHaveLength(ok + 1);
        const st = scheduler.status().discovery;
        const skipLogs = h.logs.filter((l) => l.includes("scheduled discovery skipped"));
        expect(skipLogs).toHaveLength(st.skipped);
        expect(skipLogs.some((l) => l.includes(`"run_id":${heldRun.runId}`))).toBe(true);
        // Every busy answer named a run that exists.
        const ids = new Set(runs.map((r) => r.id));
        for (const id of busyIds) expect(ids.has(id)).toBe(true);
        expect(runs.some((r) => r.trigger === "scheduler" && r.status === "ok")).toBe(true);
        expect(auditRows(h.app).filter((r) => r.tool === "run_discovery" && r.outcome === "tool_error")).toHaveLength(busyIds.length);
        figures.in_process_scheduler = {
          manual_calls: CALLS,
          manual_runs: ok,
          manual_busy: busyIds.length,
          scheduled_runs: runs.filter((r) => r.trigger === "scheduler").length,
          scheduler_skips: st.skipped,
        };
      } finally {
        hold = null;
        await scheduler.stop();
        await h.close();
      }
    },
  );

  it(
    "across processes: a server with FLEET_DISCOVERY_INTERVAL=5 and manual calls from another process never overlap; the scheduler skips and logs, the manual call names the scheduled run",
    { timeout: 240_000 },
    async () => {
      const { dir, cfgPath, dbPath } = setup("sched");
      const a = await spawnServer("A", dir, cfgPath, dbPath, { FLEET_DISCOVERY_INTERVAL: "5" });
      const b = await spawnServer("B", dir, cfgPath, dbPath, { FLEET_DISCOVERY_INTERVAL: "0", FLEET_LOG_LEVEL: "warn" });
      const runs = () => query<RunRow>(dbPath, "SELECT * FROM discovery_runs ORDER BY id");
      const manual = (timeout = 120_000) => b.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout });
      try {
        // 1. A scheduled run of A is going (held at the gate): B's manual call is refused and names it.
        gate.close();
        const scheduled = await waitFor("a scheduled run of process A", () => runs().find((r) => r.status === "running" && r.trigger === "scheduler"), 60_000);
        expect(scheduled.owner_pid).toBe(a.pid);
        const refused = await manual();
        expect(refused.isError, text(refused)).toBe(true);
        expect(Number(BUSY.exec(text(refused))?.[1])).toBe(scheduled.id);
        gate.open();
        await waitFor("the scheduled run to finish", () => runs().find((r) => r.id === scheduled.id && r.status !== "running"), 60_000);

        // 2. B's manual run is going (held) when A's next tick comes: A skips it and logs which run.
        gate.close();
        const held = manual();
        const mine = await waitFor("B's manual run", () => runs().find((r) => r.status === "running" && r.trigger === "tool"), 30_000);
        expect(mine.owner_pid).toBe(b.pid);
        const skipLine = await waitFor(
          "process A to log a skipped tick",
          () =>
            a
              .stderr()
              .split("\n")
              .find((l) => l.includes("scheduled discovery skipped") && l.includes(`"run_id":${mine.id}`)),
          60_000,
        );
        expect(skipLine).toContain(`discovery run ${mine.id} (started ${mine.started_at}) was in progress`);
        gate.open();
        const done = await held;
        expect(done.isError, text(done)).toBeFalsy();
        expect((done.structuredContent as S).run_id).toBe(mine.id);

        // 3. Manual calls at random moments (bounded) while A's scheduler keeps going.
        const CALLS = 24;
        let busy = 0;
        for (let i = 0; i < CALLS; i++) {
          await sleep(Math.floor(Math.random() * 700));
          const r = await manual();
          if (r.isError) {
            expect(text(r)).toMatch(BUSY);
            busy++;
          }
        }
        await waitFor("no run in progress", () => !runs().some((r) => r.status === "running"), 60_000);
        const all = runs();
        expect(overlaps(all)).toEqual([]);
        expect(all.every((r) => r.status === "ok")).toBe(true);
        const scheduledRuns = all.filter((r) => r.trigger === "scheduler");
        expect(scheduledRuns.length).toBeGreaterThanOrEqual(1);
        expect(scheduledRuns.every((r) => r.owner_pid === a.pid)).toBe(true);
        const skips = a
          .stderr()
          .split("\n")
          .filter((l) => l.includes("scheduled discovery skipped"));
        expect(skips.length).toBeGreaterThanOrEqual(1);
        // Every skip names a run of the other process.
        for (const l of skips) {
          const id = Number(/"run_id":(\d+)/.exec(l)?.[1]);
          expect(all.find((r) => r.id === id)?.owner_pid, l).toBe(b.pid);
        }
        figures.two_process_scheduler = {
          runs: all.length,
          scheduled_runs: scheduledRuns.length,
          manual_runs: all.length - scheduledRuns.length,
          manual_calls: CALLS + 2,
          manual_busy: busy + 1,
          scheduler_skips_logged: skips.length,
        };
      } finally {
        gate.open();
        await Promise.all([a.stop(), b.stop()]);
      }
    },
  );
});
