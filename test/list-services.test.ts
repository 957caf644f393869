// list_services through the MCP client: systemd units, Docker containers and
// Compose stacks in one list, each runtime and filter, target resolution and
// its errors, retired targets, and pagination without gaps or repeats.
import { afterEach, describe, expect, it } from "vitest";
import { container, fleetHarnessOptions, service, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness, callOk } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");
const DAY = 24 * 3600_000;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function walk(args: Record<string, unknown>, limit: number): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages > 200) throw new Error("pagination does not end");
    const page = await call("list_services", { ...args, limit, ...(cursor ? { cursor } : {}) });
    items.push(...page.services);
    cursor = page.next_cursor ?? undefined;
    if (!cursor) return items;
    expect(page.services).toHaveLength(limit);
  }
}

const key = (s: Json) => `${s.runtime}:${s.name}@${s.target.name}`;

function fleet(withOld: boolean): HostSpec[] {
  return [
    {
      name: "web-1",
      address: "10.0.0.10",
      services: [service("nginx", { description: "A high performance web server" }), service("ssh"), service("cron", { enabled: "static" })],
      containers: [
        container("proxy", "nginx:1.25-alpine", { composeProject: "shop", composeService: "proxy", ports: "0.0.0.0:443->443/tcp" }),
        container("cache", "redis:7"),
        container("shopdb", "postgres:16", { state: "exited", status: "Exited (1) 2 hours ago", composeProject: "shop", composeService: "db" }),
      ],
      stacks: [{ name: "shop", status: "running(1), exited(1)", configFiles: ["/opt/shop/docker-compose.yml", "/opt/shop/override.yml"] }],
    },
    {
      name: "db-1",
      address: "10.0.0.20",
      services: [
        service("postgresql", { description: "PostgreSQL RDBMS" }),
        service("backup", { description: "Nightly backup", active: "failed", sub: "failed" }),
        service("ssh"),
        service("rsync", { active: "inactive", sub: "dead", enabled: "disabled" }),
      ],
    },
    {
      name: "ct-100",
      address: "10.0.1.100",
      services: [],
      containers: [container("app", "ghcr.io/acme/app:1", { composeProject: "app", composeService: "web" })],
      stacks: [{ name: "app", status: "exited(1)", configFiles: ["/srv/app/compose.yaml"] }],
    },
    ...(withOld ? [{ name: "old-1", address: "10.0.0.99", services: [service("legacy")] }] : []),
  ];
}

async function start(now: () => Date = () => T0, withOld = () => true) {
  h = await startHarness({
    ...fleetHarnessOptions({ lab: () => fleet(withOld()) }),
    configJson: { lifecycle: { stale_after_hours: 1, retire_after_days: 1 } },
    now,
  });
  await call("run_discovery");
}

