// Proxmox discovery end to end through the MCP client: the real proxmox-api
// client (inside our PveClient) against a loopback HTTPS server that speaks
// pveproxy's framing, for each recorded PVE version; TLS verified by CA file or
// pinned by fingerprint; token and ticket auth; a node the cluster cannot reach;
// a privilege-separated token that sees nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { auditRows, startHarness, type Harness } from "./support/harness.js";
import { clusterFromFixtures, startPveSim, type PveSim } from "./support/pve-sim.js";
import { debianHost, renderProbeOutput } from "./support/scripted-runner.js";
import { startSimHost } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TOKEN_ID = "fleet@pve!inventory";
const SECRET = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
const PASSWORD = "pve-root-password-9";
let h: Harness | undefined;
let sim: PveSim | undefined;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-pve-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  if (h) {
    const everything = JSON.stringify(auditRows(h.app)) + h.logs.join("");
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(PASSWORD);
    await h.close();
  }
  h = undefined;
  await sim?.close();
  sim = undefined;
});

function source(s: PveSim, extra: Record<string, unknown> = {}) {
  return {
    kind: "proxmox",
    id: "pve",
    host: s.host,
    port: s.port,
    token_id: TOKEN_ID,
    token_secret_env: "PVE_TOKEN_SECRET",
    fingerprint: s.fingerprint,
    timeout_ms: 3000,
    ...extra,
  };
}

async function discover(harness: Harness) {
  const res = await harness.client.callTool({ name: "run_discovery", arguments: {} });
  expect(res.isError, JSON.stringify(res.content)).toBeFalsy();
  return res.structuredContent as S;
}

