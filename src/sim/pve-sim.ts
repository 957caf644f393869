// An in-process pveproxy (tests and `fleet-mcp demo`): an HTTPS server on 127.0.0.1 that answers the
// Proxmox VE REST API in pveproxy's own framing (shared/fixtures/FORMATS.md §1):
// `Content-Type: application/json;charset=UTF-8` and `{"data":…}` on success; the
// error text in the HTTP reason phrase with `{"data":null[,"errors"][,"message"]}`;
// 401 with no body and no Content-Type, delayed; `Connection: close` on every
// status ≥ 400; gzip above 1 KiB when asked; 595 for calls proxied to an offline
// node. The data comes from the PVE captures in src/sim/data (copies of those in
// test/fixtures) and drifts with the chosen PVE version exactly where the captures
// and the upstream source say it does (string vmids, qemu memory strings,
// interface shapes, node status keys, …).
// TLS: a leaf for 127.0.0.1/localhost signed by a throw-away CA, made once per
// process with node:crypto (./x509.ts).
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { simDataJson } from "./data.js";
import { makeLoopbackTls, type TlsMaterial } from "./x509.js";

// ---------------------------------------------------------------------------
// Public API

export type PveVersion = "6.2" | "7.4" | "8.4" | "9.0";

export interface PveSimGuest {
  vmid: number;
  type: "qemu" | "lxc";
  node: string;
  name: string;
  status: "running" | "stopped";
  /** `;`-separated as PVE ≥ 7.3 writes it (older free-form `a, b` is passed through as given). */
  tags?: string;
  pool?: string;
  template?: boolean;
  /** e.g. "backup", "migrate", "snapshot"; shown in lists, resources, status and config. */
  lock?: string;
  /** HA state, e.g. "started"; shown as `hastate` in /cluster/resources and `ha.state` in status/current. */
  hastate?: string;
  /** As /config returns it (net0/scsi0/rootfs/memory/cores/…); `memory` is re-typed per version. */
  config: Record<string, unknown>;
  /** LXC: the /interfaces data (old or 2025+ shape, converted per version); QEMU: the agent `result` array. Default: derived from netN/ipconfigN. */
  interfaces?: unknown;
  /** QEMU agent behaviour. Default: "ok" when config.agent is enabled, else "not_configured". "unsupported" = the {result:{error:…}} form. */
  agent?: "ok" | "not_configured" | "not_running" | "unsupported";
}

export interface PveSimNode {
  name: string;
  ip: string;
  /** false → proxied /nodes/<n>/… calls answer 595 "No route to host"; still listed (status "offline"), its guests "unknown". */
  online: boolean;
  /** GET /nodes/<n>/status data; default the pve7 capture (< 8.0) or the pvesh pve8 capture (≥ 8.0). Keys drift per version either way. */
  status?: Record<string, unknown>;
  /** GET /nodes/<n>/storage items ({storage, type, content, shared, active, enabled, total, used, avail}); /cluster/resources derives its storage entries from them. Default local (dir) + local-lvm (lvmthin). */
  storage?: Array<Record<string, unknown>>;
}

export type PveSimFault = { path?: RegExp; status: number; reason: string } | { contentType: string } | { malformedJson: true } | { hang: true };

export interface PveSimOptions {
  /** Default "8.4". Drives the typing drift (FORMATS.md §1.3/§1.4). */
  version?: PveVersion;
  /** null → standalone node (no `cluster` entry in /cluster/status, no `clustername` in the ticket). Default "pve-cluster" with > 1 node, else null. */
  clusterName?: string | null;
  /** nodes[0] is the node the client talks to (`local: 1`). */
  nodes: PveSimNode[];
  guests: PveSimGuest[];
  /** "user@realm!id" → secret (lower-case uuid); privsep: true → a privilege-separated token with no ACL ([] lists, bare node entries, 403 on audited paths). */
  tokens?: Record<string, { secret: string; privsep?: boolean }>;
  /** "root@pam" → password, for POST /access/ticket. */
  users?: Record<string, string>;
  /** Tickets expire after this (→ 401 "permission denied - invalid PVE ticket"); default 2 h. */
  ticketTtlMs?: number;
  /** Delay of every 401 (real pveproxy: 3 s); default 0. */
  authFailDelayMs?: number;
  /** Added before every answer. */
  latencyMs?: number;
  /**
   * { path?, status, reason }: answer that status/reason (JSON error framing; 401 and ≥ 595 bare) for matching paths (path incl. query, e.g. /api2/json/nodes?x=1), after authentication;
   * { contentType }: serve every JSON answer with this Content-Type; { malformedJson }: truncate every 200 body; { hang }: accept and never answer.
   */
  fault?: PveSimFault;
  /**
   * Present another certificate (a second throw-away CA and leaf) to new connections, as after the
   * cluster's certificates were renewed; `fingerprint`, `certPem` and `caPem` stay those of the usual one.
   */
  otherCertificate?: boolean;
}

export interface PveSimRequest {
  method: string;
  /** As sent, incl. the query string. */
  path: string;
  /** What the client presented: an Authorization PVEAPIToken header, a PVEAuthCookie ticket, or nothing. Never the secret itself. */
  auth: "token" | "ticket" | "none";
  /** Whether a CSRFPreventionToken header was sent. */
  csrf: boolean;
}

