// SSH discovery end to end through the MCP client: real config parsing, the real
// ssh2 client against in-process ssh2 servers on 127.0.0.1 that emulate hosts of
// several distros (outputs from the captures), faults, host key policies, the
// circuit breaker, retries, targeted runs, sudo, and a real OpenSSH sshd.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, hostname, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/inventory/audit.js";
import { auditRows, startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, fixture, type CannedHost } from "./support/scripted-runner.js";
import { generateEd25519KeyPair, startSimHost, type SimHost } from "./support/ssh-sim.js";
import { startSshd } from "./support/sshd.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PASSWORD = "s3cret-ssh-passw0rd";
const ENV = { FLEET_TEST_SSH_PASSWORD: PASSWORD };
const sims: SimHost[] = [];
let h: Harness | undefined;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-ssh-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  if (h) {
    // Secrets never reach tool output, the audit log or the logs.
    expect(JSON.stringify(auditRows(h.app))).not.toContain(PASSWORD);
    expect(h.logs.join("")).not.toContain(PASSWORD);
    expect(verifyAuditChain(h.app.db).ok).toBe(true);
    await h.close();
  }
  h = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(opts: Parameters<typeof startSimHost>[0] = {}): Promise<SimHost> {
  const s = await startSimHost({ users: { root: { password: PASSWORD } }, ...opts });
  sims.push(s);
  return s;
}

function sshSource(hosts: SimHost[], extra: Record<string, unknown> = {}) {
  return {
    kind: "ssh",
    id: "lab",
    hosts: hosts.map((s, i) => ({ address: s.address, port: s.port, name: `host-${i + 1}`, tags: ["lab"] })),
    auth: { agent: false, password_env: "FLEET_TEST_SSH_PASSWORD" },
    timeout_ms: 2000,
    retry_min_delay_ms: 0,
    ...extra,
  };
}

async function discover(harness: Harness, args: Record<string, unknown> = {}) {
  const res = await harness.client.callTool({ name: "run_discovery", arguments: args });
  expect(res.isError, text(res)).toBeFalsy();
  return res.structuredContent as S;
}

function host(name: string, os: string, extra: Partial<CannedHost> = {}): CannedHost {
  return debianHost({
    hostname: { body: name },
    machine_id: {
      body: name
        .padEnd(32, "0")
        .replace(/[^0-9a-f]/g, "a")
        .slice(0, 32),
    },
    os: { body: fixture(os) },
    ...extra,
  });
}

