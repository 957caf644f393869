// Crash safety under SIGKILL (issue 9, item 2). The built server is spawned over
// stdio against a fleet of simulated SSH hosts on 127.0.0.1, answers a few cheap
// tool calls, starts a discovery and is killed with SIGKILL at a random point:
// right after spawn, while probing, or once probing is done and the single write
// transaction runs (progress reached total). After every kill, on a byte copy of
// the files the dead process left (so the next server still starts on the raw
// crash state): the database opens, integrity_check is ok, foreign_key_check is
// empty, the inventory is either exactly the previous one (same digest of every
// inventory table) or exactly the complete result of the killed run (every target
// listed by that run, each reached one carrying that run's generation of the
// fleet), and `audit verify` passes with the old chain a prefix of the new one.
// The next server start marks the killed run `interrupted`. The kill points come
// from a seeded PRNG (the seed is printed; CRASH_SEED=<n> replays the schedule).
// Figures go to the console and to a JSON file in the OS temp dir.
import { execFile, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app/context.js";
import { loadConfig } from "../src/config.js";
import { closeDb, openDb } from "../src/db/open.js";
import { startRun } from "../src/inventory/store.js";
import { debianHost, debianUnitFiles } from "./support/scripted-runner.js";
import { machineIdFor, startSimFleet, type SimHost } from "./support/ssh-sim.js";
import { startHarness } from "./support/harness.js";
import { debianHost as scriptedHost, ScriptedRunner } from "./support/scripted-runner.js";
import { within } from "./support/wait.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");

/** Simulated hosts: enough that a discovery takes a few seconds and its write a noticeable part of that. */
const HOSTS = 240;
const EXEC_DELAY_MS = 150;
const CONCURRENCY = 32;
const MIN_ITERATIONS = 20;
const MAX_ITERATIONS = 24;
/** After MIN_ITERATIONS, no new iteration starts once this much time has gone (the machine is shared). */
const ITERATION_BUDGET_MS = 140_000;
const SOURCE_ID = "crash";
const PASSWORD_ENV = "FLEET_CRASH_SSH_PASSWORD";
const PASSWORD = randomBytes(18).toString("base64url");
const REACHED = new Set(["ok", "partial"]);

const SEED = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;

/** mulberry32: small, seedable, good enough to place kills. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const uniform = (lo: number, hi: number) => lo + rand() * (hi - lo);

let work = "";
let dbPath = "";
let cfgPath = "";
let fleet: { hosts: SimHost[]; close(): Promise<void> } | undefined;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = mkdtempSync(join(tmpdir(), "fleet-crash-"));
  mkdirSync(join(work, "home"), { recursive: true });
  dbPath = join(work, "fleet.db");
  cfgPath = join(work, "fleet.config.json");
  fleet = await startSimFleet(HOSTS, (i) => ({ name: hostName(i), users: { fleet: { password: PASSWORD } }, execDelayMs: EXEC_DELAY_MS }));
  for (let i = 0; i < HOSTS; i++) fleet.hosts[i]!.setHost(cannedHost(i, 0));
  const knownHosts = join(work, "known_hosts");
  writeFileSync(knownHosts, "", { mode: 0o600 });
  const config = {
    log_level: "warn",
    sources: [
      {
        kind: "ssh",
        id: SOURCE_ID,
        user: "fleet",
        hosts: fleet.hosts.map((h, i) => ({ address: h.address, port: h.port, name: hostName(i) })),
        auth: { agent: false, password_env: PASSWORD_ENV },
        host_key_policy: "tofu",
        known_hosts_file: knownHosts,
        concurrency: CONCURRENCY,
        timeout_ms: 60_000,
      },
    ],
  };
  writeFileSync(cfgPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}, 120_000);

afterAll(async () => {
  await fleet?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function hostName(i: number): string {
  return `crash-${String(i).padStart(3, "0")}`;
}

/** The kernel release every host reports in generation g: which run a target's row came from is readable in it. */
function kernelOf(gen: number): string {
  return `6.1.0-${100 + gen}-amd64`;
}

