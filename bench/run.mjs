#!/usr/bin/env node
// fleet-mcp benchmark. `npm run bench` builds, then runs this:
//
//   node bench/run.mjs [--only ssh|ansible|proxmox|inventory] [--n 100,1000] [--concurrency 32]
//                      [--latency-ms 20] [--repeat 3] [--profile]
//                      [--ansible-hosts 10] [--ansible-runs 3]
//                      [--pve-nodes 10] [--pve-guests 1000] [--pve-latency-ms 2]
//                      [--pve-defaults | --no-pve-defaults] [--keep]
//
// a. SSH fleet: for each N, a simulated fleet (bench/sim-fleet.mjs, its own
//    process) and discovery end to end into SQLite in another process
//    (bench/discover-child.mjs): a first run on an empty database, then a second
//    against the same database (host keys pinned, rows updated).
// b. Ansible comparison (when `ansible` is installed): K real OpenSSH sshd on
//    127.0.0.1; `ansible all -m setup` against them, then `fleet-mcp discover`
//    against the same K, each --ansible-runs times (median reported).
// c. Proxmox VE API: a simulated pveproxy (bench/pve-sim.mjs, its own process,
//    HTTPS with a pinned self-signed certificate, token auth) with --pve-nodes
//    nodes and --pve-guests guests; discovery through one `proxmox` source,
//    tuned (concurrency 16, 400 req/s, median of --repeat) and once with the
//    source's defaults (concurrency 8, 20 req/s) to show the rate limit's cost.
// d. Inventory at scale (bench/inventory.mjs, its own process): a generated
//    fleet of --inv-targets targets with 30 services+containers each, ingested,
//    re-ingested with 2 % changed, then overview, search and snapshot compare.
// e. A markdown summary on stdout; raw results in bench/results/latest.json.
//
// Loopback only. Every server and child process is ended at exit, on errors and
// on SIGINT/SIGTERM; every wait is bounded.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile, readFile, mkdir } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { cpus, totalmem, tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import Database from "better-sqlite3";
import { formatSummary, summarizeCpuProfile } from "./profile-summary.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const RESULTS_DIR = join(ROOT, "bench", "results");
const execFileP = promisify(execFile);

const USAGE = `usage: node bench/run.mjs [options]   (npm run bench = build, then this)
  --only ssh|ansible|proxmox|inventory  run one scenario (default: all four)
  --n 100,1000           fleet sizes for the SSH scenario
  --concurrency 32       hosts probed at once (the ssh source's concurrency)
  --latency-ms 20        simulated per-exec latency of each host
  --repeat 3             repetitions of each SSH measurement (median reported)
  --profile              also run the largest N under node --cpu-prof and summarise it
                         (done anyway when N >= 1000 misses the 10 s target)
  --ansible-hosts 10     real sshd instances for the Ansible comparison
  --ansible-runs 3       measured runs of each tool (median reported), after one warm-up
  --pve-nodes 10         nodes of the simulated Proxmox VE cluster
  --pve-guests 1000      guests of the simulated cluster (half lxc, half qemu, 70% running)
  --pve-latency-ms 2     simulated latency of each Proxmox API call
  --no-pve-defaults      skip the extra run with the proxmox source's default limits (8, 20 req/s)
  --child-timeout-s 300  bound on any one discovery/ansible run
  --inv-targets 10000    targets of the generated inventory (30 services+containers each)
  --keep                 keep the temp directory (configs, databases, logs)`;

let args;
try {
  args = parseArgs({
    options: {
      only: { type: "string" },
      n: { type: "string", default: "100,1000" },
      concurrency: { type: "string", default: "32" },
      "latency-ms": { type: "string", default: "20" },
      repeat: { type: "string", default: "3" },
      profile: { type: "boolean", default: false },
      "ansible-hosts": { type: "string", default: "10" },
      "ansible-runs": { type: "string", default: "3" },
      "pve-nodes": { type: "string", default: "10" },
      "pve-guests": { type: "string", default: "1000" },
      "pve-latency-ms": { type: "string", default: "2" },
      "no-pve-defaults": { type: "boolean", default: false },
      "child-timeout-s": { type: "string", default: "300" },
      "inv-targets": { type: "string", default: "10000" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const intArg = (name, min, max) => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`--${name} must be a whole number from ${min} to ${max}\n`);
    process.exit(2);
  }
  return v;
};
const SIZES = args.n.split(",").map((s) => Number(s.trim()));
if (SIZES.some((n) => !Number.isInteger(n) || n < 1 || n > 20000)) {
  process.stderr.write("--n takes fleet sizes from 1 to 20000, comma-separated\n");
  process.exit(2);
}
const CONCURRENCY = intArg("concurrency", 1, 1024);
const LATENCY_MS = intArg("latency-ms", 0, 10000);
const REPEAT = intArg("repeat", 1, 20);
const ANSIBLE_HOSTS = intArg("ansible-hosts", 1, 100);
const ANSIBLE_RUNS = intArg("ansible-runs", 1, 20);
const CHILD_TIMEOUT_MS = intArg("child-timeout-s", 10, 3600) * 1000;
const PVE_NODES = intArg("pve-nodes", 1, 64);
const PVE_GUESTS = intArg("pve-guests", 0, 100000);
const PVE_LATENCY_MS = intArg("pve-latency-ms", 0, 10000);
if (args.only && !["ssh", "ansible", "proxmox", "inventory"].includes(args.only)) {
  process.stderr.write(`--only takes ssh, ansible, proxmox or inventory\n${USAGE}\n`);
  process.exit(2);
}
const RUN_SSH = !args.only || args.only === "ssh";
const RUN_ANSIBLE = !args.only || args.only === "ansible";
const RUN_PROXMOX = !args.only || args.only === "proxmox";
const RUN_INVENTORY = !args.only || args.only === "inventory";
const INV_TARGETS = intArg("inv-targets", 10, 1_000_000);

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// ------------------------------------------------------------ process hygiene

/** Everything to stop at the end: name -> { stop(): Promise<void>, killNow(): void }. */
const live = new Map();
let liveSeq = 0;

function track(name, proc, { group = false } = {}) {
  const id = `${name}#${++liveSeq}`;
  const signal = (sig) => {
    try {
      if (group && proc.pid) process.kill(-proc.pid, sig);
      else proc.kill(sig);
    } catch {
      // already gone
    }
  };
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  const entry = {
    stop: () =>
      new Promise((resolve) => {
        if (exited()) return resolve();
        const hard = setTimeout(() => signal("SIGKILL"), 3000);
        const give = setTimeout(resolve, 5000);
        proc.once("exit", () => {
          clearTimeout(hard);
          clearTimeout(give);
          resolve();
        });
        signal("SIGTERM");
      }),
    killNow: () => {
      if (!exited()) signal("SIGKILL");
    },
  };
  live.set(id, entry);
  proc.once("exit", () => live.delete(id));
  return { id, stop: async () => (await entry.stop(), live.delete(id)) };
}

async function stopAll() {
  endProcessesMentioning(TMP);
  await Promise.all([...live.values()].map((e) => e.stop()));
  live.clear();
}

/** The run's temp directory (configs, databases, keys), removed at exit unless --keep. */
let TMP = null;

// Last resort: synchronous, at process exit (covers signals and throw paths that skip finally).
process.on("exit", () => {
  for (const e of live.values()) e.killNow();
  endProcessesMentioning(TMP);
  if (TMP && !args.keep) rmSync(TMP, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    log(`${sig}: stopping servers and children`);
    stopAll().finally(() => process.exit(130));
  });
}

/** Runs a command to completion under a deadline; the child is killed if it overruns. */
function runCommand(cmd, argv, { env, timeoutMs = CHILD_TIMEOUT_MS, cwd = ROOT, maxStdout = 64 * 1024 * 1024 } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const proc = spawn(cmd, argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const t = track(cmd.split("/").pop(), proc, { group: true });
    const out = [];
    let outBytes = 0;
    let err = "";
    let timedOut = false;
    proc.stdout.on("data", (d) => {
      if (outBytes < maxStdout) out.push(d);
      outBytes += d.length;
    });
    proc.stderr.on("data", (d) => {
      err += d.toString("utf8");
      if (err.length > 256 * 1024) err = err.slice(-128 * 1024);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      void t.stop();
    }, timeoutMs);
    proc.on("error", (e) => (err += `\nspawn: ${e.message}`));
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout: Buffer.concat(out).toString("utf8"), stderr: err, wallMs: performance.now() - started });
    });
  });
}

