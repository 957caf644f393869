// Every tool through a real MCP Client against a real server and database,
// asserting structuredContent, isError and the audit row of each call.
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../src/inventory/audit.js";
import { auditRows, lastAudit, startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, fixture, ScriptedRunner } from "./support/scripted-runner.js";

let h: Harness | undefined;
afterEach(async () => {
  if (h) {
    expect(verifyAuditChain(h.app.db).ok).toBe(true);
    await h.close();
  }
  h = undefined;
});

const memTotalFromFixture = () => Number(/^MemTotal:\s+(\d+) kB/m.exec(fixture("proc-meminfo.txt"))![1]) * 1024;
const containerLines = () => fixture("docker-ps-all-no-trunc.jsonl").trim().split("\n").length;
const composeProjects = () => (JSON.parse(fixture("docker-compose-ls.json")) as unknown[]).length;

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("tools/list", () => {
  it("lists the tools with all four hints, a description and an object output schema", async () => {
    h = await startHarness();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "accept_host_key",
      "compare_snapshots",
      "create_snapshot",
      "doctor",
      "export_prometheus_targets",
      "generate_fleet_report",
      "get_change_events",
      "get_discovery_config",
      "get_discovery_status",
      "get_fleet_overview",
      "get_inventory_statistics",
      "get_target",
      "list_services",
      "list_snapshots",
      "list_targets",
      "query_audit_log",
      "run_discovery",
      "run_health_check",
      "search_fleet",
      "set_target_role",
      "update_discovery_config",
    ]);
    for (const t of tools) {
      expect(t.description!.length).toBeGreaterThan(40);
      for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
        expect(typeof t.annotations?.[hint], `${t.name}.${hint}`).toBe("boolean");
      }
      expect(t.outputSchema?.type).toBe("object");
      expect(t.outputSchema).not.toHaveProperty("anyOf");
      expect(t.inputSchema.type).toBe("object");
    }
  });

  it("matches the committed surface snapshot", async () => {
    h = await startHarness();
    const { tools } = await h.client.listTools();
    await expect(JSON.stringify(tools, null, 2) + "\n").toMatchFileSnapshot("./__snapshots__/tools-list.json");
  });
});