/** A few hosts (a different few per generation) have nginx stopped. */
function nginxActive(i: number, gen: number): boolean {
  return i % 20 !== gen % 20;
}

function cannedHost(i: number, gen: number) {
  const name = hostName(i);
  const pub = fleet!.hosts[i]!.publicKey;
  const unit = (u: string, active: string, sub: string, description: string) => ({ unit: u, load: "loaded", active, sub, description });
  return debianHost({
    hostname: { body: name },
    machine_id: { body: machineIdFor(name) },
    host_keys: { body: `${pub} root@${name}` },
    kernel: { body: `Linux ${kernelOf(gen)} x86_64` },
    systemd: {
      body:
        "#json\n" +
        JSON.stringify([
          unit("ssh.service", "active", "running", "OpenBSD Secure Shell server"),
          nginxActive(i, gen)
            ? unit("nginx.service", "active", "running", "A high performance web server")
            : unit("nginx.service", "inactive", "dead", "A high performance web server"),
          unit("backup.service", "active", "exited", "Nightly backup"),
        ]) +
        `\n#@unit-files json 0\n${debianUnitFiles()}`,
    },
  });
}

function childEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: join(work, "home"),
    XDG_CONFIG_HOME: join(work, "home", "config"),
    XDG_DATA_HOME: join(work, "home", "data"),
    FLEET_LOG_LEVEL: "warn",
    // Only our run_discovery runs: no scheduled discovery or health check.
    FLEET_DISCOVERY_INTERVAL: "0",
    FLEET_HEALTH_CHECK_INTERVAL: "0",
    [PASSWORD_ENV]: PASSWORD,
  };
}

interface Server {
  client: Client;
  pid: number;
  connected: Promise<void>;
  /** Resolves when the child's stdio closed (it exited). */
  closed: Promise<void>;
  stderr: () => string;
}

function spawnServer(): Server {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--config", cfgPath, "--db", dbPath],
    cwd: work,
    env: childEnv(),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString("utf8");
    if (stderr.length > 32_000) stderr = stderr.slice(-16_000);
  });
  const client = new Client({ name: "crash-test", version: "1.0.0" });
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  client.onclose = () => onClosed();
  client.onerror = () => {};
  const connected = client.connect(transport);
  connected.catch(() => {});
  // The transport spawns synchronously inside connect().
  const pid = transport.pid;
  if (pid === null) throw new Error("the server was not spawned");
  return { client, pid, connected, closed, stderr: () => stderr };
}