function baseEnv(extra = {}) {
  const env = { ...process.env };
  // Nothing from the caller's fleet-mcp setup may leak into the measured runs.
  for (const k of Object.keys(env)) if (k.startsWith("FLEET_") || k.startsWith("ANSIBLE_")) delete env[k];
  delete env.SSH_AUTH_SOCK;
  return { ...env, FLEET_LOG_LEVEL: "warn", ...extra };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** CPU seconds of a process from /proc/<pid>/stat: its own and that of the children it has reaped. */
let CLK_TCK = 100;
function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14-17 of proc(5), counted from "state" (field 3) at index 0
    const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
    return { self: (utime + stime) / CLK_TCK, children: (cutime + cstime) / CLK_TCK };
  } catch {
    return { self: 0, children: 0 };
  }
}

// ------------------------------------------------------------ machine

async function machineInfo() {
  const info = {
    nproc: cpus().length,
    memTotalGB: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    cpuModel: cpus()[0]?.model ?? null,
    platform: `${process.platform} ${process.arch}`,
  };
  try {
    const { stdout } = await execFileP("nproc", [], { timeout: 5000 });
    info.nproc = Number(stdout.trim());
  } catch {
    // os.cpus() stays
  }
  try {
    CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"], { timeout: 5000 })).stdout.trim()) || 100;
  } catch {
    // 100 on Linux
  }
  try {
    const { stdout } = await execFileP("lscpu", [], { timeout: 5000 });
    info.cpuModel = /^Model name:\s*(.+)$/m.exec(stdout)?.[1]?.trim() ?? info.cpuModel;
  } catch {
    // no lscpu
  }
  try {
    info.ssh2 = JSON.parse(readFileSync(join(ROOT, "node_modules/ssh2/package.json"), "utf8")).version;
    info.betterSqlite3 = JSON.parse(readFileSync(join(ROOT, "node_modules/better-sqlite3/package.json"), "utf8")).version;
  } catch {
    // not installed?
  }
  return info;
}

// ------------------------------------------------------------ a. SSH fleet

/** Starts bench/sim-fleet.mjs; resolves once it printed its ready line. */
async function startSimFleet(n, password) {
  const proc = spawn(process.execPath, [join(ROOT, "bench/sim-fleet.mjs"), String(n), "--latency-ms", String(LATENCY_MS)], {
    cwd: ROOT,
    env: { ...baseEnv(), BENCH_SSH_PASSWORD: password },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const t = track("sim-fleet", proc);
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d.toString("utf8");
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  proc.stdin.on("error", () => {});
  const lines = [];
  const waiters = [];
  let exitedWith = null;
  proc.once("exit", (code, signal) => {
    exitedWith = `sim-fleet exited (${code ?? signal})`;
    for (const w of waiters.splice(0)) w(null);
  });
  let buf = "";
  proc.stdout.on("data", (d) => {
    buf += d.toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const nextLine = (timeoutMs) =>
    new Promise((resolve, reject) => {
      if (lines.length) return resolve(lines.shift());
      const timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`sim-fleet said nothing within ${timeoutMs} ms; stderr: ${stderr.trim().slice(-500)}`));
      }, timeoutMs);
      const w = (line) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`${exitedWith}: ${stderr.trim().slice(-500)}`));
        else resolve(line);
      };
      if (exitedWith) return w(null);
      waiters.push(w);
    });
  const ready = JSON.parse(await nextLine(60_000 + n * 200));
  if (!ready.ready || ready.hosts?.length !== n) throw new Error(`sim-fleet: unexpected ready line`);
  return {
    hosts: ready.hosts,
    pid: proc.pid,
    async stats() {
      proc.stdin.write("stats\n");
      return JSON.parse(await nextLine(10_000)).stats;
    },
    stderr: () => stderr,
    stop: () => {
      try {
        proc.stdin.end();
      } catch {
        // gone
      }
      return t.stop();
    },
  };
}

async function runDiscoverChild({ cfgPath, dbPath, password, nodeArgs = [], env = {} }) {
  const r = await runCommand(process.execPath, [...nodeArgs, join(ROOT, "bench/discover-child.mjs"), "--config", cfgPath, "--db", dbPath], {
    env: baseEnv({ ...(password ? { BENCH_SSH_PASSWORD: password } : {}), ...env }),
  });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let parsed = null;
  try {
    parsed = JSON.parse(last);
  } catch {
    // reported below
  }
  if (r.code !== 0 || !parsed || parsed.error) {
    throw new Error(
      `discover-child failed (exit ${r.code ?? r.signal}${r.timedOut ? ", timed out" : ""}): ${parsed?.error ?? last.slice(0, 300)}\n${r.stderr.slice(-1500)}`,
    );
  }
  const warnings = (r.stderr.match(/MaxListenersExceededWarning/g) ?? []).length;
  return { ...parsed, processWallMs: Math.round(r.wallMs), stderrWarnings: warnings, stderrTail: r.stderr.trim().slice(-400) };
}

