// A bounded, TLS-correct client for one Proxmox VE cluster, built on the npm
// `proxmox-api` engine. TLS is per connection (never NODE_TLS_REJECT_UNAUTHORIZED):
// verified against system CAs or a CA file, pinned to a SHA-256 fingerprint, or,
// only when asked, not verified. Requests go through a token bucket and a
// concurrency limit so discovery never floods pveproxy.
import { ProxmoxEngine } from "proxmox-api";
import pLimit from "p-limit";
import { Agent, buildConnector, fetch as undiciFetch, Response as UndiciResponse } from "undici";
import { anySignal } from "../signals.js";

export type PveAuth = { kind: "token"; tokenId: string; secret: string } | { kind: "password"; username: string; password: string };

export type PveTls = { mode: "verify"; ca?: string } | { mode: "fingerprint"; sha256: string } | { mode: "insecure" };

export interface PveClientOptions {
  host: string;
  port: number;
  auth: PveAuth;
  tls: PveTls;
  /** Per-request deadline (proxmox-api tries twice, so a hung server costs up to 2x). */
  timeoutMs: number;
  concurrency: number;
  requestsPerSecond: number;
  signal?: AbortSignal;
}

/** Normalises "AA:BB:..." or "aabb..." to upper-case colon-separated hex, as pveproxy and Node show it. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256[:=]?/i, "")
    .replace(/[^0-9a-f]/gi, "")
    .toUpperCase();
  return hex.match(/.{2}/g)?.join(":") ?? "";
}

export type PveErrorKind = "auth" | "permission" | "not_found" | "not_implemented" | "node_unreachable" | "tls" | "network" | "timeout" | "protocol" | "server";

/** A failed API call, classified: proxmox-api only puts the status in the message text. */
export class PveApiError extends Error {
  override name = "PveApiError";
  constructor(
    readonly kind: PveErrorKind,
    readonly status: number | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function classifyPveError(err: unknown, path: string): PveApiError {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: { cause?: { code?: unknown }; code?: unknown; name?: unknown; message?: unknown } })?.cause;
  // Only string codes: a DOMException's numeric code (AbortError 20, TimeoutError 23) is no errno.
  const rawCode = cause?.cause?.code ?? cause?.code;
  const code = typeof rawCode === "string" ? rawCode : "";
  const causeName = typeof cause?.name === "string" ? cause.name : "";
  const status = Number(/(?:return Error|connection failed with|login failed with) (\d{3})/.exec(msg)?.[1] ?? NaN);
  const reason = /(?:return Error|connection failed with) \d{3} ([^:]*?)(?::| return:|$)/.exec(msg)?.[1]?.trim() ?? "";
  const short = (s: string) => `${path}: ${s}`;
  if (code === MALFORMED_JSON) return new PveApiError("protocol", null, short(String(cause?.message)), { cause: err });
  // proxmox-api wraps every failed login as "Auth … Failed!": only one that got an answer is about the credentials;
  // one whose fetch failed (refused, TLS, DNS) is classified by its cause below.
  const loginFetchFailed = /Auth .* Failed!/.test(msg) && cause?.message === "fetch failed";
  if ((/Auth .* Failed!/.test(msg) && !loginFetchFailed) || status === 401)
    return new PveApiError("auth", 401, short(`authentication failed${reason ? ` (${reason})` : ""}`), { cause: err });
  if (status === 403) return new PveApiError("permission", 403, short(`permission denied${reason ? ` (${reason})` : ""}`), { cause: err });
  if (status >= 595 && status <= 599)
    return new PveApiError("node_unreachable", status, short(`the cluster cannot reach that node (${status}${reason ? ` ${reason}` : ""})`), { cause: err });
  if (status === 501)
    return new PveApiError("not_implemented", 501, short(`not implemented by this PVE version${reason ? ` (${reason})` : ""}`), { cause: err });
  if (status === 404) return new PveApiError("not_found", 404, short(reason || "not found"), { cause: err });
  if (Number.isFinite(status)) return new PveApiError("server", status, short(`HTTP ${status}${reason ? ` ${reason}` : ""}`), { cause: err });
  if (/unexpected contentType/.test(msg)) {
    const type = /unexpected contentType "([^"]*)"/.exec(msg)?.[1] ?? "?";
    return new PveApiError("protocol", null, short(`the server did not answer like pveproxy (content type ${type}, not JSON)`), { cause: err });
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|certificate|fingerprint/i.test(`${code} ${msg}`)) {
    const inner = (err as { cause?: { cause?: { message?: string } } })?.cause?.cause?.message ?? msg.replace(/^.*cause by:/, "");
    return new PveApiError("tls", null, short(`TLS verification failed: ${inner}${code ? ` (${code})` : ""}`), { cause: err });
  }
  if (/AbortError|TimeoutError|aborted|timeout/i.test(`${code} ${causeName} ${msg}`))
    return new PveApiError("timeout", null, short("no answer within the deadline"), { cause: err });
  const inner = (err as { cause?: { cause?: { message?: string } } })?.cause?.cause?.message;
  return new PveApiError("network", null, short(code || (loginFetchFailed && inner ? inner : msg.replace(/^.*cause by:/, ""))), { cause: err });
}