async function killAndWait(server: Server): Promise<void> {
  try {
    process.kill(server.pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
  await within(server.closed, 20_000, "the killed server's stdio to close");
  await server.client.close().catch(() => {});
  // Reaped: the pid no longer names a process (or a zombie of ours).
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(server.pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pid ${server.pid} still exists after SIGKILL`);
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: work, env: childEnv(), timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code as number) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function auditVerify(path: string): Promise<{ ok: boolean; rows: number; head_hash: string | null; first_bad: unknown }> {
  const r = await runCli(["audit", "verify", "--json", "--db", path]);
  expect(r.code, `audit verify on ${path}: exit ${r.code}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as { ok: boolean; rows: number; head_hash: string | null; first_bad: unknown };
}

/** The files a dead process left, copied byte for byte (the database, its WAL and the WAL index). */
function copyCrashState(to: string): string {
  mkdirSync(to, { recursive: true });
  const dest = join(to, "fleet.db");
  for (const suffix of ["", "-wal", "-shm"]) if (existsSync(dbPath + suffix)) copyFileSync(dbPath + suffix, dest + suffix);
  return dest;
}

/** SQLite's WAL checksum over buf[from, to) (https://www.sqlite.org/fileformat.html#checksum_algorithm). */
function walChecksum(buf: Buffer, from: number, to: number, seed: [number, number], bigEndian: boolean): [number, number] {
  let [s0, s1] = seed;
  for (let i = from; i < to; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * The WAL a dead process left: its valid frames (current salt, checksum chain
 * intact) and how many of them follow the last commit frame: a commit cut short,
 * which recovery must drop.
 */
function walTail(walPath: string): { frames: number; uncommitted: number } {
  if (!existsSync(walPath) || statSync(walPath).size < 32) return { frames: 0, uncommitted: 0 };
  const wal = readFileSync(walPath);
  const bigEndian = (wal.readUInt32BE(0) & 1) === 1;
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let sum = walChecksum(wal, 0, 24, [0, 0], bigEndian);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28)) return { frames: 0, uncommitted: 0 };
  let frames = 0;
  let lastCommit = 0;
  for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
    if (wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break;
    sum = walChecksum(wal, off, off + 8, sum, bigEndian);
    sum = walChecksum(wal, off + 24, off + 24 + pageSize, sum, bigEndian);
    if (sum[0] !== wal.readUInt32BE(off + 16) || sum[1] !== wal.readUInt32BE(off + 20)) break;
    frames++;
    if (wal.readUInt32BE(off + 4) !== 0) lastCommit = frames;
  }
  return { frames, uncommitted: frames - lastCommit };
}

/** Size and modification time of the live WAL: changes with the first frame written. */
function walStamp(): string {
  const st = statSync(`${dbPath}-wal`, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.size}:${st.mtimeNs}` : "none";
}

/** Tables that are the inventory (everything a discovery writes); the run list and the audit log change for other reasons. */
const NOT_INVENTORY = new Set(["discovery_runs", "audit_log", "__drizzle_migrations"]);

/** A digest of every row of every inventory table, independent of row order. */
function inventoryDigest(db: Database.Database): string {
  const h = createHash("sha256");
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  for (const t of tables) {
    if (NOT_INVENTORY.has(t)) continue;
    const rows = (db.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[][]).map((r) => JSON.stringify(r)).sort();
    h.update(`${t}\n${rows.length}\n`);
    for (const r of rows) h.update(`${r}\n`);
  }
  return h.digest("hex");
}

interface TargetState {
  kernel: string | null;
  kernelFact: string | null;
  nginx: string | null;
  lastStatus: string | null;
}

function targetStates(db: Database.Database): Map<string, TargetState> {
  const rows = db
    .prepare(
      `SELECT t.name, t.kernel, t.last_status AS lastStatus,
              (SELECT value FROM facts f WHERE f.target_id = t.id AND f.source_id = ? AND f.key = 'kernel.release') AS kernelFact,
              (SELECT active_state FROM services s WHERE s.target_id = t.id AND s.source_id = ? AND s.name LIKE 'nginx%') AS nginx
         FROM targets t`,
    )
    .all(SOURCE_ID, SOURCE_ID) as Array<{ name: string } & TargetState>;
  return new Map(rows.map(({ name, ...rest }) => [name, rest]));
}

/** What a host's target must show after a run of generation `gen` reached it. */
function expectedState(name: string, gen: number): Pick<TargetState, "kernel" | "kernelFact" | "nginx"> {
  const i = Number(name.slice("crash-".length));
  return { kernel: kernelOf(gen), kernelFact: JSON.stringify(kernelOf(gen)), nginx: nginxActive(i, gen) ? "active" : "inactive" };
}

type Phase = "startup" | "probing" | "write" | "commit";
type Landing = "no_run" | "uncommitted" | "committed";

interface IterationRecord {
  iteration: number;
  phase: Phase;
  delayMs: number;
  generation: number;
  landing: Landing;
  runId: number | null;
  runStatus: string | null;
  msFromSpawnToKill: number;
  progressAtKill: string | null;
  callsAnswered: number;
  auditRowsAdded: number;
  walFrames: number;
  walUncommittedFrames: number;
}

describe("crash safety under SIGKILL", () => {
  it(
    `${MIN_ITERATIONS}+ SIGKILLs during discovery of ${HOSTS} simulated hosts leave a sound database, the previous or the complete new inventory, and a verifiable audit log`,
    { timeout: 330_000 },
    async () => {
      const started = performance.now();
      console.log(`[crash-safety] seed ${SEED} (replay with CRASH_SEED=${SEED}); ${HOSTS} simulated hosts, work dir ${work}`);

      // ---- Baseline: one complete discovery through the server, closed cleanly.
      let gen = 0;
      const base = spawnServer();
      const spawnAt = performance.now();
      await within(base.connected, 60_000, "baseline connect");
      const startupMs = performance.now() - spawnAt;
      let lastProgressAt = 0;
      let total = 0;
      const callAt = performance.now();
      const baseRun = await base.client.callTool({ name: "run_discovery", arguments: {} }, undefined, {
        timeout: 240_000,
        onprogress: (p) => {
          total = p.total ?? 0;
          if (p.progress === p.total) lastProgressAt = performance.now();
        },
      });
      const doneAt = performance.now();
      expect(baseRun.isError, JSON.stringify(baseRun.content)).toBeFalsy();
      const baseOut = baseRun.structuredContent as S;
      expect(baseOut, base.stderr()).toMatchObject({ status: "ok", targets_seen: HOSTS, targets_unreachable: 0 });
      expect(total).toBe(HOSTS);
      const probeMs = lastProgressAt - callAt;
      const baselineWriteMs = doneAt - lastProgressAt;
      let writeMs = baselineWriteMs;
      await base.client.close();
      await within(base.closed, 30_000, "baseline server exit");
      console.log(
        `[crash-safety] baseline: startup ${Math.round(startupMs)} ms, probing ${Math.round(probeMs)} ms, write ${Math.round(writeMs)} ms (run ${baseOut.run_id})`,
      );

      let expected = new Map<string, { gen: number }>();
      let prevDigest: string;
      let lastCommitted: number = baseOut.run_id as number;
      let maxRunId = lastCommitted;
      {
        const db = new Database(dbPath);
        try {
          const states = targetStates(db);
          expect(states.size).toBe(HOSTS);
          for (const [name, st] of states) {
            // The generation marker reads back as written: the checks below can rely on it.
            expect(st, name).toMatchObject(expectedState(name, 0));
            expected.set(name, { gen: 0 });
          }
          prevDigest = inventoryDigest(db);
        } finally {
          db.close();
        }
      }
      const baseAudit = await auditVerify(dbPath);
      let auditRows = baseAudit.rows;
      let auditHead = baseAudit.head_hash!;
      expect(auditRows).toBe(1);

      // ---- The kills. Phases are dealt from a shuffled deck so each is well represented.
      const deck: Phase[] = [];
      for (let i = 0; i < MAX_ITERATIONS; i++) deck.push((["startup", "probing", "probing", "write", "write", "commit"] as const)[i % 6]!);
      for (let i = deck.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [deck[i], deck[j]] = [deck[j]!, deck[i]!];
      }
      const records: IterationRecord[] = [];
      /** Runs a killed process left "running": the next server that gets past start-up must have marked them interrupted. */
      const pendingInterrupted = new Set<number>();
      let interruptedConfirmedOverMcp = 0;

      for (let it = 0; it < MAX_ITERATIONS; it++) {
        if (it >= MIN_ITERATIONS && performance.now() - started > ITERATION_BUDGET_MS) break;
        // Most iterations change the fleet, so that a completed run is told apart from the previous inventory.
        if (it === 0 || rand() < 0.6) {
          gen++;
          for (let i = 0; i < HOSTS; i++) fleet!.hosts[i]!.setHost(cannedHost(i, gen));
        }
        const phase = deck[it]!;
        // commit: no delay; the kill follows the first write to the WAL once probing is done.
        const delayMs = Math.round(
          phase === "startup" ? uniform(0, startupMs * 1.5) : phase === "probing" ? uniform(0, probeMs) : phase === "write" ? uniform(0, writeMs * 1.5) : 0,
        );

        const server = spawnServer();
        const t0 = performance.now();
        let killed = false;
        let killedAt = 0;
        let progress: string | null = null;
        let totalAt = 0;
        let callsSent = 0;
        let callsAnswered = 0;
        const kill = async () => {
          if (killed) return;
          killed = true;
          killedAt = performance.now();
          await killAndWait(server);
        };
        let killDone: Promise<void> | undefined;
        const killAfter = (ms: number) =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              killDone = kill();
              resolve();
            }, ms),
          );
        let timer: Promise<void> | undefined;
        if (phase === "startup") timer = killAfter(delayMs);

        const session = (async () => {
          await server.connected;
          const call = async (name: string, args: Record<string, unknown> = {}) => {
            callsSent++;
            const res = await server.client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 });
            callsAnswered++;
            return res;
          };
          // The previous killed run(s) are no longer running: marked interrupted by this process's start.
          const status = (await call("get_discovery_status", { limit: 200 })).structuredContent as S;
          expect(status.running, "a dead process's run still counts as running").toBeNull();
          for (const id of pendingInterrupted) {
            expect(
              status.runs.find((r: S) => r.run_id === id),
              `run ${id} (killed) after the next start`,
            ).toMatchObject({ status: "interrupted", error: expect.stringContaining("stopped before it finished") });
            interruptedConfirmedOverMcp++;
          }
          pendingInterrupted.clear();
          const ov = (await call("get_fleet_overview")).structuredContent as S;
          expect(ov.targets.total).toBe(HOSTS);

          let onTotal!: () => void;
          const reachedTotal = new Promise<void>((resolve) => (onTotal = resolve));
          callsSent++;
          const run = server.client
            .callTool({ name: "run_discovery", arguments: {} }, undefined, {
              timeout: 240_000,
              onprogress: (p) => {
                progress = `${p.progress}/${p.total}`;
                if (p.progress === p.total) {
                  totalAt = performance.now();
                  onTotal();
                }
              },
            })
            .then((res) => {
              callsAnswered++;
              expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
              return res;
            });
          run.then(
            () => {
              // A write seen to the end: later kill points follow the write's real duration.
              if (totalAt > 0) writeMs = (writeMs + (performance.now() - totalAt)) / 2;
            },
            () => {},
          );
          if (phase === "probing") timer = killAfter(delayMs);
          if (phase === "write" || phase === "commit") {
            // Bounded: if progress never reaches the total, go on after a generous wait.
            await within(Promise.race([reachedTotal, run.then(() => {})]), (probeMs + writeMs) * 4 + 10_000, "progress to reach the total").catch(() => {});
          }
          if (phase === "write" && !killed) timer = killAfter(delayMs);
          if (phase === "commit" && !killed) {
            // The write is one transaction that fits in the page cache, so the first write to the
            // WAL after probing is its commit: poll (synchronously, bounded) and kill at once,
            // to land inside the commit and leave a torn WAL tail.
            const before = walStamp();
            const deadline = performance.now() + 30_000;
            while (walStamp() === before && performance.now() < deadline);
            killDone = kill();
          }
          // Cheap calls keep appending audit rows until the kill (not in commit iterations: their
          // audit rows would be the first WAL write).
          while (!killed && phase !== "commit") {
            await call("list_targets", { limit: 5 });
            await new Promise((r) => setTimeout(r, 25));
          }
          await run;
        })();
        const sessionResult = await within(
          session.then(
            () => null,
            (err: unknown) => err,
          ),
          (startupMs + probeMs + writeMs) * 6 + 60_000,
          "the iteration to reach its kill",
        ).catch((err: unknown) => err);
        if (!killed) {
          // The session failed before its kill point: a real failure, unless it was the kill itself.
          await kill();
          throw new Error(`iteration ${it} (${phase}): ${String((sessionResult as Error)?.stack ?? sessionResult)}\n--- server stderr ---\n${server.stderr()}`);
        }
        await timer;
        await killDone;
        // An assertion inside the session that failed before the kill is a failure; errors after it are the kill's doing.
        if (sessionResult instanceof Error && !/closed|Connection|EPIPE|not connected/i.test(sessionResult.message)) {
          throw new Error(`iteration ${it} (${phase}): ${sessionResult.stack}\n--- server stderr ---\n${server.stderr()}`);
        }

        // ---- Checks on the state the dead process left.
        const snapDir = join(work, `crash-${it}`);
        const copy = copyCrashState(snapDir);
        const wal = walTail(`${copy}-wal`);
        const audit = await auditVerify(copy);
        expect(audit.ok).toBe(true);
        expect(audit.rows, "audit rows answered before the kill are all there").toBeGreaterThanOrEqual(auditRows + callsAnswered);
        expect(audit.rows, "no audit row for a call never made").toBeLessThanOrEqual(auditRows + callsSent);

        const db = new Database(copy);
        let landing: Landing;
        let runId: number | null = null;
        let runStatus: string | null = null;
        try {
          expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
          expect(db.pragma("foreign_key_check")).toEqual([]);
          // The old chain is a prefix of the new one: no row lost or rewritten.
          expect(db.prepare("SELECT hash FROM audit_log WHERE id = ?").pluck().get(auditRows)).toBe(auditHead);

          const runs = db.prepare("SELECT id, status FROM discovery_runs ORDER BY id").all() as Array<{ id: number; status: string }>;
          const newRuns = runs.filter((r) => r.id > maxRunId);
          expect(newRuns.length, "at most the one run this iteration started").toBeLessThanOrEqual(1);
          for (const r of runs) {
            if (r.id > maxRunId) continue;
            // Earlier runs are settled, or killed ones the next start has yet to mark (a kill during start-up).
            if (r.status === "running") expect(pendingInterrupted.has(r.id), `run ${r.id} is still running`).toBe(true);
            else expect(["ok", "partial", "interrupted"], `run ${r.id}`).toContain(r.status);
          }
          const newRun = newRuns[0];
          runId = newRun?.id ?? null;
          runStatus = newRun?.status ?? null;
          const states = targetStates(db);
          expect(states.size, "targets").toBe(HOSTS);
          const listedRuns = db.prepare("SELECT DISTINCT run_id FROM observations WHERE source_id = ? AND collection = 'listed'").pluck().all(SOURCE_ID);

          if (newRun && REACHED.has(newRun.status)) {
            // Committed: the complete new inventory. Every target was listed by this run; each host it
            // reached carries this generation; a host it could not reach kept what it had.
            landing = "committed";
            expect(listedRuns).toEqual([newRun.id]);
            const hostResults = db
              .prepare("SELECT t.name, h.status FROM discovery_host_results h JOIN targets t ON t.id = h.target_id WHERE h.run_id = ?")
              .all(newRun.id) as Array<{ name: string; status: string }>;
            expect(hostResults.length).toBe(HOSTS);
            expect(db.prepare("SELECT count(*) FROM discovery_source_results WHERE run_id = ?").pluck().get(newRun.id)).toBe(1);
            const next = new Map(expected);
            for (const { name, status } of hostResults) {
              const st = states.get(name);
              expect(st, name).toBeDefined();
              if (status === "ok") {
                expect(st, `${name} after committed run ${newRun.id}`).toMatchObject(expectedState(name, gen));
                next.set(name, { gen });
              } else if (status === "partial") {
                const g = [gen, expected.get(name)!.gen].find((c) => st!.kernel === kernelOf(c));
                expect(g, `${name} (partial) shows generation ${gen} or ${expected.get(name)!.gen}`).toBeDefined();
                next.set(name, { gen: g! });
              } else {
                expect(st, `${name} unreached in run ${newRun.id}`).toMatchObject(expectedState(name, expected.get(name)!.gen));
              }
            }
            expected = next;
            lastCommitted = newRun.id;
            prevDigest = inventoryDigest(db);
          } else {
            // Not committed: exactly the previous inventory, row for row; nothing carries the killed run's id.
            landing = newRun ? "uncommitted" : "no_run";
            if (newRun) expect(newRun.status, `run ${newRun.id}`).toBe("running");
            expect(listedRuns).toEqual([lastCommitted]);
            expect(inventoryDigest(db), "the inventory differs from the previous one").toBe(prevDigest);
            for (const [name, st] of states) expect(st, name).toMatchObject(expectedState(name, expected.get(name)!.gen));
            if (newRun) {
              for (const table of ["discovery_host_results", "discovery_source_results", "events"]) {
                expect(db.prepare(`SELECT count(*) FROM ${table} WHERE run_id = ?`).pluck().get(newRun.id), `${table} rows of run ${newRun.id}`).toBe(0);
              }
              pendingInterrupted.add(newRun.id);
            }
          }
          if (newRun) maxRunId = newRun.id;
        } finally {
          db.close();
        }
        rmSync(snapDir, { recursive: true, force: true });

        const added = audit.rows - auditRows;
        auditRows = audit.rows;
        auditHead = audit.head_hash!;
        const rec: IterationRecord = {
          iteration: it,
          phase,
          delayMs,
          generation: gen,
          landing,
          runId,
          runStatus,
          msFromSpawnToKill: Math.round(killedAt - t0),
          progressAtKill: progress,
          callsAnswered,
          auditRowsAdded: added,
          walFrames: wal.frames,
          walUncommittedFrames: wal.uncommitted,
        };
        records.push(rec);
        console.log(
          `[crash-safety] #${it} ${phase.padEnd(7)} +${String(delayMs).padStart(5)} ms -> killed ${rec.msFromSpawnToKill} ms after spawn` +
            ` (progress ${progress ?? "-"}): ${landing}${runId !== null ? ` run ${runId} (${runStatus})` : ""}, ${callsAnswered} call(s) answered,` +
            ` +${added} audit row(s), WAL ${wal.frames} frame(s) / ${wal.uncommitted} uncommitted`,
        );
      }

      // ---- Recovery: the next start marks the last killed run, and a full discovery completes.
      const last = spawnServer();
      await within(last.connected, 60_000, "final connect");
      const status = (await last.client.callTool({ name: "get_discovery_status", arguments: { limit: 200 } })).structuredContent as S;
      expect(status.running).toBeNull();
      for (const id of pendingInterrupted) {
        expect(status.runs.find((r: S) => r.run_id === id)).toMatchObject({ status: "interrupted" });
        interruptedConfirmedOverMcp++;
      }
      gen++;
      for (let i = 0; i < HOSTS; i++) fleet!.hosts[i]!.setHost(cannedHost(i, gen));
      const finalRun = await last.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { timeout: 240_000 });
      expect(finalRun.isError, JSON.stringify(finalRun.content)).toBeFalsy();
      expect(finalRun.structuredContent).toMatchObject({ status: "ok", targets_seen: HOSTS, targets_added: 0, targets_unreachable: 0 });
      await last.client.close();
      await within(last.closed, 30_000, "final server exit");

      const finalAudit = await auditVerify(dbPath);
      expect(finalAudit.rows).toBe(auditRows + 2);
      const db = new Database(dbPath);
      let runCounts: Record<string, number>;
      try {
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
        expect(db.pragma("foreign_key_check")).toEqual([]);
        for (const [name, st] of targetStates(db)) expect(st, name).toMatchObject(expectedState(name, gen));
        const rows = db.prepare("SELECT status, count(*) AS n FROM discovery_runs GROUP BY status").all() as Array<{ status: string; n: number }>;
        runCounts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
        expect(runCounts.running ?? 0, "runs left running").toBe(0);
        expect(runCounts.failed ?? 0, "failed runs").toBe(0);
      } finally {
        db.close();
      }

      const count = <K extends keyof IterationRecord>(key: K, value: IterationRecord[K]) => records.filter((r) => r[key] === value).length;
      const committedKills = count("landing", "committed");
      const uncommittedKills = count("landing", "uncommitted");
      const summary = {
        seed: SEED,
        date: new Date().toISOString(),
        host: { name: hostname(), cpus: (await import("node:os")).cpus().length, node: process.version },
        fleet: { hosts: HOSTS, concurrency: CONCURRENCY, execDelayMs: EXEC_DELAY_MS },
        baseline: { startupMs: Math.round(startupMs), probeMs: Math.round(probeMs), writeMs: Math.round(baselineWriteMs) },
        /** The write's duration as later runs that finished before their kill showed it (kill points follow it). */
        writeMsEstimateAtEnd: Math.round(writeMs),
        iterations: records.length,
        killsByPhase: {
          startup: count("phase", "startup"),
          probing: count("phase", "probing"),
          write: count("phase", "write"),
          commit: count("phase", "commit"),
        },
        landings: { noRunYet: count("landing", "no_run"), runUncommitted: uncommittedKills, runCommitted: committedKills },
        writePhaseKills: {
          total: count("phase", "write"),
          uncommitted: records.filter((r) => r.phase === "write" && r.landing === "uncommitted").length,
          committed: records.filter((r) => r.phase === "write" && r.landing === "committed").length,
        },
        commitPhaseKills: {
          total: count("phase", "commit"),
          uncommitted: records.filter((r) => r.phase === "commit" && r.landing === "uncommitted").length,
          committed: records.filter((r) => r.phase === "commit" && r.landing === "committed").length,
          withTornWalTail: records.filter((r) => r.phase === "commit" && r.walUncommittedFrames > 0).length,
        },
        killsWithUncommittedWalFrames: records.filter((r) => r.walUncommittedFrames > 0).length,
        runs: runCounts,
        runsCompletedBeforeAKill: committedKills,
        runsInterrupted: runCounts.interrupted ?? 0,
        interruptedConfirmedOverMcp,
        auditRows: finalAudit.rows,
        auditHead: finalAudit.head_hash,
        generations: gen + 1,
        totalMs: Math.round(performance.now() - started),
        perIteration: records,
      };
      expect(summary.runsInterrupted).toBe(uncommittedKills);
      expect(interruptedConfirmedOverMcp).toBe(uncommittedKills);
      const out = join(tmpdir(), `fleet-mcp-crash-safety-${SEED}.json`);
      writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
      console.log(
        `[crash-safety] ${records.length} kills (startup ${summary.killsByPhase.startup}, probing ${summary.killsByPhase.probing}, write ${summary.killsByPhase.write}, commit ${summary.killsByPhase.commit});` +
          ` landed: ${summary.landings.noRunYet} before a run started, ${uncommittedKills} with the run uncommitted (all marked interrupted), ${committedKills} after the run committed;` +
          ` ${summary.killsWithUncommittedWalFrames} left uncommitted WAL frames; ${finalAudit.rows} audit rows verify; ${Math.round(summary.totalMs / 1000)} s. Figures: ${out}`,
      );
    },
  );
});

