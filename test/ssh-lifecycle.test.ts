// Lifecycle over injected time, agent and passphrase-protected key auth,
// progress and cancellation of SSH probes — all through the MCP client against
// loopback ssh2 hosts.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { auditRows, startHarness, type Harness } from "./support/harness.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PASSWORD = "lifecycle-pw-42";
let h: Harness | undefined;
const sims: SimHost[] = [];
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-life-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function sim(opts: Parameters<typeof startSimHost>[0] = {}) {
  const s = await startSimHost({ users: { root: { password: PASSWORD } }, ...opts });
  sims.push(s);
  return s;
}

const HOUR = 3600_000;

describe("lifecycle", () => {
  it("active -> unreachable on failure -> stale after 24 h unseen -> retired after the retention; each a recorded event, nothing deleted", async () => {
    let clock = new Date("2026-11-01T00:00:00Z").getTime();
    const s = await sim({ name: "aging" });
    h = await startHarness({
      now: () => new Date(clock),
      configJson: {
        sources: [
          {
            kind: "ssh",
            hosts: [{ address: s.address, port: s.port }],
            auth: { agent: false, password_env: "P" },
            timeout_ms: 2000,
            retries: 0,
            circuit_breaker: { failures: 100 },
          },
        ],
        lifecycle: { stale_after_hours: 24, retire_after_days: 7 },
      },
      env: { P: PASSWORD },
    });
    const run = async () => (await h!.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    const lifecycle = async () => ((await h!.client.callTool({ name: "get_target", arguments: { target: "aging" } })).structuredContent as S).target.lifecycle;

    await run();
    expect(await lifecycle()).toBe("active");
    s.setFault("refuse");
    clock += 1 * HOUR;
    await run();
    expect(await lifecycle()).toBe("unreachable");
    clock += 24 * HOUR;
    await run();
    expect(await lifecycle()).toBe("stale");
    clock += 7 * 24 * HOUR;
    await run();
    expect(await lifecycle()).toBe("retired");

    const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets.total).toBe(0);
    expect(ov.targets.by_lifecycle).toEqual({ retired: 1 });
    expect(ov.services.total).toBe(0);
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "aging" } })).structuredContent as S;
    expect(t.services.total).toBeGreaterThan(0); // still queryable, nothing deleted
    const events = h.app.db.$client.prepare("SELECT type, data FROM events WHERE type = 'lifecycle_changed' ORDER BY id").all() as Array<{
      type: string;
      data: string;
    }>;
    expect(events.map((e) => JSON.parse(e.data) as S).map((d) => `${d.before}->${d.after}`)).toEqual([
      "active->unreachable",
      "unreachable->stale",
      "stale->retired",
    ]);

    // Back on the network: active again.
    s.setFault("none");
    clock += HOUR;
    await run();
    expect(await lifecycle()).toBe("active");
  });
});

describe("auth", () => {
  it("authenticates with a passphrase-protected key file, the passphrase from a named environment variable", async () => {
    const key = join(dir, "id_pass");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse battery", "-f", key]);
    const s = await sim({ name: "keyed", users: { ops: { publicKeys: [readFileSync(`${key}.pub`, "utf8").trim()] } } });
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "ssh",
            user: "ops",
            hosts: [{ address: s.address, port: s.port }],
            auth: { agent: false, private_key_file: key, passphrase_env: "KEY_PASS" },
            timeout_ms: 3000,
          },
        ],
      },
      env: { KEY_PASS: "correct horse battery" },
    });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r).toMatchObject({ status: "ok", targets_seen: 1 });
    expect(JSON.stringify(auditRows(h.app)) + h.logs.join("")).not.toContain("correct horse battery");
  });

  it("authenticates through ssh-agent (SSH_AUTH_SOCK)", async () => {
    const key = join(dir, "id_agent");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const sock = join(dir, "agent.sock");
    const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50; i++) {
        try {
          execFileSync("ssh-add", [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const s = await sim({ name: "agented", users: { ops: { publicKeys: [readFileSync(`${key}.pub`, "utf8").trim()] } } });
      h = await startHarness({
        configJson: { sources: [{ kind: "ssh", user: "ops", hosts: [{ address: s.address, port: s.port }], auth: { agent: true }, timeout_ms: 3000 }] },
        env: { SSH_AUTH_SOCK: sock },
      });
      const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
      expect(r).toMatchObject({ status: "ok", targets_seen: 1 });
      expect(s.authAttempts.some((a) => a.user === "ops" && a.method === "publickey")).toBe(true);
    } finally {
      agent.kill();
    }
  });
});

describe("progress and cancellation over SSH", () => {
  it("reports hosts done/total, and a cancelled call aborts connections in flight promptly", async () => {
    const quick = await Promise.all([0, 1, 2].map((i) => sim({ name: `p-${i}` })));
    h = await startHarness({
      configJson: {
        sources: [
          { kind: "ssh", hosts: quick.map((s) => ({ address: s.address, port: s.port })), auth: { agent: false, password_env: "P" }, timeout_ms: 3000 },
        ],
      },
      env: { P: PASSWORD },
    });
    const seen: Array<{ progress: number; total?: number }> = [];
    await h.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
    expect(seen.map((p) => `${p.progress}/${p.total}`)).toEqual(["1/3", "2/3", "3/3"]);
    await h.close();

    const hung = await Promise.all([0, 1].map((i) => sim({ name: `hang-${i}`, fault: "hang_after_auth" })));
    h = await startHarness({
      configJson: {
        sources: [
          { kind: "ssh", hosts: hung.map((s) => ({ address: s.address, port: s.port })), auth: { agent: false, password_env: "P" }, timeout_ms: 60_000 },
        ],
      },
      env: { P: PASSWORD },
    });
    const controller = new AbortController();
    const started = performance.now();
    const call = h.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(call).rejects.toThrow();
    for (let i = 0; i < 100 && !auditRows(h.app).some((a) => a.tool === "run_discovery"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(performance.now() - started).toBeLessThan(5000);
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.running).toBeNull();
    expect(status.runs[0]).toMatchObject({ status: "cancelled" });
  });
});
