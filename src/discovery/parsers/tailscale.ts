// Parses `tailscale status --json` (ipnstate.Status, see FORMATS.md §4.8): the
// backend state, this node and its peers, in our own vocabulary. Upstream keys
// are PascalCase except `sshHostKeys`; empty optional keys (Tags, sshHostKeys,
// PrimaryRoutes, …) are omitted by the CLI, and Addrs/Peer may be null.

export interface TailscalePeer {
  /** Stable node id (`ID`), else the node key. */
  id: string;
  /** OS hostname as the node reports it (not unique in a tailnet). */
  hostName: string;
  /** MagicDNS name without the trailing dot, e.g. "web-1.tail1234.ts.net". */
  dnsName: string | null;
  os: string | null;
  /** Tailscale addresses, IPv4 first. */
  ips: string[];
  online: boolean;
  /** ACL tags without the "tag:" prefix. */
  tags: string[];
  /** The peer offers Tailscale SSH: it advertises sshHostKeys. */
  tailscaleSsh: boolean;
  self: boolean;
}

export interface TailscaleStatus {
  /** NoState | NeedsLogin | NeedsMachineAuth | Stopped | Starting | Running. */
  backendState: string;
  version: string | null;
  magicDnsSuffix: string | null;
  self: TailscalePeer | null;
  peers: TailscalePeer[];
}

export type TailscaleErrorKind = "not_running" | "not_installed" | "error";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x !== "") : [];
}

function parsePeer(raw: Record<string, unknown>, key: string, self: boolean): TailscalePeer {
  const ips = strings(raw["TailscaleIPs"]);
  const v4 = ips.filter((ip) => !ip.includes(":"));
  const v6 = ips.filter((ip) => ip.includes(":"));
  const dns = str(raw["DNSName"]);
  return {
    id: str(raw["ID"]) ?? str(raw["PublicKey"]) ?? key,
    hostName: str(raw["HostName"]) ?? "",
    dnsName: dns === null ? null : dns.replace(/\.+$/, "") || null,
    os: str(raw["OS"]),
    ips: [...v4, ...v6],
    online: raw["Online"] === true,
    tags: strings(raw["Tags"]).map((t) => (t.startsWith("tag:") ? t.slice(4) : t)),
    tailscaleSsh: strings(raw["sshHostKeys"]).length > 0,
    self,
  };
}

export function parseTailscaleStatus(text: string): TailscaleStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`tailscale status --json: output is not JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc) || typeof doc["BackendState"] !== "string") {
    throw new Error("tailscale status --json: no BackendState in the output (not a tailscale status document)");
  }
  const tailnet = isRecord(doc["CurrentTailnet"]) ? doc["CurrentTailnet"] : {};
  const selfRaw = doc["Self"];
  const peerMap = isRecord(doc["Peer"]) ? doc["Peer"] : {};
  const peers: TailscalePeer[] = [];
  for (const [key, raw] of Object.entries(peerMap)) {
    if (isRecord(raw)) peers.push(parsePeer(raw, key, false));
  }
  const magic = str(doc["MagicDNSSuffix"]) ?? str(tailnet["MagicDNSSuffix"]);
  return {
    backendState: doc["BackendState"],
    version: str(doc["Version"]),
    magicDnsSuffix: magic === null ? null : magic.replace(/\.+$/, "") || null,
    self: isRecord(selfRaw) ? parsePeer(selfRaw, "self", true) : null,
    peers,
  };
}

/**
 * Classifies the stderr of a failed `tailscale` invocation. The daemon-down text
 * is "failed to connect to local tailscaled; it doesn't appear to be running"
 * (macOS GUI builds say "failed to connect to local Tailscale service").
 */
export function classifyTailscaleError(stderr: string): TailscaleErrorKind {
  const s = stderr.toLowerCase();
  if (s.includes("failed to connect to local tailscale")) return "not_running";
  // bash: "tailscale: command not found"; dash: "sh: 1: tailscale: not found"; BusyBox: "sh: tailscale: not found".
  if (/command not found|\bnot found\b|executable file not found/.test(s)) return "not_installed";
  return "error";
}