describe("runs left running by a dead process", () => {
  // After a restart in a fresh pid namespace (a container's pid 1, or any fixed
  // pid) the new process may carry the dead owner's pid: it started no run, so
  // such a run is not alive and must be marked interrupted, not block discovery.
  it("is marked interrupted at start-up: the process did not start it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-crash-pid-"));
    try {
      const path = join(dir, "fleet.db");
      const db = openDb(path);
      const orphan = startRun(db, { correlationId: "c-same-pid", trigger: "tool", now: new Date(), ownerPid: process.pid, ownerHost: hostname() });
      closeDb(db);
      const app = createApp({ config: loadConfig({ env: { HOME: dir }, db: path, stderrIsTty: false }) });
      try {
        const row = app.db.$client.prepare("SELECT status, error FROM discovery_runs WHERE id = ?").get(orphan) as { status: string; error: string };
        expect(row).toMatchObject({ status: "interrupted", error: expect.stringContaining("stopped before it finished") });
        expect(app.discovery.current()).toBeNull();
      } finally {
        closeDb(app.db);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A `fleet-mcp discover` killed beside a long-running server: the server never
  // restarts, so the start-up pass never sees the row.
  it("is marked interrupted when a long-running process starts its next run", async () => {
    const h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: scriptedHost() })) } });
    try {
      const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
      const orphan = startRun(h.app.db, {
        correlationId: "c-killed-cli",
        trigger: "cli",
        now: new Date(),
        ownerPid: Number(dead.stdout),
        ownerHost: hostname(),
      });
      const run = await h.client.callTool({ name: "run_discovery", arguments: {} });
      expect(run.isError, JSON.stringify(run.content)).toBeFalsy();
      const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
      expect(status.runs.find((r: S) => r.run_id === orphan)).toMatchObject({
        status: "interrupted",
        error: expect.stringContaining("stopped before it finished"),
      });
      expect(status.runs.find((r: S) => r.run_id !== orphan)).toMatchObject({ status: "ok" });
    } finally {
      await h.close();
    }
  });
});