describe("run_discovery, get_fleet_overview, get_target", () => {
  it("discovers a host and shows its facts, services, containers, stacks, ports and addresses", async () => {
    const runner = new ScriptedRunner(() => ({ kind: "answer", host: debianHost() }));
    h = await startHarness({ runners: { lab: runner } });

    const run = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(run.isError).toBeFalsy();
    const r = run.structuredContent as S;
    expect(r).toMatchObject({ run_id: 1, status: "ok", targets_seen: 1, targets_added: 1, targets_unreachable: 0, problems: [] });
    expect(r.sources).toEqual([expect.objectContaining({ id: "lab", kind: "local", status: "ok", hosts_ok: 1, hosts_failed: 0 })]);
    expect(text(run)).toContain("Discovery run 1 ok");
    const audit = lastAudit(h.app);
    expect(audit).toMatchObject({ tool: "run_discovery", outcome: "ok", client_name: "fleet-test-client", client_version: "9.9.9" });
    // One correlation id links the audit row, the run row and the run's log lines.
    expect(h.app.db.$client.prepare("SELECT correlation_id FROM discovery_runs WHERE id = 1").get()).toEqual({ correlation_id: audit.correlation_id });
    expect(h.logs.some((l) => l.includes('"msg":"discovery finished"') && l.includes(`"cid":"${String(audit.correlation_id)}"`))).toBe(true);

    const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets).toEqual({ total: 1, by_kind: { host: 1 }, by_lifecycle: { active: 1 }, by_os: { debian: 1 } });
    expect(ov.totals.cpu_count).toBe(4);
    expect(ov.totals.memory_bytes).toBe(memTotalFromFixture());
    expect(ov.services).toEqual({ total: 3, running: 2, failed: 1 });
    expect(ov.containers.total).toBe(containerLines());
    expect(ov.stacks).toBe(composeProjects());
    expect(ov.last_discovery).toMatchObject({ run_id: 1, status: "ok" });

    const got = await h.client.callTool({ name: "get_target", arguments: { target: "WEB-1" } });
    expect(got.isError).toBeFalsy();
    const t = got.structuredContent as S;
    expect(t.target).toMatchObject({
      name: "web-1",
      kind: "host",
      lifecycle: "active",
      os: "Debian GNU/Linux 12 (bookworm)",
      kernel: "6.1.0-13-amd64",
      arch: "x86_64",
      cpu_count: 4,
    });
    expect(t.target.id).toMatch(/^h-[0-9a-f]{12}$/);
    const fact = (k: string) => t.facts.find((f: S) => f.key === k);
    expect(fact("machine_id")).toMatchObject({ value: "0123456789abcdef0123456789abcdef", source: "lab" });
    expect(fact("memory.total_bytes").value).toBe(memTotalFromFixture());
    expect(fact("docker.status").value).toBe("ok");
    expect(t.services.items.map((s: S) => s.name)).toEqual(["backup.service", "nginx.service", "ssh.service"]);
    expect(t.containers.items.find((c: S) => c.name === "homelab-db-1")).toMatchObject({
      image: "postgres:16",
      state: "running",
      compose_project: "homelab",
      compose_service: "db",
    });
    expect(t.stacks.items[0]).toMatchObject({ name: "yellow", status: "running(2)" });
    expect(t.ports.items).toContainEqual(expect.objectContaining({ protocol: "tcp", address: "127.0.0.1", port: 8080, process: "python3", pid: 7863 }));
    expect(t.interfaces.items.find((i: S) => i.name === "lo").addresses).toContainEqual({ family: "inet", address: "127.0.0.1", prefixlen: 8, scope: "host" });
    expect(t.filesystems.items.find((f: S) => f.mount === "/")).toMatchObject({ fstype: "ext4", size_bytes: 264212084 * 1024 });
    expect(t.last_probe).toMatchObject({ run_id: 1, source: "lab", status: "ok" });
    expect(t.last_probe.sections.docker).toEqual({ status: "ok", exit_code: 0, reason: null, detail: null });
    expect(text(got)).toContain("web-1");

    // The same target is found by id and by address.
    const byId = (await h.client.callTool({ name: "get_target", arguments: { target: t.target.id } })).structuredContent as S;
    expect(byId.target.id).toBe(t.target.id);
    const byAddr = (await h.client.callTool({ name: "get_target", arguments: { target: "127.0.0.1" } })).structuredContent as S;
    expect(byAddr.target.id).toBe(t.target.id);
  });

  it("keeps one target per machine across runs and sources, with each fact's source", async () => {
    const host = debianHost();
    h = await startHarness({
      runners: {
        a: new ScriptedRunner(() => ({ kind: "answer", host })),
        b: new ScriptedRunner(() => ({ kind: "answer", host: { ...host, hostname: { body: "web-1.lan" }, cpu_count: { body: "8" } } })),
      },
    });
    const first = (await h.client.callTool({ name: "run_discovery", arguments: { sources: ["a"] } })).structuredContent as S;
    const both = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(first.targets_added).toBe(1);
    expect(both).toMatchObject({ targets_seen: 1, targets_added: 0 });
    const ov = (await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets.total).toBe(1);
    const detail = (await h.client.callTool({ name: "get_target", arguments: { target: "127.0.0.1" } })).structuredContent as S;
    const cpu = detail.facts.filter((f: S) => f.key === "cpu.count");
    expect(cpu).toEqual([expect.objectContaining({ source: "a", value: 4 }), expect.objectContaining({ source: "b", value: 8 })]);
  });

  it("keeps the last known facts when a host becomes unreachable, and says so", async () => {
    let reachable = true;
    const runner = new ScriptedRunner(() =>
      reachable ? { kind: "answer", host: debianHost() } : { kind: "throw", code: "unreachable", message: "connect ECONNREFUSED 127.0.0.1:22" },
    );
    h = await startHarness({ runners: { lab: runner } });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    reachable = false;
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r).toMatchObject({ status: "failed", targets_unreachable: 1 });
    expect(r.problems).toEqual([
      { target_id: expect.stringMatching(/^h-/), name: "web-1", source: "lab", status: "unreachable", error: "connect ECONNREFUSED 127.0.0.1:22" },
    ]);
    expect((await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent).toMatchObject({ targets: { total: 1 } });
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "web-1" } })).structuredContent as S;
    expect(t.target).toMatchObject({ lifecycle: "unreachable", last_status: "unreachable", cpu_count: 4 });
    expect(t.services.total).toBe(3);
    expect(t.containers.total).toBe(containerLines());
  });

  it("records a failed section without losing the others or the earlier data", async () => {
    let dockerBroken = false;
    const runner = new ScriptedRunner(() => ({
      kind: "answer",
      host: debianHost(dockerBroken ? { docker: { body: "", rc: 1, stderr: "Error response from daemon: something broke" } } : {}),
    }));
    h = await startHarness({ runners: { lab: runner } });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    dockerBroken = true;
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r.status).toBe("partial");
    expect(r.problems[0]).toMatchObject({ status: "partial", error: expect.stringContaining("docker") });
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "web-1" } })).structuredContent as S;
    expect(t.last_probe.sections.docker).toMatchObject({ status: "failed", exit_code: 1, detail: "Error response from daemon: something broke" });
    expect(t.containers.total).toBe(containerLines());
    expect(t.services.total).toBe(3);
  });

  it("records docker absent, docker permission denied and systemd not running as facts, not failures", async () => {
    const runner = new ScriptedRunner(() => ({
      kind: "answer",
      host: debianHost({
        systemd: { body: "#not-running" },
        docker: { body: "", rc: 1, stderr: fixture("docker-ps-permission-denied.txt") },
        compose: { body: "#not-installed" },
      }),
    }));
    h = await startHarness({ runners: { lab: runner } });
    const r = (await h.client.callTool({ name: "run_discovery", arguments: {} })).structuredContent as S;
    expect(r.status).toBe("ok");
    const t = (await h.client.callTool({ name: "get_target", arguments: { target: "web-1" } })).structuredContent as S;
    expect(t.last_probe.sections.systemd).toMatchObject({ status: "unavailable", reason: "systemd_not_running" });
    expect(t.last_probe.sections.docker).toMatchObject({ status: "unavailable", reason: "permission_denied" });
    expect(t.facts.find((f: S) => f.key === "docker.status").value).toBe("permission_denied");
    expect(t.facts.find((f: S) => f.key === "systemd.status").value).toBe("not_running");
  });

  it("answers an unknown target with close names, as an actionable error", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    const empty = await h.client.callTool({ name: "get_target", arguments: { target: "web" } });
    expect(empty.isError).toBe(true);
    expect(text(empty)).toContain("Call run_discovery first");
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    const res = await h.client.callTool({ name: "get_target", arguments: { target: "web" } });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/No target "web"\. Close or recent ones: web-1 \(h-[0-9a-f]{12}\)/);
    expect(lastAudit(h.app)).toMatchObject({ tool: "get_target", outcome: "tool_error" });
  });
});