export interface PveSim {
  host: "127.0.0.1";
  port: number;
  /** SHA-256 of the leaf certificate DER, colon-separated upper-case hex (as pveproxy / `openssl x509 -fingerprint -sha256` / Node's fingerprint256 show it). */
  fingerprint: string;
  /** The leaf certificate the server presents (only the leaf, as pveproxy does). */
  certPem: string;
  /** The CA that signed the leaf. */
  caPem: string;
  /** Every request received, in order (clear with `requests.length = 0`). */
  requests: PveSimRequest[];
  /** Shallow-merges into the running options (tickets already issued stay valid). */
  set(opts: Partial<PveSimOptions>): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Fixtures and small helpers

type Json = Record<string, unknown>;

/** A capture's inner data, whether or not it was stored with the {"data":…} envelope. */
function fixtureData<T>(name: string): T {
  const raw = simDataJson(name) as Json;
  return (raw && typeof raw === "object" && !Array.isArray(raw) && "data" in raw ? raw.data : raw) as T;
}

const vnum = (v: PveVersion): number => {
  const [a, b] = v.split(".");
  return Number(a) * 100 + Number(b);
};

/** /version per release. 7.4 is the capture; 8.4 is from the pveversion capture (pve-manager/8.4.14/b502d23c55afcba1); 6.2 and 9.0 follow the same scheme (values synthetic). */
const VERSION_INFO: Record<PveVersion, { release: string; version: string; repoid: string }> = {
  "6.2": { release: "6.2", version: "6.2-4", repoid: "9824574a" },
  "7.4": { release: "7.4", version: "7.4-16", repoid: "0f39f621" },
  "8.4": { release: "8.4", version: "8.4.14", repoid: "b502d23c55afcba1" },
  "9.0": { release: "9.0", version: "9.0.10", repoid: "deb1ca707ec72a89" },
};

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function num(x: unknown): number | undefined {
  if (typeof x === "number" && Number.isFinite(x)) return x;
  if (typeof x === "string" && /^-?\d+(\.\d+)?$/.test(x.trim())) return Number(x);
  return undefined;
}

/** A PVE property string: "local-lvm:vm-100-disk-0,size=4G" → {first: "local-lvm:…", kv: {size: "4G"}}. */
function propString(s: unknown): { first?: string; kv: Record<string, string> } {
  const out: { first?: string; kv: Record<string, string> } = { kv: {} };
  if (typeof s !== "string" && typeof s !== "number") return out;
  String(s)
    .split(",")
    .forEach((part, i) => {
      const eq = part.indexOf("=");
      if (eq < 0) {
        if (i === 0) out.first = part;
        return;
      }
      out.kv[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    });
  return out;
}

/** PVE disk sizes: a plain number is bytes, else K/M/G/T suffixes. */
function parseSize(s: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(s ?? "");
  if (!m) return undefined;
  const mult = { K: 1024, M: MiB, G: GiB, T: 1024 * GiB }[m[2] as "K" | "M" | "G" | "T"] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/** Config `memory`: a number, "4096" or "current=4096" (qemu-server ≥ 8.0 property string). */
function memoryMiB(cfg: Json): number {
  const m = cfg.memory;
  const direct = num(m);
  if (direct !== undefined) return direct;
  const p = propString(m);
  return num(p.kv.current) ?? num(p.first) ?? 512;
}

function agentEnabled(cfg: Json): boolean {
  if (cfg.agent === undefined || cfg.agent === null) return false;
  const p = propString(cfg.agent);
  const v = p.first ?? p.kv.enabled ?? "0";
  return v === "1" || v === "on" || v === "yes" || v === "true";
}

function macFromSeed(seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  return ["BC", "24", "11", ...[h[0], h[1], h[2]].map((b) => (b ?? 0).toString(16).padStart(2, "0").toUpperCase())].join(":");
}

/** fe80:: EUI-64 link-local address of a MAC, as the kernel derives it. */
function linkLocal(mac: string): string {
  const b = mac.split(":").map((x) => parseInt(x, 16));
  const g = [(((b[0] ?? 0) ^ 2) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | 0xff, (0xfe << 8) | (b[3] ?? 0), ((b[4] ?? 0) << 8) | (b[5] ?? 0)];
  return `fe80::${g.map((x) => x.toString(16)).join(":")}`;
}

function colonHex(buf: Buffer): string {
  return [...buf].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

// ---------------------------------------------------------------------------
// TLS material (once per process)

let tls: TlsMaterial | undefined;

function tlsMaterial(): TlsMaterial {
  tls ??= makeLoopbackTls({ caName: "pve-sim-ca", leafName: "pve-sim" });
  return tls;
}

let otherTls: TlsMaterial | undefined;

/** The certificate `otherCertificate` presents. */
function otherTlsMaterial(): TlsMaterial {
  otherTls ??= makeLoopbackTls({ caName: "pve-sim-ca-renewed", leafName: "pve-sim-renewed" });
  return otherTls;
}

// ---------------------------------------------------------------------------
// Data model: what each endpoint returns for a given version

const PRIVS: Record<string, string[]> = (() => {
  const cap = (fixtureData<Json>("pve-api-access-ticket.json").cap ?? {}) as Record<string, Record<string, number>>;
  return Object.fromEntries(Object.entries(cap).map(([k, v]) => [k, Object.keys(v)]));
})();

function ticketCap(): Json {
  return (fixtureData<Json>("pve-api-access-ticket.json").cap ?? {}) as Json;
}

function permissionMap(): Json {
  const all = Object.fromEntries([...new Set(Object.values(PRIVS).flat())].sort().map((p) => [p, 1]));
  const at = (k: string) => Object.fromEntries((PRIVS[k] ?? []).map((p) => [p, 1]));
  return { "/": all, "/access": at("access"), "/nodes": at("nodes"), "/sdn": at("sdn"), "/storage": at("storage"), "/vms": at("vms") };
}

function defaultNodeStatus(v: number): Json {
  return v >= 800 ? fixtureData<Json>("pvesh-node-status.pve8.json") : fixtureData<Json>("pve-api-node-status.pve7.json");
}

interface NodeFacts {
  cpus: number;
  memTotal: number;
  memUsed: number;
  diskTotal: number;
  diskUsed: number;
  uptime: number;
  cpu: number;
}

function nodeFacts(node: PveSimNode, v: number): NodeFacts {
  const s = node.status ?? defaultNodeStatus(v);
  const mem = (s.memory ?? {}) as Json;
  const rootfs = (s.rootfs ?? {}) as Json;
  const cpuinfo = (s.cpuinfo ?? {}) as Json;
  return {
    cpus: num(cpuinfo.cpus) ?? 8,
    memTotal: num(mem.total) ?? 32 * GiB,
    memUsed: num(mem.used) ?? 4 * GiB,
    diskTotal: num(rootfs.total) ?? 100 * GiB,
    diskUsed: num(rootfs.used) ?? 10 * GiB,
    uptime: num(s.uptime) ?? 86_400,
    // pvesh printed cpu 0 (idle box); cluster captures show ~0.3-0.8 %
    cpu: num(s.cpu) || 0.00348605577689243,
  };
}

function nodeStatusData(node: PveSimNode, version: PveVersion): Json {
  const v = vnum(version);
  const s = structuredClone(node.status ?? defaultNodeStatus(v));
  if (v < 801) {
    delete s["current-kernel"];
    delete s["boot-info"];
  }
  const mem = s.memory as Json | undefined;
  if (mem && typeof mem === "object") {
    if (v >= 900) mem.available ??= num(mem.free) ?? 0;
    else delete mem.available;
  }
  const vi = VERSION_INFO[version];
  s.pveversion = `pve-manager/${vi.version}/${vi.repoid}`;
  return s;
}

function nodeStorage(node: PveSimNode, v: number): Array<Json> {
  if (node.storage) return structuredClone(node.storage);
  const f = nodeFacts(node, v);
  const lvmTotal = 4 * f.diskTotal;
  const lvmUsed = Math.round(lvmTotal * 0.18);
  return [
    {
      storage: "local",
      type: "dir",
      content: "iso,vztmpl,backup",
      shared: 0,
      active: 1,
      enabled: 1,
      total: f.diskTotal,
      used: f.diskUsed,
      avail: f.diskTotal - f.diskUsed,
    },
    {
      storage: "local-lvm",
      type: "lvmthin",
      content: "images,rootdir",
      shared: 0,
      active: 1,
      enabled: 1,
      total: lvmTotal,
      used: lvmUsed,
      avail: lvmTotal - lvmUsed,
    },
  ];
}

interface GuestStats {
  cpus: number;
  maxmem: number;
  maxswap: number;
  maxdisk: number;
  disk: number;
  mem: number;
  swap: number;
  uptime: number;
  cpu: number;
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
  pid: number;
}

/** Deterministic, plausible live numbers (bytes, seconds, fraction) derived from the config. */
function guestStats(g: PveSimGuest, hostCpus: number): GuestStats {
  const cfg = g.config;
  const running = g.status === "running";
  const maxmem = memoryMiB(cfg) * MiB;
  let cpus: number;
  let maxdisk: number;
  if (g.type === "lxc") {
    cpus = num(cfg.cores) || num(cfg.cpulimit) || hostCpus;
    maxdisk = parseSize(propString(cfg.rootfs).kv.size) ?? 4 * GiB;
  } else {
    cpus = num(cfg.vcpus) || (num(cfg.sockets) || 1) * (num(cfg.cores) || 1);
    maxdisk = qemuBootDiskSize(cfg);
  }
  const id = g.vmid;
  return {
    cpus,
    maxmem,
    maxswap: g.type === "lxc" ? (num(cfg.swap) ?? 512) * MiB : 0,
    maxdisk,
    disk: running && g.type === "lxc" ? Math.round(maxdisk * 0.27) : 0,
    mem: running ? Math.round(maxmem * 0.31) : 0,
    swap: 0,
    uptime: running ? 86_400 * 3 + id * 37 : 0,
    cpu: running ? ((id % 7) + 1) / 173 : 0,
    netin: running ? id * 1_000_003 : 0,
    netout: running ? id * 250_007 : 0,
    diskread: running ? id * 3_000_017 : 0,
    diskwrite: running ? id * 1_500_007 : 0,
    pid: 10_000 + id * 3,
  };
}

function qemuBootDiskSize(cfg: Json): number {
  const isDisk = (k: string) => /^(scsi|virtio|sata|ide)\d+$/.test(k) && typeof cfg[k] === "string" && !/media=cdrom/.test(cfg[k] as string);
  const order: string[] = [];
  if (typeof cfg.bootdisk === "string") order.push(cfg.bootdisk);
  const boot = propString(cfg.boot).kv.order;
  if (boot) order.push(...boot.split(";"));
  order.push(...Object.keys(cfg).filter(isDisk).sort());
  for (const k of order) if (isDisk(k)) return parseSize(propString(cfg[k]).kv.size) ?? 0;
  return 0;
}

interface Model {
  version: PveVersion;
  v: number;
  opts: PveSimOptions;
  clusterName: string | null;
  node(name: string): PveSimNode | undefined;
  hostCpus(nodeName: string): number;
  fingerprintOf(nodeName: string): string;
}

function lxcListItem(m: Model, g: PveSimGuest): Json {
  const s = guestStats(g, m.hostCpus(g.node));
  const running = g.status === "running";
  const old = m.v < 700; // the PVE 6.2 capture: vmid/pid/disk/maxdisk strings, template "" and lock ""
  const it: Json = {
    vmid: m.v < 802 ? String(g.vmid) : g.vmid,
    type: "lxc",
    status: g.status,
    name: g.name.replace(/\s/g, ""),
    cpus: s.cpus,
    maxmem: s.maxmem,
    maxswap: s.maxswap,
    maxdisk: old ? String(s.maxdisk) : s.maxdisk,
    disk: old ? String(s.disk) : s.disk,
    mem: s.mem,
    swap: s.swap,
    uptime: s.uptime,
    cpu: s.cpu,
    netin: s.netin,
    netout: s.netout,
    diskread: s.diskread,
    diskwrite: s.diskwrite,
  };
  if (running) it.pid = old ? String(s.pid) : s.pid;
  if (running && m.v >= 900) Object.assign(it, pressure(g.vmid));
  if (g.tags) it.tags = g.tags;
  if (old) {
    it.lock = g.lock ?? "";
    it.template = g.template ? 1 : "";
  } else {
    if (g.lock) it.lock = g.lock;
    if (g.template) it.template = 1;
  }
  return it;
}

function pressure(id: number): Json {
  const f = (id % 5) / 100;
  return { pressurecpusome: f, pressurecpufull: 0, pressureiosome: f / 2, pressureiofull: 0, pressurememorysome: 0, pressurememoryfull: 0 };
}

function qemuListItem(m: Model, g: PveSimGuest, full: boolean): Json {
  const s = guestStats(g, m.hostCpus(g.node));
  const running = g.status === "running";
  const old = m.v < 700; // qemu-server ad2cad72 (PVE 7.0) made vmid/pid integers
  const it: Json = {
    vmid: old ? String(g.vmid) : g.vmid,
    status: g.status,
    name: g.name,
    cpus: s.cpus,
    maxmem: s.maxmem,
    maxdisk: s.maxdisk,
    disk: 0,
    uptime: s.uptime,
    cpu: s.cpu,
    mem: s.mem,
    netin: s.netin,
    netout: s.netout,
    diskread: s.diskread,
    diskwrite: s.diskwrite,
  };
  if (running) it.pid = old ? String(s.pid) : s.pid;
  if (m.v >= 900) it.memhost = s.mem;
  if (running && m.v >= 900) Object.assign(it, pressure(g.vmid));
  if (old) it.template = g.template ? 1 : "";
  else if (g.template) it.template = 1;
  if (g.lock) it.lock = g.lock;
  if (g.tags) it.tags = g.tags;
  if (full && running) it.qmpstatus = "running";
  return it;
}

function haObject(g: PveSimGuest): Json {
  return g.hastate ? { managed: 1, state: g.hastate } : { managed: 0 };
}

function lxcStatusCurrent(m: Model, g: PveSimGuest): Json {
  return { ...lxcListItem(m, g), ha: haObject(g) };
}

function qemuStatusCurrent(m: Model, g: PveSimGuest): Json {
  const it: Json = { ...qemuListItem(m, g, true), ha: haObject(g) };
  if (agentEnabled(g.config)) it.agent = 1;
  if (g.status === "running") {
    it["running-machine"] = "pc-i440fx-8.0+pve0";
    it["running-qemu"] = "8.0.2";
  }
  return it;
}

function configData(m: Model, g: PveSimGuest): Json {
  const cfg = structuredClone(g.config);
  if (cfg.memory !== undefined && g.type === "qemu") {
    // qemu-server 7f8c8087 (PVE 8.1 era) made memory a property string; before it was an integer
    cfg.memory = m.v >= 801 ? String(cfg.memory) : (num(cfg.memory) ?? memoryMiB(cfg));
  } else if (cfg.memory !== undefined) {
    cfg.memory = num(cfg.memory) ?? memoryMiB(cfg);
  }
  if (g.lock && cfg.lock === undefined) cfg.lock = g.lock;
  if (g.template && cfg.template === undefined) cfg.template = 1;
  if (g.tags && cfg.tags === undefined) cfg.tags = g.tags;
  if (g.type === "lxc" && cfg.hostname === undefined) cfg.hostname = g.name;
  if (g.type === "qemu" && cfg.name === undefined) cfg.name = g.name;
  cfg.digest ??= createHash("sha1").update(JSON.stringify(g.config)).digest("hex");
  return cfg;
}

function synthIpv4(g: PveSimGuest, n: number): { ip: string; prefix: number } {
  return { ip: `192.168.3.${20 + ((g.vmid * 7 + n) % 200)}`, prefix: 24 };
}

function netEntries(cfg: Json): Array<[number, string]> {
  return Object.keys(cfg)
    .map((k) => /^net(\d+)$/.exec(k))
    .filter((x): x is RegExpExecArray => x !== null)
    .map((x) => [Number(x[1]), String(cfg[x[0]])] as [number, string])
    .sort((a, b) => a[0] - b[0]);
}

interface IfAddr {
  "ip-address": string;
  "ip-address-type": string;
  prefix: number;
}

/** GET /nodes/{n}/lxc/{id}/interfaces data: pre-2025 {name,hwaddr,inet?,inet6?}; ≥ 9.0 also hardware-address + ip-addresses (type inet/inet6). */
function lxcInterfaces(m: Model, g: PveSimGuest): Json[] {
  type AnyIf = { name: string; hwaddr: string; addrs: IfAddr[] };
  let list: AnyIf[];
  if (Array.isArray(g.interfaces)) {
    list = (g.interfaces as Json[]).map((i) => {
      const hwaddr = String(i.hwaddr ?? i["hardware-address"] ?? "00:00:00:00:00:00");
      let addrs: IfAddr[] = Array.isArray(i["ip-addresses"]) ? (i["ip-addresses"] as IfAddr[]) : [];
      if (addrs.length === 0) {
        for (const [key, type] of [
          ["inet", "inet"],
          ["inet6", "inet6"],
        ] as const) {
          const cidr = i[key];
          if (typeof cidr === "string") {
            const [ip, len] = cidr.split("/");
            addrs.push({ "ip-address": ip ?? "", "ip-address-type": type, prefix: Number(len ?? (type === "inet" ? 32 : 128)) });
          }
        }
      }
      addrs = addrs.map((a) => ({
        ...a,
        "ip-address-type": a["ip-address-type"] === "ipv4" ? "inet" : a["ip-address-type"] === "ipv6" ? "inet6" : a["ip-address-type"],
      }));
      return { name: String(i.name), hwaddr, addrs };
    });
  } else {
    list = [
      {
        name: "lo",
        hwaddr: "00:00:00:00:00:00",
        addrs: [
          { "ip-address": "127.0.0.1", "ip-address-type": "inet", prefix: 8 },
          { "ip-address": "::1", "ip-address-type": "inet6", prefix: 128 },
        ],
      },
    ];
    for (const [n, raw] of netEntries(g.config)) {
      const p = propString(raw).kv;
      const hwaddr = (p.hwaddr ?? macFromSeed(`${g.vmid}/${n}`)).toLowerCase();
      const addrs: IfAddr[] = [];
      const [ip, len] = p.ip && p.ip !== "dhcp" && p.ip !== "manual" ? p.ip.split("/") : [];
      const v4 = ip ? { ip, prefix: Number(len ?? 24) } : synthIpv4(g, n);
      addrs.push({ "ip-address": v4.ip, "ip-address-type": "inet", prefix: v4.prefix });
      if (p.ip6 && p.ip6.includes("/")) {
        const [ip6, len6] = p.ip6.split("/");
        addrs.push({ "ip-address": ip6 ?? "", "ip-address-type": "inet6", prefix: Number(len6 ?? 64) });
      }
      addrs.push({ "ip-address": linkLocal(hwaddr), "ip-address-type": "inet6", prefix: 64 });
      list.push({ name: p.name ?? `eth${n}`, hwaddr, addrs });
    }
  }
  return list.map((i) => {
    const out: Json = { name: i.name, hwaddr: i.hwaddr };
    // pve-container before 5f9f011 kept only the last address of each family
    const last4 = i.addrs.filter((a) => a["ip-address-type"] === "inet").at(-1);
    const last6 = i.addrs.filter((a) => a["ip-address-type"] === "inet6").at(-1);
    if (last4) out.inet = `${last4["ip-address"]}/${last4.prefix}`;
    if (last6) out.inet6 = `${last6["ip-address"]}/${last6.prefix}`;
    if (m.v >= 900) {
      out["hardware-address"] = i.hwaddr;
      out["ip-addresses"] = i.addrs;
    }
    return out;
  });
}

/** The QGA network-get-interfaces `result` array, derived from netN (+ ipconfigN) when not given. */
function qemuAgentInterfaces(g: PveSimGuest): unknown {
  if (g.interfaces !== undefined) return structuredClone(g.interfaces);
  const stats = (rx: number) => ({
    "rx-bytes": rx,
    "rx-packets": Math.round(rx / 900),
    "rx-errs": 0,
    "rx-dropped": 0,
    "tx-bytes": Math.round(rx / 3),
    "tx-packets": Math.round(rx / 2700),
    "tx-errs": 0,
    "tx-dropped": 0,
  });
  const out: Json[] = [
    {
      name: "lo",
      "hardware-address": "00:00:00:00:00:00",
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 },
        { "ip-address-type": "ipv6", "ip-address": "::1", prefix: 128 },
      ],
      statistics: stats(163_244),
    },
  ];
  for (const [n, raw] of netEntries(g.config)) {
    const p = propString(raw);
    const model = Object.keys(p.kv).find((k) => /^(virtio|e1000e?|rtl8139|vmxnet3)$/.test(k));
    const mac = (model ? (p.kv[model] ?? "") : macFromSeed(`${g.vmid}/${n}`)).toLowerCase();
    const ipcfg = propString(g.config[`ipconfig${n}`]).kv;
    const [ip, len] = ipcfg.ip && ipcfg.ip !== "dhcp" ? ipcfg.ip.split("/") : [];
    const v4 = ip ? { ip, prefix: Number(len ?? 24) } : synthIpv4(g, n);
    out.push({
      name: `ens${18 + n}`,
      "hardware-address": mac,
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": v4.ip, prefix: v4.prefix },
        { "ip-address-type": "ipv6", "ip-address": linkLocal(mac), prefix: 64 },
      ],
      statistics: stats(g.vmid * 3_241),
    });
  }
  return out;
}

function resourcesGuest(m: Model, g: PveSimGuest): Json {
  const node = m.node(g.node);
  const e: Json = { id: `${g.type}/${g.vmid}`, vmid: g.vmid, node: g.node, type: g.type, status: "unknown" };
  if (node?.online) {
    const s = guestStats(g, m.hostCpus(g.node));
    Object.assign(e, {
      uptime: s.uptime,
      name: g.name,
      status: g.status,
      template: g.template ? 1 : 0,
      maxcpu: s.cpus,
      cpu: s.cpu,
      maxmem: s.maxmem,
      mem: s.mem,
      maxdisk: s.maxdisk,
      disk: s.disk,
      netin: s.netin,
      netout: s.netout,
      diskread: s.diskread,
      diskwrite: s.diskwrite,
    });
    if (m.v >= 900) e.memhost = s.mem;
  }
  if (g.pool) e.pool = g.pool;
  if (g.lock) e.lock = g.lock;
  if (g.tags) e.tags = g.tags;
  if (g.hastate) e.hastate = g.hastate;
  return e;
}

/** extract_node_stats: offline nodes keep level and max* from the RRD but lose uptime/cpu/mem/disk; without Sys.Audit only id/node/type/status/level. */
function nodeEntry(m: Model, n: PveSimNode, audit: boolean): Json {
  const f = nodeFacts(n, m.v);
  const e: Json = { id: `node/${n.name}`, node: n.name, type: "node", status: n.online ? "online" : "offline" };
  if (audit && n.online) Object.assign(e, { uptime: f.uptime, cpu: f.cpu, mem: f.memUsed, disk: f.diskUsed });
  e.level = "";
  if (audit) Object.assign(e, { maxcpu: f.cpus, maxmem: f.memTotal, maxdisk: f.diskTotal });
  return e;
}

function clusterResources(m: Model, privsep: boolean, type: string | null): Json[] {
  const guests = [...m.opts.guests].sort((a, b) => a.vmid - b.vmid);
  const res: Json[] = [];
  if (!type && !privsep) {
    const pools = new Map<string, Json>();
    for (const p of [...new Set(guests.map((g) => g.pool).filter((p): p is string => !!p))].sort()) pools.set(p, { id: `/pool/${p}`, pool: p, type: "pool" });
    for (const g of guests) {
      const pe = g.pool ? pools.get(g.pool) : undefined;
      const e = resourcesGuest(m, g);
      if (!pe || !num(e.uptime)) continue;
      const maxcpu = (num(pe.maxcpu) ?? 0) + (num(e.maxcpu) ?? 0);
      pe.cpu = maxcpu ? ((num(pe.cpu) ?? 0) * (num(pe.maxcpu) ?? 0) + (num(e.cpu) ?? 0) * (num(e.maxcpu) ?? 0)) / maxcpu : 0;
      pe.maxcpu = maxcpu;
      pe.uptime = Math.max(num(pe.uptime) ?? 0, num(e.uptime) ?? 0);
      pe.mem = (num(pe.mem) ?? 0) + (num(e.mem) ?? 0);
      pe.maxmem = (num(pe.maxmem) ?? 0) + (num(e.maxmem) ?? 0);
    }
    res.push(...pools.values());
  }
  if (!privsep && (!type || type === "vm")) res.push(...guests.map((g) => resourcesGuest(m, g)));
  if (!type || type === "node") {
    for (const n of m.opts.nodes) {
      const e = nodeEntry(m, n, !privsep);
      if (m.v >= 703) e["cgroup-mode"] = 2; // from the static-info kv (PVE 7.3+); cgroup v2 hosts
      if (m.v >= 900) e["host-arch"] = "x86_64";
      res.push(e);
    }
  }
  if (!privsep && (!type || type === "storage")) {
    for (const n of m.opts.nodes) {
      for (const st of nodeStorage(n, m.v)) {
        const e: Json = {
          id: `storage/${n.name}/${String(st.storage)}`,
          storage: st.storage,
          node: n.name,
          type: "storage",
          plugintype: st.type,
          status: "unknown",
          shared: num(st.shared) ?? 0,
          content: st.content,
        };
        if (n.online) Object.assign(e, { maxdisk: num(st.total) ?? 0, disk: num(st.used) ?? 0, status: "available" });
        res.push(e);
      }
    }
  }
  if (!privsep && m.v >= 801 && (!type || type === "sdn")) {
    for (const n of m.opts.nodes.filter((x) => x.online))
      res.push({ id: `sdn/${n.name}/localnetwork`, sdn: "localnetwork", node: n.name, type: "sdn", status: "ok" });
  }
  return res;
}

function clusterStatus(m: Model): Json[] {
  const nodes = m.opts.nodes;
  const first = nodes[0];
  if (m.clusterName === null) {
    return first ? [{ type: "node", id: `node/${first.name}`, name: first.name, ip: first.ip, local: 1, nodeid: 0, online: 1, level: "" }] : [];
  }
  const online = nodes.filter((n) => n.online).length;
  return [
    { type: "cluster", id: "cluster", name: m.clusterName, nodes: nodes.length, quorate: online * 2 > nodes.length ? 1 : 0, version: nodes.length },
    ...nodes.map((n, i) => ({
      type: "node",
      id: `node/${n.name}`,
      name: n.name,
      nodeid: i + 1,
      ip: n.ip,
      local: i === 0 ? 1 : 0,
      online: n.online ? 1 : 0,
      level: "",
    })),
  ];
}

// ---------------------------------------------------------------------------
// Server

type Outcome =
  | { kind: "data"; data: unknown }
  /** JSON formatter error: reason phrase + {"data":null[,"errors"][,"message"]}. */
  | { kind: "error"; status: number; message: string; errors?: Record<string, string> }
  /** No body, no Content-Type (401, proxied 59x, HTTP-layer errors). */
  | { kind: "bare"; status: number; message: string };

const err = (status: number, message: string, errors?: Record<string, string>): Outcome =>
  errors ? { kind: "error", status, message, errors } : { kind: "error", status, message };
const paramErr = (errors: Record<string, string>): Outcome =>
  err(400, "Parameter verification failed.", Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, v.endsWith("\n") ? v : `${v}\n`])));