async function sshScenario(tmp) {
  /** summary: the median run per (N, first|second); runs: every run; profile: --profile's summary. */
  const out = { summary: [], runs: [], profile: null };
  const password = randomBytes(18).toString("base64url");
  for (const n of SIZES) {
    log(`SSH fleet N=${n}: starting the simulated fleet (latency ${LATENCY_MS} ms)`);
    const simStarted = performance.now();
    const sim = await startSimFleet(n, password);
    log(`SSH fleet N=${n}: ${n} hosts ready in ${Math.round(performance.now() - simStarted)} ms`);
    try {
      const cfgPath = join(tmp, `ssh-${n}.json`);
      await writeFile(
        cfgPath,
        `${JSON.stringify(
          {
            log_level: "warn",
            sources: [
              {
                kind: "ssh",
                id: "bench",
                user: "root",
                hosts: sim.hosts.map((h) => ({ address: h.address, port: h.port })),
                auth: { agent: false, password_env: "BENCH_SSH_PASSWORD" },
                host_key_policy: "tofu",
                concurrency: CONCURRENCY,
              },
            ],
          },
          null,
          2,
        )}\n`,
      );
      const reps = { first: [], second: [] };
      for (let rep = 0; rep < REPEAT; rep++) {
        const dbPath = join(tmp, `ssh-${n}-rep${rep}.db`);
        for (const run of ["first", "second"]) {
          const before = await sim.stats();
          const r = await runDiscoverChild({ cfgPath, dbPath, password });
          const after = await sim.stats();
          const simCpuMs = after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs;
          const row = {
            n,
            run,
            rep,
            ...r,
            hostsPerSec: round(n / (r.wallMs / 1000), 1),
            msPerHost: round(r.wallMs / n, 2),
            writeMs: r.probeMs === null ? null : r.wallMs - r.probeMs,
            simCpuMs: Math.round(simCpuMs),
            simMaxRssMB: round(after.maxRssMB, 1),
            reliable: r.hostsOk === n && r.hostsFailed === 0,
          };
          delete row.marks;
          reps[run].push(row);
          out.runs.push(row);
          log(
            `SSH fleet N=${n} ${run} run: ${r.wallMs} ms (probing ${r.probeMs} ms, write ${row.writeMs} ms), ${row.hostsPerSec} hosts/s, ` +
              `peak RSS ${r.maxRssMB} MB, ${r.hostsOk} ok / ${r.hostsFailed} failed${row.reliable ? "" : ` — NOT ALL HOSTS OK: ${r.firstProblem}`}`,
          );
        }
      }
      for (const run of ["first", "second"]) {
        const rows = reps[run];
        // The run with the median wall time (the lower middle one for an even count), reported whole.
        const pick = [...rows].sort((a, b) => a.wallMs - b.wallMs)[(rows.length - 1) >> 1];
        out.summary.push({ ...pick, repeats: rows.length, wallMsAll: rows.map((x) => x.wallMs), medianWallMs: median(rows.map((x) => x.wallMs)) });
      }

      const firstMedian = median(reps.first.map((x) => x.wallMs));
      const overTarget = n >= 1000 && firstMedian > (10_000 * n) / 1000;
      if (n === Math.max(...SIZES) && (args.profile || overTarget)) {
        if (overTarget && !args.profile) log(`N=${n} took ${firstMedian} ms, over the target: profiling where the time goes`);
        const profileDir = join(RESULTS_DIR, "profiles", `n${n}-${Date.now()}`);
        mkdirSync(profileDir, { recursive: true });
        log(`SSH fleet N=${n}: profiling a first run (node --cpu-prof) into ${profileDir}`);
        const dbPath = join(tmp, `ssh-${n}-profile.db`);
        // The child prints its phase marks in the profile's own clock (monotonic µs).
        const parsed = await runDiscoverChild({ cfgPath, dbPath, password, nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profileDir] }).catch((err) => {
          log(`profiled run failed: ${err.message}`);
          return null;
        });
        const file = parsed && readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"));
        if (file) {
          const profile = JSON.parse(await readFile(join(profileDir, file), "utf8"));
          const phases = summarizeCpuProfile(profile, { top: 20, splitUs: [parsed.marks.runStartUs, parsed.marks.probesDoneUs, parsed.marks.runEndUs] });
          const [startup, probing, write] = phases;
          process.stderr.write(`\n${formatSummary(probing, `N=${n} probing phase (${parsed.probeMs} ms wall)`)}\n\n`);
          process.stderr.write(`${formatSummary(write, `N=${n} write phase (${parsed.wallMs - parsed.probeMs} ms wall)`)}\n\n`);
          out.profile = {
            n,
            file: join(profileDir, file),
            wallMs: parsed.wallMs,
            probeMs: parsed.probeMs,
            writeMs: parsed.wallMs - parsed.probeMs,
            phases: { startup, probing, write },
          };
        } else log("no .cpuprofile was written");
      }
    } finally {
      await sim.stop();
    }
  }
  return out;
}

// ------------------------------------------------------------ c. Proxmox VE API

/** Starts bench/pve-sim.mjs; resolves once it printed its ready line. */
async function startPveSim() {
  const proc = spawn(
    process.execPath,
    [join(ROOT, "bench/pve-sim.mjs"), "--nodes", String(PVE_NODES), "--guests", String(PVE_GUESTS), "--latency-ms", String(PVE_LATENCY_MS)],
    { cwd: ROOT, env: baseEnv(), stdio: ["pipe", "pipe", "pipe"] },
  );
  const t = track("pve-sim", proc);
  let stderr = "";
  proc.stderr.on("data", (d) => {
    stderr += d.toString("utf8");
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  proc.stdin.on("error", () => {});
  const lines = [];
  const waiters = [];
  let exitedWith = null;
  proc.once("exit", (code, signal) => {
    exitedWith = `pve-sim exited (${code ?? signal})`;
    for (const w of waiters.splice(0)) w(null);
  });
  let buf = "";
  proc.stdout.on("data", (d) => {
    buf += d.toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const nextLine = (timeoutMs) =>
    new Promise((resolve, reject) => {
      if (lines.length) return resolve(lines.shift());
      const timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`pve-sim said nothing within ${timeoutMs} ms; stderr: ${stderr.trim().slice(-500)}`));
      }, timeoutMs);
      const w = (line) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`${exitedWith}: ${stderr.trim().slice(-500)}`));
        else resolve(line);
      };
      if (exitedWith) return w(null);
      waiters.push(w);
    });
  const ready = JSON.parse(await nextLine(60_000));
  if (!ready.ready || !ready.port || !ready.fingerprint || !ready.secret) throw new Error("pve-sim: unexpected ready line");
  return {
    ...ready,
    pid: proc.pid,
    async stats() {
      proc.stdin.write("stats\n");
      return JSON.parse(await nextLine(10_000)).stats;
    },
    stop: () => {
      try {
        proc.stdin.end();
      } catch {
        // gone
      }
      return t.stop();
    },
  };
}

