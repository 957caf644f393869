// `fleet-mcp serve --http`: MCP over Streamable HTTP for remote clients, plus
// /healthz, /metrics and Prometheus HTTP service discovery, on plain node:http.
//
// Every MCP session gets its own McpServer and transport (the SDK's transport
// serves one session), recorded in the audit log under the session id and the
// NAME of the bearer token that opened it. A session belongs to that token: a
// request carrying another token is refused even with the right session id.
//
// Host and Origin are checked here rather than by the SDK: its DNS-rebinding
// option (off by default) compares the Host header against a fixed list, which
// cannot know the port of a server bound to port 0.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { sql } from "drizzle-orm";
import type { AppContext } from "../app/context.js";
import { ConfigError } from "../config.js";
import { buildPrometheusTargets, type PrometheusGroupBy } from "../inventory/prometheus.js";
import { createMetrics, type FleetMetrics } from "../metrics.js";
import { buildServer as defaultBuildServer } from "../server.js";
import { VERSION } from "../version.js";

export interface HttpServerOptions {
  /** Default: config.http.host. */
  host?: string;
  /** Default: config.http.port; 0 picks a free port (see the returned port). */
  port?: number;
  /** Builds one session's MCP server (default: src/server.ts buildServer). */
  buildServer?: typeof defaultBuildServer;
  /** Metrics to serve at /metrics (default: created here when config.http.metrics is on, and closed with the server). */
  metrics?: FleetMetrics;
  /** Most sessions open at once (default 100); an initialize beyond it gets 503. */
  maxSessions?: number;
  /** A session without any request for this long is closed (default 30 minutes; measured with app.now()). */
  sessionIdleMs?: number;
  /** Largest request body accepted (default 4 MiB); larger gets 413. */
  maxBodyBytes?: number;
}

export interface HttpServerHandle {
  /** http://host:port/mcp */
  url: string;
  port: number;
  /** Open MCP sessions (for tests and diagnostics). */
  sessionCount(): number;
  /** Closes the sessions idle longer than sessionIdleMs (by app.now()); a timer does this every minute. Returns how many. */
  closeIdleSessions(): Promise<number>;
  /** Closes every session (their in-flight calls are cancelled and audited), then the listener. */
  close(): Promise<void>;
}

interface Session {
  id: string;
  principal: string;
  transport: StreamableHTTPServerTransport;
  close(): Promise<void>;
  drain(timeoutMs: number): Promise<number>;
  lastSeen: number;
  /** Requests in progress (an open GET event stream counts): a busy session is never idle. */
  active: number;
}

const DEFAULT_MAX_SESSIONS = 100;
const DEFAULT_IDLE_MS = 30 * 60_000;
const DEFAULT_MAX_BODY = 4 * 1024 * 1024;
const LOOPBACK_HOSTNAMES = ["localhost", "127.0.0.1", "[::1]"];
const LIFECYCLES = new Set(["discovered", "active", "unreachable", "stale", "retired"]);