const permErr = (path: string, priv: string): Outcome => err(403, `Permission check failed (${path}, ${priv})`);

interface Principal {
  user: string;
  privsep: boolean;
  ticket: boolean;
}

interface TicketInfo {
  user: string;
  issued: number;
  csrf: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Decodes %XX only, as URI::Escape::uri_unescape does ('+' stays '+'). */
const uriUnescape = (s: string) => s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

/** pve-http-server extract_auth_value: `name=value` (or `name value` for the Authorization header) up to ';'. */
function extractAuthValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const m = new RegExp(`(?:^|\\s|;)${name}[=\\s]([^;]*)`).exec(header);
  const v = m?.[1]?.trim();
  return v ? uriUnescape(v) : undefined;
}

function parseForm(body: string, contentType: string | undefined): Record<string, string> {
  if (contentType && /^application\/json/i.test(contentType)) {
    try {
      const j = JSON.parse(body) as Json;
      return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, String(v)]));
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

export async function startPveSim(initial: PveSimOptions): Promise<PveSim> {
  const tls = tlsMaterial();
  let opts: PveSimOptions = { ...initial };
  const requests: PveSimRequest[] = [];
  const tickets = new Map<string, TicketInfo>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const hmacKey = randomBytes(32);
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (ms <= 0) return resolve();
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const model = (): Model => {
    const version = opts.version ?? "8.4";
    const nodes = opts.nodes;
    return {
      version,
      v: vnum(version),
      opts,
      clusterName: opts.clusterName === undefined ? (nodes.length > 1 ? "pve-cluster" : null) : opts.clusterName,
      node: (name) => nodes.find((n) => n.name === name),
      hostCpus: (name) => {
        const n = nodes.find((x) => x.name === name);
        return n ? nodeFacts(n, vnum(version)).cpus : 8;
      },
      fingerprintOf: (name) => (name === nodes[0]?.name ? tls.fingerprint : colonHex(createHash("sha256").update(`pve-sim-node/${name}`).digest())),
    };
  };

  function issueTicket(user: string): { ticket: string; csrf: string } {
    const now = Date.now();
    const hex = Math.floor(now / 1000)
      .toString(16)
      .toUpperCase()
      .padStart(8, "0");
    const ticket = `PVE:${user}:${hex}::${randomBytes(256).toString("base64")}`;
    const csrf = `${hex}:${createHmac("sha256", hmacKey).update(`${hex}:${user}`).digest("base64").replace(/=+$/, "")}`;
    tickets.set(ticket, { user, issued: now, csrf });
    return { ticket, csrf };
  }

  function validTicket(ticket: string | undefined): TicketInfo | undefined {
    const t = ticket ? tickets.get(ticket) : undefined;
    if (!t) return undefined;
    if (Date.now() - t.issued >= (opts.ticketTtlMs ?? 2 * 3600_000)) return undefined;
    return t;
  }

  /** auth_handler: returns the principal or the 401 reason. */
  function authenticate(req: IncomingMessage, method: string, rel: string): Principal | { fail: string } | null {
    if ((rel === "/access/ticket" && (method === "GET" || method === "POST")) || (rel === "/access/domains" && method === "GET")) return null;
    const authz = req.headers.authorization;
    const ticket = extractAuthValue(req.headers.cookie, "PVEAuthCookie") ?? extractAuthValue(authz, "PVEAuthCookie");
    const v = vnum(opts.version ?? "8.4");
    if (ticket) {
      const t = validTicket(ticket);
      if (!t) return { fail: "permission denied - invalid PVE ticket" };
      if (method !== "GET") {
        const csrf = req.headers.csrfpreventiontoken;
        if (csrf !== t.csrf) return { fail: "Permission denied - invalid csrf token" };
      }
      return { user: t.user, privsep: false, ticket: true };
    }
    const apiToken = extractAuthValue(authz, "PVEAPIToken");
    if (apiToken) {
      const failed = (why: string) => ({ fail: v >= 900 ? "Authentication failed!" : why });
      const m = /^(.*)=(.*)$/.exec(apiToken);
      if (!m) return failed("no tokenid specified");
      const [, tokenid = "", secret = ""] = m;
      const [user = "", tokenName = ""] = tokenid.split("!");
      const tok = opts.tokens?.[tokenid];
      if (!tok) return failed(`no such token '${tokenName}' for user '${user}'`);
      if (tok.secret !== secret) return failed("invalid token value!");
      return { user: tokenid, privsep: tok.privsep ?? false, ticket: false };
    }
    return { fail: "No ticket" };
  }

  function route(method: string, rel: string, query: URLSearchParams, body: Record<string, string>, who: Principal | null): Outcome {
    const m = model();
    const segs = rel === "/" ? [] : rel.slice(1).split("/").map(decodeURIComponent);
    const notImpl = () => err(501, `Method '${method} ${rel}' not implemented`);
    const allow = (...names: string[]): Outcome | null => {
      for (const k of query.keys()) {
        if (k === "_dc" || names.includes(k)) continue;
        return paramErr({ [k]: "property is not defined in schema and the schema does not allow additional properties" });
      }
      return null;
    };
    const privsep = who?.privsep ?? false;
    const [s0, s1, s2, s3, s4, s5] = segs;

    // -- access
    if (s0 === "access" && s1 === "ticket" && segs.length === 2) {
      if (method === "GET") return { kind: "data", data: null };
      if (method !== "POST") return notImpl();
      const params = { ...Object.fromEntries(query), ...body };
      const missing: Record<string, string> = {};
      if (!params.username) missing.username = "property is missing and it is not optional";
      if (!params.password) missing.password = "property is missing and it is not optional";
      if (Object.keys(missing).length) return paramErr(missing);
      const user = params.username!.includes("@") || !params.realm ? params.username! : `${params.username}@${params.realm}`;
      const viaTicket = validTicket(params.password);
      const ok = (opts.users?.[user] !== undefined && opts.users[user] === params.password) || viaTicket?.user === user;
      if (!ok) return err(401, "authentication failure");
      const { ticket, csrf } = issueTicket(user);
      const data: Json = { username: user, ticket, CSRFPreventionToken: csrf, cap: ticketCap() };
      if (m.clusterName !== null) data.clustername = m.clusterName;
      return { kind: "data", data };
    }
    if (s0 === "access" && s1 === "permissions" && segs.length === 2) {
      if (method !== "GET") return notImpl();
      return allow("path", "userid") ?? { kind: "data", data: privsep ? {} : permissionMap() };
    }

    if (method !== "GET") return notImpl();

    if (segs.length === 0) return { kind: "data", data: ["access", "cluster", "nodes", "pools", "storage", "version"].map((subdir) => ({ subdir })) };
    if (s0 === "version" && segs.length === 1) return allow() ?? { kind: "data", data: { ...VERSION_INFO[m.version] } };
    if (s0 === "cluster" && s1 === "status" && segs.length === 2) {
      if (privsep) return permErr("/", "Sys.Audit");
      return allow() ?? { kind: "data", data: clusterStatus(m) };
    }
    if (s0 === "cluster" && s1 === "resources" && segs.length === 2) {
      const bad = allow("type");
      if (bad) return bad;
      const type = query.get("type");
      const types = ["vm", "storage", "node", "sdn"];
      if (type !== null && !types.includes(type)) return paramErr({ type: `value '${type}' does not have a value in the enumeration '${types.join(", ")}'` });
      return { kind: "data", data: clusterResources(m, privsep, type) };
    }
    if (s0 === "nodes" && segs.length === 1) {
      return (
        allow() ?? {
          kind: "data",
          data: m.opts.nodes.map((n) => ({ ...nodeEntry(m, n, !privsep), ssl_fingerprint: m.fingerprintOf(n.name) })),
        }
      );
    }
    if (s0 !== "nodes" || s1 === undefined) return notImpl();

    // -- /nodes/{node}/...: find handler, check permissions, proxy, then run on the owning node
    const nodeName = s1;
    const rest = segs.slice(2).join("/");
    let kind: "status" | "lxc" | "qemu" | "storage" | "config" | "current" | "interfaces" | "agent" | null = null;
    const guestType = s2 === "lxc" || s2 === "qemu" ? s2 : null;
    if (rest === "status") kind = "status";
    else if (rest === "lxc" || rest === "qemu") kind = rest;
    else if (rest === "storage") kind = "storage";
    else if (guestType && s3 !== undefined && segs.length === 5 && s4 === "config") kind = "config";
    else if (guestType && s3 !== undefined && segs.length === 6 && s4 === "status" && s5 === "current") kind = "current";
    else if (guestType === "lxc" && s3 !== undefined && segs.length === 5 && s4 === "interfaces" && m.v >= 801) kind = "interfaces";
    else if (guestType === "qemu" && s3 !== undefined && segs.length === 6 && s4 === "agent" && s5 === "network-get-interfaces") kind = "agent";
    if (!kind) return notImpl();

    if (privsep) {
      if (kind === "status") return permErr(`/nodes/${nodeName}`, "Sys.Audit");
      if (kind === "config" || kind === "current" || kind === "interfaces") return permErr(`/vms/${s3}`, "VM.Audit");
      if (kind === "agent") return permErr(`/vms/${s3}`, "VM.Monitor");
    }
    const node = m.node(nodeName);
    if (!node) return err(500, `hostname lookup '${nodeName}' failed - failed to get address info for: ${nodeName}: Name or service not known`);
    if (!node.online) return { kind: "bare", status: 595, message: "No route to host" };

    if (kind === "status") return allow() ?? { kind: "data", data: nodeStatusData(node, m.version) };
    if (kind === "storage") {
      const bad = allow("content", "enabled", "format", "storage", "target");
      if (bad) return bad;
      return { kind: "data", data: privsep ? [] : nodeStorage(node, m.v) };
    }
    const mine = m.opts.guests.filter((g) => g.node === nodeName).sort((a, b) => a.vmid - b.vmid);
    if (kind === "lxc") return allow() ?? { kind: "data", data: privsep ? [] : mine.filter((g) => g.type === "lxc").map((g) => lxcListItem(m, g)) };
    if (kind === "qemu") {
      const bad = allow("full");
      if (bad) return bad;
      const full = query.get("full");
      if (full !== null && !["0", "1"].includes(full)) return paramErr({ full: `type check ('boolean') failed - got '${full}'` });
      return { kind: "data", data: privsep ? [] : mine.filter((g) => g.type === "qemu").map((g) => qemuListItem(m, g, full === "1")) };
    }

    // guest endpoints
    const bad = allow();
    if (bad) return bad;
    const rawId = s3 ?? "";
    if (!/^-?\d+$/.test(rawId)) return paramErr({ vmid: `type check ('integer') failed - got '${rawId}'` });
    const vmid = Number(rawId);
    if (vmid < 100 || vmid > 999_999_999) return paramErr({ vmid: "invalid format - value does not look like a valid VM ID" });
    const g = mine.find((x) => x.vmid === vmid && x.type === guestType);
    if (!g) return err(500, `Configuration file 'nodes/${nodeName}/${guestType === "lxc" ? "lxc" : "qemu-server"}/${vmid}.conf' does not exist`);

    if (kind === "config") return { kind: "data", data: configData(m, g) };
    if (kind === "current") return { kind: "data", data: g.type === "lxc" ? lxcStatusCurrent(m, g) : qemuStatusCurrent(m, g) };
    if (kind === "interfaces") return { kind: "data", data: g.status === "running" ? lxcInterfaces(m, g) : null };
    // agent/network-get-interfaces: assert_agent_available, then the QGA reply
    const state = g.agent ?? (agentEnabled(g.config) ? "ok" : "not_configured");
    if (state === "not_configured") return err(500, "No QEMU guest agent configured");
    if (g.status !== "running") return err(500, `VM ${vmid} is not running`);
    if (state === "not_running") return err(500, "QEMU guest agent is not running");
    if (state === "unsupported")
      return { kind: "data", data: { result: { error: { class: "Unsupported", desc: "this feature or command is not currently supported" } } } };
    return { kind: "data", data: { result: qemuAgentInterfaces(g) } };
  }

  function send(req: IncomingMessage, res: ServerResponse, status: number, message: string, body: string | null, contentType: string | null): void {
    if (closed || res.destroyed || res.headersSent) return;
    const date = new Date().toUTCString();
    const headers: Record<string, string> = { "Cache-Control": "max-age=0", Date: date, Expires: date, Pragma: "no-cache", Server: "pve-api-daemon/3.0" };
    let payload: Buffer | null = body === null || body === "" ? null : Buffer.from(body, "utf8");
    if (contentType) headers["Content-Type"] = contentType;
    if (payload && payload.length > 1024 && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
      payload = gzipSync(payload);
      headers["Content-Encoding"] = "gzip";
    }
    if (payload) headers["Content-Length"] = String(payload.length);
    headers.Connection = status >= 400 ? "close" : "Keep-Alive";
    // only the first line of the message survives, as in pve-http-server response()
    const reason = (message.split("\n")[0] ?? "").replace(/[^\t\x20-\x7e]/g, "?");
    // no body: no Content-Length and no chunking either; the connection close ends the response, as in pveproxy
    if (!payload) res.useChunkedEncodingByDefault = false;
    res.writeHead(status, reason, headers);
    res.end(payload ?? undefined);
  }

  const JSON_CT = "application/json;charset=UTF-8";

  function sendOutcome(req: IncomingMessage, res: ServerResponse, o: Outcome): void {
    const v = vnum(opts.version ?? "8.4");
    const fault = opts.fault;
    const ct = fault && "contentType" in fault ? fault.contentType : JSON_CT;
    if (o.kind === "bare") return send(req, res, o.status, o.message, null, null);
    if (o.kind === "data") {
      let body = JSON.stringify({ data: o.data });
      if (fault && "malformedJson" in fault) body = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
      return send(req, res, 200, "OK", body, ct);
    }
    const b: Json = { data: null };
    if (o.errors) b.errors = o.errors;
    if (v >= 804) b.message = `${o.message}\n`; // libpve-http-server-perl 5.2.0 (fix #6503)
    send(req, res, o.status, o.message, JSON.stringify(b), ct);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const rawUrl = req.url ?? "/";
    const authz = req.headers.authorization;
    const hasTicket = !!(extractAuthValue(req.headers.cookie, "PVEAuthCookie") ?? extractAuthValue(authz, "PVEAuthCookie"));
    requests.push({
      method,
      path: rawUrl,
      auth: hasTicket ? "ticket" : authz && /^PVEAPIToken[=\s]/.test(authz) ? "token" : "none",
      csrf: req.headers.csrfpreventiontoken !== undefined,
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");

    await sleep(opts.latencyMs ?? 0);
    if (closed) return;
    const fault = opts.fault;
    if (fault && "hang" in fault) return; // accepted, never answered; close() destroys the socket

    const url = new URL(rawUrl, "https://127.0.0.1");
    const m = /^\/api2\/([a-z][a-z0-9]+)(\/.*)?$/.exec(url.pathname);
    if (!m) return send(req, res, 501, `no such file '${url.pathname}'`, null, null);
    if (m[1] !== "json") return send(req, res, 501, `no formatter for uri ${m[2] ?? "/"}, ${m[1]}`, null, null);
    let rel = (m[2] ?? "/").replace(/\/+/g, "/");
    if (rel.length > 1) rel = rel.replace(/\/$/, "");

    const who = authenticate(req, method, rel);
    if (who && "fail" in who) {
      await sleep(opts.authFailDelayMs ?? 0);
      return send(req, res, 401, who.fail, null, null);
    }

    if (fault && "status" in fault) {
      if (fault.path) fault.path.lastIndex = 0;
      if (!fault.path || fault.path.test(rawUrl)) {
        const o: Outcome =
          fault.status === 401 || fault.status >= 595 ? { kind: "bare", status: fault.status, message: fault.reason } : err(fault.status, fault.reason);
        if (fault.status === 401) await sleep(opts.authFailDelayMs ?? 0);
        return sendOutcome(req, res, o);
      }
    }

    const o = route(method, rel, url.searchParams, method === "POST" || method === "PUT" ? parseForm(body, req.headers["content-type"]) : {}, who);
    // every 401 is delayed, including "authentication failure" from POST /access/ticket
    if (o.kind !== "data" && o.status === 401) await sleep(opts.authFailDelayMs ?? 0);
    sendOutcome(req, res, o);
  }

  const presented = (o: PveSimOptions) => (o.otherCertificate ? otherTlsMaterial() : tls);
  const server = createServer({ key: presented(opts).key, cert: presented(opts).certPem }, (req, res) => {
    handle(req, res).catch((e: unknown) => send(req, res, 500, `pve-sim internal error: ${e instanceof Error ? e.message : String(e)}`, null, null));
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {
    /* clients that reject our certificate hang up mid-handshake; that is the point of those tests */
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("pve-sim: no port");

  return {
    host: "127.0.0.1",
    port: addr.port,
    fingerprint: tls.fingerprint,
    certPem: tls.certPem,
    caPem: tls.caPem,
    requests,
    set(partial) {
      const before = presented(opts);
      opts = { ...opts, ...partial };
      const after = presented(opts);
      if (after !== before) server.setSecureContext({ key: after.key, cert: after.certPem });
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
}

// ---------------------------------------------------------------------------
// A realistic cluster built from the captures

/** Patches a node-status capture (the one for `version`) with one node's numbers, given as a /nodes entry (maxmem, mem, maxdisk, disk, maxcpu, uptime, cpu). */
export function statusFor(version: PveVersion, stats: Json): Record<string, unknown> {
  const s = defaultNodeStatus(vnum(version));
  const maxmem = num(stats.maxmem) ?? 32 * GiB;
  const mem = num(stats.mem) ?? 4 * GiB;
  const maxdisk = num(stats.maxdisk) ?? 100 * GiB;
  const disk = num(stats.disk) ?? 10 * GiB;
  const cpus = num(stats.maxcpu) ?? 8;
  s.memory = { ...(s.memory as Json), total: maxmem, used: mem, free: maxmem - mem };
  s.rootfs = { ...(s.rootfs as Json), total: maxdisk, used: disk, free: maxdisk - disk, avail: maxdisk - disk };
  s.cpuinfo = { ...(s.cpuinfo as Json), cpus, cores: Math.max(1, cpus / 2) };
  s.uptime = num(stats.uptime) ?? 86_400;
  s.cpu = num(stats.cpu) ?? 0;
  return s;
}

/**
 * A 3-node cluster (node1..node3, 192.168.1.1-3, "pve-cluster") with 7 guests built from the captures:
 * qemu 100 web01 (running, agent ok, tags, pool, HA), 101 leap154 (stopped template), 102 win11 (agent "unsupported"),
 * 103 db01 (locked "backup", agent not running, pool); lxc 105 test-container (running, dhcp, interfaces capture),
 * 106 dns01 (running, static IP, HA, pool, 6.2-style free-form tags), 107 old-ct (stopped).
 * `offline: true` takes node3 (lxc 105 and 107) offline.
 */
export function clusterFromFixtures(
  version: PveSimOptions["version"],
  opts: { offline?: boolean } = {},
): Pick<PveSimOptions, "nodes" | "guests" | "clusterName"> {
  const ver = version ?? "8.4";
  const nodeCaps = fixtureData<Json[]>("pve-api-nodes.4node.json");
  const capOf = (name: string) => nodeCaps.find((n) => n.node === name) ?? {};
  const nodes: PveSimNode[] = ["node1", "node2", "node3"].map((name, i) => ({
    name,
    ip: `192.168.1.${i + 1}`,
    online: !(opts.offline && name === "node3"),
    status: statusFor(ver, capOf(name)),
  }));

  const qemu9 = fixtureData<Json>("pve-api-qemu-config.pve9.data-only.json");
  const qemu62 = fixtureData<Json>("pve-api-qemu-config.pve62.data-only.json");
  const lxcCfg = fixtureData<Json>("pve-api-lxc-config.json");
  const lxc62 = fixtureData<Json>("pve-api-lxc-config.pve62.data-only.json");
  const agentReply = fixtureData<{ result: Json[] }>("pve-api-qemu-agent-network-get-interfaces.data-only.json");
  const lxcIfs = fixtureData<Json[]>("pve-api-lxc-interfaces.pre2025.json");

  // web01: the PVE 9 capture (static cloud-init IP), with a name and the agent enabled
  const webMac = "bc:24:11:4e:8f:d1";
  const webIfs = agentReply.result.map((i) =>
    i.name === "eth0"
      ? {
          ...i,
          "hardware-address": webMac,
          "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "10.100.1.174", prefix: 24 }, ...(i["ip-addresses"] as Json[]).slice(1)],
        }
      : i,
  );
  const web01: PveSimGuest = {
    vmid: 100,
    type: "qemu",
    node: "node1",
    name: "web01",
    status: "running",
    tags: "prod;web",
    pool: "production",
    hastate: "started",
    config: { ...qemu9, name: "web01", agent: "1", tags: "prod;web" },
    agent: "ok",
    interfaces: webIfs,
  };
  const leap: PveSimGuest = {
    vmid: 101,
    type: "qemu",
    node: "node1",
    name: "leap154",
    status: "stopped",
    template: true,
    config: {
      ...qemu62,
      name: "leap154",
      cores: 4,
      memory: 16000,
      template: 1,
      scsi0: "local-lvm:base-101-disk-0,size=64G",
      ide0: "local-lvm:vm-101-cloudinit,media=cdrom,size=4M",
      net0: "virtio=BC:24:11:0A:01:65,bridge=vmbr0,firewall=1",
      tags: undefined,
      description: undefined,
    },
  };
  const win: PveSimGuest = {
    vmid: 102,
    type: "qemu",
    node: "node2",
    name: "win11",
    status: "running",
    tags: "windows",
    agent: "unsupported",
    config: {
      ...qemu62,
      name: "win11",
      ostype: "win11",
      cores: 4,
      memory: 8192,
      bios: "ovmf",
      machine: "pc-q35-8.1",
      scsi0: "local-lvm:vm-102-disk-1,size=64G",
      efidisk0: "local-lvm:vm-102-disk-0,efitype=4m,size=4M",
      net0: "virtio=BC:24:11:5A:01:66,bridge=vmbr0,firewall=1",
      agent: "1",
      tags: "windows",
      description: undefined,
    },
  };
  const db: PveSimGuest = {
    vmid: 103,
    type: "qemu",
    node: "node2",
    name: "db01",
    status: "running",
    tags: "db;prod",
    pool: "production",
    lock: "backup",
    agent: "not_running",
    config: {
      ...qemu9,
      name: "db01",
      cores: 2,
      memory: "8192",
      agent: "enabled=1",
      scsi0: "local-zfs:vm-103-disk-1,discard=on,size=200G,ssd=1",
      scsi1: "local-zfs:vm-103-cloudinit,media=cdrom",
      efidisk0: "local-zfs:vm-103-disk-0,efitype=4m,size=1M",
      net0: "virtio=BC:24:11:7D:22:03,bridge=vmbr0,firewall=1",
      ipconfig0: "ip=dhcp",
      tags: "db;prod",
      lock: "backup",
    },
  };
  // test-container: the PVE 7 config capture; its net0 MAC aligned with the interfaces capture (eth0 bc:24:11:89:67:07)
  const ct105: PveSimGuest = {
    vmid: 105,
    type: "lxc",
    node: "node3",
    name: "test-container",
    status: "running",
    tags: "tag1;tag2",
    config: { ...lxcCfg, net0: "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:89:67:07,ip=dhcp,type=veth" },
    interfaces: lxcIfs,
  };
  const dns: PveSimGuest = {
    vmid: 106,
    type: "lxc",
    node: "node1",
    name: "dns01",
    status: "running",
    tags: "one, two, three",
    pool: "production",
    hastate: "started",
    config: {
      ...lxc62,
      hostname: "dns01",
      rootfs: "local-lvm:vm-106-disk-0,size=8G",
      memory: 1024,
      swap: 512,
      net0: "name=eth0,bridge=vmbr0,gw=10.1.1.1,hwaddr=BC:24:11:6A:10:06,ip=10.1.1.3/24,type=veth",
    },
  };
  const oldCt: PveSimGuest = {
    vmid: 107,
    type: "lxc",
    node: "node3",
    name: "old-ct",
    status: "stopped",
    config: {
      arch: "amd64",
      cores: 1,
      hostname: "old-ct",
      memory: 512,
      swap: 512,
      net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:3C:9E:6B,ip=dhcp,type=veth",
      ostype: "debian",
      rootfs: "local-lvm:vm-107-disk-0,size=8G",
      unprivileged: 1,
    },
  };
  const guests = [web01, leap, win, db, ct105, dns, oldCt].map((g) => ({
    ...g,
    config: Object.fromEntries(Object.entries(g.config).filter(([, v]) => v !== undefined)),
  }));
  return { nodes, guests, clusterName: "pve-cluster" };
}