/** The two proxmox settings measured: tuned, and the source's defaults (one run: it is slow by design). */
const PVE_SETTINGS = [
  { label: "tuned", concurrency: 16, requestsPerSecond: 400, repeat: () => REPEAT },
  { label: "defaults", concurrency: 8, requestsPerSecond: 20, repeat: () => 1, defaults: true },
];

async function proxmoxScenario(tmp) {
  const out = { nodes: PVE_NODES, guests: PVE_GUESTS, latencyMs: PVE_LATENCY_MS, summary: [], runs: [] };
  const expected = PVE_NODES + PVE_GUESTS;
  log(`Proxmox API: starting the simulated cluster (${PVE_NODES} nodes, ${PVE_GUESTS} guests, latency ${PVE_LATENCY_MS} ms)`);
  const sim = await startPveSim();
  try {
    for (const setting of PVE_SETTINGS) {
      if (setting.defaults && args["no-pve-defaults"]) continue;
      const cfgPath = join(tmp, `proxmox-${setting.label}.json`);
      const source = {
        kind: "proxmox",
        id: "pve",
        host: "127.0.0.1",
        port: sim.port,
        token_id: sim.token,
        token_secret_env: "BENCH_PVE_TOKEN_SECRET",
        fingerprint: sim.fingerprint,
      };
      // The defaults run leaves both limits unset, so it measures what a user gets out of the box.
      if (!setting.defaults) Object.assign(source, { concurrency: setting.concurrency, requests_per_second: setting.requestsPerSecond });
      await writeFile(cfgPath, `${JSON.stringify({ log_level: "warn", sources: [source] }, null, 2)}\n`);
      const rows = [];
      const reps = setting.repeat();
      for (let rep = 0; rep < reps; rep++) {
        const dbPath = join(tmp, `proxmox-${setting.label}-rep${rep}.db`);
        const before = await sim.stats();
        const r = await runDiscoverChild({ cfgPath, dbPath, env: { BENCH_PVE_TOKEN_SECRET: sim.secret } });
        const after = await sim.stats();
        const byEndpoint = {};
        for (const [k, v] of Object.entries(after.byEndpoint)) byEndpoint[k] = v - (before.byEndpoint[k] ?? 0);
        const requests = after.requests - before.requests;
        const row = {
          setting: setting.label,
          concurrency: setting.concurrency,
          requestsPerSecond: setting.requestsPerSecond,
          rep,
          ...r,
          targets: r.rows?.targets ?? null,
          apiRequests: requests,
          apiErrors: after.errors - before.errors,
          apiUnauthorized: after.unauthorized - before.unauthorized,
          tlsConnections: after.tlsConnections - before.tlsConnections,
          byEndpoint,
          // The token bucket starts full (burst = rate), so the limiter alone needs (requests - rate) / rate seconds.
          rateFloorMs: Math.max(0, Math.round(((requests - setting.requestsPerSecond) / setting.requestsPerSecond) * 1000)),
          writeMs: r.probeMs === null ? null : r.wallMs - r.probeMs,
          simCpuMs: after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs,
          reliable: r.hostsOk === expected && r.hostsFailed === 0,
        };
        delete row.marks;
        rows.push(row);
        out.runs.push(row);
        log(
          `Proxmox API ${setting.label} (concurrency ${setting.concurrency}, ${setting.requestsPerSecond} req/s) run ${rep + 1}/${reps}: ${r.wallMs} ms ` +
            `(API ${r.probeMs} ms, write ${row.writeMs} ms), ${row.apiRequests} API requests over ${row.tlsConnections} TLS connections, ` +
            `${row.targets} targets, peak RSS ${r.maxRssMB} MB, ${r.hostsOk} ok / ${r.hostsFailed} failed` +
            `${row.reliable ? "" : ` — NOT ALL TARGETS OK (expected ${expected}): ${r.firstProblem}`}`,
        );
      }
      const pick = [...rows].sort((a, b) => a.wallMs - b.wallMs)[(rows.length - 1) >> 1];
      out.summary.push({ ...pick, repeats: rows.length, wallMsAll: rows.map((x) => x.wallMs), medianWallMs: median(rows.map((x) => x.wallMs)) });
    }
  } finally {
    await sim.stop();
  }
  return out;
}

// ------------------------------------------------------------ b. Ansible

/** The command's path on PATH (plus the usual system directories unless pathOnly), or null. */
async function which(cmd, { pathOnly = false } = {}) {
  const dirs = (process.env.PATH ?? "").split(":");
  for (const d of pathOnly ? dirs : dirs.concat(["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"])) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0 }, () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

/** The first line the port sends within timeoutMs, or null. */
function readBanner(port, timeoutMs) {
  return new Promise((resolve) => {
    let buf = "";
    const sock = connect({ host: "127.0.0.1", port });
    const done = (v) => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl).trim());
    });
  });
}

/** A real OpenSSH sshd on 127.0.0.1 with its own host key (port of test/support/sshd.ts). */
async function startSshd(dir, userPubKey, keygen) {
  await mkdir(dir, { recursive: true });
  const hostKey = join(dir, "ssh_host_ed25519_key");
  await execFileP(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-bench-host", "-f", hostKey], { timeout: 10_000 });
  await writeFile(join(dir, "authorized_keys"), userPubKey, { mode: 0o600 });
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir, "sshd_config");
    await writeFile(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin yes",
        "LogLevel ERROR",
        // Ansible's default ControlMaster multiplexes its several ssh steps over one connection.
        "MaxSessions 50",
        "MaxStartups 100:30:200",
        "Subsystem sftp internal-sftp",
        "",
      ].join("\n"),
    );
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 }).catch(() => {});
    const proc = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    const t = track("sshd", proc, { group: true });
    let stderr = "";
    proc.stderr.on("data", (d) => {
      if (stderr.length < 8192) stderr += d.toString("utf8");
    });
    proc.on("error", (e) => (stderr += `\nspawn: ${e.message}`));
    const deadline = Date.now() + 10_000;
    let banner = null;
    while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
      banner = await readBanner(port, 1000);
      if (banner?.startsWith("SSH-2.0")) return { port, pid: proc.pid, stop: t.stop, stderr: () => stderr };
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.stop();
    if (attempt === 2) throw new Error(`sshd did not start: ${stderr.trim() || "no banner within 10 s"}`);
  }
  throw new Error("unreachable");
}

