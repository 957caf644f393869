// A real Prometheus (the Debian package's /usr/bin/prometheus, 2.42) reading the
// file_sd file that the server writes after each discovery run: run_discovery
// over a real MCP client runs the real discovery service, whose run_finished
// event makes src/app/file-sd.ts write the file; Prometheus, on 127.0.0.1 only,
// watches it and reports the targets and their labels on /api/v1/targets. Then
// the fleet grows, discovery runs again, and Prometheus must see the new target.
//
// Without the binary the test is skipped, except under CI (CI set), where it
// fails: .ci/run installs the package.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetFactory, type HostSpec } from "./support/fleet.js";
import { callOk, startHarness, type Harness } from "./support/harness.js";

const PROMETHEUS = "/usr/bin/prometheus";
const AVAILABLE = existsSync(PROMETHEUS);
const REQUIRED = Boolean(process.env.CI);
/** Longest wait for Prometheus to start or to show a file change (it applies discovery updates every 5 s). */
const WAIT_MS = 30_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const STATIC_LABELS = { env: "ci", dc: "loopback" };
const ROLES = [
  { role: "monitoring", kind: "proxmox_node" },
  { role: "production", name: "web-*" },
  { role: "lab", kind: "lxc" },
  { role: "staging", kind: "vm" },
];
const PVE = "pve:node:pve-1";
const BASE_FLEET: HostSpec[] = [
  { name: "pve-1", kind: "proxmox_node", identity: [PVE], address: "127.0.0.1" },
  { name: "web-1", address: "127.0.0.2", facts: { "os.id": "ubuntu", "os.version_id": "24.04" } },
  { name: "ct-db", kind: "lxc", identity: ["pve:ct:101"], parentIdentity: PVE, address: "127.0.0.3", facts: { "os.id": "alpine", "os.version_id": "3.20" } },
];
const ADDED: HostSpec = { name: "vm-app", kind: "vm", identity: ["pve:vm:201"], parentIdentity: PVE, address: "127.0.0.4", facts: { "os.id": "rocky" } };

/** The labels each target must carry in Prometheus, by its fleet name. */
const EXPECTED: Record<string, Record<string, string>> = {
  "pve-1": { fleet_role: "monitoring", fleet_kind: "proxmox_node", fleet_node: "pve-1", fleet_os: "debian" },
  "web-1": { fleet_role: "production", fleet_kind: "host", fleet_node: "web-1", fleet_os: "ubuntu" },
  "ct-db": { fleet_role: "lab", fleet_kind: "lxc", fleet_node: "pve-1", fleet_os: "alpine" },
  "vm-app": { fleet_role: "staging", fleet_kind: "vm", fleet_node: "pve-1", fleet_os: "rocky" },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined), at most WAIT_MS; throws with `what` and the last state otherwise. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, last: () => string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; last: ${last()}`);
    await sleep(250);
  }
}

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/** Starts Prometheus on a free loopback port (another port if that one was taken meanwhile). */
async function startPrometheus(work: string, sdFile: string): Promise<Running> {
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(work, "prometheus.yml");
    // The documented scrape config (docs/export.md): fleet_name becomes the instance label.
    writeFileSync(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: fleet",
        "    file_sd_configs:",
        `      - files: [${JSON.stringify(sdFile)}]`,
        "        refresh_interval: 1s",
        "    relabel_configs:",
        "      - source_labels: [fleet_name]",
        "        target_label: instance",
        "",
      ].join("\n"),
    );
    const data = join(work, `data-${attempt}`);
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${data}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
        "--storage.tsdb.retention.time=1h",
      ],
      { cwd: work, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out = (out + d).slice(-8000)));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out = (out + d).slice(-8000)));
    let exited = false;
    child.once("exit", () => (exited = true));
    const ready = await waitFor(
      "Prometheus to be ready",
      async () => {
        if (exited) return false;
        const res = await fetch(`http://127.0.0.1:${port}/-/ready`);
        return res.status === 200 ? true : undefined;
      },
      () => out,
    );
    if (ready) return { child, port, output: () => out };
    lastError = out;
  }
  throw new Error(`Prometheus did not start on three ports:\n${lastError}`);
}

async function stopPrometheus(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const bounded = (ms: number) => Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
  if (await bounded(10_000)) return;
  child.kill("SIGKILL");
  await bounded(5_000);
}

interface ActiveTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
}

