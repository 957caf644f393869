// `serve --http`: the SDK's Streamable HTTP client against the real server on
// 127.0.0.1 (port 0), over a real database file. Bearer tokens (401), Host and
// Origin (403), sessions owned by the token that opened them, audit rows that
// carry the session id and the token's NAME (and never its value, anywhere in
// the database file or the logs), /healthz, /metrics, the http_sd endpoint, and
// the built CLI started with --http and stopped with SIGTERM.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "../src/config.js";
import { openDb } from "../src/db/open.js";
import { startHttpServer, type HttpServerHandle, type HttpServerOptions } from "../src/http/server.js";
import { verifyAuditChain } from "../src/inventory/audit.js";
import { VERSION } from "../src/version.js";
import { fleetFactory, type HostSpec } from "./support/fleet.js";
import { auditRows, startHarness, text, type Harness } from "./support/harness.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type S = Record<string, any>;

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");

const TOKEN_ALICE = `alice-${randomBytes(24).toString("hex")}`;
const TOKEN_BOB = `bob-${randomBytes(24).toString("hex")}`;
const CONSOLE_ORIGIN = "https://console.example.test";

const FLEET: HostSpec[] = [
  { name: "web-1", address: "10.0.0.11" },
  { name: "web-2", address: "10.0.0.12" },
  { name: "db-1", address: "10.0.0.21" },
  { name: "down-1", address: "10.0.0.99", status: "unreachable", error: "connect ETIMEDOUT" },
];

const TargetGroups = z.array(
  z
    .object({
      targets: z.array(z.string().regex(/^[^\s]+:\d{1,5}$/)).min(1),
      labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string().min(1)),
    })
    .strict(),
);

let dir: string;
let h: Harness | undefined;
let srv: HttpServerHandle | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  await srv?.close();
  srv = undefined;
  if (h) {
    expect(verifyAuditChain(h.app.db).ok).toBe(true);
    await h.close();
  }
  h = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(http: Record<string, unknown> = {}, opts: HttpServerOptions = {}, extra: Record<string, unknown> = {}, now?: () => Date) {
  dir = mkdtempSync(join(tmpdir(), "fleet-http-"));
  h = await startHarness({
    configJson: {
      http: {
        tokens: [
          { name: "alice", token_env: "TOK_ALICE" },
          { name: "bob", token_env: "TOK_BOB" },
        ],
        allowed_origins: [CONSOLE_ORIGIN],
        ...http,
      },
      ...extra,
    },
    env: { TOK_ALICE: TOKEN_ALICE, TOK_BOB: TOKEN_BOB },
    sourceFactory: fleetFactory({ local: () => FLEET }),
    db: openDb(join(dir, "fleet.db")),
    ...(now ? { now } : {}),
  });
  srv = await startHttpServer(h.app, { host: "127.0.0.1", port: 0, ...opts });
  return srv;
}

async function connect(url: string, token: string | null, name = "http-test-client", headers: Record<string, string> = {}) {
  const client = new Client({ name, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } },
  });
  await client.connect(transport);
  clients.push(client);
  return { client, transport, sessionId: transport.sessionId! };
}

