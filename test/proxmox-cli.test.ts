// The Proxmox CLI path (src/discovery/proxmox/cli-discovery.ts) end to end:
// a real SshRunner talks to an in-process ssh2 host whose exec hook runs the
// script with a real /bin/sh, in front of fake `pvesh`/`pct`/`qm` commands that
// print data rendered from the same simulated cluster the API tests use
// (fetched from startPveSim, printed as pvesh prints it: the inner data only,
// canonical JSON on one line, FORMATS.md §1.5). The API source runs against
// the same simulator, and both paths must give the same targets.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { discoverViaCli } from "../src/discovery/proxmox/cli-discovery.js";
import { PveClient } from "../src/discovery/proxmox/api-client.js";
import { SshRunner } from "../src/discovery/runners/ssh.js";
import { createProxmoxSource } from "../src/discovery/sources/proxmox.js";
import type { TargetObservation } from "../src/discovery/types.js";
import { clusterFromFixtures, startPveSim, type PveSim } from "./support/pve-sim.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

const TOKEN_ID = "fleet@pve!inventory";
const SECRET = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
const FIXTURES = new URL("./fixtures/", import.meta.url);
const NOW = new Date("2026-01-02T03:04:05Z");

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** pvesh's JSON output: keys sorted (JSON->canonical), one line, then a newline. */
function canonical(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x !== null && typeof x === "object"
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return `${JSON.stringify(sort(v))}\n`;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fleet-pvecli-"));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function put(path: string, text: string, mode?: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  if (mode !== undefined) chmodSync(path, mode);
}

const UNREACHABLE_STDERR = (ip: string) =>
  `ssh: connect to host ${ip} port 22: No route to host\nproxy handler failed: command '/usr/bin/ssh -e none -o BatchMode=yes root@${ip} pvesh get' failed: exit code 255\n`;

/** A fake `pvesh get <path> --output-format json` that prints <data><path>.json, or <data><path>.err to stderr with exit 255. */
function fakePvesh(data: string): string {
  return `#!/bin/sh
D=${JSON.stringify(data)}
[ "$1" = get ] && [ "$3" = --output-format ] && [ "$4" = json ] || { echo "fake pvesh: unexpected arguments: $*" >&2; exit 2; }
p=$2
case "$p" in *..*) exit 2 ;; esac
if [ -f "$D$p.err" ]; then cat "$D$p.err" >&2; exit 255; fi
if [ -f "$D$p.json" ]; then cat "$D$p.json"; exit 0; fi
echo "No 'get' handler defined for '$p'" >&2
exit 255
`;
}

type Cluster = ReturnType<typeof clusterFromFixtures>;

interface Rendered {
  api: TargetObservation[];
  apiWarnings: string[];
  data: string;
}

/** Runs the API source against startPveSim, and renders everything the CLI path asks for as pvesh files. */
async function renderCluster(cluster: Cluster): Promise<Rendered> {
  const sim: PveSim = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: SECRET } } });
  cleanups.push(() => sim.close());
  const clientOpts = {
    host: sim.host,
    port: sim.port,
    auth: { kind: "token" as const, tokenId: TOKEN_ID, secret: SECRET },
    tls: { mode: "fingerprint" as const, sha256: sim.fingerprint },
    timeoutMs: 5000,
    concurrency: 4,
    requestsPerSecond: 1000,
  };
  const noop = () => {};
  const res = await createProxmoxSource({ id: "pve", client: clientOpts }).discover({
    signal: new AbortController().signal,
    now: () => NOW,
    log: { debug: noop, info: noop, warn: noop, error: noop },
  });

  const data = tempDir();
  const client = new PveClient(clientOpts);
  try {
    const save = async (path: string, fallbackIp?: string) => {
      try {
        put(join(data, `${path}.json`), canonical(await client.get(path.slice(1))));
      } catch (err) {
        if (fallbackIp === undefined) throw err;
        put(join(data, `${path}.err`), UNREACHABLE_STDERR(fallbackIp));
      }
    };
    await save("/version");
    await save("/cluster/status");
    await save("/cluster/resources");
    for (const n of cluster.nodes) await save(`/nodes/${n.name}/status`, n.ip);
    for (const g of cluster.guests) await save(`/nodes/${g.node}/${g.type}/${g.vmid}/config`, cluster.nodes.find((n) => n.name === g.node)!.ip);
  } finally {
    await client.close();
  }
  return { api: res.targets, apiWarnings: res.warnings, data };
}