/** Refuses (ConfigError) when no token is configured or tools.allow/deny are wrong; resolves once listening. */
export async function startHttpServer(app: AppContext, opts: HttpServerOptions = {}): Promise<HttpServerHandle> {
  if (app.config.http.tokens.length === 0) {
    throw new ConfigError(
      "serve --http needs at least one bearer token: set FLEET_HTTP_TOKEN (e.g. `export FLEET_HTTP_TOKEN=$(openssl rand -hex 32)`) or list http.tokens[] in the config file, each with a name and token_env naming the environment variable that holds it.",
    );
  }
  const build = opts.buildServer ?? defaultBuildServer;
  // Fail at start, not at the first client, when tools.allow/deny name no tool.
  build(app, {});
  const host = opts.host ?? app.config.http.host;
  const maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const idleMs = opts.sessionIdleMs ?? DEFAULT_IDLE_MS;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const ownMetrics = !opts.metrics && app.config.http.metrics ? createMetrics(app) : null;
  const metrics = opts.metrics ?? ownMetrics;

  const sessions = new Map<string, Session>();
  let initializing = 0;
  let boundPort = 0;
  let closing = false;

  const server = createServer((req, res) => {
    const started = performance.now();
    const path = pathOf(req.url);
    res.on("close", () => {
      // Method, path and status only: never headers (Authorization) or the query string.
      app.log.debug("http request", { method: req.method, path, status: res.statusCode, duration_ms: Math.round(performance.now() - started) });
    });
    route(req, res, path).catch((err: unknown) => {
      app.log.error("http request failed", { method: req.method, path, error: err });
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, "Internal server error; it was logged on the server.");
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    switch (path) {
      case "/healthz":
        return healthz(req, res);
      case "/mcp": {
        const principal = guard(req, res, true);
        return principal === null ? undefined : mcp(req, res, principal);
      }
      case "/metrics":
        if (!metrics) return notFound(res);
        if (guard(req, res, !app.config.http.metricsPublic) === null) return;
        if (!allowMethods(req, res, ["GET", "HEAD"])) return;
        return send(res, 200, metrics.contentType, await metrics.render(), req.method === "HEAD");
      case "/prometheus/targets":
        if (!app.config.http.httpSd) return notFound(res);
        if (guard(req, res, true) === null) return;
        if (!allowMethods(req, res, ["GET", "HEAD"])) return;
        return httpSd(req, res);
      default:
        return notFound(res);
    }
  }

  /** Host and Origin (403), then the bearer token (401) when required. Returns the token's name, or "" when no token is needed. */
  function guard(req: IncomingMessage, res: ServerResponse, needToken: boolean): string | null {
    const refusal = checkHostAndOrigin(req, host, boundPort, app.config.http.allowedHosts, app.config.http.allowedOrigins);
    if (refusal) {
      app.log.warn("http request refused", { path: pathOf(req.url), reason: refusal });
      sendJsonRpcError(res, 403, -32000, `Forbidden: ${refusal}`);
      return null;
    }
    if (!needToken) return "";
    const name = authenticate(req.headers.authorization, app.config.http.tokens);
    if (name === null) {
      const presented = req.headers.authorization !== undefined;
      res.setHeader("WWW-Authenticate", presented ? 'Bearer realm="fleet-mcp", error="invalid_token"' : 'Bearer realm="fleet-mcp"');
      sendJsonRpcError(
        res,
        401,
        -32001,
        presented
          ? "Unauthorized: the bearer token is not one of the configured tokens."
          : "Unauthorized: send `Authorization: Bearer <token>` with a token configured by FLEET_HTTP_TOKEN or http.tokens[].",
      );
      return null;
    }
    return name;
  }

  async function mcp(req: IncomingMessage, res: ServerResponse, principal: string): Promise<void> {
    if (!allowMethods(req, res, ["GET", "POST", "DELETE"])) return;
    const sid = headerValue(req.headers["mcp-session-id"]);
    let body: unknown;
    if (req.method === "POST") {
      const read = await readBody(req, maxBody);
      if (read === "too_large") {
        res.setHeader("Connection", "close");
        return sendJsonRpcError(res, 413, -32000, `Payload Too Large: the request body must not exceed ${maxBody} bytes.`);
      }
      try {
        body = JSON.parse(read);
      } catch {
        return sendJsonRpcError(res, 400, -32700, "Parse error: the request body is not valid JSON.");
      }
    }
    if (sid !== undefined) {
      const s = sessions.get(sid);
      if (!s)
        return sendJsonRpcError(res, 404, -32001, "Session not found: it was closed or expired. Start a new session with initialize (without mcp-session-id).");
      if (s.principal !== principal) {
        app.log.warn("http session used with another token", { session_id: sid, token: principal });
        return sendJsonRpcError(res, 403, -32000, "Forbidden: this session was opened with another token.");
      }
      s.active++;
      s.lastSeen = app.now().getTime();
      res.once("close", () => {
        s.active--;
        s.lastSeen = app.now().getTime();
      });
      return s.transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitialize(body)) {
      return sendJsonRpcError(
        res,
        400,
        -32000,
        "Bad Request: no mcp-session-id header. Open a session with an initialize request first, then send its mcp-session-id.",
      );
    }
    if (closing) return sendJsonRpcError(res, 503, -32000, "Service Unavailable: the server is shutting down.");
    if (sessions.size + initializing >= maxSessions) {
      res.setHeader("Retry-After", "60");
      return sendJsonRpcError(res, 503, -32000, `Service Unavailable: ${maxSessions} sessions are open. Close unused sessions (HTTP DELETE) or retry later.`);
    }
    initializing++;
    let session: Session | undefined;
    try {
      const { server: mcpServer, registry } = build(app, { sessionPrincipal: principal });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          session = {
            id,
            principal,
            transport,
            close: () => mcpServer.close(),
            drain: (ms) => registry.drain(ms),
            lastSeen: app.now().getTime(),
            active: 1,
          };
          sessions.set(id, session);
          app.log.info("http session opened", { session_id: id, token: principal, sessions: sessions.size });
        },
      });
      transport.onclose = () => {
        const id = transport.sessionId;
        if (id && sessions.get(id)?.transport === transport) {
          sessions.delete(id);
          app.log.info("http session closed", { session_id: id, token: principal, sessions: sessions.size });
        }
      };
      await mcpServer.connect(transport);
      res.once("close", () => {
        if (session) {
          session.active--;
          session.lastSeen = app.now().getTime();
        }
      });
      await transport.handleRequest(req, res, body);
      // The transport refused the initialize (e.g. a malformed one): nothing to keep.
      if (!session) await mcpServer.close();
    } finally {
      initializing--;
    }
  }

  function healthz(req: IncomingMessage, res: ServerResponse): void {
    if (!allowMethods(req, res, ["GET", "HEAD"])) return;
    let db = "ok";
    try {
      app.db.get(sql`SELECT 1`);
    } catch (err) {
      db = "error";
      app.log.error("health check: the database did not answer", { error: (err as Error).message });
    }
    const ok = db === "ok";
    send(res, ok ? 200 : 503, "application/json", JSON.stringify({ status: ok ? "ok" : "error", version: VERSION, db }), req.method === "HEAD");
  }

  function httpSd(req: IncomingMessage, res: ServerResponse): void {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const cfg = app.config.prometheus;
    const groupBy = q.get("group_by") ?? "none";
    const portRaw = q.get("port");
    const port = portRaw === null ? cfg.defaultPort : Number(portRaw);
    const lifecycles = (q.get("lifecycle") ?? "active").split(",").filter(Boolean);
    if (!["none", "role", "kind"].includes(groupBy)) return sendPlainError(res, 400, "group_by must be none, role or kind.");
    if (!Number.isInteger(port) || port < 1 || port > 65535) return sendPlainError(res, 400, "port must be an integer from 1 to 65535.");
    if (lifecycles.length === 0 || !lifecycles.every((l) => LIFECYCLES.has(l)))
      return sendPlainError(res, 400, `lifecycle must be a comma-separated list of ${[...LIFECYCLES].join(", ")}.`);
    const out = buildPrometheusTargets(app.db, { groupBy: groupBy as PrometheusGroupBy, port, lifecycles, staticLabels: cfg.staticLabels });
    send(res, 200, "application/json", JSON.stringify(out.groups), req.method === "HEAD");
  }

  async function closeIdleSessions(): Promise<number> {
    const cutoff = app.now().getTime() - idleMs;
    const idle = [...sessions.values()].filter((s) => s.active === 0 && s.lastSeen < cutoff);
    for (const s of idle) app.log.info("closing idle http session", { session_id: s.id, token: s.principal, idle_ms: app.now().getTime() - s.lastSeen });
    await Promise.allSettled(idle.map((s) => s.close()));
    return idle.length;
  }
  const sweep = setInterval(() => void closeIdleSessions(), Math.min(idleMs, 60_000));
  sweep.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? app.config.http.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    clearInterval(sweep);
    ownMetrics?.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE" || e.code === "EACCES" || e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") {
      throw new ConfigError(`Cannot listen on ${host}:${opts.port ?? app.config.http.port}: ${e.code}. Choose another --host/--port (or http.host/http.port).`);
    }
    throw err;
  }
  boundPort = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${boundPort}/mcp`;

  let closed: Promise<void> | null = null;
  return {
    url,
    port: boundPort,
    sessionCount: () => sessions.size,
    closeIdleSessions,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweep);
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const open = [...sessions.values()];
        await Promise.allSettled(open.map((s) => s.close()));
        // An initialize that was under way when closing began may have added one more.
        for (const s of [...sessions.values()]) if (!open.includes(s)) open.push(s);
        await Promise.allSettled(open.map((s) => s.close()));
        // Closing cancels calls in progress; let them write their audit rows.
        const left = (await Promise.all(open.map((s) => s.drain(5000)))).reduce((a, b) => a + b, 0);
        if (left > 0) app.log.error("http server closed with tool calls still running; their audit rows may be missing", { calls: left });
        server.closeAllConnections();
        await stopped;
        ownMetrics?.close();
      })();
      return closed;
    },
  };
}

/** The name of the configured token the Authorization header carries, or null. Compares SHA-256 digests in constant time, over every token. */
export function authenticate(header: string | undefined, tokens: ReadonlyArray<{ name: string; token: string }>): string | null {
  const m = header ? /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header) : null;
  if (!m) return null;
  const presented = sha256(m[1]!);
  let found: string | null = null;
  for (const t of tokenDigests(tokens)) {
    if (timingSafeEqual(presented, t.digest) && found === null) found = t.name;
  }
  return found;
}

const digestCache = new WeakMap<object, Array<{ name: string; digest: Buffer }>>();
function tokenDigests(tokens: ReadonlyArray<{ name: string; token: string }>) {
  let d = digestCache.get(tokens);
  if (!d) {
    d = tokens.map((t) => ({ name: t.name, digest: sha256(t.token) }));
    digestCache.set(tokens, d);
  }
  return d;
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/**
 * Why the request's Host or Origin is refused, or null. Host: a loopback name or
 * the bound address with the bound port, or an allowed_hosts entry (with a port:
 * exactly; without: any port). Origin: absent, listed in allowed_origins, or the
 * same host as the Host header.
 */
export function checkHostAndOrigin(
  req: IncomingMessage,
  boundHost: string,
  boundPort: number,
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[],
): string | null {
  const hostHeader = req.headers.host;
  if (!hostHeader) return "the request has no Host header.";
  const h = parseHost(hostHeader);
  if (!h) return `invalid Host header ${JSON.stringify(hostHeader.slice(0, 100))}.`;
  const names = new Set(LOOPBACK_HOSTNAMES);
  const bound = urlHost(boundHost).toLowerCase();
  if (bound !== "0.0.0.0" && bound !== "[::]") names.add(bound);
  const hostOk =
    (names.has(h.hostname) && h.port === String(boundPort)) ||
    allowedHosts.some((entry) => {
      const a = parseHost(entry);
      if (!a) return false;
      return a.explicitPort ? a.hostname === h.hostname && a.port === h.port : a.hostname === h.hostname;
    });
  if (!hostOk) {
    return `Host ${JSON.stringify(hostHeader.slice(0, 100))} is not this server's address. Connect to ${bound === "0.0.0.0" || bound === "[::]" ? "127.0.0.1" : bound}:${boundPort}, or add the name to http.allowed_hosts (e.g. behind a reverse proxy).`;
  }
  const origin = headerValue(req.headers.origin);
  if (origin === undefined) return null;
  const o = normalizeOrigin(origin);
  if (allowedOrigins.some((a) => a === origin || (o !== null && normalizeOrigin(a) === o))) return null;
  if (o !== null && new URL(o).host === `${h.hostname}${h.explicitPort ? `:${h.port}` : ""}`) return null;
  return `Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed. Add it to http.allowed_origins if a browser page there should reach this server.`;
}