async function callOk(client: Client, name: string, args: Record<string, unknown> = {}): Promise<S> {
  const res = await client.callTool({ name, arguments: args });
  if (res.isError) throw new Error(`${name} failed: ${text(res)}`);
  return res.structuredContent as S;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (Host and Origin included), read to the end. */
function raw(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: opts.method ?? "GET", path: opts.path ?? "/", headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});
const LIST = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
const MCP = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe("authentication", () => {
  it("refuses to start without a configured token", async () => {
    h = await startHarness();
    expect(h.app.config.http.tokens).toEqual([]);
    await expect(startHttpServer(h.app, { port: 0 })).rejects.toThrow(ConfigError);
    await expect(startHttpServer(h.app, { port: 0 })).rejects.toThrow(/FLEET_HTTP_TOKEN.*http\.tokens\[\].*token_env/s);
  });

  it("no token and a wrong token get 401 with WWW-Authenticate and a JSON-RPC error; the SDK client cannot connect", async () => {
    const s = await start();
    const none = await raw(s.port, { method: "POST", path: "/mcp", headers: MCP, body: INIT });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="fleet-mcp"');
    expect(JSON.parse(none.body)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32001, message: expect.stringMatching(/Authorization: Bearer/) } });

    for (const wrong of [`${TOKEN_ALICE}x`, TOKEN_ALICE.slice(0, -1), TOKEN_ALICE.toUpperCase(), "short"]) {
      const r = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(wrong) }, body: INIT });
      expect(r.status, wrong).toBe(401);
      expect(r.headers["www-authenticate"]).toBe('Bearer realm="fleet-mcp", error="invalid_token"');
    }
    // Not a Bearer credential at all.
    const basic = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, Authorization: `Basic ${TOKEN_ALICE}` }, body: INIT });
    expect(basic.status).toBe(401);

    await expect(connect(s.url, null)).rejects.toMatchObject({ code: 401 });
    await expect(connect(s.url, `${TOKEN_BOB}x`)).rejects.toMatchObject({ code: 401 });
    expect(s.sessionCount()).toBe(0);
    expect(auditRows(h!.app)).toEqual([]);
  });

  it("the right token lists tools and calls one; the audit row names the token, not its value", async () => {
    const s = await start();
    const { client, sessionId } = await connect(s.url, TOKEN_ALICE);
    expect(client.getServerVersion()?.name).toBe("fleet-mcp");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("get_fleet_overview");
    const ov = await callOk(client, "get_fleet_overview");
    expect(ov.targets.total).toBe(0);
    expect(auditRows(h!.app)).toEqual([expect.objectContaining({ tool: "get_fleet_overview", outcome: "ok", session_id: sessionId, principal: "alice" })]);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("Host and Origin", () => {
  it("a foreign Host (DNS rebinding) or the wrong port gets 403; loopback names with the bound port pass", async () => {
    const s = await start();
    for (const host of [`evil.example:${s.port}`, `127.0.0.1:${s.port === 1 ? 2 : 1}`, "127.0.0.1", `user@127.0.0.1:${s.port}`]) {
      const r = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), Host: host }, body: INIT });
      expect(r.status, host).toBe(403);
      expect(JSON.parse(r.body).error.message).toMatch(/Host/);
    }
    // Refused before the token is even looked at.
    const noToken = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, Host: `evil.example:${s.port}` }, body: INIT });
    expect(noToken.status).toBe(403);
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `LOCALHOST:${s.port}`, `[::1]:${s.port}`]) {
      const r = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), Host: host }, body: INIT });
      expect(r.status, host).toBe(200);
      expect(r.headers["mcp-session-id"]).toMatch(/^[0-9a-f-]{36}$/);
    }
    // The /metrics and http_sd endpoints check Host too; /healthz (for load balancers) does not.
    expect((await raw(s.port, { path: "/metrics", headers: { ...bearer(TOKEN_ALICE), Host: "evil.example" } })).status).toBe(403);
    expect((await raw(s.port, { path: "/prometheus/targets", headers: { ...bearer(TOKEN_ALICE), Host: "evil.example" } })).status).toBe(403);
    expect((await raw(s.port, { path: "/healthz", headers: { Host: "evil.example" } })).status).toBe(200);
  });

  it("allowed_hosts admits a reverse proxy's name (any port without one, exactly with one)", async () => {
    const s = await start({ allowed_hosts: ["fleet.example.test", "other.example.test:8443"] });
    const status = async (host: string) =>
      (await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), Host: host }, body: INIT })).status;
    expect(await status("fleet.example.test")).toBe(200);
    expect(await status("fleet.example.test:443")).toBe(200);
    expect(await status("other.example.test:8443")).toBe(200);
    expect(await status("other.example.test")).toBe(403);
    expect(await status("fleet.example.test.evil.example")).toBe(403);
  });

  it("a foreign Origin gets 403; no Origin, the same host, or an allowed origin pass", async () => {
    const s = await start();
    const post = (origin?: string) =>
      raw(s.port, {
        method: "POST",
        path: "/mcp",
        headers: { ...MCP, ...bearer(TOKEN_ALICE), ...(origin !== undefined ? { Origin: origin } : {}) },
        body: INIT,
      });
    for (const origin of ["http://evil.example", `http://evil.example:${s.port}`, "null", `http://localhost:${s.port}`, `${CONSOLE_ORIGIN}:8443`]) {
      const r = await post(origin);
      expect(r.status, origin).toBe(403);
      expect(JSON.parse(r.body).error.message).toMatch(/Origin/);
    }
    for (const origin of [undefined, `http://127.0.0.1:${s.port}`, CONSOLE_ORIGIN, CONSOLE_ORIGIN.toUpperCase()]) {
      expect((await post(origin)).status, String(origin)).toBe(200);
    }
    // Through the SDK client as a browser page would send it.
    await expect(connect(s.url, TOKEN_ALICE, "browser", { Origin: "http://evil.example" })).rejects.toMatchObject({ code: 403 });
    const ok = await connect(s.url, TOKEN_ALICE, "console", { Origin: CONSOLE_ORIGIN });
    expect((await ok.client.listTools()).tools.length).toBeGreaterThan(0);
  });
});

