// Change events: each discovery compares what it saw with the inventory and
// records exactly what changed (typed, with before/after), nothing more.
import { afterEach, describe, expect, it } from "vitest";
import { startHarness, text, type Harness, callOk } from "./support/harness.js";
import { container, fleetHarnessOptions, port, service, type HostSpec } from "./support/fleet.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function eventsOf(args: Record<string, unknown> = {}): Promise<S[]> {
  const out: S[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await call("get_change_events", { limit: 200, ...args, ...(cursor ? { cursor } : {}) });
    out.push(...page.events);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out.reverse(); // oldest first
}

const web = (over: Partial<HostSpec> = {}): HostSpec => ({
  name: "web1",
  services: [service("nginx.service"), service("ssh.service"), service("backup.service", { active: "inactive", sub: "dead" })],
  containers: [container("app", "ghcr.io/acme/app:1.0"), container("cache", "redis:7")],
  stacks: [{ name: "shop", status: "running(2)", configFiles: ["/srv/shop/compose.yaml"] }],
  ports: [port(22, "sshd"), port(80, "nginx")],
  ...over,
});

describe("change events", () => {
  it("records target_added once per new target and no per-entity noise on the first discovery", async () => {
    let fleet: HostSpec[] = [web(), { name: "db1" }];
    h = await startHarness(fleetHarnessOptions({ lab: () => fleet }));
    await call("run_discovery");
    const evts = await eventsOf();
    expect(evts.map((e) => `${e.type}:${e.target.name}`).sort()).toEqual(["target_added:db1", "target_added:web1"]);
    // Nothing changed: a second run records nothing.
    await call("run_discovery");
    expect(await eventsOf()).toHaveLength(2);
  });

  it("records every kind of change with before/after, and nothing for volatile readings", async () => {
    let fleet: HostSpec[] = [web(), { name: "db1" }];
    h = await startHarness(fleetHarnessOptions({ lab: () => fleet }));
    await call("run_discovery");
    const baseline = (await eventsOf()).length;

    fleet = [
      web({
        facts: { "kernel.release": "6.1.0-25-amd64", uptime_seconds: 5, "load.5m": 3.5, "memory.available_bytes": 1 },
        services: [
          service("nginx.service", { active: "failed", sub: "failed" }),
          service("ssh.service", { active: "inactive", sub: "dead" }),
          service("backup.service"),
          service("node-exporter.service"),
        ],
        containers: [
          container("app", "ghcr.io/acme/app:1.1", { status: "Up 1 second" }),
          container("cache", "redis:7", { state: "exited", status: "Exited (137) 1 second ago", exitCode: 137 }),
          container("worker", "ghcr.io/acme/worker:1.0"),
        ],
        stacks: [],
        ports: [port(22, "sshd", { pid: 999 }), port(443, "nginx")],
      }),
      { name: "db1", facts: { uptime_seconds: 999_999 } },
    ];
    await call("run_discovery");
    const evts = (await eventsOf()).slice(baseline);
    const summary = evts.map((e) => `${e.type}:${e.data.service ?? e.data.container ?? e.data.stack ?? e.data.port ?? e.data.field}`).sort();
    expect(summary).toEqual(
      [
        "target_changed:kernel",
        "service_failed:nginx.service",
        "service_stopped:ssh.service",
        "service_started:backup.service",
        "service_added:node-exporter.service",
        "container_image_changed:app",
        "container_state_changed:cache",
        "container_added:worker",
        "stack_removed:shop",
        "port_opened:443",
        "port_closed:80",
      ].sort(),
    );
    // Nothing about db1 (only its uptime moved) or about volatile readings on web1.
    expect(evts.every((e) => e.target.name === "web1")).toBe(true);
    const byType = Object.fromEntries(evts.map((e) => [`${e.type}:${e.data.service ?? e.data.container ?? e.data.port ?? e.data.field ?? ""}`, e]));
    expect(byType["target_changed:kernel"]!.data).toMatchObject({ before: "6.1.0-18-amd64", after: "6.1.0-25-amd64" });
    expect(byType["service_failed:nginx.service"]).toMatchObject({ severity: "critical", data: { before: { active: "active" }, after: { active: "failed" } } });
    expect(byType["container_image_changed:app"]!.data).toMatchObject({ before: { image: "ghcr.io/acme/app:1.0" }, after: { image: "ghcr.io/acme/app:1.1" } });
    expect(byType["container_state_changed:cache"]).toMatchObject({ severity: "warning", data: { after: { state: "exited", exit_code: 137 } } });
    expect(byType["port_opened:443"]!.data).toMatchObject({ after: { protocol: "tcp", port: 443, process: "nginx" } });

    // The stored state follows: the failed unit, the new image, the closed port.
    const t = await call("get_target", { target: "web1" });
    expect(t.services.items.find((s: S) => s.name === "nginx.service")).toMatchObject({ active: "failed", enabled: "enabled" });
    expect(t.containers.items.find((c: S) => c.name === "app")).toMatchObject({ image: "ghcr.io/acme/app:1.1", status: "Up 1 second" });
    expect(t.ports.items.map((p: S) => p.port)).toEqual([22, 443]);
    expect(t.stacks.total).toBe(0);
  });

  it("filters by target, type, severity, run and time, and pages without gaps or repeats", async () => {
    let n = 0;
    const fleet = (): HostSpec[] => [web({ ports: [port(22), ...Array.from({ length: n }, (_, i) => port(10_000 + i))] }), { name: "db1" }];
    h = await startHarness(fleetHarnessOptions({ lab: fleet }));
    await call("run_discovery");
    n = 60;
    const second = await call("run_discovery");
    const all = await eventsOf();
    expect(all.filter((e) => e.type === "port_opened")).toHaveLength(60);
    // Paging with a small page size gives the same events, in order, once each.
    const paged = await eventsOf({ limit: 7 });
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(new Set(paged.map((e) => e.id)).size).toBe(paged.length);

    expect((await eventsOf({ target: "db1" })).map((e) => e.type)).toEqual(["target_added"]);
    expect((await eventsOf({ types: ["port_opened"], run_id: second.run_id })).length).toBe(60);
    expect((await eventsOf({ min_severity: "warning" })).every((e) => e.severity !== "info")).toBe(true);
    expect(await eventsOf({ until: "2000-01-01" })).toEqual([]);
    expect((await eventsOf({ since_hours: 1 })).length).toBe(all.length);

    const unknown = await h.client.callTool({ name: "get_change_events", arguments: { target: "web" } });
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toContain("web1");
    const both = await h.client.callTool({ name: "get_change_events", arguments: { since: "2026-01-01", since_hours: 2 } });
    expect(text(both)).toContain("either");
  });

  it("treats a second source reaching a known machine as a baseline, not as added services", async () => {
    let second: HostSpec[] = [];
    h = await startHarness(fleetHarnessOptions({ a: () => [web()], b: () => second }));
    await call("run_discovery");
    second = [web()];
    await call("run_discovery");
    const evts = await eventsOf();
    expect(evts.map((e) => e.type)).toEqual(["target_added"]);
  });

  it("records a target a source stops listing as unseen, once; a run limited to some targets does not", async () => {
    let fleet: HostSpec[] = [web(), { name: "db1" }, { name: "old1" }];
    h = await startHarness(fleetHarnessOptions({ lab: () => fleet }));
    await call("run_discovery");
    fleet = [web(), { name: "db1" }];
    await call("run_discovery", { targets: ["web1"] });
    expect((await eventsOf({ types: ["target_unseen"] })).length).toBe(0);
    await call("run_discovery");
    await call("run_discovery");
    const unseen = await eventsOf({ types: ["target_unseen"] });
    expect(unseen.map((e) => e.target.name)).toEqual(["old1"]);
    expect(unseen[0]!.message).toContain("no longer listed by source lab");
    // Listed by no source any more: no longer active, still queryable.
    expect((await call("get_target", { target: "old1" })).target.lifecycle).toBe("stale");
    expect((await eventsOf({ target: "old1", types: ["lifecycle_changed"] })).map((e) => e.data)).toEqual([
      expect.objectContaining({ before: "active", after: "stale", reason: "unlisted" }),
    ]);
  });

  it("keeps what docker inspect said when a later probe could not inspect, without inventing an image change", async () => {
    let inspected = true;
    const ctr = () =>
      container(
        "app",
        "ghcr.io/acme/app:1.0",
        inspected ? { imageId: "sha256:aaa", privileged: true, networkMode: "host" } : { imageId: null, privileged: null },
      );
    h = await startHarness(fleetHarnessOptions({ lab: () => [web({ containers: [ctr()] })] }));
    await call("run_discovery");
    inspected = false;
    await call("run_discovery");
    expect((await eventsOf()).map((e) => e.type)).toEqual(["target_added"]);
    const t = await call("get_target", { target: "web1" });
    expect(t.containers.items[0]).toMatchObject({ image_id: "sha256:aaa", privileged: true, network_mode: "host" });
  });

  it("records a failed host as a lifecycle change and keeps its services without events", async () => {
    let down = false;
    h = await startHarness(fleetHarnessOptions({ lab: () => [down ? { name: "web1", status: "unreachable", error: "connection refused" } : web()] }));
    await call("run_discovery");
    down = true;
    await call("run_discovery");
    const evts = await eventsOf();
    expect(evts.map((e) => e.type)).toEqual(["target_added", "lifecycle_changed"]);
    expect(evts[1]).toMatchObject({ severity: "warning", data: { before: "active", after: "unreachable" } });
    expect((await call("get_target", { target: "web1" })).services.total).toBe(3);
  });
});