/**
 * Ends, by pid, the processes whose command line names `path` (a directory this
 * run created): the ssh ControlPersist masters ansible daemonizes ("ssh: <dir>/cp/... [mux]"),
 * which no process-group kill reaches. Ending them also ends the sshd sessions they hold.
 */
function endProcessesMentioning(path) {
  if (!path || !existsSync("/proc")) return 0;
  const pids = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(path)) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  return pids.length;
}
const endControlMasters = async (controlDir) => endProcessesMentioning(controlDir);

/** Runs the real probe script once on this machine (sh -s) and times each section. */
async function timeProbeSections() {
  const { buildProbeScript, newNonce } = await import(join(ROOT, "dist/discovery/probe.js"));
  const nonce = newNonce();
  const begin = `@@fleet-${nonce}@@ BEGIN `;
  const done = `@@fleet-${nonce}@@ DONE`;
  return new Promise((resolve) => {
    const started = performance.now();
    const proc = spawn("sh", ["-s"], { stdio: ["pipe", "pipe", "ignore"], detached: true });
    const t = track("probe-sh", proc, { group: true });
    const timer = setTimeout(() => void t.stop(), 120_000);
    const marks = [];
    let buf = "";
    proc.stdout.on("data", (d) => {
      buf += d.toString("utf8");
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith(begin)) marks.push([line.slice(begin.length).trim(), performance.now()]);
        else if (line.startsWith(done)) marks.push(["(done)", performance.now()]);
      }
    });
    proc.stdin.on("error", () => {});
    proc.stdin.end(buildProbeScript(nonce));
    proc.on("close", () => {
      clearTimeout(timer);
      const sections = marks
        .slice(0, -1)
        .map(([name, at], i) => ({ name, ms: Math.round(marks[i + 1][1] - at) }))
        .sort((a, b) => b.ms - a.ms);
      resolve({ totalMs: Math.round(performance.now() - started), sections });
    });
  });
}