describe("sessions", () => {
  it("two sessions with two tokens call tools at once; audit rows carry each session id and token name, and the token values are nowhere", async () => {
    const s = await start();
    const a = await connect(s.url, TOKEN_ALICE, "client-a");
    const b = await connect(s.url, TOKEN_BOB, "client-b");
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(s.sessionCount()).toBe(2);

    await Promise.all([
      callOk(a.client, "run_discovery"),
      callOk(b.client, "get_fleet_overview"),
      callOk(b.client, "get_inventory_statistics"),
      b.client.callTool({ name: "no_such_tool", arguments: { token: TOKEN_BOB } }),
      callOk(a.client, "list_targets"),
    ]);
    const rows = auditRows(h!.app);
    expect(rows).toHaveLength(5);
    const bySession = (sid: string) => rows.filter((r) => r.session_id === sid);
    expect(
      bySession(a.sessionId)
        .map((r) => r.tool)
        .sort(),
    ).toEqual(["list_targets", "run_discovery"]);
    expect(
      bySession(b.sessionId)
        .map((r) => r.tool)
        .sort(),
    ).toEqual(["get_fleet_overview", "get_inventory_statistics", "no_such_tool"]);
    for (const r of bySession(a.sessionId)) expect(r).toMatchObject({ principal: "alice", client_name: "client-a" });
    for (const r of bySession(b.sessionId)) expect(r).toMatchObject({ principal: "bob", client_name: "client-b" });

    // query_audit_log shows them too.
    const log = await callOk(a.client, "query_audit_log", { limit: 10 });
    const shown = log.entries.map((e: S) => [e.tool, e.session_id, e.principal]);
    expect(shown).toContainEqual(["run_discovery", a.sessionId, "alice"]);
    expect(shown).toContainEqual(["no_such_tool", b.sessionId, "bob"]);
    expect(shown).toContainEqual(["get_fleet_overview", b.sessionId, "bob"]);

    // Bob's token cannot drive Alice's session, even with its id.
    const hijack = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_BOB), "mcp-session-id": a.sessionId }, body: LIST });
    expect(hijack.status).toBe(403);
    expect(JSON.parse(hijack.body).error.message).toMatch(/another token/);

    await Promise.all(clients.splice(0).map((c) => c.close()));
    await srv!.close();
    srv = undefined;
    // Every byte of the database (main file and write-ahead log) and every log line: names yes, token values never.
    const files = ["fleet.db", "fleet.db-wal", "fleet.db-shm"].map((f) => join(dir, f)).filter(existsSync);
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    const logs = h!.logs.join("");
    expect(bytes.includes(Buffer.from("alice"))).toBe(true);
    expect(bytes.includes(Buffer.from(a.sessionId))).toBe(true);
    expect(logs).toContain('"msg":"http request"');
    expect(logs).toContain('"msg":"http session opened"');
    for (const token of [TOKEN_ALICE, TOKEN_BOB]) {
      expect(bytes.includes(Buffer.from(token)), "token in the database file").toBe(false);
      expect(logs.includes(token), "token in the logs").toBe(false);
      // Not even a long piece of one (e.g. a truncated or hex-escaped copy).
      expect(bytes.includes(Buffer.from(token.slice(8, 40))), "token fragment in the database file").toBe(false);
    }
  });

  it("an unknown session id gets 404, a request without one that is no initialize gets 400, DELETE ends a session", async () => {
    const s = await start();
    const unknown = await raw(s.port, {
      method: "POST",
      path: "/mcp",
      headers: { ...MCP, ...bearer(TOKEN_ALICE), "mcp-session-id": randomUUID() },
      body: LIST,
    });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { code: -32001, message: expect.stringMatching(/Session not found/) } });
    const noSession = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE) }, body: LIST });
    expect(noSession.status).toBe(400);
    const getNoSession = await raw(s.port, { path: "/mcp", headers: { Accept: "text/event-stream", ...bearer(TOKEN_ALICE) } });
    expect(getNoSession.status).toBe(400);
    expect(s.sessionCount()).toBe(0);

    const a = await connect(s.url, TOKEN_ALICE);
    expect(s.sessionCount()).toBe(1);
    await a.transport.terminateSession();
    expect(s.sessionCount()).toBe(0);
    const after = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), "mcp-session-id": a.sessionId }, body: LIST });
    expect(after.status).toBe(404);
  });

  it("bounds sessions (503 beyond the limit) and request bodies (413); close() ends every session", async () => {
    const s = await start({}, { maxSessions: 2, maxBodyBytes: 4096 });
    const a = await connect(s.url, TOKEN_ALICE);
    await connect(s.url, TOKEN_BOB);
    await expect(connect(s.url, TOKEN_ALICE)).rejects.toMatchObject({ code: 503 });
    expect(s.sessionCount()).toBe(2);

    const big = JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_fleet_overview", arguments: { pad: "x".repeat(8192) } } });
    const tooLarge = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), "mcp-session-id": a.sessionId }, body: big });
    expect(tooLarge.status).toBe(413);
    // Refused before it reached a tool: no audit row.
    expect(auditRows(h!.app)).toEqual([]);
    const bad = await raw(s.port, {
      method: "POST",
      path: "/mcp",
      headers: { ...MCP, ...bearer(TOKEN_ALICE), "mcp-session-id": a.sessionId },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe(-32700);

    await s.close();
    expect(s.sessionCount()).toBe(0);
    await expect(a.client.listTools()).rejects.toThrow();
  });

  it("closes sessions idle longer than sessionIdleMs by the app's clock, and keeps the ones in use", async () => {
    let t = Date.parse("2026-11-23T10:00:00.000Z");
    const s = await start({}, { sessionIdleMs: 60_000 }, {}, () => new Date(t));
    const open = async () => {
      const r = await raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE) }, body: INIT });
      expect(r.status).toBe(200);
      return r.headers["mcp-session-id"] as string;
    };
    const list = (sid: string) => raw(s.port, { method: "POST", path: "/mcp", headers: { ...MCP, ...bearer(TOKEN_ALICE), "mcp-session-id": sid }, body: LIST });
    const quiet = await open();
    const busy = await open();
    expect(await s.closeIdleSessions()).toBe(0);
    t += 30_000;
    expect((await list(busy)).status).toBe(200);
    t += 40_000;
    // quiet: 70 s without a request; busy: 40 s.
    expect(await s.closeIdleSessions()).toBe(1);
    expect(s.sessionCount()).toBe(1);
    expect((await list(quiet)).status).toBe(404);
    const still = await list(busy);
    expect(still.status).toBe(200);
    expect(still.body).toContain("get_fleet_overview");
    expect(h!.logs.join("")).toContain('"msg":"closing idle http session"');
  });

  it("answers unknown paths with 404 and wrong methods with 405", async () => {
    const s = await start();
    expect((await raw(s.port, { path: "/", headers: bearer(TOKEN_ALICE) })).status).toBe(404);
    expect((await raw(s.port, { path: "/mcp/extra", headers: bearer(TOKEN_ALICE) })).status).toBe(404);
    expect((await raw(s.port, { path: "/.well-known/oauth-protected-resource" })).status).toBe(404);
    const put = await raw(s.port, { method: "PUT", path: "/mcp", headers: bearer(TOKEN_ALICE) });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, POST, DELETE");
    expect((await raw(s.port, { method: "POST", path: "/healthz" })).status).toBe(405);
  });
});

