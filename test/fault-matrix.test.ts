// The fault matrix (issue 9): every fault a peer can throw at discovery, one
// table row each, run through run_discovery over the MCP client against real
// protocol peers on 127.0.0.1 (ssh2 servers from ssh-sim, the pveproxy
// simulator). For every row:
//   1. run_discovery returns within the configured deadline (+ generous slack),
//      and per-host deadlines do their job before the run's own deadline does;
//   2. the per-host and per-source statuses (and errors) are the documented
//      ones, in the result and in get_discovery_status;
//   3. while the faulty run is in flight, other tool calls are answered;
//   4. what an earlier clean run stored is still there, unchanged, and nothing
//      in the inventory holds a raw control character (NUL, ESC, C1, ...).
// Per-row figures go to a JSON file under the OS temp dir (its path is printed).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/inventory/audit.js";
import { startHarness, text, type Harness } from "./support/harness.js";
import { clusterFromFixtures, startPveSim, type PveSim, type PveSimOptions } from "./support/pve-sim.js";
import { debianHost, type CannedHost } from "./support/scripted-runner.js";
import { startSimFleet, startSimHost, type SimHost, type SimHostOptions } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Added to every deadline: the machine is small and shared, so no bound here is tight. */
const SLACK_MS = 4000;
const MiB = 1024 * 1024;
const SSH_PASSWORD = "fault-matrix-ssh-pw";
const TOKEN_ID = "fleet@pve!inventory";
const TOKEN_SECRET = "7c4a8d09-ca37-4ba1-9f2e-2b6a4d5e6f70";
/** A raw control character: C0 except tab/newline/CR, DEL, C1. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

interface Figure {
  row: string;
  peer: "ssh" | "proxmox";
  /** The run's deadline (limits.discovery_timeout_ms). */
  run_deadline_ms: number;
  /** The tightest configured deadline that should end this fault (per-host/per-request timeout, retry waits, delays). */
  bound_ms: number;
  elapsed_ms: number;
  run_status: string;
  run_error: string | null;
  source_status: string;
  source_error: string | null;
  host_status: string | null;
  host_error: string | null;
  /** When another tool call was answered, ms after run_discovery was sent (null: not checked, the fault is too quick). */
  other_call_answered_ms: number | null;
  /** Recorded once the row's checks of stored knowledge passed. */
  facts_kept: boolean;
}
const figures: Figure[] = [];

let h: Harness | undefined;
const sims: SimHost[] = [];
let pve: PveSim | undefined;

afterEach(async () => {
  if (h) {
    const everything = JSON.stringify(h.app.db.$client.prepare("SELECT * FROM audit_log").all()) + h.logs.join("");
    expect(everything).not.toContain(SSH_PASSWORD);
    expect(everything).not.toContain(TOKEN_SECRET);
    expect(verifyAuditChain(h.app.db).ok).toBe(true);
    await h.close();
  }
  h = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
  await pve?.close();
  pve = undefined;
});

afterAll(() => {
  const path = join(tmpdir(), `fleet-fault-matrix-${process.pid}.json`);
  writeFileSync(path, `${JSON.stringify({ slack_ms: SLACK_MS, rows: figures }, null, 2)}\n`);
  console.log(`fault matrix figures: ${path}`);
});

// ---------------------------------------------------------------------------
// Shared checks

