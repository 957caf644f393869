// More ways to find hosts, end to end through the MCP client: Tailscale peers
// (a stand-in `tailscale` CLI on PATH prints a status built from the capture,
// pointing its peers at loopback ssh2 hosts) and a network sweep of a loopback
// /29. Loopback addresses only.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.js";
import { fixture } from "./support/scripted-runner.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PASSWORD = "tailnet-pw-123";
const ENV = { FLEET_TEST_SSH_PASSWORD: PASSWORD };
let h: Harness | undefined;
let sims: SimHost[] = [];
let bin: string;
const originalPath = process.env.PATH;

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), "fleet-bin-"));
  // Two hosts on one port at two loopback addresses, as a tailnet or subnet would have them.
  const first = await startSimHost({ bind: "127.0.0.2", name: "ts-web", users: { root: { password: PASSWORD } } });
  const second = await startSimHost({ bind: "127.0.0.3", port: first.port, name: "ts-db", users: { root: { password: PASSWORD } } });
  sims = [first, second];
});
afterAll(async () => {
  process.env.PATH = originalPath;
  rmSync(bin, { recursive: true, force: true });
  await Promise.all(sims.map((s) => s.close()));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function fakeTailscale(status: unknown): void {
  writeFileSync(join(bin, "status.json"), JSON.stringify(status));
  writeFileSync(join(bin, "tailscale"), `#!/bin/sh\n[ "$1 $2" = "status --json" ] || exit 2\ncat "${join(bin, "status.json")}"\n`);
  chmodSync(join(bin, "tailscale"), 0o755);
  process.env.PATH = `${bin}:${originalPath}`;
}

function tailnet(): unknown {
  const capture = JSON.parse(fixture("tailscale-status.json")) as S;
  const template = Object.values(capture.Peer as S)[0] as S;
  const peer = (name: string, ip: string, extra: S) => ({
    ...template,
    ID: `n-${name}`,
    PublicKey: `nodekey:${name}`,
    HostName: name,
    DNSName: `${name}.tail1234.ts.net.`,
    TailscaleIPs: [ip, "fd7a:115c:a1e0::1"],
    ...extra,
  });
  return {
    ...capture,
    Peer: {
      "nodekey:web": peer("ts-web", "127.0.0.2", { Online: true, Tags: ["tag:server", "tag:web"], sshHostKeys: ["ssh-ed25519 AAAA"] }),
      "nodekey:db": peer("ts-db", "127.0.0.3", { Online: true, Tags: ["tag:server"] }),
      "nodekey:laptop": peer("laptop", "127.0.0.9", { Online: false }),
    },
  };
}

describe("tailscale source", () => {
  it("turns online peers into SSH targets with their Tailscale tags, trying Tailscale SSH first", async () => {
    fakeTailscale(tailnet());
    h = await startHarness({
      configJson: {
        sources: [{ kind: "tailscale", id: "tailnet", port: sims[0]!.port, auth: { agent: false, password_env: "FLEET_TEST_SSH_PASSWORD" }, timeout_ms: 3000 }],
      },
      env: ENV,
    });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r).toMatchObject({ status: "ok", targets_seen: 2 });
    expect(r.sources[0]).toMatchObject({ id: "tailnet", kind: "tailscale", hosts_ok: 2 });
    const web = (await h.client.callTool({ name: "get_target", arguments: { target: "ts-web" } })).structuredContent as S;
    expect(web.facts).toContainEqual(expect.objectContaining({ key: "tags", value: "server,web" }));
    expect(web.facts).toContainEqual(expect.objectContaining({ key: "discovered.via", value: "tailscale" }));
    // The peer offering Tailscale SSH was tried with "none" first, then the configured password.
    expect(sims[0]!.authAttempts.map((a) => a.method)).toEqual(["none", "password"]);
    expect(sims[1]!.authAttempts.map((a) => a.method)).toEqual(["password"]);
  });

  it("fails the source with the fix when tailscale is logged out", async () => {
    fakeTailscale({ ...(tailnet() as S), BackendState: "NeedsLogin" });
    h = await startHarness({ configJson: { sources: [{ kind: "tailscale", auth: { agent: false } }] } });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("run `tailscale up`") });
  });
});

describe("network source", () => {
  it("sweeps a loopback /29 for SSH banners and probes the responders when auto_register is on", async () => {
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "network",
            cidrs: ["127.0.0.0/29"],
            ports: [sims[0]!.port],
            auto_register: true,
            tags: ["swept"],
            auth: { agent: false, password_env: "FLEET_TEST_SSH_PASSWORD" },
            timeout_ms: 3000,
          },
        ],
      },
      env: ENV,
    });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r).toMatchObject({ status: "ok", targets_seen: 2 });
    const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets.total).toBe(2);
  });

  it("only reports responders when auto_register is off, and refuses sweeps over the limit", async () => {
    h = await startHarness({ configJson: { sources: [{ kind: "network", cidrs: ["127.0.0.0/29"], ports: [sims[0]!.port], auth: { agent: false } }] } });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r.targets_seen).toBe(0);
    expect(r.sources[0].warnings).toEqual([expect.stringMatching(/2 SSH server\(s\) answered \(127\.0\.0\.2:\d+, 127\.0\.0\.3:\d+\); set auto_register/)]);
    await h.close();
    h = await startHarness({ configJson: { sources: [{ kind: "network", cidrs: ["127.0.0.0/16"], auth: { agent: false } }] } });
    const big = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(big.sources[0]).toMatchObject({ status: "failed", error: expect.stringContaining("raise network.max_addresses") });
  });
});