describe("ssh discovery", () => {
  it("probes hosts of several distros in one round trip each, with password auth from a named environment variable", async () => {
    const fleet = [
      await sim({ host: host("deb-1", "os-release-debian12.txt") }),
      await sim({
        host: host("alpine-1", "os-release-alpine323.txt", {
          systemd: { body: "#not-running" },
          docker: { body: "#not-installed" },
          compose: { body: "#not-installed" },
        }),
      }),
      await sim({ host: host("rocky-1", "os-release-rocky93.txt") }),
    ];
    h = await startHarness({ configJson: { sources: [sshSource(fleet)] }, env: ENV });
    const r = await discover(h);
    expect(r).toMatchObject({ status: "ok", targets_seen: 3, targets_added: 3, targets_unreachable: 0 });
    expect(r.sources[0]).toMatchObject({ id: "lab", kind: "ssh", hosts_ok: 3, hosts_failed: 0 });
    expect(fleet.map((s) => s.execs)).toEqual([1, 1, 1]);
    const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets.by_os).toEqual({ debian: 1, alpine: 1, rocky: 1 });
    const a = (await h.client.callTool({ name: "get_target", arguments: { target: "alpine-1" } })).structuredContent as S;
    expect(a.target).toMatchObject({ os: "Alpine Linux v3.23", address: fleet[1]!.address, lifecycle: "active" });
    expect(a.facts).toContainEqual(expect.objectContaining({ key: "ssh.endpoint", value: `root@${fleet[1]!.address}:${fleet[1]!.port}`, source: "lab" }));
    expect(a.facts).toContainEqual(expect.objectContaining({ key: "tags", value: "lab" }));
    expect(a.last_probe.sections.systemd).toMatchObject({ status: "unavailable" });
    expect(a.ssh_endpoints[0]).toMatchObject({ pinned_fingerprint: fleet[1]!.hostKeyFingerprint, pending_fingerprint: null, consecutive_failures: 0 });
  });

  it("ends every fault within its deadline with the right status, keeps serving, and loses no earlier fact", async () => {
    const faults = ["refuse", "no_banner", "hang_after_auth", "close_mid_output", "garbage", "huge_output"] as const;
    const fleet = await Promise.all(faults.map((_, i) => sim({ host: host(`f-${i}`, "os-release-debian12.txt"), hugeBytes: 10 * 1024 * 1024 })));
    const wrongPw = await sim({ host: host("f-pw", "os-release-debian12.txt") });
    h = await startHarness({ configJson: { sources: [sshSource([...fleet, wrongPw], { max_output_bytes: 4 * 1024 * 1024, retries: 0 })] }, env: ENV });
    const first = await discover(h);
    expect(first).toMatchObject({ status: "ok", targets_seen: 7 });

    faults.forEach((f, i) => fleet[i]!.setFault(f));
    await wrongPw.close();
    const wrong = await sim({
      host: host("f-pw", "os-release-debian12.txt"),
      port: wrongPw.port,
      hostKey: undefined,
      users: { root: { password: "not-the-configured-one" } },
    });
    void wrong;
    const started = performance.now();
    const call = discover(h);
    // The server keeps answering other calls while hosts hang.
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.running).not.toBeNull();
    const r = await call;
    const wall = performance.now() - started;
    expect(wall).toBeLessThan(2000 + 3000); // per-host deadline (2 s) plus slack; hosts run in parallel
    const byName = Object.fromEntries(r.problems.map((p: S) => [p.name, p]));
    expect(byName["f-0"].status).toBe("unreachable");
    expect(byName["f-1"].status).toBe("timeout");
    expect(byName["f-2"].status).toBe("timeout");
    expect(["error", "partial"]).toContain(byName["f-3"].status);
    expect(byName["f-4"].status).toBe("error");
    expect(byName["f-5"].status).toBe("output_too_large");
    expect(["host_key_mismatch", "auth_failed"]).toContain(byName["f-pw"].status);
    expect(r.status).toBe("failed");

    for (const name of ["f-0", "f-1", "f-2", "f-4", "f-5"]) {
      const t = (await h.client.callTool({ name: "get_target", arguments: { target: name } })).structuredContent as S;
      expect(t.target.lifecycle, name).toBe("unreachable");
      expect(t.services.total, name).toBe(3);
      expect(t.target.cpu_count, name).toBe(4);
      expect(t.facts.find((f: S) => f.key === "os.id").value, name).toBe("debian");
    }
  });

  it("never retries an authentication failure", async () => {
    const s = await sim({ host: host("pw", "os-release-debian12.txt"), users: { root: { password: "other" } } });
    h = await startHarness({ configJson: { sources: [sshSource([s], { retries: 3 })] }, env: ENV });
    const r = await discover(h);
    expect(r.problems[0]).toMatchObject({ status: "auth_failed", error: expect.stringContaining("authentication") });
    expect(s.authAttempts.filter((a) => a.method === "password")).toHaveLength(1);
  });

  it("retries a refused connection on a host that answered before, and succeeds when it is back", async () => {
    const s = await sim({ host: host("flaky", "os-release-debian12.txt") });
    h = await startHarness({ configJson: { sources: [sshSource([s], { retries: 3, retry_min_delay_ms: 150 })] }, env: ENV });
    await discover(h);
    s.setFault("refuse");
    setTimeout(() => s.setFault("none"), 100);
    const r = await discover(h);
    expect(r).toMatchObject({ status: "ok", problems: [] });
    expect(s.execs).toBe(2);
  });

  it("pins the host key on first use, refuses a changed key with a security event, and probes again after accept_host_key", async () => {
    const s = await sim({ host: host("pinned", "os-release-debian12.txt") });
    h = await startHarness({ configJson: { sources: [sshSource([s])] }, env: ENV });
    await discover(h);
    const port = s.port;
    await s.close();
    const impostor = await sim({ host: host("pinned", "os-release-debian12.txt"), port, hostKey: generateEd25519KeyPair().private });
    const r = await discover(h);
    expect(r.problems[0]).toMatchObject({ name: "pinned", status: "host_key_mismatch" });
    expect(impostor.execs).toBe(0);
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "pinned" } })).structuredContent as S;
    expect(t.issues).toEqual([
      expect.objectContaining({ type: "host_key_changed", severity: "critical", message: expect.stringContaining(impostor.hostKeyFingerprint) }),
    ]);
    expect(t.ssh_endpoints[0]).toMatchObject({ pinned_fingerprint: s.hostKeyFingerprint, pending_fingerprint: impostor.hostKeyFingerprint });
    expect(t.target.lifecycle).toBe("unreachable");
    const events = h.app.db.$client.prepare("SELECT type, severity FROM events WHERE type = 'host_key_changed'").all();
    expect(events).toEqual([{ type: "host_key_changed", severity: "critical" }]);

    const wrong = await h.client.callTool({ name: "accept_host_key", arguments: { target: "pinned", fingerprint: s.hostKeyFingerprint } });
    expect(wrong.isError).toBe(true);
    expect(text(wrong)).toContain(`presented ${impostor.hostKeyFingerprint}`);
    const ok = await h.client.callTool({ name: "accept_host_key", arguments: { target: "pinned", fingerprint: impostor.hostKeyFingerprint } });
    expect(ok.structuredContent).toEqual({
      accepted: [{ endpoint: `ssh:127.0.0.1:${port}`, fingerprint: impostor.hostKeyFingerprint, replaced: s.hostKeyFingerprint }],
    });
    const again = await discover(h, { targets: ["pinned"] });
    expect(again).toMatchObject({ status: "ok", targets_seen: 1 });
    const after = (await h.client.callTool({ name: "get_target", arguments: { target: "pinned" } })).structuredContent as S;
    expect(after.issues).toEqual([]);
    expect(after.target.lifecycle).toBe("active");
  });

  it("clears a waiting changed key when the host comes back with its pinned key", async () => {
    const hostKey = generateEd25519KeyPair().private;
    const s = await sim({ host: host("flip", "os-release-debian12.txt"), hostKey });
    h = await startHarness({ configJson: { sources: [sshSource([s])] }, env: ENV });
    await discover(h);
    const port = s.port;
    await s.close();
    const impostor = await sim({ host: host("flip", "os-release-debian12.txt"), port });
    expect((await discover(h)).problems[0].status).toBe("host_key_mismatch");
    await impostor.close();
    await sim({ host: host("flip", "os-release-debian12.txt"), port, hostKey });
    expect((await discover(h)).status).toBe("ok");
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "flip" } })).structuredContent as S;
    expect(t.issues).toEqual([]);
    expect(t.ssh_endpoints[0].pending_fingerprint).toBeNull();
  });

  it("under `strict`, asks first for the key type known_hosts holds (an RSA-only entry for a host that also has ed25519)", async () => {
    const rsa = ssh2.utils.generateKeyPairSync("rsa", { bits: 2048 });
    const s = await sim({ host: host("rsa-known", "os-release-debian12.txt"), extraHostKeys: [rsa.private] });
    const kh = join(dir, "known_hosts_rsa");
    writeFileSync(kh, `[127.0.0.1]:${s.port} ${rsa.public}\n`);
    h = await startHarness({ configJson: { sources: [sshSource([s], { host_key_policy: "strict", known_hosts_file: kh })] }, env: ENV });
    const r = await discover(h);
    expect(r).toMatchObject({ status: "ok", problems: [] });
  });

  it("checks host keys against known_hosts under `strict`, and warns on every run under `off`", async () => {
    const good = await sim({ host: host("known", "os-release-debian12.txt") });
    const bad = await sim({ host: host("unknown", "os-release-debian12.txt") });
    const kh = join(dir, "known_hosts");
    writeFileSync(kh, `# test\n[127.0.0.1]:${good.port} ${good.publicKey}\n[127.0.0.1]:${bad.port} ${generateEd25519KeyPair().public}\n`);
    h = await startHarness({ configJson: { sources: [sshSource([good, bad], { host_key_policy: "strict", known_hosts_file: kh })] }, env: ENV });
    const r = await discover(h);
    expect(r.problems).toEqual([expect.objectContaining({ name: "host-2", status: "host_key_mismatch" })]);
    await h.close();

    h = await startHarness({ configJson: { sources: [sshSource([bad], { host_key_policy: "off" })] }, env: ENV });
    const off = await discover(h);
    expect(off.status).toBe("ok");
    expect(off.sources[0].warnings).toEqual([expect.stringContaining("host key checking is OFF")]);
  });

  it("opens a per-host circuit breaker after consecutive failures and reports the skip", async () => {
    const s = await sim({ host: host("down", "os-release-debian12.txt"), fault: "refuse" });
    h = await startHarness({ configJson: { sources: [sshSource([s], { retries: 0, circuit_breaker: { failures: 2, cooldown_s: 600 } })] }, env: ENV });
    expect((await discover(h)).problems[0].status).toBe("unreachable");
    expect((await discover(h)).problems[0].status).toBe("unreachable");
    const third = await discover(h);
    expect(third.problems[0]).toMatchObject({ status: "skipped_circuit_open", error: expect.stringContaining("2 consecutive failures") });
    expect(third.sources[0].warnings).toEqual([expect.stringContaining("skipped while their circuit breaker cools down")]);
  });

  it("re-probes only the hosts named in `targets`, and runs the probe under `sudo -n` when configured", async () => {
    const commands: string[] = [];
    const a = await sim({ host: host("a-1", "os-release-debian12.txt"), onExec: (c) => commands.push(c) });
    const b = await sim({ host: host("b-1", "os-release-debian12.txt"), onExec: (c) => commands.push(c) });
    h = await startHarness({ configJson: { sources: [sshSource([a, b], { sudo: true })] }, env: ENV });
    await discover(h);
    const r = await discover(h, { targets: ["host-2"] });
    expect(r.targets_seen).toBe(1);
    expect([a.execs, b.execs]).toEqual([1, 2]);
    expect(new Set(commands)).toEqual(new Set(["sudo -n sh -s"]));
  });

  it("imports hosts from an OpenSSH client config (HostName, Port, User, IdentityFile)", async () => {
    const keys = generateEd25519KeyPair();
    const s = await sim({ host: host("from-config", "os-release-ubuntu2404.txt"), users: { deploy: { publicKeys: [keys.public] } } });
    const keyFile = join(dir, "id_test");
    writeFileSync(keyFile, keys.private, { mode: 0o600 });
    const cfg = join(dir, "ssh_config");
    writeFileSync(cfg, `Host web-from-config\n  HostName 127.0.0.1\n  Port ${s.port}\n  User deploy\n  IdentityFile ${keyFile}\n\nHost *\n  User nobody\n`);
    h = await startHarness({ configJson: { sources: [{ kind: "ssh", id: "cfg", ssh_config: { path: cfg }, auth: { agent: false }, timeout_ms: 2000 }] } });
    const r = await discover(h);
    expect(r).toMatchObject({ status: "ok", targets_seen: 1 });
    expect(s.authAttempts.some((x) => x.user === "deploy" && x.method === "publickey")).toBe(true);
  });

  it("refuses a config with a password in clear, and one naming an unset variable", async () => {
    await expect(startHarness({ configJson: { sources: [{ kind: "ssh", hosts: [{ address: "127.0.0.1" }], auth: { password: "x" } }] } })).rejects.toThrow(
      /never put a secret in the config file/,
    );
    await expect(
      startHarness({ configJson: { sources: [{ kind: "ssh", hosts: [{ address: "127.0.0.1" }], auth: { password_env: "NOPE_NOT_SET" } }] } }),
    ).rejects.toThrow(/names NOPE_NOT_SET, but that environment variable is not set/);
  });
});