function parseHost(value: string): { hostname: string; port: string; explicitPort: boolean } | null {
  if (!/^[A-Za-z0-9.\-_[\]:]+$/.test(value)) return null;
  try {
    const u = new URL(`http://${value}`);
    if (u.pathname !== "/" || u.username || u.password) return null;
    return { hostname: u.hostname.toLowerCase(), port: u.port || "80", explicitPort: /:\d+$/.test(value) };
  } catch {
    return null;
  }
}

function normalizeOrigin(value: string): string | null {
  try {
    const u = new URL(value);
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin.toLowerCase() : null;
  } catch {
    return null;
  }
}

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? "/", "http://x").pathname;
  } catch {
    return "(invalid)";
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}

async function readBody(req: IncomingMessage, max: number): Promise<string | "too_large"> {
  if (Number(req.headers["content-length"]) > max) return "too_large";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return "too_large";
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function allowMethods(req: IncomingMessage, res: ServerResponse, methods: string[]): boolean {
  if (methods.includes(req.method ?? "")) return true;
  res.setHeader("Allow", methods.join(", "));
  sendPlainError(res, 405, `Method ${req.method} not allowed here; use ${methods.join(" or ")}.`);
  return false;
}

function notFound(res: ServerResponse): void {
  sendPlainError(res, 404, "Not found. Endpoints: /mcp (MCP), /healthz, /metrics, /prometheus/targets.");
}

function sendPlainError(res: ServerResponse, status: number, message: string): void {
  send(res, status, "application/json", JSON.stringify({ error: message }));
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  send(res, status, "application/json", JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headOnly = false): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  res.end(headOnly ? undefined : body);
}