/** Every string in a value (and in JSON held in strings), with where it is. */
function* strings(v: unknown, at: string): Generator<[string, string]> {
  if (typeof v === "string") {
    yield [at, v];
    if (/^[[{"]/.test(v)) {
      try {
        yield* strings(JSON.parse(v), `${at}(json)`);
      } catch {
        /* not JSON */
      }
    }
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield* strings(v[i], `${at}[${i}]`);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      yield [`${at}.<key>`, k];
      yield* strings(x, `${at}.${k}`);
    }
  }
}

/** Where a raw control character is stored (every table) or shown (tool output); empty when nowhere. */
function controlCharacters(harness: Harness, ...outputs: unknown[]): string[] {
  const db = harness.app.db.$client;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").all() as Array<{
    name: string;
  }>;
  const found: string[] = [];
  const scan = (v: unknown, at: string) => {
    for (const [where, s] of strings(v, at)) if (CONTROL.test(s)) found.push(`${where}: ${JSON.stringify(s.slice(0, 80))}`);
  };
  for (const { name } of tables) scan(db.prepare(`SELECT * FROM "${name}"`).all(), name);
  outputs.forEach((o, i) => scan(o, `output${i}`));
  return found;
}

/** What the inventory knows (facts, collections, summary columns), without the bookkeeping a later attempt may move (times, lifecycle, last status). */
function knowledge(harness: Harness): Record<string, unknown[]> {
  const db = harness.app.db.$client;
  const all = (sql: string) => (db.prepare(sql).all() as object[]).map((r) => JSON.stringify(r)).sort();
  const out: Record<string, unknown[]> = {
    targets: all(
      "SELECT id, kind, name, parent_id, address, os_id, os_version, os_name, kernel, arch, cpu_count, mem_total_bytes, mem_available_bytes, disk_total_bytes, disk_used_bytes, tags, role FROM targets",
    ),
    identities: all("SELECT identity, target_id FROM target_identities"),
  };
  for (const t of ["facts", "services", "containers", "stacks", "interfaces", "addresses", "ports", "filesystems"]) out[t] = all(`SELECT * FROM "${t}"`);
  return out;
}

async function call(harness: Harness, name: string, args: Record<string, unknown> = {}): Promise<S> {
  const res = await harness.client.callTool({ name, arguments: args });
  expect(res.isError, `${name}: ${text(res)}`).toBeFalsy();
  return res.structuredContent as S;
}

/**
 * Sends run_discovery without waiting for it; when `serve` is set, waits until the
 * run shows in get_discovery_status, then asks for the overview and the target
 * list, and checks both were answered while the run was still going.
 */
async function runFaulty(harness: Harness, serve: boolean): Promise<{ result: S; elapsedMs: number; otherMs: number | null }> {
  const started = performance.now();
  let finished: number | null = null;
  const pending = harness.client.callTool({ name: "run_discovery", arguments: {} }).then((r) => {
    finished = performance.now();
    return r;
  });
  let otherMs: number | null = null;
  if (serve) {
    let running: S | null = null;
    for (let i = 0; i < 100 && !running && finished === null; i++) {
      running = (await call(harness, "get_discovery_status", { limit: 1 })).running;
      if (!running) await new Promise((r) => setTimeout(r, 10));
    }
    expect(running, "the run shows as running in get_discovery_status").not.toBeNull();
    const [overview, list] = await Promise.all([call(harness, "get_fleet_overview"), call(harness, "list_targets", { limit: 200 })]);
    otherMs = performance.now() - started;
    expect(finished, "get_fleet_overview and list_targets answered while the faulty run was still going").toBeNull();
    expect(overview.targets.total).toBeGreaterThan(0);
    expect(list.total).toBe(overview.targets.total);
  }
  const res = await pending;
  const elapsedMs = performance.now() - started;
  expect(res.isError, text(res)).toBeFalsy();
  return { result: res.structuredContent as S, elapsedMs, otherMs };
}

/** The latest run as get_discovery_status reports it. */
async function lastRun(harness: Harness): Promise<S> {
  const st = await call(harness, "get_discovery_status", { limit: 1 });
  expect(st.running).toBeNull();
  return st.runs[0];
}

// ---------------------------------------------------------------------------
// SSH

function sshSource(hosts: SimHost[], extra: Record<string, unknown> = {}) {
  return {
    kind: "ssh",
    id: "lab",
    hosts: hosts.map((s, i) => ({ address: s.address, port: s.port, name: `cfg-${i + 1}` })),
    auth: { agent: false, password_env: "FM_SSH_PASSWORD" },
    timeout_ms: 2000,
    retries: 0,
    ...extra,
  };
}

async function sim(opts: SimHostOptions): Promise<SimHost> {
  const s = await startSimHost({ users: { root: { password: SSH_PASSWORD } }, ...opts });
  sims.push(s);
  return s;
}

/**
 * Invalid UTF-8 (as the client decodes it: U+FFFD), NULs, ANSI CSI/OSC sequences,
 * BEL, backspace and C1 controls inside well-framed sections: raw in text output,
 * \u-escaped in JSON (as systemctl -o json writes them), and on a failing
 * section's stderr, which becomes the section's error detail.
 */
const HOSTILE = {
  osPretty: "Debian\u001b[2J\u001b[H GNU/Linux\u0000 12 \uFFFD\uFFFD(bookworm)\u001b]0;pwned\u0007",
  serviceDescription: "OpenBSD Secure Shell server\u001b[31;1m\u0000\u009b6n\b\b",
  kernel: "Linux 6.1.0-13-amd64\u001b[0m x86_64",
  cpuCountStderr: "nproc: \u001b[1;31mfailed to get the CPU affinity\u001b[0m\u0000\u0007",
  dfStderr: "df: /mnt/\u001b]0;pwned\u0007share: Stale file handle",
};

function hostileHost(base: CannedHost): CannedHost {
  const os = base.os!.body.replace(/^PRETTY_NAME=.*$/m, `PRETTY_NAME="${HOSTILE.osPretty}"`);
  const systemd = base.systemd!.body.replace(JSON.stringify("OpenBSD Secure Shell server"), JSON.stringify(HOSTILE.serviceDescription));
  expect(systemd).not.toBe(base.systemd!.body);
  return {
    ...base,
    os: { body: os },
    systemd: { body: systemd },
    kernel: { body: HOSTILE.kernel },
    cpu_count: { body: "", rc: 1, stderr: HOSTILE.cpuCountStderr },
    filesystems: { ...base.filesystems!, rc: 1, stderr: HOSTILE.dfStderr },
  };
}

interface SshRow {
  name: string;
  sim?: Partial<SimHostOptions>;
  source?: Record<string, unknown>;
  /** Breaks the host after the first, clean run; returns the host to probe now (a replacement on the same port, or the same). */
  breakIt(s: SimHost): Promise<SimHost | void> | void;
  hostStatus: string;
  hostError: RegExp;
  /** The tightest configured deadline that ends this fault. */
  boundMs: number;
  /** Lasts ≥ 1 s, so other calls can be answered meanwhile (a refused key or a refused connection without retries cannot). */
  slow: boolean;
  /** What a row that is reached stores instead of what it stored before. */
  changes?: (before: S, after: S) => void;
}

const SSH_RUN_DEADLINE_MS = 6000;
const machineId = "fa17fa17fa17fa17fa17fa17fa17fa17";

const sshRows: SshRow[] = [
  {
    name: "refuses the connection (a host that answered before: one retry)",
    source: { retries: 1, retry_min_delay_ms: 1000 },
    breakIt: (s) => s.setFault("refuse"),
    hostStatus: "unreachable",
    hostError: /connection refused/,
    // two connects on loopback + one retry wait of 1000-2000 ms (p-retry randomises up to 2x)
    boundMs: 2000,
    slow: true,
  },
  {
    name: "accepts TCP and never sends a banner",
    breakIt: (s) => s.setFault("no_banner"),
    hostStatus: "timeout",
    hostError: /timed out|within 2000 ms/,
    boundMs: 2000,
    slow: true,
  },
  {
    name: "hangs after auth",
    breakIt: (s) => s.setFault("hang_after_auth"),
    hostStatus: "timeout",
    hostError: /did not finish within 2000 ms/,
    boundMs: 2000,
    slow: true,
  },
  {
    name: "drops the connection mid-output",
    sim: { execDelayMs: 1000 },
    breakIt: (s) => s.setFault("close_mid_output"),
    hostStatus: "error",
    hostError: /^the probe ended early, after \d+ of 19 sections \(no exit status: the connection closed or the shell was killed\)$/,
    boundMs: 2000,
    slow: true,
  },
  {
    name: "sends 50 MiB (max_output_bytes at its default, 4 MiB)",
    sim: { execDelayMs: 1000, hugeBytes: 50 * MiB },
    breakIt: (s) => s.setFault("huge_output"),
    hostStatus: "output_too_large",
    hostError: /more than 4194304 bytes/,
    boundMs: 2000,
    slow: true,
  },
  {
    name: "sends raw invalid UTF-8, NUL bytes and ANSI escapes (no framing)",
    sim: { execDelayMs: 1000 },
    breakIt: (s) => s.setFault("garbage"),
    hostStatus: "error",
    hostError: /^the answer is not the probe's output \(no section markers in \d+ characters; exit status 0\)$/,
    boundMs: 2000,
    slow: true,
  },
  {
    name: "sends invalid UTF-8, NUL bytes and ANSI escapes inside well-framed sections",
    sim: { execDelayMs: 1000 },
    breakIt: (s) => s.setHost(hostileHost(debianHost({ hostname: { body: "fault-host" }, machine_id: { body: machineId } }))),
    hostStatus: "partial",
    hostError: /^sections failed: cpu_count \(exit_status\)$/,
    boundMs: 2000,
    slow: true,
    changes(before, after) {
      // What the host said is kept with each control character replaced by U+FFFD; the readable text survives.
      const neutralised = (x: string) => x.replace(new RegExp(CONTROL.source, "g"), "\uFFFD");
      const fact = (t: S, key: string) => (t.facts as S[]).find((f) => f.key === key)?.value;
      expect(fact(after, "os.pretty_name")).toBe(neutralised(HOSTILE.osPretty));
      expect(after.target.os).toBe(neutralised(HOSTILE.osPretty));
      expect(fact(after, "kernel.release")).toBe("6.1.0-13-amd64\uFFFD[0m");
      const ssh = (after.services.items as S[]).find((x) => /^ssh(\.service)?$/.test(x.name));
      expect(ssh?.description).toBe(neutralised(HOSTILE.serviceDescription));
      expect(after.last_probe.sections.cpu_count).toMatchObject({ status: "failed", detail: neutralised(HOSTILE.cpuCountStderr) });
      expect(after.last_probe.sections.filesystems).toMatchObject({ status: "ok", detail: neutralised(HOSTILE.dfStderr) });
      // The failed section's fact is kept as it was; sections that carried nothing hostile are unchanged.
      expect(fact(after, "cpu.count")).toBe(4);
      expect(after.target.cpu_count).toBe(4);
      const untouched = (t: S) =>
        (t.facts as S[]).filter((f) => !/^(os\.pretty_name|kernel\.release)$/.test(f.key)).map((f) => [f.key, f.value, f.source, f.since]);
      expect(untouched(after)).toEqual(untouched(before));
      expect(after.target.name).toBe(before.target.name);
      expect([after.services.total, after.containers.total, after.ports.total]).toEqual([before.services.total, before.containers.total, before.ports.total]);
    },
  },
  {
    name: "presents a new host key",
    async breakIt(s) {
      const port = s.port;
      await s.close();
      return sim({ host: debianHost({ hostname: { body: "fault-host" }, machine_id: { body: machineId } }), port });
    },
    hostStatus: "host_key_mismatch",
    hostError: /presented host key SHA256:\S+, which is not the trusted one/,
    boundMs: 2000,
    slow: false,
  },
];

describe("fault matrix: SSH hosts", () => {
  for (const row of sshRows) {
    it(row.name, async () => {
      const faulty = await sim({ host: debianHost({ hostname: { body: "fault-host" }, machine_id: { body: machineId } }), ...row.sim });
      const peer = await sim({ name: "peer-host" });
      h = await startHarness({
        configJson: { sources: [sshSource([faulty, peer], row.source)], limits: { discovery_timeout_ms: SSH_RUN_DEADLINE_MS } },
        env: { FM_SSH_PASSWORD: SSH_PASSWORD },
      });
      const first = await call(h, "run_discovery");
      expect(first).toMatchObject({ status: "ok", targets_seen: 2, problems: [] });
      const before = await call(h, "get_target", { target: "fault-host", limit: 200 });
      const known = knowledge(h);

      await row.breakIt(faulty);
      const { result: r, elapsedMs, otherMs } = await runFaulty(h, row.slow);

      // 1. Within the deadline: the per-host one ended it, not the run's.
      expect(elapsedMs).toBeLessThan(row.boundMs + SLACK_MS);
      const run = await lastRun(h);
      expect(run.error).toBeNull();

      // 2. Statuses: the faulty host's, the healthy peer's, the source's, the run's.
      const problem = (r.problems as S[]).find((p) => p.name === "fault-host") ?? null;
      const hostStatus = problem?.status ?? "ok";
      expect(hostStatus, problem?.error).toBe(row.hostStatus);
      expect(problem?.error ?? "").toMatch(row.hostError);
      expect(r.problems.filter((p: S) => p.name !== "fault-host")).toEqual([]);
      const reached = row.hostStatus === "ok" || row.hostStatus === "partial";
      const sourceStatus = row.hostStatus === "ok" ? "ok" : "partial";
      expect(r.sources).toEqual([expect.objectContaining({ id: "lab", status: sourceStatus, hosts_ok: reached ? 2 : 1, hosts_failed: reached ? 0 : 1 })]);
      expect(r.status).toBe(sourceStatus);
      expect(run).toMatchObject({ run_id: r.run_id, status: r.status });
      expect(run.sources).toEqual([expect.objectContaining({ id: "lab", status: sourceStatus, hosts_ok: r.sources[0].hosts_ok })]);

      // 4. Nothing known is lost or replaced by garbage; nothing stored holds a raw control character.
      const after = await call(h, "get_target", { target: "fault-host", limit: 200 });
      expect(after.target.lifecycle).toBe(reached ? "active" : "unreachable");
      expect(after.target.last_status).toBe(row.hostStatus);
      if (row.changes) row.changes(before, after);
      else {
        expect(knowledge(h)).toEqual(known);
        expect(after.facts.map((f: S) => [f.key, f.value, f.source])).toEqual(before.facts.map((f: S) => [f.key, f.value, f.source]));
        expect([after.services.total, after.containers.total, after.ports.total]).toEqual([before.services.total, before.containers.total, before.ports.total]);
      }
      expect(controlCharacters(h, r, after, await call(h, "list_services", { target: "fault-host" }))).toEqual([]);

      figures.push({
        row: row.name,
        peer: "ssh",
        run_deadline_ms: SSH_RUN_DEADLINE_MS,
        bound_ms: row.boundMs,
        elapsed_ms: Math.round(elapsedMs),
        run_status: r.status,
        run_error: run.error,
        source_status: r.sources[0].status,
        source_error: r.sources[0].error,
        host_status: hostStatus,
        host_error: problem?.error ?? null,
        other_call_answered_ms: otherMs === null ? null : Math.round(otherMs),
        facts_kept: true,
      });
    });
  }

  it("answers slowly (2 s per exec) across 50 hosts at once", async () => {
    const n = 50;
    const execDelayMs = 2000;
    const concurrency = 50;
    const fleet = await startSimFleet(n, (i) => ({ name: `slow-${i + 1}`, users: { root: { password: SSH_PASSWORD } }, execDelayMs }));
    sims.push(...fleet.hosts);
    const runDeadline = 15_000;
    h = await startHarness({
      configJson: { sources: [sshSource(fleet.hosts, { timeout_ms: 8000, concurrency })], limits: { discovery_timeout_ms: runDeadline } },
      env: { FM_SSH_PASSWORD: SSH_PASSWORD },
    });
    const first = await call(h, "run_discovery");
    expect(first).toMatchObject({ status: "ok", targets_seen: n, problems: [] });
    const known = knowledge(h);

    const { result: r, elapsedMs, otherMs } = await runFaulty(h, true);
    // One wave of 50 (concurrency 50): 2 s of exec delay plus 50 handshakes; 32 at a time would be two waves.
    const bound = Math.ceil(n / concurrency) * execDelayMs;
    expect(elapsedMs).toBeLessThan(bound + SLACK_MS);
    expect(r).toMatchObject({ status: "ok", targets_seen: n, targets_unreachable: 0, problems: [] });
    expect(r.sources).toEqual([expect.objectContaining({ id: "lab", status: "ok", hosts_ok: n, hosts_failed: 0 })]);
    const run = await lastRun(h);
    expect(run).toMatchObject({ status: "ok", error: null });
    expect(fleet.hosts.every((s) => s.execs === 2)).toBe(true);
    expect(knowledge(h)).toEqual(known);
    expect(controlCharacters(h, r)).toEqual([]);

    figures.push({
      row: "answers slowly (2 s per exec) across 50 hosts at once (concurrency 50)",
      peer: "ssh",
      run_deadline_ms: runDeadline,
      bound_ms: bound,
      elapsed_ms: Math.round(elapsedMs),
      run_status: r.status,
      run_error: run.error,
      source_status: r.sources[0].status,
      source_error: r.sources[0].error,
      host_status: "ok (50/50)",
      host_error: null,
      other_call_answered_ms: otherMs === null ? null : Math.round(otherMs),
      facts_kept: true,
    });
  });
});

// ---------------------------------------------------------------------------
// Proxmox VE API

interface PveRow {
  name: string;
  /** Source settings (timeout_ms, ...) on top of the defaults below. */
  source?: Record<string, unknown>;
  runDeadlineMs: number;
  /** Sim options from the start (e.g. pveproxy's 3 s delay of every 401). */
  sim?: Partial<PveSimOptions>;
  breakIt(s: PveSim): void;
  sourceStatus: string;
  /** Every one must match the source's error. */
  error: RegExp[];
  /** Set when the run's own deadline is what ends it. */
  runError?: RegExp;
  boundMs: number;
  slow: boolean;
}

const pveRows: PveRow[] = [
  {
    name: "401 after pveproxy's 3 s delay (token secret regenerated on the cluster)",
    source: { timeout_ms: 5000 },
    runDeadlineMs: 8000,
    sim: { authFailDelayMs: 3000 },
    breakIt: (s) => s.set({ tokens: { [TOKEN_ID]: { secret: "00000000-1111-4222-8333-444444444444" } } }),
    sourceStatus: "failed",
    error: [/authentication failed/, /Check the token id fleet@pve!inventory and its secret \(token_secret_env\)/],
    boundMs: 3000,
    slow: true,
  },
  {
    name: "401 with timeout_ms under pveproxy's 3 s delay: a timeout whose message says so",
    source: { timeout_ms: 1500 },
    runDeadlineMs: 6000,
    sim: { authFailDelayMs: 3000 },
    breakIt: (s) => s.set({ tokens: { [TOKEN_ID]: { secret: "00000000-1111-4222-8333-444444444444" } } }),
    sourceStatus: "failed",
    error: [/version: no answer within the deadline \(timeout_ms: 1500 ms/, /pveproxy delays every 401 by 3 s, so with timeout_ms under 3500 a wrong token/],
    boundMs: 2 * 1500,
    slow: true,
  },
  {
    name: "403 on every call",
    runDeadlineMs: 5000,
    breakIt: (s) => s.set({ latencyMs: 1000, fault: { status: 403, reason: "Permission check failed (/, Sys.Audit)" } }),
    sourceStatus: "failed",
    error: [/permission denied \(Permission check failed \(\/, Sys\.Audit\)\)/, /Grant the user or token PVEAuditor on \//],
    boundMs: 1000,
    slow: true,
  },
  {
    name: "500 on every call (pmxcfs not mounted)",
    runDeadlineMs: 5000,
    breakIt: (s) =>
      s.set({
        latencyMs: 1000,
        fault: { status: 500, reason: "unable to open file '/etc/pve/nodes/node1/qemu-server/100.conf' - Transport endpoint is not connected" },
      }),
    sourceStatus: "failed",
    error: [/version: HTTP 500 unable to open file .* Transport endpoint is not connected/, /see `journalctl -u pveproxy -u pvedaemon` on 127\.0\.0\.1/],
    boundMs: 1000,
    slow: true,
  },
  {
    name: "595 on every call (pveproxy cannot reach its backend)",
    runDeadlineMs: 5000,
    breakIt: (s) => s.set({ latencyMs: 1000, fault: { status: 595, reason: "Errors during connection establishment, proxy handshake" } }),
    sourceStatus: "failed",
    error: [
      /version: the cluster cannot reach that node \(595 Errors during connection establishment, proxy handshake\)/,
      /could not forward the call .* `systemctl status pvedaemon pveproxy`/,
    ],
    boundMs: 1000,
    slow: true,
  },
  {
    name: "a TLS certificate that does not match the pin (certificates renewed)",
    runDeadlineMs: 5000,
    breakIt: (s) => s.set({ otherCertificate: true }),
    sourceStatus: "failed",
    error: [/certificate fingerprint ([0-9A-F]{2}:){31}[0-9A-F]{2} does not match the pinned/, /set `fingerprint`/],
    boundMs: 0,
    slow: false,
  },
  {
    name: "never answers: the per-request timeout ends it (proxmox-api tries twice)",
    source: { timeout_ms: 1500 },
    runDeadlineMs: 6000,
    breakIt: (s) => s.set({ fault: { hang: true } }),
    sourceStatus: "failed",
    error: [/version: no answer within the deadline \(timeout_ms: 1500 ms per request, tried twice\)/],
    boundMs: 2 * 1500,
    slow: true,
  },
  {
    name: "never answers: the run's deadline ends it",
    source: { timeout_ms: 20_000 },
    runDeadlineMs: 3000,
    breakIt: (s) => s.set({ fault: { hang: true } }),
    sourceStatus: "failed",
    error: [/^127\.0\.0\.1:\d+: stopped before the API answered \(the discovery deadline passed/],
    runError: /the discovery deadline of 3000 ms passed/,
    boundMs: 3000,
    slow: true,
  },
  {
    name: "malformed JSON (a truncated body)",
    runDeadlineMs: 5000,
    breakIt: (s) => s.set({ latencyMs: 1000, fault: { malformedJson: true } }),
    sourceStatus: "failed",
    error: [/version: the answer is not valid JSON \(\d+ characters, maybe cut off/, /Is 127\.0\.0\.1:\d+ really pveproxy/],
    // proxmox-api tries a failed fetch twice
    boundMs: 2 * 1000,
    slow: true,
  },
  {
    name: "the wrong content type (a proxy's HTML login page)",
    runDeadlineMs: 5000,
    breakIt: (s) => s.set({ latencyMs: 1000, fault: { contentType: "text/html; charset=utf-8" } }),
    sourceStatus: "failed",
    error: [/version: the server did not answer like pveproxy \(content type text\/html; charset=utf-8, not JSON\)/, /Is 127\.0\.0\.1:\d+ really pveproxy/],
    boundMs: 1000,
    slow: true,
  },
];

describe("fault matrix: Proxmox VE API", () => {
  for (const row of pveRows) {
    it(row.name, async () => {
      const cluster = clusterFromFixtures("8.4");
      pve = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: TOKEN_SECRET } }, ...row.sim });
      h = await startHarness({
        configJson: {
          sources: [
            {
              kind: "proxmox",
              id: "pve",
              host: pve.host,
              port: pve.port,
              token_id: TOKEN_ID,
              token_secret_env: "FM_PVE_SECRET",
              fingerprint: pve.fingerprint,
              timeout_ms: 2000,
              ...row.source,
            },
          ],
          limits: { discovery_timeout_ms: row.runDeadlineMs },
        },
        env: { FM_PVE_SECRET: TOKEN_SECRET },
      });
      const first = await call(h, "run_discovery");
      const total = cluster.nodes.length + cluster.guests.length;
      expect(first).toMatchObject({ status: "ok", targets_seen: total });
      const known = knowledge(h);
      const requestsBefore = pve.requests.length;

      row.breakIt(pve);
      const { result: r, elapsedMs, otherMs } = await runFaulty(h, row.slow);

      // 1. Within the deadline.
      expect(elapsedMs).toBeLessThan(Math.min(row.boundMs, row.runDeadlineMs) + SLACK_MS);
      const run = await lastRun(h);
      if (row.runError) expect(run.error).toMatch(row.runError);
      else expect(run.error).toBeNull();

      // 2. The source failed, saying what went wrong (and the fix, where there is one); no target is blamed.
      const src = r.sources[0];
      expect(src).toMatchObject({ id: "pve", kind: "proxmox-api", status: row.sourceStatus, targets: 0 });
      for (const re of row.error) expect(src.error).toMatch(re);
      expect(r).toMatchObject({ status: "failed", targets_seen: 0, problems: [] });
      expect(run.sources).toEqual([expect.objectContaining({ id: "pve", status: row.sourceStatus, error: src.error })]);
      if (row.name.startsWith("a TLS certificate")) {
        expect(src.error).toContain(`pinned ${pve.fingerprint}`);
        expect(pve.requests.length).toBe(requestsBefore);
      }

      // 4. A failed listing is not a complete one: every earlier target is kept as it was, still active.
      expect(knowledge(h)).toEqual(known);
      const list = await call(h, "list_targets", { limit: 200 });
      expect(list.total).toBe(total);
      expect(list.items.every((t: S) => t.lifecycle === "active")).toBe(true);
      const events = h.app.db.$client.prepare("SELECT type FROM events WHERE run_id = ?").all(r.run_id);
      expect(events).toEqual([]);
      expect(controlCharacters(h, r, list)).toEqual([]);

      figures.push({
        row: row.name,
        peer: "proxmox",
        run_deadline_ms: row.runDeadlineMs,
        bound_ms: Math.min(row.boundMs, row.runDeadlineMs),
        elapsed_ms: Math.round(elapsedMs),
        run_status: r.status,
        run_error: run.error,
        source_status: src.status,
        source_error: src.error,
        host_status: null,
        host_error: null,
        other_call_answered_ms: otherMs === null ? null : Math.round(otherMs),
        facts_kept: true,
      });
    });
  }
});