/** An SSH host whose `sh -s` runs the script with /bin/sh and PATH=<bin>:/usr/bin:/bin. */
async function pveHost(bin: string, seen: string[]): Promise<SimHost> {
  const host = await startSimHost({
    name: "pve-node1",
    exec(command, stdin) {
      seen.push(command);
      if (!/(^|\s)sh -s$/.test(command)) return null;
      const r = spawnSync("/bin/sh", ["-s"], { input: stdin, encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin`, HOME: bin }, timeout: 30_000 });
      return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? 1 };
    },
  });
  cleanups.push(() => host.close());
  return host;
}

function runnerTo(host: SimHost): SshRunner {
  return new SshRunner({ endpoint: { host: host.address, port: host.port, username: "root" }, auth: { password: "pw" }, verifyHostKey: () => true });
}

async function viaCli(host: SimHost, wrap?: string) {
  return discoverViaCli({ runner: runnerTo(host), timeoutMs: 20_000, maxBytes: 8 * 1024 * 1024, now: () => NOW, ...(wrap ? { wrap } : {}) });
}

const CORE_FACTS = [
  "pve.cluster",
  "pve.node",
  "pve.vmid",
  "pve.status",
  "pve.template",
  "cpu.count",
  "memory.total_bytes",
  "disk.total_bytes",
  "pve.ostype",
  "pve.version",
];

function summary(ts: TargetObservation[]) {
  return ts
    .map((t) => ({
      identity: t.identity[0],
      kind: t.kind,
      name: t.name,
      parent: t.parentIdentity ?? null,
      status: t.status,
      facts: Object.fromEntries(CORE_FACTS.filter((k) => k in t.facts).map((k) => [k, t.facts[k]])),
    }))
    .sort((a, b) => a.identity!.localeCompare(b.identity!));
}

function ids(ts: TargetObservation[]): string[] {
  return ts.map((t) => t.identity[0]!).sort();
}

describe("proxmox discovery through pvesh over SSH", () => {
  it("gives the same targets as the API path, in two execs", async () => {
    const cluster = clusterFromFixtures("8.4");
    const r = await renderCluster(cluster);
    const bin = tempDir();
    put(join(bin, "pvesh"), fakePvesh(r.data), 0o755);
    const seen: string[] = [];
    const host = await pveHost(bin, seen);

    const cli = await viaCli(host);
    expect(seen).toEqual(["sh -s", "sh -s"]);
    expect(cli.clusterName).toBe("pve-cluster");
    expect(cli.targets).toHaveLength(cluster.nodes.length + cluster.guests.length);
    expect(ids(cli.targets)).toEqual(ids(r.api));
    expect(summary(cli.targets)).toEqual(summary(r.api));
    expect(cli.targets.every((t) => t.status === "ok")).toBe(true);

    for (const t of cli.targets) {
      if (t.kind === "proxmox_node") {
        expect(t.sections["status"]?.status, t.name).toBe("ok");
        expect(t.address, t.name).toMatch(/^192\.168\.1\.\d$/);
        continue;
      }
      expect(t.sections["config"]?.status, t.name).toBe("ok");
      if (t.facts["pve.status"] === "running") expect(t.sections["interfaces"], t.name).toMatchObject({ status: "unavailable", reason: "cli" });
      else expect(t.sections["interfaces"]?.reason, t.name).toBe("stopped");
    }
    // Configured addresses come through (dns01 has a static IP), runtime ones are never claimed.
    const dns01 = cli.targets.find((t) => t.name === "dns01")!;
    expect(dns01.facts["pve.addresses_source"]).toBe("config");
    expect(dns01.interfaces?.flatMap((i) => i.addresses).length).toBeGreaterThan(0);
  });

  it("marks an offline node and its guests unreachable, like the API path", async () => {
    const cluster = clusterFromFixtures("8.4", { offline: true });
    const r = await renderCluster(cluster);
    const bin = tempDir();
    put(join(bin, "pvesh"), fakePvesh(r.data), 0o755);
    const host = await pveHost(bin, []);

    const cli = await viaCli(host);
    expect(summary(cli.targets)).toEqual(summary(r.api));
    const down = cli.targets.filter((t) => t.status !== "ok");
    expect(down.map((t) => (t.kind === "proxmox_node" ? t.name : t.facts["pve.vmid"])).sort()).toEqual(
      ["node3", ...cluster.guests.filter((g) => g.node === "node3").map((g) => g.vmid)].sort(),
    );
    expect(down.every((t) => t.status === "unreachable")).toBe(true);
    expect(cli.warnings.join(" ")).toContain("node3");
  });

  it("marks a node unreachable when its pvesh status call fails with no route to host", async () => {
    const cluster = clusterFromFixtures("8.4");
    const r = await renderCluster(cluster);
    // node2 is listed online, but the proxied calls to it fail as pvesh reports it.
    const node2 = cluster.nodes.find((n) => n.name === "node2")!;
    rmSync(join(r.data, "nodes/node2"), { recursive: true, force: true });
    put(join(r.data, "nodes/node2/status.err"), UNREACHABLE_STDERR(node2.ip));
    for (const g of cluster.guests.filter((x) => x.node === "node2"))
      put(join(r.data, `nodes/node2/${g.type}/${g.vmid}/config.err`), UNREACHABLE_STDERR(node2.ip));
    const bin = tempDir();
    put(join(bin, "pvesh"), fakePvesh(r.data), 0o755);
    const host = await pveHost(bin, []);

    const cli = await viaCli(host);
    const n2 = cli.targets.find((t) => t.kind === "proxmox_node" && t.name === "node2")!;
    expect(n2).toMatchObject({ status: "unreachable", error: expect.stringContaining("No route to host") });
    const g2 = cli.targets.filter((t) => t.facts["pve.node"] === "node2" && t.kind !== "proxmox_node");
    expect(g2.length).toBe(cluster.guests.filter((g) => g.node === "node2").length);
    expect(g2.every((t) => t.status === "unreachable" && /node2 is unreachable/.test(t.error ?? ""))).toBe(true);
    expect(cli.targets.filter((t) => t.status !== "ok")).toHaveLength(1 + g2.length);
    expect(cli.warnings.join(" ")).toMatch(/1 node\(s\) unreachable: node2/);
    // Same identities as the API path all the same.
    expect(ids(cli.targets)).toEqual(ids(r.api));
  });
});

describe("proxmox discovery through pct/qm when pvesh is missing", () => {
  function fallbackBin(opts: { clustered: boolean }): string {
    const bin = tempDir();
    const fx = (name: string) => JSON.stringify(join(FIXTURES.pathname, name));
    const qmCfg = JSON.parse(readFileSync(new URL("pve-api-qemu-config.pve9.data-only.json", FIXTURES), "utf8")) as Record<string, unknown>;
    const qmText = Object.keys(qmCfg)
      .filter((k) => k !== "digest")
      .sort()
      .map((k) => `${k}: ${String(qmCfg[k])}`)
      .join("\n");
    put(join(bin, "qm-config-100.txt"), `${qmText}\n`);
    put(
      join(bin, "pct"),
      `#!/bin/sh
case "$1" in
  list) cat ${fx("pct-list.txt")} ;;
  config) case "$2" in 100|101|1001) cat ${fx("pct-config.txt")} ;; *) echo "Configuration file 'nodes/pve1/lxc/$2.conf' does not exist" >&2; exit 2 ;; esac ;;
  *) exit 2 ;;
esac
`,
      0o755,
    );
    put(
      join(bin, "qm"),
      `#!/bin/sh
case "$1" in
  list) cat ${fx("qm-list.txt")} ;;
  config) [ "$2" = 100 ] && cat ${JSON.stringify(join(bin, "qm-config-100.txt"))} ;;
  *) exit 2 ;;
