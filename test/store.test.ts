// Crash and failure semantics of a discovery run's write: all or nothing, and a
// run left "running" by a dead process is marked interrupted at the next start.
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "../src/db/open.js";
import type { DiscoverySource, TargetObservation } from "../src/discovery/types.js";
import { deriveTargetId, startRun } from "../src/inventory/store.js";
import { startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, ScriptedRunner } from "./support/scripted-runner.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("discovery runs", () => {
  it("marks a run left running by a dead process as interrupted at start-up, and a new run can start", async () => {
    const db = openDb(":memory:");
    const orphan = startRun(db, {
      correlationId: "c-orphan",
      trigger: "cli",
      now: new Date("2026-11-23T10:00:00Z"),
      ownerPid: deadPid(),
      ownerHost: hostname(),
    });
    const remote = startRun(db, { correlationId: "c-remote", trigger: "cli", now: new Date(Date.now() - 1000), ownerPid: 1, ownerHost: "some-other-host" });
    // A run older than the longest a run may take is dead whoever owns it (a reused pid, a renamed host).
    const ancient = startRun(db, { correlationId: "c-old", trigger: "cli", now: new Date("2026-01-01T00:00:00Z"), ownerPid: process.pid, ownerHost: "x" });
    h = await startHarness({ db, runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.runs.find((r: S) => r.run_id === orphan)).toMatchObject({
      status: "interrupted",
      error: expect.stringContaining("stopped before it finished"),
    });
    expect(status.runs.find((r: S) => r.run_id === ancient)).toMatchObject({ status: "interrupted" });
    // A recent run owned by another host cannot be judged from here: it still counts as running.
    expect(status.running).toMatchObject({ run_id: remote });
    const busy = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(text(busy)).toContain(`Discovery run ${remote} is already running`);
  });

  it("writes a run all or nothing: a failing write leaves the previous inventory intact and the run failed", async () => {
    let poison = false;
    const good = new ScriptedRunner(() => ({ kind: "answer", host: debianHost() }));
    const inner = (await import("../src/discovery/sources/local.js")).createLocalSource({ id: "lab", timeoutMs: 5000, maxOutputBytes: 1 << 22, runner: good });
    const source: DiscoverySource = {
      id: "lab",
      kind: "local",
      async discover(ctx) {
        const r = await inner.discover(ctx);
        if (!poison) return r;
        const changed: TargetObservation = { ...r.targets[0]!, services: [] };
        const broken: TargetObservation = { ...r.targets[0]!, identity: [], name: "broken" };
        return { ...r, targets: [changed, broken] };
      },
    };
    h = await startHarness({ sourceFactory: () => source, runners: { lab: good } });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    poison = true;
    const res = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/^Internal error in run_discovery \(audit id \d+/);
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "web-1" } })).structuredContent as S;
    expect(t.services.total).toBe(3); // the first observation's empty service list was rolled back
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.running).toBeNull();
    expect(status.runs[0]).toMatchObject({ run_id: 2, status: "failed", error: expect.stringContaining("nothing was written") });
  });

  it("derives the same target id from the same identity, and different ids per kind", () => {
    expect(deriveTargetId("host", "machine-id:abc")).toBe(deriveTargetId("host", "machine-id:abc"));
    expect(deriveTargetId("host", "machine-id:abc")).toMatch(/^h-[0-9a-f]{12}$/);
    expect(deriveTargetId("lxc", "pve-guest:c/101")).toMatch(/^ct-/);
    expect(deriveTargetId("host", "machine-id:abc")).not.toBe(deriveTargetId("host", "machine-id:abd"));
  });
});

describe("a probe section that fails", () => {
  it("keeps the facts it knew: a locked apt does not wipe a known count of pending updates", async () => {
    const UPGRADABLE = {
      body: "#apt list\nbash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]\nlibcups2/oldstable,oldstable-security 2.4.2-3+deb12u9 amd64 [upgradable from: 2.4.2-3+deb12u8]",
    };
    const LOCKED = { body: "#apt list", rc: 100, stderr: "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" };
    let updates: { body: string; rc?: number; stderr?: string } = UPGRADABLE;
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost({ updates }) })) } });
    const facts = () =>
      Object.fromEntries(
        (h!.app.db.$client.prepare("SELECT key, value FROM facts WHERE key LIKE 'updates.%'").all() as Array<{ key: string; value: string }>).map((r) => [
          r.key,
          JSON.parse(r.value),
        ]),
      );
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(facts()).toMatchObject({ "updates.manager": "apt", "updates.pending": 2, "updates.security_pending": 1 });
    updates = LOCKED;
    const second = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(second.status).not.toBe("failed");
    expect(facts()).toMatchObject({ "updates.manager": "apt", "updates.pending": 2, "updates.security_pending": 1 });
  });
});