describe("/healthz", () => {
  it("answers without a token: status, version and the database, nothing else", async () => {
    const s = await start();
    const r = await raw(s.port, { path: "/healthz" });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(r.body)).toEqual({ status: "ok", version: VERSION, db: "ok" });
    expect(r.body).not.toContain(dir);
  });

  it("says 503 when the database does not answer", async () => {
    const s = await start();
    h!.app.db.$client.close();
    const r = await raw(s.port, { path: "/healthz" });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ status: "error", version: VERSION, db: "error" });
    // The harness closes the database again: give it an open one.
    const reopened = openDb(join(dir, "fleet.db"));
    h!.app.db = reopened;
  });
});

describe("/metrics", () => {
  it("after a discovery and tool calls: runs, durations, probe results, tool calls and targets with their labels", async () => {
    const s = await start();
    const { client } = await connect(s.url, TOKEN_ALICE);
    const run = await callOk(client, "run_discovery");
    await callOk(client, "get_fleet_overview");
    await client.callTool({ name: "made_up_tool_name", arguments: {} });

    const anon = await raw(s.port, { path: "/metrics" });
    expect(anon.status).toBe(401);
    const r = await raw(s.port, { path: "/metrics", headers: bearer(TOKEN_BOB) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = r.body;
    const line = (series: string) => {
      const hit = m.split("\n").find((l) => l.startsWith(`${series} `));
      return hit === undefined ? undefined : Number(hit.slice(series.length + 1));
    };
    expect(["ok", "partial"]).toContain(run.status);
    expect(line(`fleet_discovery_runs_total{status="${run.status}"}`)).toBe(1);
    expect(line(`fleet_discovery_duration_seconds_count{status="${run.status}"}`)).toBe(1);
    expect(line(`fleet_probe_results_total{status="ok"}`)).toBe(3);
    expect(line(`fleet_probe_results_total{status="unreachable"}`)).toBe(1);
    expect(line(`fleet_tool_calls_total{tool="run_discovery",outcome="ok"}`)).toBe(1);
    expect(line(`fleet_tool_calls_total{tool="get_fleet_overview",outcome="ok"}`)).toBe(1);
    // Invented tool names share one series.
    expect(line(`fleet_tool_calls_total{tool="(unknown)",outcome="unknown_tool"}`)).toBe(1);
    expect(m).not.toContain("made_up_tool_name");
    expect(line(`fleet_tool_call_duration_seconds_count{tool="run_discovery"}`)).toBe(1);
    // Target counts come from the database at scrape time.
    const expected = h!.app.db.$client.prepare("SELECT lifecycle, kind, count(*) AS n FROM targets GROUP BY lifecycle, kind").all() as S[];
    expect(expected.reduce((n, e) => n + e.n, 0)).toBe(4);
    for (const e of expected) expect(line(`fleet_targets{lifecycle="${e.lifecycle}",kind="${e.kind}"}`)).toBe(e.n);
    expect(m).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(m).toMatch(/^# HELP fleet_targets /m);
    for (const token of [TOKEN_ALICE, TOKEN_BOB]) expect(m).not.toContain(token);

    // A second run counts again; a target that leaves the fleet leaves its gauge series.
    await callOk(client, "run_discovery");
    const again = (await raw(s.port, { path: "/metrics", headers: bearer(TOKEN_ALICE) })).body;
    expect(again).toMatch(new RegExp(`^fleet_discovery_runs_total\\{status="${run.status}"\\} 2$`, "m"));
    expect(again).toMatch(/^fleet_probe_results_total\{status="ok"\} 6$/m);
  });

  it("metrics_public serves without a token; metrics: false turns the endpoint off", async () => {
    const s = await start({ metrics_public: true });
    expect((await raw(s.port, { path: "/metrics" })).status).toBe(200);
    await srv!.close();
    srv = undefined;
    await h!.close();
    h = undefined;
    rmSync(dir, { recursive: true, force: true });
    const off = await start({ metrics: false });
    expect((await raw(off.port, { path: "/metrics", headers: bearer(TOKEN_ALICE) })).status).toBe(404);
  });
});

describe("/prometheus/targets (http_sd)", () => {
  it("serves the same target groups and fleet_* labels as export_prometheus_targets, with the token", async () => {
    const s = await start({}, {}, { prometheus: { static_labels: { env: "lab" } } });
    const { client } = await connect(s.url, TOKEN_ALICE);
    await callOk(client, "run_discovery");

    expect((await raw(s.port, { path: "/prometheus/targets" })).status).toBe(401);
    const r = await raw(s.port, { path: "/prometheus/targets", headers: bearer(TOKEN_ALICE) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    const groups = TargetGroups.parse(JSON.parse(r.body));
    const viaTool = await callOk(client, "export_prometheus_targets", { format: "http_sd", limit: 200 });
    expect(groups).toEqual(viaTool.groups);
    expect(groups.map((g) => g.targets[0]).sort()).toEqual(["10.0.0.11:9100", "10.0.0.12:9100", "10.0.0.21:9100"]);
    for (const g of groups) {
      expect(g.labels).toMatchObject({ env: "lab", fleet_kind: "host", fleet_role: expect.any(String), fleet_name: expect.any(String) });
    }
    expect(groups.find((g) => g.targets[0] === "10.0.0.11:9100")!.labels.fleet_name).toBe("web-1");

    const byKind = TargetGroups.parse(
      JSON.parse((await raw(s.port, { path: "/prometheus/targets?group_by=kind&port=9182", headers: bearer(TOKEN_BOB) })).body),
    );
    expect(byKind).toHaveLength(1);
    expect(byKind[0]!.labels).toEqual({ env: "lab", fleet_kind: "host" });
    expect([...byKind[0]!.targets].sort()).toEqual(["10.0.0.11:9182", "10.0.0.12:9182", "10.0.0.21:9182"]);
    const withDown = TargetGroups.parse(
      JSON.parse((await raw(s.port, { path: "/prometheus/targets?lifecycle=discovered,active,unreachable", headers: bearer(TOKEN_BOB) })).body),
    );
    expect(withDown.map((g) => g.targets[0])).toContain("10.0.0.99:9100");
    expect((await raw(s.port, { path: "/prometheus/targets?group_by=os", headers: bearer(TOKEN_ALICE) })).status).toBe(400);
    expect((await raw(s.port, { path: "/prometheus/targets?port=70000", headers: bearer(TOKEN_ALICE) })).status).toBe(400);
    expect((await raw(s.port, { path: "/prometheus/targets?lifecycle=gone", headers: bearer(TOKEN_ALICE) })).status).toBe(400);
  });

  it("http_sd: false turns the endpoint off", async () => {
    const s = await start({ http_sd: false });
    expect((await raw(s.port, { path: "/prometheus/targets", headers: bearer(TOKEN_ALICE) })).status).toBe(404);
  });
});

describe("fleet-mcp serve --http (built CLI)", () => {
  beforeAll(() => {
    if (!existsSync(join(root, "dist", "http", "server.js"))) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
  }, 120_000);

  it("serves on the port it prints, takes FLEET_HTTP_TOKEN, and exits 0 on SIGTERM", async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-http-cli-"));
    const token = `env-${randomBytes(24).toString("hex")}`;
    const child = spawn(process.execPath, [cli, "serve", "--http", "--port", "0", "--db", join(dir, "fleet.db")], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, FLEET_HTTP_TOKEN: token, FLEET_LOG_LEVEL: "debug" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (b: Buffer) => {
          stderr += b.toString("utf8");
          const m = /serving MCP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`the server exited (${code}) before it listened:\n${stderr}`)));
      });
      const { client, sessionId } = await connect(url, token, "cli-client");
      const ov = await callOk(client, "get_fleet_overview");
      expect(ov.targets.total).toBe(0);
      const log = await callOk(client, "query_audit_log");
      expect(log.entries[0]).toMatchObject({ tool: "get_fleet_overview", session_id: sessionId, principal: "env" });
      const health = await fetch(new URL("/healthz", url));
      expect(await health.json()).toEqual({ status: "ok", version: VERSION, db: "ok" });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/"msg":"http request"/);
    expect(stderr).toMatch(/"msg":"shutting down","reason":"SIGTERM"/);
    expect(stderr).not.toContain(token);
    expect(stderr).not.toContain(token.slice(8, 40));
    const db = readFileSync(join(dir, "fleet.db"));
    expect(db.includes(Buffer.from(token))).toBe(false);
    const verify = execFileSync(process.execPath, [cli, "audit", "verify", "--db", join(dir, "fleet.db")], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: dir },
    });
    expect(verify).toMatch(/audit log OK: 2 row\(s\)/);
  }, 30_000);

  it("refuses --http without a token (exit 2) and --port without --http", async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-http-cli-"));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, ...args, "--db", join(dir, "fleet.db")], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
        child.once("exit", (code) => resolve({ code, stderr }));
      });
    const noToken = await run(["serve", "--http", "--port", "0"]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/FLEET_HTTP_TOKEN/);
    const stray = await run(["serve", "--port", "0"]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--host and --port go with --http/);
  }, 30_000);
});