esac
`,
      0o755,
    );
    put(join(bin, "hostname"), `#!/bin/sh\necho pve1.example.lan\n`, 0o755);
    put(join(bin, "pveversion"), `#!/bin/sh\necho 'pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-15-pve)'\n`, 0o755);
    put(
      join(bin, "pvecm"),
      opts.clustered ? `#!/bin/sh\ncat ${fx("pvecm-status.1node.txt")}\n` : `#!/bin/sh\ncat ${fx("pvecm-status.not-clustered.stderr.txt")} >&2\nexit 255\n`,
      0o755,
    );
    return bin;
  }

  it("reads the local node with pct list, qm list and their configs (standalone)", async () => {
    const seen: string[] = [];
    const host = await pveHost(fallbackBin({ clustered: false }), seen);
    const cli = await viaCli(host);
    expect(seen).toEqual(["sh -s", "sh -s"]);
    expect(cli.clusterName).toBeNull();
    expect(cli.warnings.join(" ")).toContain("pvesh not found");
    expect(ids(cli.targets)).toEqual(
      [
        "pve-node:standalone:pve1/pve1",
        "pve-guest:standalone:pve1/100", // qm 100 and pct 100 collide in the fixtures; both are listed
        "pve-guest:standalone:pve1/100",
        "pve-guest:standalone:pve1/101",
        "pve-guest:standalone:pve1/1001",
      ].sort(),
    );
    const node = cli.targets.find((t) => t.kind === "proxmox_node")!;
    expect(node).toMatchObject({ name: "pve1", status: "ok" });
    expect(node.facts).toMatchObject({ "pve.version": "8.4.14", "pve.repoid": "b502d23c55afcba1", "kernel.release": "6.8.12-15-pve" });
    expect(node.sections["status"]).toMatchObject({ status: "unavailable", reason: "cli" });
    for (const t of cli.targets.filter((x) => x.kind !== "proxmox_node")) {
      expect(t.parentIdentity, t.name).toBe("pve-node:standalone:pve1/pve1");
      expect(t.sections["config"]?.status, t.name).toBe("ok");
    }
    const ct = cli.targets.find((t) => t.kind === "lxc" && t.facts["pve.vmid"] === 1001)!;
    expect(ct).toMatchObject({ name: "something", status: "ok" });
    expect(ct.facts).toMatchObject({ "pve.status": "running", "cpu.count": 1111, "pve.tags": "tag1;tag2;tag3" });
    expect(ct.sections["interfaces"]).toMatchObject({ status: "unavailable", reason: "cli" });
    expect(ct.interfaces?.[0]).toMatchObject({ name: "eth0", master: "vmbr0", addresses: [expect.objectContaining({ address: "1.1.1.2", prefixlen: 8 })] });
    const vm = cli.targets.find((t) => t.kind === "vm")!;
    expect(vm).toMatchObject({ name: "Screen-Sun-AAAAAAA", status: "ok" });
    expect(vm.facts).toMatchObject({ "pve.vmid": 100, "pve.status": "running" });
  });

  it("scopes identities by the cluster name pvecm status reports", async () => {
    const seen: string[] = [];
    const host = await pveHost(fallbackBin({ clustered: true }), seen);
    const cli = await viaCli(host, "sudo -n");
    expect(seen).toEqual(["sudo -n sh -s", "sudo -n sh -s"]);
    expect(cli.clusterName).toBe("local-cluster");
    expect(cli.targets.find((t) => t.kind === "proxmox_node")!.identity).toEqual(["pve-node:local-cluster/pve1"]);
    expect(cli.targets.filter((t) => t.kind === "lxc").map((t) => t.identity[0])).toContain("pve-guest:local-cluster/1001");
  });

  it("fails clearly on a host with neither pvesh nor pct/qm", async () => {
    const bin = tempDir();
    put(join(bin, "hostname"), `#!/bin/sh\necho plain\n`, 0o755);
    const host = await pveHost(bin, []);
    await expect(viaCli(host)).rejects.toThrow(/neither pvesh nor pct\/qm/);
  });
});

