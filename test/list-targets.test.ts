// list_targets through the MCP client: every filter, every sort in both
// directions, and pagination over a fleet of 60+ targets (with many ties) that
// never skips or repeats a target.
import { afterEach, describe, expect, it } from "vitest";
import { fleetHarnessOptions, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");
const HOUR = 3600_000;
const GiB = 2 ** 30;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

/** Every page of a listing, by following next_cursor. */
async function walk(args: Record<string, unknown>, limit = 7): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await call("list_targets", { ...args, limit, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    if (++pages > 100) throw new Error("pagination does not end");
  } while (cursor);
  return items;
}

const NODE = "pve-node:lab/pve1";

/** Names in two cases, so a case-insensitive sort is told from a binary one. */
const nameOf = (i: number) => `${i % 3 === 0 ? "Node" : "node"}-${String(i).padStart(2, "0")}`;

/**
 * 66 targets: 60 plain hosts in three name-case styles (many ties on health,
 * last seen and kind), a Proxmox node with guests, and a few special cases.
 */
function bigFleet(down: Set<string>): HostSpec[] {
  const hosts: HostSpec[] = Array.from({ length: 60 }, (_, i) => {
    const name = nameOf(i);
    const spec: HostSpec = {
      name,
      address: `10.1.0.${i + 1}`,
      // Every fifth host is loaded: three health values in all (1.0, 0.9, 0.75).
      facts: { "load.5m": i % 5 === 0 ? 6.4 : i % 7 === 0 ? 13 : 0.2, tags: i % 4 === 0 ? "web,eu" : "db" },
    };
    return down.has(name) ? { name, address: spec.address!, status: "unreachable", error: "timeout" } : spec;
  });
  return [
    ...hosts,
    { name: "pve1", kind: "proxmox_node", identity: [NODE], address: "10.2.0.1" },
    { name: "ct-100", kind: "lxc", parentIdentity: NODE, identity: ["pve-guest:lab/100"], address: "10.2.0.100" },
    { name: "vm-101", kind: "vm", parentIdentity: NODE, identity: ["pve-guest:lab/101"], address: "10.2.0.101" },
    {
      name: "alp",
      address: "10.3.0.1",
      facts: { "os.id": "alpine", "os.pretty_name": "Alpine Linux v3.20", "memory.available_bytes": Math.round(0.03 * 8 * GiB) },
    },
    { name: "a_b", address: "10.3.0.2" },
    { name: "axb", address: "10.3.0.3" },
  ];
}

async function startBig(now: () => Date, down = new Set<string>()) {
  h = await startHarness({
    ...fleetHarnessOptions({ lab: () => bigFleet(down) }),
    configJson: {
      roles: [
        { role: "production", tag: "web" },
        { role: "lab", kind: "lxc" },
      ],
    },
    now,
  });
  await call("run_discovery");
}

describe("list_targets", () => {
  it("walks every sort in both directions over 66 targets without gaps or repeats, in the right order", async () => {
    let now = T0;
    const down = new Set<string>();
    await startBig(() => now, down);
    // A second run an hour later with some hosts down: last_seen takes two values, with ties on each.
    for (const i of [1, 2, 3, 10, 11]) down.add(nameOf(i));
    now = new Date(T0.getTime() + HOUR);
    await call("run_discovery");
    await call("run_health_check");
    const all = await walk({ detail: "full" }, 200);
    expect(all).toHaveLength(66);
    const ids = new Set(all.map((t) => t.id));

    const health = (t: Json, desc: boolean) => t.health_score ?? (desc ? -1 : 2);
    const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    const orders: Record<string, (a: Json, b: Json, desc: boolean) => number> = {
      name: (a, b) => cmp(a.name.toLowerCase(), b.name.toLowerCase()),
      kind: (a, b) => cmp(a.kind, b.kind) || cmp(a.name.toLowerCase(), b.name.toLowerCase()),
      health: (a, b, desc) => cmp(health(a, desc), health(b, desc)),
      last_seen: (a, b, desc) => cmp(a.last_seen_at ?? (desc ? "" : "~"), b.last_seen_at ?? (desc ? "" : "~")),
    };
    for (const [sort, order] of Object.entries(orders)) {
      for (const dir of ["asc", "desc"] as const) {
        const desc = dir === "desc";
        for (const limit of [1, 7, 25]) {
          if (limit === 1 && sort !== "health") continue; // one page per target is slow; done once
          const got = await walk({ sort, order: dir }, limit);
          expect(got.map((t) => t.id).sort()).toEqual([...ids].sort());
          expect(new Set(got.map((t) => t.id)).size).toBe(66);
          const want = [...all].sort((a, b) => {
            const c = order(a, b, desc) || cmp(a.id, b.id);
            return desc ? -c : c;
          });
          expect({ sort, dir, limit, ids: got.map((t) => t.id) }).toEqual({ sort, dir, limit, ids: want.map((t) => t.id) });
        }
      }
    }
    // The ties are real: most targets share a score and a last-seen time.
    expect(new Set(all.map((t) => t.health_score)).size).toBeLessThan(6);
    expect(new Set(all.map((t) => t.last_seen_at)).size).toBe(2);
  });

  it("filters by kind, role, lifecycle, tag, parent, OS, health, unseen hours and text", async () => {
    let now = T0;
    const down = new Set<string>();
    await startBig(() => now, down);
    down.add("node-01");
    down.add("node-02");
    now = new Date(T0.getTime() + 5 * HOUR);
    await call("run_discovery");
    await call("run_health_check");
    const names = async (args: Record<string, unknown>) => {
      const items = await walk(args, 50);
      const page = await call("list_targets", { ...args, limit: 1 });
      expect(page.total).toBe(items.length);
      return items.map((t) => t.name).sort();
    };

    expect(await names({ kind: "proxmox_node" })).toEqual(["pve1"]);
    expect(await names({ kind: "vm" })).toEqual(["vm-101"]);
    // role (from the rules): tag web -> production, lxc -> lab
    const web = Array.from({ length: 15 }, (_, k) => nameOf(k * 4));
    expect(await names({ role: "production" })).toEqual([...web].sort());
    expect(await names({ role: "lab" })).toEqual(["ct-100"]);
    expect(await names({ tag: "web" })).toEqual([...web].sort());
    expect(await names({ tag: "we" })).toEqual([]); // exact tag, not a substring
    expect(await names({ lifecycle: "unreachable" })).toEqual(["node-01", "node-02"]);
    expect(await names({ lifecycle: "active", kind: "lxc" })).toEqual(["ct-100"]);
    expect(await names({ parent: "pve1" })).toEqual(["ct-100", "vm-101"]);
    const pve = (await call("list_targets", { kind: "proxmox_node" })).items[0];
    expect(await names({ parent: pve.id })).toEqual(["ct-100", "vm-101"]);
    const guest = (await call("list_targets", { parent: "PVE1", kind: "lxc" })).items[0];
    expect(guest.parent).toEqual({ id: pve.id, name: "pve1" });
    expect(await names({ os: "alpine" })).toEqual(["alp"]);
    expect(await names({ os: "Alpine Linux v3" })).toEqual(["alp"]);
    expect((await names({ os: "bookworm" })).length).toBe(65);
    // health below: the critical load hosts (0.75), alp (memory 97%: 0.75) and the unreachable ones (0.4).
    const crit = Array.from({ length: 60 }, (_, i) => i)
      .filter((i) => i % 5 !== 0 && i % 7 === 0)
      .map(nameOf);
    expect(await names({ health_below: 0.8 })).toEqual(["alp", "node-01", "node-02", ...crit].sort());
    expect(await names({ health_below: 0.5 })).toEqual(["node-01", "node-02"]);
    expect(await names({ health_below: 0 })).toEqual([]);
    // unseen: node-01/02 were last reached 5 h ago
    expect(await names({ unseen_hours: 4 })).toEqual(["node-01", "node-02"]);
    expect(await names({ unseen_hours: 6 })).toEqual([]);
    // text: substring of name or address; LIKE wildcards are literal
    expect(await names({ text: "_" })).toEqual(["a_b"]);
    expect(await names({ text: "10.2.0.10" })).toEqual(["ct-100", "vm-101"]);
    expect(await names({ text: "NODE-5" })).toEqual(
      ["Node-51", "Node-54", "Node-57", "node-50", "node-52", "node-53", "node-55", "node-56", "node-58", "node-59"].sort(),
    );
    // Combined filters narrow together.
    expect(await names({ tag: "web", health_below: 0.95 })).toEqual(web.filter((n) => Number(n.slice(-2)) % 5 === 0 || Number(n.slice(-2)) % 7 === 0).sort());

    // brief items carry the top issue; full adds the rest.
    const brief = (await call("list_targets", { text: "alp" })).items[0];
    expect(brief).toEqual({
      id: expect.any(String),
      name: "alp",
      kind: "host",
      role: "unassigned",
      lifecycle: "active",
      address: "10.3.0.1",
      os: "Alpine Linux v3.20",
      health_score: 0.75,
      top_issue: { code: "memory_pressure", severity: "critical", message: expect.stringMatching(/^memory is 97% used/), deduction: 0.25 },
      last_seen_at: now.toISOString(),
      parent: null,
    });
    const full = (await call("list_targets", { text: "alp", detail: "full" })).items[0];
    expect(full).toMatchObject({
      tags: [],
      cpu_count: 4,
      memory_total_bytes: 8 * GiB,
      role_source: null,
      issues: [brief.top_issue],
      health_checked_at: now.toISOString(),
    });
    expect(lastAudit(h!.app)).toMatchObject({ tool: "list_targets", outcome: "ok" });
  });

  it("hides retired targets unless asked for them", async () => {
    let now = T0;
    let names = ["keep", "old"];
    h = await startHarness({
      ...fleetHarnessOptions({ lab: () => names.map((name) => ({ name })) }),
      configJson: { lifecycle: { stale_after_hours: 1, retire_after_days: 1 } },
      now: () => now,
    });
    await call("run_discovery");
    names = ["keep"];
    now = new Date(T0.getTime() + 3 * 24 * HOUR);
    await call("run_discovery");
    const def = await call("list_targets");
    expect(def.items.map((t: Json) => t.name)).toEqual(["keep"]);
    expect(def.total).toBe(1);
    expect((await call("list_targets", { lifecycle: "retired" })).items.map((t: Json) => [t.name, t.lifecycle])).toEqual([["old", "retired"]]);
  });

  it("refuses a cursor of another sort and an unknown parent, with what to do", async () => {
    await startBig(() => T0);
    const page = await call("list_targets", { sort: "health", limit: 5 });
    const res = await h!.client.callTool({ name: "list_targets", arguments: { sort: "name", cursor: page.next_cursor } });
    expect(res.isError).toBe(true);
    expect(text(res)).toBe("This cursor belongs to a list sorted by health asc: call again with that sort and order, or omit the cursor to start over.");
    const bad = await h!.client.callTool({ name: "list_targets", arguments: { cursor: "garbage" } });
    expect(text(bad)).toMatch(/^Invalid cursor/);
    const parent = await h!.client.callTool({ name: "list_targets", arguments: { parent: "nope" } });
    expect(parent.isError).toBe(true);
    expect(text(parent)).toMatch(/^No target "nope" to list the guests of\. Call list_targets with kind proxmox_node/);
    expect(lastAudit(h!.app)).toMatchObject({ tool: "list_targets", outcome: "tool_error" });
    const empty = await h!.client.callTool({ name: "list_targets", arguments: { text: "zzz" } });
    expect(text(empty)).toMatch(/^No target matches/);
  });
});