describe("run_discovery: progress, concurrency, cancellation, unknown sources", () => {
  it("sends progress notifications when the client gives a progress token", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    const seen: Array<{ progress: number; total?: number }> = [];
    const res = await h.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
    expect(res.isError).toBeFalsy();
    expect(seen).toContainEqual(expect.objectContaining({ progress: 1, total: 1 }));
  });

  it("refuses a second run while one is going, naming the running run", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost(), delayMs: 300 })) } });
    const first = h.client.callTool({ name: "run_discovery", arguments: {} });
    await new Promise((r) => setTimeout(r, 50));
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.running).toMatchObject({ run_id: 1 });
    const second = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(second.isError).toBe(true);
    expect(text(second)).toMatch(/Discovery run 1 is already running .*get_discovery_status/);
    expect(((await first).structuredContent as S).status).toBe("ok");
    const rows = auditRows(h.app).filter((a) => a.tool === "run_discovery");
    expect(rows.map((a) => a.outcome).sort()).toEqual(["ok", "tool_error"]);
  });

  it("honours cancellation: the call ends, the run is marked cancelled, the audit row says cancelled", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "hang" })) } });
    const controller = new AbortController();
    const call = h.client.callTool({ name: "run_discovery", arguments: {} }, undefined, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort("user gave up");
    await expect(call).rejects.toThrow();
    // The server finishes the cancelled run in the background; wait for its audit row.
    for (let i = 0; i < 100 && !auditRows(h.app).some((a) => a.tool === "run_discovery"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(lastAudit(h.app)).toMatchObject({ tool: "run_discovery", outcome: "cancelled" });
    const status = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(status.running).toBeNull();
    expect(status.runs[0]).toMatchObject({ run_id: 1, status: "cancelled", targets_seen: 0 });
  });

  it("rejects an unknown source id and lists the configured ones", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    const res = await h.client.callTool({ name: "run_discovery", arguments: { sources: ["nope"] } });
    expect(res.isError).toBe(true);
    expect(text(res)).toBe('Unknown source "nope". Configured sources: lab.');
    expect(lastAudit(h.app)).toMatchObject({ outcome: "tool_error" });
  });
});