async function activeTargets(port: number): Promise<ActiveTarget[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/targets?state=active`);
  const body: Json = await res.json();
  if (body.status !== "success") throw new Error(JSON.stringify(body));
  return body.data.activeTargets;
}

if (!AVAILABLE && !REQUIRED) {
  describe("Prometheus reading the file_sd file", () => {
    it.skip(`skipped: ${PROMETHEUS} is not installed (apt-get install prometheus); under CI (CI set) this is a failure`, () => {});
  });
} else {
  describe("Prometheus reading the file_sd file", () => {
    let work = "";
    let prom: Running | undefined;
    let h: Harness | undefined;

    beforeAll(() => {
      if (!AVAILABLE) throw new Error(`CI is set but ${PROMETHEUS} is missing: install the Debian package prometheus (.ci/run does).`);
      work = mkdtempSync(join(tmpdir(), "fleet-prom-real-"));
    });

    afterAll(async () => {
      if (prom) await stopPrometheus(prom.child);
      await h?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    }, 20_000);

    it("sees every target with its fleet_* and static labels, and a target added by the next discovery run", async () => {
      const sdDir = join(work, "file_sd");
      mkdirSync(sdDir);
      const sdFile = join(sdDir, "fleet.json");
      // Prometheus first, as in production: it watches a file that fleet-mcp writes later.
      prom = await startPrometheus(work, sdFile);
      const port = prom.port;
      expect(await activeTargets(port)).toEqual([]);

      let fleet = BASE_FLEET;
      h = await startHarness({
        // Each target's port is Prometheus' own: pve-1 (127.0.0.1) is really scraped; the others are refused.
        configJson: { roles: ROLES, prometheus: { static_labels: STATIC_LABELS, file_sd_path: sdFile, default_port: port } },
        sourceFactory: fleetFactory({ local: () => fleet }),
      });
      expect((await callOk(h, "run_discovery", {})).status).toBe("ok");
      // Written by the run_finished hook, not by anyone calling the builder.
      expect(existsSync(sdFile)).toBe(true);
      const firstInode = statSync(sdFile).ino;

      const byName = (ts: ActiveTarget[]) => Object.fromEntries(ts.map((t) => [t.discoveredLabels.fleet_name, t]));
      let seen: ActiveTarget[] = [];
      const first = await waitFor(
        "the three targets, pve-1 scraped",
        async () => {
          seen = await activeTargets(port);
          const t = byName(seen);
          return seen.length === 3 && t["pve-1"]?.health === "up" ? t : undefined;
        },
        () => JSON.stringify(seen),
      );
      const expectTarget = (t: ActiveTarget, name: string, address: string) => {
        const want = { ...STATIC_LABELS, ...EXPECTED[name], fleet_name: name };
        // What file_sd gave Prometheus, before relabeling:
        expect(t.discoveredLabels).toMatchObject({ ...want, __address__: `${address}:${port}`, __meta_filepath: sdFile });
        // What the series carry, after relabeling (the fleet_* labels are plain, so they stay):
        expect(t.labels).toEqual({ ...want, job: "fleet", instance: name });
        expect(t.scrapeUrl).toBe(`http://${address}:${port}/metrics`);
      };
      expectTarget(first["pve-1"]!, "pve-1", "127.0.0.1");
      expectTarget(first["web-1"]!, "web-1", "127.0.0.2");
      expectTarget(first["ct-db"]!, "ct-db", "127.0.0.3");

      // The fleet grows: the next run rewrites the file (a new file renamed over it), Prometheus follows.
      fleet = [...BASE_FLEET, ADDED];
      expect((await callOk(h, "run_discovery", {})).status).toBe("ok");
      expect(statSync(sdFile).ino).not.toBe(firstInode);
      expect(readdirSync(sdDir)).toEqual(["fleet.json"]);
      expect(JSON.parse(readFileSync(sdFile, "utf8"))).toHaveLength(4);
      const second = await waitFor(
        "the added target",
        async () => {
          seen = await activeTargets(port);
          return seen.length === 4 ? byName(seen) : undefined;
        },
        () => JSON.stringify(seen),
      );
      expectTarget(second["vm-app"]!, "vm-app", "127.0.0.4");
      expectTarget(second["pve-1"]!, "pve-1", "127.0.0.1");
      expectTarget(second["web-1"]!, "web-1", "127.0.0.2");
      expectTarget(second["ct-db"]!, "ct-db", "127.0.0.3");
      expect(prom.child.exitCode).toBeNull();
    }, 90_000);
  });
}
