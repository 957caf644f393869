// Listening sockets from three sources, best first:
//  - `ss -Htulnp` / `ss -Htlnp` (iproute2 misc/ss.c; captures
//    test/fixtures/ss-Htlnp.txt and ss-tlnp-with-header.txt, FORMATS.md §4.5);
//  - `netstat -tulnp` from net-tools or BusyBox, for hosts without ss;
//  - /proc/net/{tcp,tcp6,udp,udp6} (kernel net/ipv4/tcp_ipv4.c, udp.c), which
//    needs no tool at all but cannot name the owning process.
// No netstat or /proc/net capture exists; tests use inline samples in the
// tools' documented layouts.

import type { PortObs } from "../types.js";

type Protocol = PortObs["protocol"];

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

function key(p: PortObs): string {
  return `${p.protocol}|${p.address}|${p.port}`;
}

/** Keeps the first of identical (protocol, address, port), filling in a process a later row knew. */
function dedupe(ports: PortObs[]): PortObs[] {
  const seen = new Map<string, PortObs>();
  for (const p of ports) {
    const prev = seen.get(key(p));
    if (prev === undefined) seen.set(key(p), p);
    else if (prev.process === null && p.process !== null) {
      prev.process = p.process;
      prev.pid = p.pid;
    }
  }
  return [...seen.values()];
}

/**
 * Splits "host:port" at the last colon, drops "[...]" and "%iface".
 * ss prints "[fe80::1]%eth0:546" and "0.0.0.0%lo:53"; old ss and netstat print
 * IPv6 unbracketed (":::22", "::1:631").
 */
function splitHostPort(token: string): { address: string; port: number } | null {
  const colon = token.lastIndexOf(":");
  if (colon < 0) return null;
  const portText = token.slice(colon + 1);
  if (!/^\d+$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  let host = token.slice(0, colon);
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return null;
    host = host.slice(1, close);
  }
  const pct = host.indexOf("%");
  if (pct >= 0) host = host.slice(0, pct);
  if (host === "") return null;
  return { address: host, port };
}

// users:(("nginx",pid=812,fd=6),("nginx",pid=813,fd=6))
const USER_TUPLE = /\("((?:[^"\\]|\\.)*)",pid=(\d+)/g;

function parseUsers(rest: string): { process: string | null; pid: number | null } {
  const names: string[] = [];
  let pid: number | null = null;
  for (const m of rest.matchAll(USER_TUPLE)) {
    const name = m[1] as string;
    if (pid === null) pid = Number(m[2]);
    if (!names.includes(name)) names.push(name);
  }
  return { process: names.length > 0 ? names.join(",") : null, pid };
}

export function parseSs(text: string): PortObs[] {
  const out: PortObs[] = [];
  for (const raw of lines(text)) {
    const tokens = raw.trim().split(/\s+/);
    const first = tokens[0];
    if (first === undefined || first === "" || first === "Netid" || first === "State") continue;
    let protocol: Protocol;
    let cols: string[];
    if (first === "tcp" || first === "udp") {
      protocol = first;
      cols = tokens.slice(1);
    } else {
      // The Netid column only appears when several socket types are listed. Without it,
      // a listening UDP socket still shows as UNCONN (`ss -Hulnp`), anything else is TCP.
      protocol = first === "UNCONN" ? "udp" : "tcp";
      cols = tokens;
    }
    const state = cols[0];
    if (protocol === "tcp" ? state !== "LISTEN" : state !== "UNCONN") continue;
    if (cols.length < 5 || !/^\d+$/.test(cols[1] ?? "") || !/^\d+$/.test(cols[2] ?? "")) continue;
    const local = splitHostPort(cols[3] as string);
    if (local === null) continue;
    const proc = parseUsers(cols.slice(5).join(" "));
    out.push({ protocol, address: local.address, port: local.port, ...proc });
  }
  return dedupe(out);
}

export function parseNetstat(text: string): PortObs[] {
  const out: PortObs[] = [];
  for (const raw of lines(text)) {
    const tokens = raw.trim().split(/\s+/);
    const proto = tokens[0];
    let protocol: Protocol;
    if (proto === "tcp" || proto === "tcp6") protocol = "tcp";
    else if (proto === "udp" || proto === "udp6") protocol = "udp";
    else continue; // headers ("Active Internet connections", "Proto Recv-Q ...") and unix sockets
    if (tokens.length < 5 || !/^\d+$/.test(tokens[1] ?? "") || !/^\d+$/.test(tokens[2] ?? "")) continue;
    const local = splitHostPort(tokens[3] as string);
    if (local === null) continue;
    let rest = tokens.slice(5);
    if (protocol === "tcp") {
      if (rest[0] !== "LISTEN") continue;
      rest = rest.slice(1);
    } else if (rest[0] !== undefined && /^[A-Z_][A-Z0-9_]*$/.test(rest[0])) {
      // UDP has no state column except for connected sockets (ESTABLISHED), which do not listen.
      continue;
    }
    // "PID/Program name": the name may contain spaces; "-" when the process is not visible.
    let process: string | null = null;
    let pid: number | null = null;
    const pm = /^(\d+)\/(.+)$/.exec(rest.join(" "));
    if (pm) {
      pid = Number(pm[1]);
      process = (pm[2] as string).trim() || null;
    }
    out.push({ protocol, address: local.address, port: local.port, process, pid });
  }
  return dedupe(out);
}

const TCP_LISTEN = "0A";
const UDP_UNCONNECTED = "07"; // TCP_CLOSE, which the kernel reuses for unconnected UDP sockets

/** One little-endian 32-bit word as printed by the kernel's %08X of the raw __be32. */
function wordBytes(hex8: string): number[] {
  const b: number[] = [];
  for (let i = 6; i >= 0; i -= 2) b.push(parseInt(hex8.slice(i, i + 2), 16));
  return b;
}

function formatIpv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // IPv4-mapped addresses (dual-stack sockets bound to an IPv4 address) read better dotted.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12, 16).join(".")}`;
  }
  // RFC 5952: compress the longest run (>= 2) of zero groups, leftmost on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

function decodeProcAddress(hex: string, family: "inet" | "inet6"): string | null {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return null;
  if (family === "inet") {
    if (hex.length !== 8) return null;
    return wordBytes(hex).join(".");
  }
  if (hex.length !== 32) return null;
  const bytes: number[] = [];
  for (let w = 0; w < 32; w += 8) bytes.push(...wordBytes(hex.slice(w, w + 8)));
  return formatIpv6(bytes);
}

export function parseProcNetTcp(text: string, protocol: Protocol, family: "inet" | "inet6"): PortObs[] {
  const wanted = protocol === "tcp" ? TCP_LISTEN : UDP_UNCONNECTED;
  const out: PortObs[] = [];
  for (const raw of lines(text)) {
    // "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 ..."
    const tokens = raw.trim().split(/\s+/);
    if (!/^\d+:$/.test(tokens[0] ?? "")) continue; // header line starts with "sl"
    const [addrHex, portHex] = (tokens[1] ?? "").split(":");
    const st = (tokens[3] ?? "").toUpperCase();
    if (st !== wanted || addrHex === undefined || portHex === undefined) continue;
    if (!/^[0-9A-Fa-f]{4}$/.test(portHex)) continue;
    const address = decodeProcAddress(addrHex, family);
    if (address === null) continue;
    out.push({ protocol, address, port: parseInt(portHex, 16), process: null, pid: null });
  }
  return dedupe(out);
}