describe("proxmox discovery through the API", () => {
  for (const version of ["6.2", "7.4", "8.4", "9.0"] as const) {
    it(`PVE ${version}: every node and guest, with parents, configs and addresses`, async () => {
      const cluster = clusterFromFixtures(version);
      sim = await startPveSim({ version, ...cluster, tokens: { [TOKEN_ID]: { secret: SECRET } } });
      h = await startHarness({ configJson: { sources: [source(sim)] }, env: { PVE_TOKEN_SECRET: SECRET } });
      const r = await discover(h);
      expect(r.sources[0]).toMatchObject({ id: "pve", kind: "proxmox-api" });
      expect(r.targets_seen).toBe(cluster.nodes.length + cluster.guests.length);
      const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
      expect(ov.targets.by_kind.proxmox_node).toBe(cluster.nodes.length);
      expect((ov.targets.by_kind.lxc ?? 0) + (ov.targets.by_kind.vm ?? 0)).toBe(cluster.guests.length);
      for (const g of cluster.guests) {
        const t = (await h.client.callTool({ name: "get_target", arguments: { target: g.name } })).structuredContent as S;
        expect(t.target.kind, g.name).toBe(g.type === "lxc" ? "lxc" : "vm");
        expect(t.target.parent?.name, g.name).toBe(g.node);
        const fact = (k: string) => t.facts.find((f: S) => f.key === k)?.value;
        expect(fact("pve.vmid"), g.name).toBe(g.vmid);
        expect(fact("pve.status"), g.name).toBe(g.status);
        expect(typeof fact("memory.total_bytes"), g.name).toBe("number");
        // No agent, agent not running, stopped guests: recorded, never a failed guest.
        expect(t.target.last_status, g.name).toBe("ok");
        if (g.status === "stopped") expect(t.last_probe.sections.interfaces, g.name).toMatchObject({ status: "unavailable" });
        if (g.status === "running" && (g.agent === "not_running" || g.agent === "unsupported"))
          expect(t.last_probe.sections.interfaces?.status, g.name).not.toBe("ok");
      }
      // Every call carried the token; none was a write.
      expect(sim.requests.every((q) => q.auth === "token" && q.method === "GET")).toBe(true);
    });
  }

  it("authenticates with a ticket (user + password) and verifies TLS against a CA file", async () => {
    sim = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), users: { "root@pam": PASSWORD } });
    const ca = join(dir, "pve-ca.pem");
    writeFileSync(ca, sim.caPem);
    h = await startHarness({
      configJson: {
        sources: [{ kind: "proxmox", id: "pve", host: sim.host, port: sim.port, username: "root@pam", password_env: "PVE_PASSWORD", ca_file: ca }],
      },
      env: { PVE_PASSWORD: PASSWORD },
    });
    const r = await discover(h);
    expect(r.sources[0].status).not.toBe("failed");
    const logins = sim.requests.filter((q) => q.method === "POST" && q.path === "/api2/json/access/ticket");
    expect(logins).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: "POST", path: "/api2/json/access/ticket" });
    expect(sim.requests.filter((q) => q.method === "GET").every((q) => q.auth === "ticket")).toBe(true);
  });

  it("renews an expired ticket during a run and keeps going", async () => {
    // Tickets live 2 h on real clusters; here 60 ms, with 25 ms per answer, so the run outlives one.
    sim = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), users: { "root@pam": PASSWORD }, ticketTtlMs: 60, latencyMs: 25 });
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "proxmox",
            id: "pve",
            host: sim.host,
            port: sim.port,
            username: "root@pam",
            password_env: "PVE_PASSWORD",
            fingerprint: sim.fingerprint,
            concurrency: 2,
          },
        ],
      },
      env: { PVE_PASSWORD: PASSWORD },
    });
    const r = await discover(h);
    expect(r.sources[0].status).not.toBe("failed");
    expect(r.targets_seen).toBeGreaterThan(3);
    expect(sim.requests.filter((q) => q.method === "POST" && q.path === "/api2/json/access/ticket").length).toBeGreaterThan(1);
  });

  it("refuses a certificate that does not match the pinned fingerprint, naming the fix", async () => {
    sim = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), tokens: { [TOKEN_ID]: { secret: SECRET } } });
    const wrong = "AA:".repeat(31) + "AA";
    h = await startHarness({ configJson: { sources: [source(sim, { fingerprint: wrong })] }, env: { PVE_TOKEN_SECRET: SECRET } });
    const r = await discover(h);
    expect(r.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("fingerprint") });
    expect(r.sources[0].error).toContain(sim.fingerprint);
    expect(sim.requests).toHaveLength(0);
  });

  it("marks an unreachable node and its guests unreachable, and still discovers the rest", async () => {
    const cluster = clusterFromFixtures("8.4", { offline: true });
    sim = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: SECRET } } });
    h = await startHarness({ configJson: { sources: [source(sim)] }, env: { PVE_TOKEN_SECRET: SECRET } });
    const r = await discover(h);
    expect(r.sources[0].status).toBe("partial");
    expect(r.sources[0].warnings.join(" ")).toContain("node3");
    const offlineGuests = cluster.guests.filter((g) => g.node === "node3");
    expect(r.problems).toHaveLength(1 + offlineGuests.length);
    expect(r.problems.every((p: S) => p.status === "unreachable")).toBe(true);
    expect(r.problems.map((p: S) => p.name)).toContain("node3");
    const reachable = cluster.guests.filter((g) => g.node !== "node3");
    for (const g of reachable) {
      const t = (await h.client.callTool({ name: "get_target", arguments: { target: g.name } })).structuredContent as S;
      expect(t.target.lifecycle, g.name).toBe("active");
    }
  });

  it("warns with the ACL fix when a privilege-separated token sees nothing", async () => {
    sim = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), tokens: { [TOKEN_ID]: { secret: SECRET, privsep: true } } });
    h = await startHarness({ configJson: { sources: [source(sim)] }, env: { PVE_TOKEN_SECRET: SECRET } });
    const r = await discover(h);
    expect(r.sources[0].warnings.join(" ")).toMatch(/privilege separation.*PVEAuditor/);
  });

  it("probes a running guest over SSH too: one target, Proxmox facts and probe facts together", async () => {
    const cluster = clusterFromFixtures("8.4");
    const guest = cluster.guests.find((g) => g.status === "running" && g.type === "qemu")!;
    sim = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: SECRET } } });
    const vmHost = await startSimHost({ name: "inside-the-vm", users: { root: { password: "guest-pw" } } });
    try {
      h = await startHarness({
        configJson: {
          sources: [
            source(sim, {
              guests: {
                addresses: { [String(guest.vmid)]: vmHost.address },
                port: vmHost.port,
                auth: { agent: false, password_env: "GUEST_PW" },
                timeout_ms: 3000,
              },
            }),
          ],
        },
        env: { PVE_TOKEN_SECRET: SECRET, GUEST_PW: "guest-pw" },
      });
      const r = await discover(h);
      expect(r.sources.map((x: S) => [x.id, x.kind, x.hosts_ok])).toEqual([
        ["pve", "proxmox-api", cluster.nodes.length + cluster.guests.length],
        ["pve-guests", "ssh", 1],
      ]);
      // Merged, not added: the probe landed on the guest's target.
      expect(r.targets_seen).toBe(cluster.nodes.length + cluster.guests.length);
      const t = (await h.client.callTool({ name: "get_target", arguments: { target: "inside-the-vm" } })).structuredContent as S;
      expect(t.target).toMatchObject({ kind: "vm", parent: { name: guest.node } });
      const sources = new Set(t.facts.map((f: S) => f.source));
      expect(sources).toEqual(new Set(["pve", "pve-guests"]));
      expect(t.facts.find((f: S) => f.key === "pve.vmid")).toMatchObject({ value: guest.vmid, source: "pve" });
      expect(t.services.total).toBeGreaterThan(0);
    } finally {
      await vmHost.close();
    }
  });

  it("probes running LXC guests through pct exec on their node when they have no address", async () => {
    const base = clusterFromFixtures("8.4");
    // Node addresses (from /cluster/status) on loopback, where the stand-in node's sshd listens.
    const cluster = { ...base, nodes: base.nodes.map((n) => ({ ...n, ip: "127.0.0.1" })) };
    const running = cluster.guests.filter((g) => g.type === "lxc" && g.status === "running");
    expect(running.length).toBeGreaterThan(0);
    sim = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: SECRET } } });
    const commands: string[] = [];
    const nodeSsh = await startSimHost({
      users: { root: { password: "node-pw" } },
      exec(command, stdin) {
        commands.push(command);
        const m = /^pct exec (\d+) -- sh -s$/.exec(command);
        const nonce = /M='@@fleet-([0-9a-f]+)@@'/.exec(stdin)?.[1];
        if (!m || !nonce) return { stdout: "", stderr: "unexpected", code: 2 };
        return {
          // Containers without /etc/machine-id (common on Alpine): each must still be its own target.
          stdout: renderProbeOutput(nonce, debianHost({ hostname: { body: `ct-${m[1]}` }, machine_id: { body: "", rc: 1 }, host_keys: { body: "" } })),
          code: 0,
        };
      },
    });
    try {
      h = await startHarness({
        configJson: {
          sources: [source(sim, { guests: { pct_exec: true, port: nodeSsh.port, auth: { agent: false, password_env: "NODE_PW" }, timeout_ms: 3000 } })],
        },
        env: { PVE_TOKEN_SECRET: SECRET, NODE_PW: "node-pw" },
      });
      const r = await discover(h);
      expect(r.sources[1]).toMatchObject({ id: "pve-guests", hosts_ok: running.length });
      expect(commands.sort()).toEqual(running.map((g) => `pct exec ${g.vmid} -- sh -s`).sort());
      expect(r.targets_seen).toBe(cluster.nodes.length + cluster.guests.length);
      for (const g of running) {
        const t = (await h.client.callTool({ name: "get_target", arguments: { target: `ct-${g.vmid}` } })).structuredContent as S;
        expect(t.target.kind, String(g.vmid)).toBe("lxc");
        expect(t.facts.find((f: S) => f.key === "pve.vmid")?.value, String(g.vmid)).toBe(g.vmid);
        expect(new Set(t.facts.map((f: S) => f.source))).toEqual(new Set(["pve", "pve-guests"]));
      }
    } finally {
      await nodeSsh.close();
    }
  });

  it("refuses half-given or doubled credentials and source ids that collide with derived ones", async () => {
    const base = { kind: "proxmox", id: "pve", host: "127.0.0.1" };
    await expect(
      startHarness({ configJson: { sources: [{ ...base, token_id: TOKEN_ID, username: "root@pam", password_env: "X" }] }, env: { X: "x" } }),
    ).rejects.toThrow(/either token_id \+ token_secret_env, or username \+ password_env/);
    await expect(
      startHarness({
        configJson: {
          sources: [
            { ...base, username: "root@pam", password_env: "X", cli_fallback: { address: "127.0.0.1" } },
            { kind: "proxmox-cli", id: "pve-cli", address: "127.0.0.1" },
          ],
        },
        env: { X: "x" },
      }),
    ).rejects.toThrow(/source ids must be unique/);
  });

  it("fails the source with a clear message on a wrong token secret", async () => {
    sim = await startPveSim({ version: "9.0", ...clusterFromFixtures("9.0"), tokens: { [TOKEN_ID]: { secret: SECRET } } });
    h = await startHarness({ configJson: { sources: [source(sim)] }, env: { PVE_TOKEN_SECRET: "11111111-2222-4333-8444-555555555555" } });
    const r = await discover(h);
    expect(r.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("authentication failed") });
  });

  it("with ticket auth, tells a wrong password from a host that does not answer", async () => {
    sim = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), users: { "root@pam": PASSWORD } });
    const ca = join(dir, "pve-ca.pem");
    writeFileSync(ca, sim.caPem);
    // A port nothing listens on: the sim's, once it is closed.
    const closedPort = sim.port;
    const base = { kind: "proxmox", username: "root@pam", password_env: "PVE_PASSWORD", ca_file: ca, host: sim.host, timeout_ms: 3500 };
    h = await startHarness({ configJson: { sources: [{ ...base, id: "pve", port: sim.port }] }, env: { PVE_PASSWORD: "not-the-password" } });
    const wrong = await discover(h);
    expect(wrong.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("authentication failed") });
    await h.close();
    await sim.close();
    sim = undefined;
    h = await startHarness({ configJson: { sources: [{ ...base, id: "pve", port: closedPort }] }, env: { PVE_PASSWORD: PASSWORD } });
    const down = await discover(h);
    expect(down.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("ECONNREFUSED") });
    expect(down.sources[0].error).not.toContain("authentication failed");
  });
});