const MALFORMED_JSON = "ERR_PVE_MALFORMED_JSON";
const PVE_JSON = "application/json;charset=UTF-8";

/**
 * proxmox-api turns a JSON answer it cannot parse (a truncated body, a proxy's
 * error text) into `data: null` without a word, which reads as "nothing there":
 * check the body first and fail the call, saying so.
 */
async function checkedJson(res: Response): Promise<Response> {
  const body = await res.text();
  try {
    JSON.parse(body);
  } catch (err) {
    throw Object.assign(new Error(`the answer is not valid JSON (${body.length} characters, maybe cut off: ${(err as Error).message})`), {
      code: MALFORMED_JSON,
    });
  }
  return new UndiciResponse(body, { status: res.status, statusText: res.statusText, headers: { "content-type": PVE_JSON } }) as unknown as Response;
}

/** Token bucket: `rate` requests per second, bursts up to `rate`. */
class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number) {
    this.tokens = rate;
  }
  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      if (signal?.aborted) throw new PveApiError("timeout", null, "cancelled");
      await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.rate) * 1000)));
    }
  }
}

export class PveClient {
  private readonly engine: ProxmoxEngine;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly bucket: TokenBucket;
  private readonly dispatcher: Agent;
  /** Seen during the TLS handshake, so `doctor` can show what to pin. */
  presentedFingerprint: string | null = null;
  requests = 0;

  constructor(private readonly opts: PveClientOptions) {
    this.limit = pLimit(Math.max(1, opts.concurrency));
    this.bucket = new TokenBucket(Math.max(1, opts.requestsPerSecond));
    // proxmox-api's own timer stops at the headers; these bound the body too.
    this.dispatcher = new Agent({
      connect: this.connector(),
      connections: Math.max(1, opts.concurrency),
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    const fetchImpl = (url: unknown, init: Record<string, unknown> = {}) => {
      // The run's cancellation reaches the socket, not only the queue.
      const signals = [init.signal as AbortSignal | undefined, opts.signal].filter((x): x is AbortSignal => x !== undefined);
      const signal = signals.length > 1 ? anySignal(signals) : signals[0];
      return undiciFetch(url as string, { ...init, ...(signal ? { signal } : {}), dispatcher: this.dispatcher } as Parameters<typeof undiciFetch>[1]).then(
        (res) => (res.status === 200 && res.headers.get("content-type") === PVE_JSON ? checkedJson(res as unknown as Response) : res),
      );
    };
    const common = {
      host: opts.host,
      port: opts.port,
      schema: "https" as const,
      queryTimeout: opts.timeoutMs,
      authTimeout: opts.timeoutMs,
      fetch: fetchImpl as never,
    };
    this.engine =
      opts.auth.kind === "token"
        ? new ProxmoxEngine({ ...common, tokenID: opts.auth.tokenId, tokenSecret: opts.auth.secret })
        : new ProxmoxEngine({ ...common, username: opts.auth.username, password: opts.auth.password });
  }

  private connector() {
    const tls = this.opts.tls;
    const base = buildConnector({
      rejectUnauthorized: tls.mode === "verify",
      ...(tls.mode === "verify" && tls.ca ? { ca: tls.ca } : {}),
      timeout: this.opts.timeoutMs,
      // A resumed TLS session shows no peer certificate, so the pin could not be
      // checked: every connection does a full handshake.
      maxCachedSessions: 0,
    });
    return (options: Parameters<typeof base>[0], callback: Parameters<typeof base>[1]) => {
      base(options, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error("no socket"), null);
          return;
        }
        const peer = (socket as import("node:tls").TLSSocket).getPeerCertificate?.();
        this.presentedFingerprint = peer?.fingerprint256 ?? null;
        if (tls.mode === "fingerprint" && normaliseFingerprint(tls.sha256) !== this.presentedFingerprint) {
          socket.destroy();
          const e = new Error(
            `certificate fingerprint ${this.presentedFingerprint ?? "?"} does not match the pinned ${normaliseFingerprint(tls.sha256)}`,
          ) as Error & { code: string };
          e.code = "ERR_TLS_CERT_FINGERPRINT_MISMATCH";
          callback(e, null);
          return;
        }
        callback(null, socket);
      });
    };
  }

  /** GET /api2/json/<path>; resolves to the envelope's `data`. */
  async get(path: string, params?: Record<string, string | number | boolean>): Promise<unknown> {
    await this.bucket.take(this.opts.signal);
    return this.limit(async () => {
      if (this.opts.signal?.aborted) throw new PveApiError("timeout", null, `${path}: cancelled`);
      this.requests++;
      try {
        return await this.engine.doRequest("GET", `/api2/json/${path}`, `/api2/json/${path}`, params ? { ...params } : undefined);
      } catch (err) {
        throw classifyPveError(err, path);
      }
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
