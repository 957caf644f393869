// A bounded SSH port sweep: connect to every address of a few small IPv4 CIDRs
// on the SSH port(s), read the server's identification line and keep those that
// start with "SSH-". Nothing is ever sent; each connection has one deadline
// (connect + first line) and is destroyed as soon as it has answered. The
// number of addresses is capped so a typo cannot sweep a /8.
import { connect } from "node:net";
import type { SshAuth } from "../runners/ssh.js";
import type { SshHostSpec } from "./ssh.js";

export interface SweepOptions {
  cidrs: string[];
  ports: number[];
  concurrency: number;
  /** Per connection: connect + first line. */
  timeoutMs: number;
  /** Refuse larger sweeps. */
  maxAddresses: number;
  signal?: AbortSignal;
}

export interface SweepHit {
  address: string;
  port: number;
  /** First line, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2". */
  banner: string;
}

/** RFC 4253 §4.2: the identification line, CR LF included, is at most 255 bytes. */
const MAX_BANNER_BYTES = 255;

function parseIpv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    // No leading zeros: "010" is octal to some tools and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Addresses a prefix yields: /32 one, /31 two (RFC 3021), else all but network and broadcast. */
function usableCount(prefix: number): number {
  return prefix >= 31 ? 2 ** (32 - prefix) : 2 ** (32 - prefix) - 2;
}

/** The shortest prefix whose sweep stays within `max` addresses, for messages. */
function prefixWithin(max: number): number {
  for (let p = 0; p <= 32; p++) if (usableCount(p) <= max) return p;
  return 32;
}

interface Cidr {
  text: string;
  network: number;
  prefix: number;
}

function parseCidr(raw: string): Cidr {
  const text = raw.trim();
  if (text.includes(":")) throw new Error(`network sweep: "${raw}" is IPv6; only IPv4 CIDRs can be swept`);
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(text);
  const addr = m?.[1] !== undefined ? parseIpv4(m[1]) : null;
  const prefix = m?.[2] === undefined ? 32 : Number(m[2]);
  if (!m || addr === null || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`network sweep: "${raw}" is not an IPv4 CIDR (expected e.g. 192.168.1.0/24)`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { text, network: (addr & mask) >>> 0, prefix };
}

/**
 * Every address to sweep, deduplicated and in numeric order. IPv4 only; prefixes
 * shorter than /31 skip the network and broadcast addresses. Throws for a bad
 * CIDR, IPv6, or when the total would exceed `maxAddresses`.
 */
export function expandCidrs(cidrs: string[], maxAddresses: number): string[] {
  if (!Number.isInteger(maxAddresses) || maxAddresses < 1) throw new Error(`network sweep: max_addresses must be a positive integer, not ${maxAddresses}`);
  const limitText = `the limit is ${maxAddresses} (a /${prefixWithin(maxAddresses)})`;
  const parsed = cidrs.map(parseCidr);
  // Refuse oversized blocks before enumerating anything (0.0.0.0/0 must not allocate 4 billion strings).
  for (const c of parsed) {
    if (usableCount(c.prefix) > maxAddresses) {
      throw new Error(`${c.text} has ${2 ** (32 - c.prefix)} addresses; ${limitText} — raise network.max_addresses to sweep it`);
    }
  }
  const seen = new Set<number>();
  for (const c of parsed) {
    const size = 2 ** (32 - c.prefix);
    const first = c.prefix >= 31 ? c.network : c.network + 1;
    const last = c.prefix >= 31 ? c.network + size - 1 : c.network + size - 2;
    for (let a = first; a <= last; a++) {
      seen.add(a);
      if (seen.size > maxAddresses) {
        throw new Error(`${cidrs.join(", ")} have more than ${maxAddresses} addresses together; ${limitText} — raise network.max_addresses to sweep them`);
      }
    }
  }
  return [...seen].sort((a, b) => a - b).map(formatIpv4);
}

function cancelled(signal: AbortSignal): Error {
  const err = new Error("network sweep cancelled", { cause: signal.reason });
  err.name = "AbortError";
  return err;
}

/** Connects, reads the first line (at most 255 bytes) and hangs up; null when nothing SSH-like answered in time. */
function grabBanner(address: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<string | null> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(null);
    const socket = connect({ host: address, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (banner: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.removeAllListeners("data");
      socket.destroy();
      resolve(banner);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    const onAbort = () => done(null);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.setNoDelay(true);
    socket.on("error", () => done(null));
    socket.on("close", () => done(null));
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl === -1) {
        if (buf.length >= MAX_BANNER_BYTES) done(null);
        return;
      }
      if (nl >= MAX_BANNER_BYTES) return done(null);
      const line = buf.subarray(0, nl).toString("latin1").replace(/\r$/, "");
      // SSH identification strings are printable US-ASCII; anything else is not an SSH server we can report safely.
      done(/^SSH-[\x20-\x7e]+$/.test(line) ? line : null);
    });
  });
}

function ipv4Number(a: string): number {
  return parseIpv4(a) ?? 0;
}

/**
 * Sweeps `cidrs` × `ports` with at most `concurrency` connections at a time and
 * returns the endpoints that sent an SSH identification line, sorted by address
 * then port. Rejects (name "AbortError") when the signal aborts.
 */
export async function sweepSsh(opts: SweepOptions): Promise<SweepHit[]> {
  const { signal } = opts;
  for (const p of opts.ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`network sweep: ${p} is not a TCP port`);
  }
  if (!(opts.timeoutMs > 0)) throw new Error(`network sweep: timeout must be positive, not ${opts.timeoutMs}`);
  const ports = [...new Set(opts.ports)];
  const addresses = expandCidrs(opts.cidrs, opts.maxAddresses);
  if (signal?.aborted) throw cancelled(signal);

  const jobs: Array<{ address: string; port: number }> = [];
  for (const address of addresses) for (const port of ports) jobs.push({ address, port });
  const hits: SweepHit[] = [];
  let next = 0;
  const worker = async () => {
    // Each worker takes the next job until none is left or the sweep is cancelled.
    while (next < jobs.length && !signal?.aborted) {
      const job = jobs[next++]!;
      const banner = await grabBanner(job.address, job.port, opts.timeoutMs, signal);
      if (banner !== null) hits.push({ ...job, banner });
    }
  };
  const width = Math.max(1, Math.min(Math.floor(opts.concurrency) || 1, jobs.length));
  await Promise.all(Array.from({ length: width }, worker));
  if (signal?.aborted) throw cancelled(signal);
  return hits.sort((a, b) => ipv4Number(a.address) - ipv4Number(b.address) || a.port - b.port);
}

/** SSH host specs for the endpoints a sweep found; the probe reads their real names. */
export function sweepHitsToHosts(hits: SweepHit[], defaults: { user: string; auth: SshAuth; tags: string[] }): SshHostSpec[] {
  return hits.map((h) => ({
    name: h.address,
    address: h.address,
    port: h.port,
    user: defaults.user,
    tags: [...defaults.tags],
    role: null,
    auth: defaults.auth,
    via: "network sweep",
  }));
}