async function ansibleScenario(tmp) {
  const ansible = await which("ansible", { pathOnly: true });
  if (!ansible) {
    const msg =
      "ansible is not installed: install it with `apt-get install -y ansible-core` (Debian/Ubuntu) or `pipx install ansible-core`, then rerun `npm run bench`";
    log(msg);
    return { skipped: msg };
  }
  const keygen = await which("ssh-keygen");
  if (!existsSync("/usr/sbin/sshd") || !keygen) {
    const msg = "the Ansible comparison needs OpenSSH's /usr/sbin/sshd and ssh-keygen (apt-get install -y openssh-server)";
    log(msg);
    return { skipped: msg };
  }
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : await which("python3");
  const { stdout: ansibleVersion } = await execFileP(ansible, ["--version"], { timeout: 60_000, env: baseEnv() });
  const dir = join(tmp, "ansible");
  await mkdir(dir, { recursive: true });
  const userKey = join(dir, "id_ed25519");
  await execFileP(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-bench-user", "-f", userKey], { timeout: 10_000 });
  const userPub = await readFile(`${userKey}.pub`, "utf8");
  const user = (await execFileP("id", ["-un"])).stdout.trim();

  log(`Ansible comparison: starting ${ANSIBLE_HOSTS} sshd on 127.0.0.1`);
  const sshds = [];
  try {
    for (let i = 0; i < ANSIBLE_HOSTS; i++) sshds.push(await startSshd(join(dir, `sshd-${i}`), userPub, keygen));
    const inventory = join(dir, "inventory.ini");
    await writeFile(
      inventory,
      `[bench]\n${sshds
        .map(
          (s, i) =>
            `sshd-${i} ansible_host=127.0.0.1 ansible_port=${s.port} ansible_user=${user} ansible_ssh_private_key_file=${userKey} ` +
            `ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' ansible_python_interpreter=${python}`,
        )
        .join("\n")}\n`,
    );
    const cfgPath = join(dir, "fleet.json");
    await writeFile(
      cfgPath,
      `${JSON.stringify(
        {
          log_level: "warn",
          sources: [
            {
              kind: "ssh",
              id: "sshd",
              user,
              hosts: sshds.map((s) => ({ address: "127.0.0.1", port: s.port })),
              auth: { agent: false, private_key_file: userKey },
              host_key_policy: "tofu",
              concurrency: ANSIBLE_HOSTS,
            },
          ],
        },
        null,
        2,
      )}\n`,
    );

    // Controller CPU: this process's reaped children (the tool and what it reaped).
    // Target CPU: what each sshd reaped (its session processes: the probe shell and
    // its commands, Ansible's python modules). Both on the same 2 cores.
    const cpuNow = () => ({ controller: procCpu(process.pid).children, target: sshds.reduce((a, s) => a + procCpu(s.pid).self + procCpu(s.pid).children, 0) });
    const withCpu = async (fn) => {
      const before = cpuNow();
      const r = await fn();
      // sshd reaps a session child a moment after its connection closes.
      await new Promise((res) => setTimeout(res, 300));
      const after = cpuNow();
      return { ...r, controllerCpuS: round(after.controller - before.controller, 2), targetCpuS: round(after.target - before.target, 2) };
    };

    const runAnsible = async (tag) => {
      // A fresh home and ControlPath dir per run: no run reuses another's ssh connections or caches.
      const home = join(dir, `ansible-home-${tag}`);
      const controlDir = join(home, "cp");
      await mkdir(controlDir, { recursive: true });
      const r = await runCommand(ansible, ["all", "-i", inventory, "-m", "setup", "-f", String(ANSIBLE_HOSTS)], {
        env: baseEnv({
          ANSIBLE_HOME: home,
          ANSIBLE_LOCAL_TEMP: join(home, "tmp"),
          ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
          ANSIBLE_HOST_KEY_CHECKING: "False",
          ANSIBLE_LOAD_CALLBACK_PLUGINS: "1",
          ANSIBLE_STDOUT_CALLBACK: "json",
          ANSIBLE_NOCOLOR: "1",
          ANSIBLE_RETRY_FILES_ENABLED: "False",
        }),
      });
      await endControlMasters(controlDir);
      let ok = 0;
      let failed = ANSIBLE_HOSTS;
      try {
        const stats = JSON.parse(r.stdout).stats;
        ok = Object.values(stats).filter((s) => s.ok > 0 && !s.failures && !s.unreachable).length;
        failed = ANSIBLE_HOSTS - ok;
      } catch {
        // not JSON: counted as failed
      }
      if (r.code !== 0 || ok !== ANSIBLE_HOSTS)
        log(`ansible run ${tag}: exit ${r.code ?? r.signal}, ${ok}/${ANSIBLE_HOSTS} ok; stderr: ${r.stderr.trim().slice(-400)}`);
      return { wallMs: Math.round(r.wallMs), exitCode: r.code, hostsOk: ok, hostsFailed: failed, outputBytes: r.stdout.length };
    };
    const runFleet = async (tag) => {
      const db = join(dir, `fleet-${tag}.db`);
      const r = await runCommand(process.execPath, [join(ROOT, "dist/cli.js"), "discover", "--json", "--config", cfgPath, "--db", db], { env: baseEnv() });
      let rep = null;
      try {
        rep = JSON.parse(r.stdout);
      } catch {
        // reported below
      }
      const hostsOk = rep ? rep.sources.reduce((a, s) => a + s.hostsOk, 0) : 0;
      if (r.code !== 0 || hostsOk !== ANSIBLE_HOSTS)
        log(`fleet-mcp run ${tag}: exit ${r.code ?? r.signal}, ${hostsOk}/${ANSIBLE_HOSTS} ok; ${r.stderr.trim().slice(-400)}`);
      const statuses = {};
      for (const p of rep?.problems ?? []) statuses[p.status] = (statuses[p.status] ?? 0) + 1;
      // How long each host's probe took (connect to exit), as the inventory recorded it.
      let probeMsPerHost = null;
      try {
        const conn = new Database(db, { readonly: true });
        const ds = conn
          .prepare("SELECT duration_ms AS d FROM discovery_host_results ORDER BY d")
          .all()
          .map((x) => x.d);
        conn.close();
        probeMsPerHost = { median: median(ds), max: ds[ds.length - 1] };
      } catch {
        // no database: reported as null
      }
      return {
        probeMsPerHost,
        wallMs: Math.round(r.wallMs),
        runDurationMs: rep?.durationMs ?? null,
        exitCode: r.code,
        status: rep?.status ?? null,
        hostsOk,
        hostsFailed: ANSIBLE_HOSTS - hostsOk,
        notOk: statuses,
        firstProblem: rep?.problems?.[0] ? `${rep.problems[0].status}: ${rep.problems[0].error}` : null,
      };
    };

    const probeAlone = await timeProbeSections();
    log(
      `the fleet-mcp probe alone on this machine (sh -s, once): ${probeAlone.totalMs} ms; slowest sections: ${probeAlone.sections
        .slice(0, 3)
        .map((x) => `${x.name} ${x.ms} ms`)
        .join(", ")}`,
    );
    log("Ansible comparison: one warm-up run of each (not counted)");
    const warmup = { ansible: await withCpu(() => runAnsible("warmup")), fleet: await withCpu(() => runFleet("warmup")) };
    const runs = { ansible: [], fleet: [] };
    // Interleaved, so drift (page cache, thermal, neighbours) hits both alike.
    for (let i = 0; i < ANSIBLE_RUNS; i++) {
      const a = await withCpu(() => runAnsible(String(i)));
      const f = await withCpu(() => runFleet(String(i)));
      runs.ansible.push(a);
      runs.fleet.push(f);
      log(
        `Ansible comparison run ${i + 1}/${ANSIBLE_RUNS}: ansible ${a.wallMs} ms (${a.hostsOk} ok; CPU controller ${a.controllerCpuS} s, target ${a.targetCpuS} s), ` +
          `fleet-mcp ${f.wallMs} ms (${f.hostsOk} ok; CPU controller ${f.controllerCpuS} s, target ${f.targetCpuS} s)`,
      );
    }
    const ansibleMedian = median(runs.ansible.map((r) => r.wallMs));
    const fleetMedian = median(runs.fleet.map((r) => r.wallMs));
    return {
      hosts: ANSIBLE_HOSTS,
      ansibleVersion: ansibleVersion.split("\n")[0].trim(),
      command: `ansible all -i <inventory> -m setup -f ${ANSIBLE_HOSTS}`,
      fleetCommand: "node dist/cli.js discover --json --config <cfg> --db <fresh db>",
      probeAlone,
      warmup,
      runs,
      ansibleCpuMedian: { controller: median(runs.ansible.map((r) => r.controllerCpuS)), target: median(runs.ansible.map((r) => r.targetCpuS)) },
      fleetCpuMedian: { controller: median(runs.fleet.map((r) => r.controllerCpuS)), target: median(runs.fleet.map((r) => r.targetCpuS)) },
      ansibleMedianMs: ansibleMedian,
      fleetMedianMs: fleetMedian,
      ratio: round(ansibleMedian / fleetMedian, 2),
      reliable: [...runs.ansible, ...runs.fleet].every((r) => r.hostsOk === ANSIBLE_HOSTS),
    };
  } finally {
    await Promise.all(sshds.map((s) => s.stop()));
  }
}

// ------------------------------------------------------------ c. summary

/** bench/inventory.mjs in its own process, so its peak RSS is its own. */
async function inventoryScenario(tmp) {
  const out = join(tmp, "inventory.json");
  log(`inventory: ${INV_TARGETS} generated targets`);
  const { stderr } = await execFileP(process.execPath, [join(ROOT, "bench", "inventory.mjs"), "--targets", String(INV_TARGETS), "--json", out], {
    timeout: CHILD_TIMEOUT_MS,
    maxBuffer: 16 << 20,
  });
  process.stderr.write(stderr);
  return JSON.parse(readFileSync(out, "utf8"));
}

function inventoryMarkdown(r) {
  if (r.error) return ["", "### Inventory at scale", "", `Failed: ${r.error.split("\n")[0]}`];
  const ok = (v, max) => (v <= max ? "met" : "NOT met");
  return [
    "",
    `### Inventory at scale (${r.targets.toLocaleString("en")} generated targets, ${r.services_and_containers.toLocaleString("en")} services + containers)`,
    "",
    "| measurement | result | target |",
    "|---|---:|---|",
    `| first discovery ingest (empty database) | ${(r.ingest_first_ms / 1000).toFixed(2)} s | ≤ 10 s: ${ok(r.ingest_first_ms, 10_000)} |`,
    `| next discovery ingest (2 % of targets changed; ${r.events_second_run} events) | ${(r.ingest_steady_ms / 1000).toFixed(2)} s | ≤ 10 s: ${ok(r.ingest_steady_ms, 10_000)} |`,
    `| get_fleet_overview query, p50 / p95 | ${r.overview_ms.p50} / ${r.overview_ms.p95} ms | ≤ 50 ms: ${ok(r.overview_ms.p95, 50)} |`,
    ...(r.search_ms
      ? [
          `| search_fleet, p50 / p95 over ${Object.keys(r.search_ms.per_query).length} query shapes | ${r.search_ms.p50} / ${r.search_ms.p95} ms | p95 ≤ 20 ms: ${ok(r.search_ms.p95, 20)} |`,
        ]
      : []),
    ...(r.compare_ms !== undefined
      ? [
          `| create_snapshot (capture + gzip) | ${(r.snapshot_create_ms / 1000).toFixed(2)} s, ${(r.snapshot_bytes / 2 ** 20).toFixed(1)} MB | — |`,
          `| compare_snapshots of two ${r.targets.toLocaleString("en")}-target snapshots | ${r.compare_ms} ms (${r.compare_changes} changes) | ≤ 1 s: ${ok(r.compare_ms, 1000)} |`,
        ]
      : []),
    `| database size | ${(r.db_bytes / 2 ** 20).toFixed(0)} MB | — |`,
    `| peak RSS through both ingests (the generated fleet held in memory, as a discovery holds its observations) | ${r.peak_rss_after_ingest_mb} MB | ≤ 500 MB: ${ok(r.peak_rss_after_ingest_mb, 500)} |`,
    `| peak RSS through overview and search | ${r.peak_rss_after_queries_mb} MB | ≤ 500 MB: ${ok(r.peak_rss_after_queries_mb, 500)} |`,
    `| peak RSS of the whole process (snapshots: two captures and a compare of 10,000 targets in memory at once) | ${r.peak_rss_mb} MB | — |`,
    ...(r.search_ms
      ? [
          "",
          `search_fleet p95 by query: ${Object.entries(r.search_ms.per_query)
            .map(([q, v]) => `\`${q}\` ${v.p95}`)
            .join(", ")} ms.`,
        ]
      : []),
  ];
}

function markdown(results) {
  const m = results.machine;
  const lines = [
    `## fleet-mcp benchmark — ${results.startedAt}`,
    "",
    `Machine: ${m.nproc} CPU (${m.cpuModel}), ${m.memTotalGB} GB RAM, Node ${m.node}, ssh2 ${m.ssh2}, better-sqlite3 ${m.betterSqlite3}`,
    "",
  ];
  if (results.sshError) lines.push(`### SSH fleet`, "", `Failed: ${results.sshError.split("\n")[0]}`, "");
  if (results.ssh) {
    lines.push(
      `### SSH fleet (simulated hosts, ${LATENCY_MS} ms latency, concurrency ${CONCURRENCY}${REPEAT > 1 ? `, median of ${REPEAT}` : ""})`,
      "",
      "| N | run | wall (s) | range (s) | hosts/s | ms/host | probing (s) | write (s) | process wall (s) | peak RSS (MB) | longest event-loop block (s) | CPU user+sys (s) | sim CPU (s) | ok / failed |",
      "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const r of results.ssh) {
      lines.push(
        `| ${r.n} | ${r.run === "first" ? "first (empty DB)" : "second (pinned)"} | ${(r.wallMs / 1000).toFixed(2)} | ${(Math.min(...r.wallMsAll) / 1000).toFixed(2)}–${(Math.max(...r.wallMsAll) / 1000).toFixed(2)} | ${r.hostsPerSec} | ${r.msPerHost} | ${r.probeMs === null ? "—" : (r.probeMs / 1000).toFixed(2)} | ${r.writeMs === null ? "—" : (r.writeMs / 1000).toFixed(2)} | ${(r.processWallMs / 1000).toFixed(2)} | ${r.maxRssMB} | ${(r.eventLoopMaxBlockMs / 1000).toFixed(2)} | ${((r.cpuUserMs + r.cpuSystemMs) / 1000).toFixed(2)} | ${(r.simCpuMs / 1000).toFixed(2)} | ${r.hostsOk} / ${r.hostsFailed}${r.reliable ? "" : " ⚠"} |`,
      );
    }
    const big = results.ssh.find((r) => r.n === 1000 && r.run === "first");
    if (big) {
      lines.push(
        "",
        `Target for 1,000 hosts: ≤ 10 s wall and ≤ 500 MB RSS — first run ${(big.wallMs / 1000).toFixed(2)} s / ${big.maxRssMB} MB: ${big.wallMs <= 10_000 && big.maxRssMB <= 500 ? "met" : "NOT met"}.`,
      );
    }
    const [a, b] = [
      results.ssh.find((r) => r.run === "first" && r.n === Math.min(...SIZES)),
      results.ssh.find((r) => r.run === "first" && r.n === Math.max(...SIZES)),
    ];
    if (a && b && a !== b) lines.push(`Scaling (first runs): ${b.n / a.n}× the hosts took ${(b.wallMs / a.wallMs).toFixed(1)}× the wall time.`);
    if (results.sshProfile) {
      const p = results.sshProfile;
      lines.push("", `CPU profile of a first run at N=${p.n} (${p.file}):`, "");
      for (const [phase, label] of [
        ["probing", `probing (${p.probeMs} ms)`],
        ["write", `write (${p.writeMs} ms)`],
      ]) {
        lines.push(`${label} — top self time:`, "", "| self ms | % | function |", "|---:|---:|---|");
        for (const f of p.phases[phase].functions.slice(0, 10)) lines.push(`| ${f.selfMs} | ${f.pct} | \`${f.name}\` |`);
        lines.push("");
      }
    }
  }
  if (results.proxmoxError) lines.push("", "### Proxmox VE API", "", `Failed: ${results.proxmoxError.split("\n")[0]}`, "");
  if (results.proxmox) {
    const c = results.proxmoxCluster;
    lines.push(
      "",
      `### Proxmox VE API (simulated pveproxy: ${c.nodes} nodes, ${c.guests} guests, ${c.latencyMs} ms per call; token auth, pinned certificate)`,
      "",
      "| setting | concurrency | req/s | runs | wall (s) | range (s) | API phase (s) | write (s) | API requests | rate-limit floor (s) | TLS connections | targets | peak RSS (MB) | CPU user+sys (s) | sim CPU (s) | ok / failed |",
      "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const r of results.proxmox) {
      lines.push(
        `| ${r.setting === "defaults" ? "defaults" : "tuned"} | ${r.concurrency} | ${r.requestsPerSecond} | ${r.repeats} | ${(r.wallMs / 1000).toFixed(2)} | ${(Math.min(...r.wallMsAll) / 1000).toFixed(2)}–${(Math.max(...r.wallMsAll) / 1000).toFixed(2)} | ${r.probeMs === null ? "—" : (r.probeMs / 1000).toFixed(2)} | ${r.writeMs === null ? "—" : (r.writeMs / 1000).toFixed(2)} | ${r.apiRequests} | ${(r.rateFloorMs / 1000).toFixed(2)} | ${r.tlsConnections} | ${r.targets} | ${r.maxRssMB} | ${((r.cpuUserMs + r.cpuSystemMs) / 1000).toFixed(2)} | ${(r.simCpuMs / 1000).toFixed(2)} | ${r.hostsOk} / ${r.hostsFailed}${r.reliable ? "" : " ⚠"} |`,
      );
    }
    const tuned = results.proxmox.find((r) => r.setting === "tuned");
    if (tuned) {
      lines.push(
        "",
        `API requests by endpoint (tuned run): ${Object.entries(tuned.byEndpoint)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}.`,
      );
      if (c.nodes >= 10 && c.guests >= 1000)
        lines.push(`Target for 10 nodes + 1,000 guests: ≤ 10 s wall — ${(tuned.wallMs / 1000).toFixed(2)} s: ${tuned.wallMs <= 10_000 ? "met" : "NOT met"}.`);
    }
  }
  if (results.ansible) {
    lines.push("", `### Ansible comparison (${results.ansible.hosts ?? ANSIBLE_HOSTS} real sshd on 127.0.0.1)`, "");
    if (results.ansible.skipped) lines.push(`Skipped: ${results.ansible.skipped}`);
    else if (results.ansible.error) lines.push(`Failed: ${results.ansible.error}`);
    else {
      const a = results.ansible;
      lines.push(
        `| tool | command | runs (s) | median wall (s) | median CPU controller / target (s) | hosts ok |`,
        `|---|---|---|---:|---:|---|`,
        `| Ansible (${a.ansibleVersion}) | \`${a.command}\` | ${a.runs.ansible.map((r) => (r.wallMs / 1000).toFixed(2)).join(", ")} | ${(a.ansibleMedianMs / 1000).toFixed(2)} | ${a.ansibleCpuMedian.controller} / ${a.ansibleCpuMedian.target} | ${a.runs.ansible.map((r) => r.hostsOk).join(", ")} |`,
        `| fleet-mcp | \`${a.fleetCommand}\` | ${a.runs.fleet.map((r) => (r.wallMs / 1000).toFixed(2)).join(", ")} | ${(a.fleetMedianMs / 1000).toFixed(2)} | ${a.fleetCpuMedian.controller} / ${a.fleetCpuMedian.target} | ${a.runs.fleet.map((r) => r.hostsOk).join(", ")} |`,
        "",
        `Ansible / fleet-mcp wall time: ${a.ratio}× ${a.reliable ? "" : "(⚠ not every run reached every host)"}`,
        "",
        `The fleet-mcp probe alone on this machine (once, sh -s): ${a.probeAlone.totalMs} ms; slowest sections: ${a.probeAlone.sections
          .slice(0, 3)
          .map((x) => `${x.name} ${x.ms} ms`)
          .join(", ")}. fleet-mcp per-host probe duration, median of each run: ${a.runs.fleet.map((r) => r.probeMsPerHost?.median).join(", ")} ms.`,
      );
    }
  }
  if (results.inventory) lines.push(...inventoryMarkdown(results.inventory));
  return `${lines.join("\n")}\n`;
}

