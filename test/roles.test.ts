// Roles through the MCP client: config rules (name glob, tag, pool, source,
// kind; first match wins), the config host entry above the rules, a manual role
// above both until cleared, and a role_changed event for every transition.
//
// Discovery applies the rules after every run's writes; some tests also call
// applyRoles directly to show that re-applying changes nothing.
import { afterEach, describe, expect, it } from "vitest";
import type { RoleRule } from "../src/config.js";
import { applyRoles } from "../src/inventory/roles.js";
import { fleetHarnessOptions, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function roles(): Promise<Map<string, { role: string; source: string | null; reason: string | null }>> {
  const page = await call("list_targets", { detail: "full", limit: 200 });
  return new Map(page.items.map((t: Json) => [t.name, { role: t.role, source: t.role_source, reason: t.role_reason }]));
}

async function roleEvents(): Promise<Json[]> {
  const out = await call("get_change_events", { types: ["role_changed"], limit: 200 });
  return [...out.events].reverse();
}

const RULES = [
  { role: "production", name: "web-*" },
  { role: "staging", tag: "stage" },
  { role: "lab", pool: "lab-pool" },
  { role: "monitoring", source: "mon" },
  { role: "gateway", kind: "proxmox_node" },
  { role: "development", name: "dev-?" },
  { role: "testing", name: "*", kind: "lxc", tag: "ci" },
];

function labFleet(): HostSpec[] {
  return [
    { name: "Web-01" },
    { name: "stage-box", facts: { tags: "eu,stage" } },
    { name: "web-9", facts: { tags: "stage" } },
    { name: "guest-1", kind: "lxc", facts: { "pve.pool": "lab-pool" } },
    { name: "pve1", kind: "proxmox_node" },
    { name: "dev-1" },
    { name: "dev-12" },
    { name: "ci-runner", kind: "lxc", facts: { tags: "ci" } },
    { name: "ci-host", facts: { tags: "ci" } },
    { name: "web-db", facts: { role: "testing" } },
    { name: "plain", facts: { role: null } },
  ];
}

async function start(extra: Record<string, () => HostSpec[]> = {}, now = () => T0) {
  h = await startHarness({ ...fleetHarnessOptions({ lab: labFleet, mon: () => [{ name: "prom" }], ...extra }), configJson: { roles: RULES }, now });
  await call("run_discovery");
  // Discovery applies the rules in its own transaction.
  const changed = (h.app.db.$client.prepare("SELECT count(*) AS n FROM events WHERE type = 'role_changed'").get() as { n: number }).n;
  return { changed };
}

describe("roles", () => {
  it("derives roles from config rules in order, the host entry above them, unassigned when nothing matches", async () => {
    const { changed } = await start();
    const r = await roles();
    expect(Object.fromEntries([...r].map(([n, d]) => [n, [d.role, d.source, d.reason]]))).toEqual({
      "Web-01": ["production", "rule", "rule 1: name=web-*"], // glob is case-insensitive
      "stage-box": ["staging", "rule", "rule 2: tag=stage"],
      "web-9": ["production", "rule", "rule 1: name=web-*"], // rule 1 before rule 2
      "guest-1": ["lab", "rule", "rule 3: pool=lab-pool"],
      prom: ["monitoring", "rule", "rule 4: source=mon"],
      pve1: ["gateway", "rule", "rule 5: kind=proxmox_node"],
      "dev-1": ["development", "rule", "rule 6: name=dev-?"],
      "dev-12": ["unassigned", null, null], // ? is exactly one character
      "ci-runner": ["testing", "rule", "rule 7: name=*, tag=ci, kind=lxc"],
      "ci-host": ["unassigned", null, null], // every condition must hold: not an lxc
      "web-db": ["testing", "config", "host entry in source lab"], // the host entry beats rule 1
      plain: ["unassigned", null, null], // a null role in the host entry is no role
    });
    expect(changed).toBe(9);
    const events = await roleEvents();
    expect(events).toHaveLength(9);
    const web = events.find((e) => e.target.name === "Web-01");
    expect(web).toMatchObject({
      severity: "warning", // production involved
      run_id: 1,
      message: "Web-01: role unassigned -> production (rule 1: name=web-*)",
      data: { before: "unassigned", after: "production", source: "rule", reason: "rule 1: name=web-*" },
    });
    expect(events.find((e) => e.target.name === "dev-1")).toMatchObject({ severity: "info", data: { before: "unassigned", after: "development" } });

    // Applying the same rules again changes nothing and records nothing.
    expect(applyRoles(h!.app.db, h!.app.config.roles, { now: T0, runId: 2 })).toEqual({ changed: 0 });
    expect(await roleEvents()).toHaveLength(9);

    // New rules: roles move, each move an event with before and after.
    const next: RoleRule[] = [{ role: "staging", name: "web-*" }];
    expect(applyRoles(h!.app.db, next, { now: T0, runId: 3 })).toEqual({ changed: 8 });
    const after = await roles();
    expect(after.get("Web-01")).toEqual({ role: "staging", source: "rule", reason: "rule 1: name=web-*" });
    expect(after.get("stage-box")).toEqual({ role: "unassigned", source: null, reason: null });
    expect(after.get("web-db")).toEqual({ role: "testing", source: "config", reason: "host entry in source lab" });
    const last = (await roleEvents()).find((e) => e.target.name === "stage-box" && e.run_id === 3);
    expect(last).toMatchObject({
      message: "stage-box: role staging -> unassigned (no rule or host entry gives one)",
      data: { before: "staging", after: "unassigned", source: null },
    });
  });

  it("a manual role wins over rules and host entries until cleared, and every change is an event", async () => {
    await start();
    const before = (await roleEvents()).length;
    const set = await call("set_target_role", { target: "web-01", role: "lab" });
    expect(set).toMatchObject({
      target: { name: "Web-01" },
      before: { role: "production", source: "rule", reason: "rule 1: name=web-*" },
      after: { role: "lab", source: "manual" },
      changed: true,
    });
    expect(set.after.reason).toBe(`set with set_target_role at ${T0.toISOString()}`);
    expect(lastAudit(h!.app)).toMatchObject({ tool: "set_target_role", outcome: "ok" });
    // Idempotent: the same call again writes nothing and records nothing.
    const again = await call("set_target_role", { target: "web-01", role: "lab" });
    expect(again.changed).toBe(false);
    expect(text(await h!.client.callTool({ name: "set_target_role", arguments: { target: "web-01", role: "lab" } }))).toMatch(/already has role lab/);

    // Manual also beats a host entry.
    await call("set_target_role", { target: "web-db", role: "production" });
    // A discovery and a re-application of the rules leave manual roles alone.
    await call("run_discovery");
    let r = await roles();
    expect(r.get("Web-01")!.role).toBe("lab");
    expect(r.get("web-db")).toMatchObject({ role: "production", source: "manual" });

    // Clearing returns each to what the rules and host entry give.
    const cleared = await call("set_target_role", { target: "Web-01", clear: true });
    expect(cleared).toMatchObject({
      before: { role: "lab", source: "manual" },
      after: { role: "production", source: "rule", reason: "rule 1: name=web-*" },
      changed: true,
    });
    await call("set_target_role", { target: "web-db", clear: true });
    r = await roles();
    expect(r.get("web-db")).toEqual({ role: "testing", source: "config", reason: "host entry in source lab" });

    const events = (await roleEvents()).slice(before);
    expect(events.map((e) => [e.target.name, e.data.before, e.data.after, e.data.source])).toEqual([
      ["Web-01", "production", "lab", "manual"],
      ["web-db", "testing", "production", "manual"],
      ["Web-01", "lab", "production", "rule"],
      ["web-db", "production", "testing", "config"],
    ]);
    expect(events.every((e) => e.run_id === null)).toBe(true);

    // Setting by hand the role a rule already gives still pins it (source manual) and says so.
    const pin = await call("set_target_role", { target: "dev-1", role: "development" });
    expect(pin).toMatchObject({ before: { source: "rule" }, after: { role: "development", source: "manual" }, changed: true });
    expect((await roleEvents()).at(-1)).toMatchObject({ data: { before: "development", after: "development", source: "manual", before_source: "rule" } });
  });

  it("refuses an unknown or ambiguous target, and a call without exactly one of role and clear", async () => {
    await start({
      twins: () => [
        { name: "twin", identity: ["machine-id:twin-a"] },
        { name: "twin", identity: ["machine-id:twin-b"] },
      ],
    });
    const fail = async (args: Record<string, unknown>) => {
      const res = await h!.client.callTool({ name: "set_target_role", arguments: args });
      expect(res.isError).toBe(true);
      expect(lastAudit(h!.app)).toMatchObject({ tool: "set_target_role", outcome: expect.stringMatching(/^(tool_error|rejected)$/) });
      return text(res);
    };
    expect(await fail({ target: "twin", role: "lab" })).toMatch(
      /^"twin" matches 2 targets: twin \(h-[0-9a-f]+, host\), twin \(h-[0-9a-f]+, host\)\. Pass the id\.$/,
    );
    expect(await fail({ target: "web", role: "lab" })).toMatch(/^No target "web"\. Close or recent ones: .*Web-01 \(h-/);
    expect(await fail({ target: "plain" })).toMatch(/Give a `role` \(one of production, staging, .*\) or `clear: true`/);
    expect(await fail({ target: "plain", role: "lab", clear: true })).toMatch(/not both/);
    expect(await fail({ target: "plain", role: "boss" })).toMatch(/^Invalid arguments for set_target_role: role/);
    expect((await roles()).get("plain")!.role).toBe("unassigned");
  });
});