describe("CLI fallback through the MCP surface", () => {
  it("reads the cluster over SSH when the API fails, recorded as its own proxmox-cli source", async () => {
    const { startHarness } = await import("./support/harness.js");
    const cluster = clusterFromFixtures("8.4");
    const r = await renderCluster(cluster);
    const bin = tempDir();
    put(join(bin, "pvesh"), fakePvesh(r.data), 0o755);
    const host = await pveHost(bin, []);
    // Nothing listens on the API port: the API path fails, the CLI path takes over.
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "proxmox",
            id: "pve",
            host: "127.0.0.1",
            port: closed,
            token_id: TOKEN_ID,
            token_secret_env: "PVE_SECRET",
            insecure: true,
            timeout_ms: 1000,
            cli_fallback: { address: host.address, port: host.port, user: "root", auth: { agent: false, password_env: "NODE_PW" }, timeout_ms: 20_000 },
          },
        ],
      },
      env: { PVE_SECRET: SECRET, NODE_PW: "pw" },
    });
    cleanups.push(() => h.close());
    const res = await h.client.callTool({ name: "run_discovery", arguments: {} });
    const out = res.structuredContent as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(out.sources.map((s: Record<string, unknown>) => [s.id, s.kind, s.status])).toEqual([
      ["pve", "proxmox-api", "failed"],
      ["pve-cli", "proxmox-cli", "ok"],
    ]);
    expect(out.targets_seen).toBe(cluster.nodes.length + cluster.guests.length);
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "node1" } })).structuredContent as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(t.target.kind).toBe("proxmox_node");
    expect(new Set(t.facts.map((f: Record<string, unknown>) => f.source))).toEqual(new Set(["pve-cli"]));
  });
});