describe("get_discovery_status", () => {
  it("shows recent runs newest first with per-source results", async () => {
    h = await startHarness({ runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    const before = (await h.client.callTool({ name: "get_discovery_status", arguments: {} })).structuredContent as S;
    expect(before).toEqual({
      running: null,
      configured_sources: [{ id: "lab", kind: "local" }],
      runs: [],
      next_cursor: null,
      schedule: expect.objectContaining({ enabled: false, discovery: null, recent_durations_ms: [] }),
    });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    const res = await h.client.callTool({ name: "get_discovery_status", arguments: { limit: 1 } });
    const s = res.structuredContent as S;
    expect(s.runs).toHaveLength(1);
    expect(s.runs[0]).toMatchObject({ run_id: 2, trigger: "tool", status: "ok", targets_seen: 1, targets_added: 0 });
    expect(s.runs[0].sources).toEqual([expect.objectContaining({ id: "lab", status: "ok", hosts_ok: 1, warnings: [] })]);
    expect(text(res)).toContain("Last run 2: ok");
    // The next page holds the older run, and nothing after it.
    const next = (await h.client.callTool({ name: "get_discovery_status", arguments: { limit: 1, cursor: s.next_cursor } })).structuredContent as S;
    expect(next.runs.map((r: S) => r.run_id)).toEqual([1]);
    expect(next.next_cursor).toBeNull();
  });
});

describe("query_audit_log", () => {
  it("pages through every call without gaps or repeats, and filters", async () => {
    h = await startHarness();
    for (let i = 0; i < 5; i++) await h.client.callTool({ name: "get_fleet_overview", arguments: {} });
    await h.client.callTool({ name: "nope", arguments: {} });
    const ids: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = (await h.client.callTool({ name: "query_audit_log", arguments: { limit: 2, ...(cursor ? { cursor } : {}) } })).structuredContent as S;
      ids.push(...res.entries.map((e: S) => e.id));
      cursor = res.next_cursor ?? undefined;
      if (!cursor) break;
    }
    // 6 calls before the first query, plus one row per query page written before later pages read.
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 6)).toEqual([...ids.slice(0, 6)].sort((a, b) => b - a));
    expect(ids).toEqual(expect.arrayContaining([1, 2, 3, 4, 5, 6]));

    const unknown = (await h.client.callTool({ name: "query_audit_log", arguments: { outcome: "unknown_tool" } })).structuredContent as S;
    expect(unknown.entries).toEqual([
      expect.objectContaining({ tool: "nope", outcome: "unknown_tool", client: { name: "fleet-test-client", version: "9.9.9" } }),
    ]);
    const overview = (await h.client.callTool({ name: "query_audit_log", arguments: { tool: "get_fleet_overview", limit: 200 } })).structuredContent as S;
    expect(overview.entries).toHaveLength(5);
    const future = (await h.client.callTool({ name: "query_audit_log", arguments: { since: "2999-01-01T00:00:00Z" } })).structuredContent as S;
    expect(future.entries).toEqual([]);
    // Dates and offset-less times are accepted (as UTC), as agents write them.
    for (const since of ["2000-01-01", "2000-01-01T00:00", "2000-01-01 00:00:00", "2000-01-01T00:00:00+02:00"]) {
      const r = await h.client.callTool({ name: "query_audit_log", arguments: { since, limit: 1 } });
      expect(r.isError, since).toBeFalsy();
      expect((r.structuredContent as S).entries).toHaveLength(1);
    }
  });

  it("rejects a forged cursor and an inverted time range with a fix", async () => {
    h = await startHarness();
    const bad = await h.client.callTool({ name: "query_audit_log", arguments: { cursor: "garbage" } });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain("pass back the exact next_cursor");
    const inverted = await h.client.callTool({ name: "query_audit_log", arguments: { since: "2026-02-01T00:00:00Z", until: "2026-01-01T00:00:00Z" } });
    expect(text(inverted)).toContain("`since` is after `until`");
  });
});