const sshd = await startSshd();
// Stopped here too, so a filtered or failed run never leaves an sshd behind.
afterAll(async () => {
  await sshd?.stop();
});

describe("a real OpenSSH sshd on 127.0.0.1", () => {
  it.skipIf(!sshd && !process.env.CI)("probes this machine over SSH with key auth and merges with the local source onto one target", async () => {
    expect(sshd, "sshd must be available in CI (.ci/run installs openssh-server)").not.toBeNull();
    const d = sshd!;
    try {
      h = await startHarness({
        configJson: {
          sources: [
            { kind: "local" },
            {
              kind: "ssh",
              id: "sshd",
              hosts: [{ address: "127.0.0.1", port: d.port, user: d.user, name: "real-sshd" }],
              auth: { agent: false, private_key_file: d.privateKeyPath },
              timeout_ms: 15000,
            },
          ],
        },
      });
      const r = await discover(h);
      expect(r.sources.find((x: S) => x.id === "sshd")).toMatchObject({ kind: "ssh", status: "ok", hosts_ok: 1 });
      // The same machine seen locally and over SSH is one target (same machine-id).
      expect(r.targets_seen).toBe(1);
      const t = (await h.client.callTool({ name: "get_target", arguments: { target: hostname() } })).structuredContent as S;
      expect(t.target).toMatchObject({ name: hostname(), memory_total_bytes: totalmem(), cpu_count: cpus().length });
      const mem = t.facts.filter((f: S) => f.key === "memory.total_bytes");
      expect(mem.map((f: S) => f.source).sort()).toEqual(["local", "sshd"]);
      expect(new Set(mem.map((f: S) => f.value))).toEqual(new Set([totalmem()]));
      expect(t.ssh_endpoints[0]).toMatchObject({ endpoint: `ssh:127.0.0.1:${d.port}`, pinned_fingerprint: d.hostKeyFingerprint });
    } finally {
      await d.stop();
    }
  });
});