describe("list_services", () => {
  it("lists units, containers and stacks in one list, each with its runtime fields, paged without gaps or repeats", async () => {
    await start();
    const all = await call("list_services", { limit: 200 });
    expect(all.services.map(key).sort()).toEqual(
      [
        "systemd:nginx@web-1",
        "systemd:ssh@web-1",
        "systemd:cron@web-1",
        "systemd:postgresql@db-1",
        "systemd:backup@db-1",
        "systemd:ssh@db-1",
        "systemd:rsync@db-1",
        "systemd:legacy@old-1",
        "docker:proxy@web-1",
        "docker:cache@web-1",
        "docker:shopdb@web-1",
        "docker:app@ct-100",
        "compose:shop@web-1",
        "compose:app@ct-100",
      ].sort(),
    );
    expect(all).toMatchObject({ total: 14, total_is_lower_bound: false, next_cursor: null });
    // Runtimes in order: systemd, docker, compose.
    const order = all.services.map((s: Json) => s.runtime);
    expect(order).toEqual([...order].sort((a: string, b: string) => ["systemd", "docker", "compose"].indexOf(a) - ["systemd", "docker", "compose"].indexOf(b)));
    const by = (k: string) => all.services.find((s: Json) => key(s) === k);
    expect(by("systemd:nginx@web-1")).toEqual({
      runtime: "systemd",
      name: "nginx",
      state: "active/running",
      target: { id: expect.stringMatching(/^h-/), name: "web-1" },
      source: "lab",
      description: "A high performance web server",
      enabled: "enabled",
      load: "loaded",
      active: "active",
      sub: "running",
    });
    expect(by("docker:proxy@web-1")).toEqual({
      runtime: "docker",
      name: "proxy",
      state: "running",
      target: { id: expect.any(String), name: "web-1" },
      source: "lab",
      image: "nginx:1.25-alpine",
      status: "Up 2 hours",
      ports: "0.0.0.0:443->443/tcp",
      compose_project: "shop",
      compose_service: "proxy",
    });
    expect(by("compose:shop@web-1")).toEqual({
      runtime: "compose",
      name: "shop",
      state: "running(1), exited(1)",
      target: { id: expect.any(String), name: "web-1" },
      source: "lab",
      config_files: ["/opt/shop/docker-compose.yml", "/opt/shop/override.yml"],
      compose_services: ["db", "proxy"],
    });
    expect(lastAudit(h!.app)).toMatchObject({ tool: "list_services", outcome: "ok" });

    for (const limit of [1, 3, 5]) {
      const paged = await walk({}, limit);
      expect(paged.map(key)).toEqual(all.services.map(key));
    }
    const res = await h!.client.callTool({ name: "list_services", arguments: { limit: 3 } });
    expect(text(res)).toBe("3 of 14 (3 systemd). More: pass next_cursor.");
  });

  it("filters by runtime, state, target and stack", async () => {
    await start();
    const names = async (args: Record<string, unknown>) => (await call("list_services", { limit: 200, ...args })).services.map(key).sort();
    expect(await names({ runtime: "systemd" })).toHaveLength(8);
    expect(await names({ runtime: "docker" })).toEqual(["docker:app@ct-100", "docker:cache@web-1", "docker:proxy@web-1", "docker:shopdb@web-1"]);
    expect(await names({ runtime: "compose" })).toEqual(["compose:app@ct-100", "compose:shop@web-1"]);

    expect(await names({ runtime: "systemd", state: "failed" })).toEqual(["systemd:backup@db-1"]);
    expect(await names({ runtime: "systemd", state: "Dead" })).toEqual(["systemd:rsync@db-1"]);
    expect(await names({ runtime: "systemd", state: "inactive" })).toEqual(["systemd:rsync@db-1"]);
    expect(await names({ runtime: "docker", state: "exited" })).toEqual(["docker:shopdb@web-1"]);
    expect(await names({ runtime: "compose", state: "exited" })).toEqual(["compose:app@ct-100", "compose:shop@web-1"]);
    expect(await names({ runtime: "compose", state: "running" })).toEqual(["compose:shop@web-1"]);
    expect(await names({ state: "exited" })).toEqual(["compose:app@ct-100", "compose:shop@web-1", "docker:shopdb@web-1"]);

    expect(await names({ target: "DB-1" })).toEqual(["systemd:backup@db-1", "systemd:postgresql@db-1", "systemd:rsync@db-1", "systemd:ssh@db-1"]);
    const ctId = (await call("list_services", { runtime: "docker", target: "10.0.1.100" })).services[0].target.id;
    expect(await names({ target: ctId })).toEqual(["compose:app@ct-100", "docker:app@ct-100"]);
    expect(await names({ target: "web-1", runtime: "docker", state: "running" })).toEqual(["docker:cache@web-1", "docker:proxy@web-1"]);

    expect(await names({ stack: "shop" })).toEqual(["compose:shop@web-1", "docker:proxy@web-1", "docker:shopdb@web-1"]);
    expect(await names({ stack: "shop", runtime: "docker", state: "exited" })).toEqual(["docker:shopdb@web-1"]);
    expect(await names({ stack: "nope" })).toEqual([]);
  });

  it("says what to do about an unknown target, a stack of systemd units and a cursor of another listing", async () => {
    await start();
    const unknown = await h!.client.callTool({ name: "list_services", arguments: { target: "web" } });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/^No target "web"\. Close or recent ones: web-1 \(h-[0-9a-f]+\)\. Pass one of those ids\.$/);
    expect(lastAudit(h!.app)).toMatchObject({ tool: "list_services", outcome: "tool_error" });

    const stack = await h!.client.callTool({ name: "list_services", arguments: { runtime: "systemd", stack: "shop" } });
    expect(stack.isError).toBe(true);
    expect(text(stack)).toMatch(/^stack filters Compose projects/);

    const page = await call("list_services", { runtime: "systemd", limit: 2 });
    const other = await h!.client.callTool({ name: "list_services", arguments: { runtime: "docker", limit: 2, cursor: page.next_cursor } });
    expect(other.isError).toBe(true);
    expect(text(other)).toMatch(/^This cursor belongs to another listing/);
    const bad = await h!.client.callTool({ name: "list_services", arguments: { cursor: "garbage" } });
    expect(text(bad)).toMatch(/^Invalid cursor/);
  });

  it("leaves out retired targets unless one is named", async () => {
    let now = T0;
    let withOld = true;
    await start(
      () => now,
      () => withOld,
    );
    withOld = false;
    now = new Date(T0.getTime() + 3 * DAY);
    await call("run_discovery");
    const all = await call("list_services", { runtime: "systemd", limit: 200 });
    expect(all.services.map(key)).not.toContain("systemd:legacy@old-1");
    expect(all.total).toBe(7);
    expect((await call("list_services", { target: "old-1" })).services.map(key)).toEqual(["systemd:legacy@old-1"]);
  });
});
