// Parses `ip -j addr` (iproute2 >= 4.14) and the plain-text `ip addr` printed
// by older iproute2 and by BusyBox, which has no -j (it prints usage and exits
// 1). Captures: test/fixtures/ip-j-addr.json (iproute2 6.1.0),
// busybox-ip-addr.txt and busybox-ip-j-addr.txt (BusyBox 1.35); field meanings
// from iproute2 ip/ipaddress.c, summarised in FORMATS.md §4.4.

import type { AddressObs, InterfaceObs } from "../types.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

function int(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

export function parseIpJson(text: string): InterfaceObs[] {
  if (text.trim() === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("ip -j addr: expected a JSON array of links");
  }
  if (!Array.isArray(doc)) throw new Error("ip -j addr: expected a JSON array of links");

  const out: InterfaceObs[] = [];
  for (const link of doc) {
    if (!isRecord(link)) continue;
    const name = str(link["ifname"]);
    if (name === null) continue;
    const flags = Array.isArray(link["flags"]) ? link["flags"] : [];
    const loopback = link["link_type"] === "loopback" || flags.includes("LOOPBACK");
    const addresses: AddressObs[] = [];
    const addrInfo = Array.isArray(link["addr_info"]) ? link["addr_info"] : [];
    for (const a of addrInfo) {
      if (!isRecord(a)) continue;
      const family = a["family"];
      const local = str(a["local"]);
      const prefixlen = int(a["prefixlen"]);
      if ((family !== "inet" && family !== "inet6") || local === null || prefixlen === null) continue;
      addresses.push({ family, address: local, prefixlen, scope: str(a["scope"]) });
    }
    out.push({
      name,
      mac: loopback ? null : str(link["address"]),
      mtu: int(link["mtu"]),
      state: str(link["operstate"]),
      master: str(link["master"]),
      addresses,
    });
  }
  return out;
}

// "2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP ..."
// Kernel link names cannot contain ":" or whitespace, so the name ends at the first ":".
const LINK_HEADER = /^\d+:\s+([^:\s@]+)(?:@[^:\s]*)?:\s+<([^>]*)>(.*)$/;
const LINK_LAYER = /^\s+link\/(\S+)(?:\s+(\S+))?/;
const ADDRESS = /^\s+(inet6?)\s+(\S+)(.*)$/;
const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})+$/;

function keyword(rest: string[], key: string): string | null {
  const i = rest.indexOf(key);
  return i >= 0 ? (rest[i + 1] ?? null) : null;
}

export function parseIpText(text: string): InterfaceObs[] {
  const out: InterfaceObs[] = [];
  let current: InterfaceObs | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, "");
    if (line === "") continue;

    const header = LINK_HEADER.exec(line);
    if (header) {
      const rest = (header[3] as string).trim().split(/\s+/);
      const mtu = keyword(rest, "mtu");
      current = {
        name: header[1] as string,
        mac: null,
        mtu: mtu !== null && /^\d+$/.test(mtu) ? Number(mtu) : null,
        // BusyBox omits "state"; unknown is better than guessing from the flags.
        state: keyword(rest, "state"),
        master: keyword(rest, "master"),
        addresses: [],
      };
      out.push(current);
      continue;
    }
    if (current === null) continue;

    const ll = LINK_LAYER.exec(line);
    if (ll) {
      const addr = ll[2];
      if (ll[1] !== "loopback" && addr !== undefined && MAC.test(addr)) current.mac = addr;
      continue;
    }

    const am = ADDRESS.exec(line);
    if (am) {
      const family = am[1] === "inet6" ? "inet6" : "inet";
      const rest = (am[3] as string).trim().split(/\s+/);
      const [address, prefix] = (am[2] as string).split("/");
      let prefixText = prefix;
      // Point-to-point links print "inet 10.0.0.1 peer 10.0.0.2/32": the length sits on the peer.
      if (prefixText === undefined) prefixText = keyword(rest, "peer")?.split("/")[1];
      const prefixlen = prefixText !== undefined && /^\d+$/.test(prefixText) ? Number(prefixText) : family === "inet" ? 32 : 128;
      if (address === undefined || address === "") continue;
      current.addresses.push({ family, address, prefixlen, scope: keyword(rest, "scope") });
    }
  }
  return out;
}