// ------------------------------------------------------------ main

async function main() {
  const results = {
    startedAt: new Date().toISOString(),
    machine: await machineInfo(),
    options: {
      sizes: SIZES,
      concurrency: CONCURRENCY,
      latencyMs: LATENCY_MS,
      repeat: REPEAT,
      ansibleHosts: ANSIBLE_HOSTS,
      ansibleRuns: ANSIBLE_RUNS,
      pveNodes: PVE_NODES,
      pveGuests: PVE_GUESTS,
      pveLatencyMs: PVE_LATENCY_MS,
    },
  };
  if (!existsSync(join(ROOT, "dist/app/context.js"))) throw new Error("dist/ is missing: run `npm run build` (or `npm run bench`, which builds first)");
  mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = await mkdtemp(join(tmpdir(), "fleet-bench-"));
  TMP = tmp;
  let failed = false;
  try {
    if (RUN_SSH) {
      try {
        const ssh = await sshScenario(tmp);
        results.ssh = ssh.summary;
        results.sshRuns = ssh.runs;
        if (ssh.profile) results.sshProfile = ssh.profile;
      } catch (err) {
        failed = true;
        results.sshError = err.message;
        log(`SSH scenario failed: ${err.stack ?? err}`);
        await stopAll();
      }
    }
    if (RUN_PROXMOX) {
      try {
        const pve = await proxmoxScenario(tmp);
        results.proxmox = pve.summary;
        results.proxmoxRuns = pve.runs;
        results.proxmoxCluster = { nodes: pve.nodes, guests: pve.guests, latencyMs: pve.latencyMs };
      } catch (err) {
        failed = true;
        results.proxmoxError = err.message;
        log(`Proxmox scenario failed: ${err.stack ?? err}`);
        await stopAll();
      }
    }
    if (RUN_INVENTORY) {
      try {
        results.inventory = await inventoryScenario(tmp);
      } catch (err) {
        failed = true;
        results.inventory = { error: err.message };
        log(`Inventory scenario failed: ${err.stack ?? err}`);
      }
    }
    if (RUN_ANSIBLE) {
      try {
        results.ansible = await ansibleScenario(tmp);
      } catch (err) {
        failed = true;
        results.ansible = { error: err.message };
        log(`Ansible comparison failed: ${err.stack ?? err}`);
      }
    }
  } finally {
    await stopAll();
    if (args.keep) log(`kept ${tmp}`);
    else {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
      TMP = null;
    }
  }
  results.finishedAt = new Date().toISOString();
  const unreliable = [
    ...(results.sshRuns ?? []).filter((r) => !r.reliable),
    ...(results.proxmoxRuns ?? []).filter((r) => !r.reliable),
    ...(results.ansible?.reliable === false ? [results.ansible] : []),
  ];
  if (unreliable.length) {
    failed = true;
    log(`${unreliable.length} measurement(s) did not reach every host: the numbers are not comparable (see latest.json)`);
  }
  const file = join(RESULTS_DIR, "latest.json");
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(markdown(results));
  process.stdout.write(`\nRaw results: ${file}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err) => {
    log(`error: ${err.stack ?? err}`);
    await stopAll();
    process.exitCode = 1;
  },
);
