// Maps parsed Proxmox VE data (schemas.ts) into our observation vocabulary
// (types.ts). Pure: no I/O, no clock (observedAt comes in), no logging. Nothing
// of the upstream shapes leaves this file: callers get TargetObservations whose
// facts use our keys (listed in the comments of mapNode and mapGuest).

import type { AddressObs, FactValue, InterfaceObs, SectionResult, TargetObservation } from "../types.js";
import {
  isDataDisk,
  isDiskKey,
  parseAgent,
  parseCidr,
  parseDisk,
  parseIpConfig,
  parseLxcNet,
  parseMeta,
  parsePveManagerVersion,
  parseQemuMemory,
  parseQemuNet,
  parseTags,
  normalizeMac,
  type DiskSpec,
} from "./config-strings.js";
import { isStatusCluster, isStatusNode } from "./schemas.js";
import type {
  AgentNetworkReply,
  ClusterStatus,
  ClusterStatusNode,
  GuestResource,
  LxcConfig,
  LxcInterfaces,
  LxcListItem,
  NodeStatus,
  NodeStorage,
  NodesEntry,
  PveVersionData,
  QemuConfig,
  QemuListItem,
  StorageResource,
} from "./schemas.js";

const MiB = 1024 * 1024;

// ---------------------------------------------------------------- cluster and identities

export interface ClusterIdentity {
  /** null on a standalone node (its /cluster/status has no "cluster" entry). */
  clusterName: string | null;
  /** null on a standalone node: there is no quorum to speak of. */
  quorate: boolean | null;
  nodesOnline: number;
  nodesTotal: number;
  /** pve-manager version of the node that answered (/version), e.g. "8.4.14" or "7.4-16". */
  version: string | null;
}

/** Reads GET /cluster/status (and optionally GET /version). */
export function mapClusterIdentity(status: ClusterStatus, versionData?: PveVersionData | null): ClusterIdentity {
  const cluster = status.find(isStatusCluster) ?? null;
  const nodes = status.filter(isStatusNode);
  return {
    clusterName: cluster ? cluster.name : null,
    quorate: cluster ? cluster.quorate : null,
    nodesOnline: nodes.filter((n) => n.online).length,
    nodesTotal: nodes.length > 0 ? nodes.length : (cluster?.nodes ?? 0),
    version: versionData?.version ?? null,
  };
}

/** The /cluster/status entry of one node (its IP, node id, online flag), if listed. */
export function clusterMember(status: ClusterStatus, node: string): ClusterStatusNode | null {
  return status.filter(isStatusNode).find((n) => n.name === node) ?? null;
}

/**
 * The namespace node names and guest ids are unique in. Proxmox allocates vmids
 * cluster-wide (pmxcfs refuses a second 100 anywhere in the cluster) and a guest
 * keeps its vmid when it migrates between nodes, so "<cluster>/<vmid>" follows a
 * guest across migrations while "<node>/<vmid>" would not. A standalone node is
 * its own namespace: "standalone:<node>".
 *
 * Known limits (callers may want to know): cluster names and node names are
 * chosen by admins and need not be unique across a fleet (two standalone hosts
 * both called "pve" share a scope); a deleted guest's vmid can be reused by a new
 * guest (same identity); and a node that creates a cluster moves its guests from
 * "standalone:<node>" to "<cluster>".
 */
export function pveScope(cluster: string | null, node: string): string {
  return cluster ?? `standalone:${node}`;
}

/** `pve-node:<cluster>/<node>`, or `pve-node:standalone:<node>/<node>` outside a cluster. */
export function nodeIdentity(cluster: string | null, node: string): string {
  return `pve-node:${pveScope(cluster, node)}/${node}`;
}

/**
 * `pve-guest:<cluster>/<vmid>`; outside a cluster `pve-guest:standalone:<node>/<vmid>`
 * (so the node name is required when cluster is null). See pveScope for why the
 * cluster, not the node, scopes a vmid.
 */
export function guestIdentity(cluster: string, vmid: number): string;
export function guestIdentity(cluster: string | null, vmid: number, node: string): string;
export function guestIdentity(cluster: string | null, vmid: number, node?: string): string {
  if (cluster === null && node === undefined) throw new TypeError("guestIdentity: a standalone guest needs its node name");
  return `pve-guest:${pveScope(cluster, node ?? "")}/${vmid}`;
}

// ---------------------------------------------------------------- shared helpers

export interface PveMapContext {
  /** Cluster name from mapClusterIdentity; null on a standalone node. */
  cluster: string | null;
  observedAt: Date;
}

function ok(): SectionResult {
  return { status: "ok", exitCode: null };
}

function unavailable(reason: string, detail?: string): SectionResult {
  return detail === undefined ? { status: "unavailable", exitCode: null, reason } : { status: "unavailable", exitCode: null, reason, detail };
}

/** Sets a fact only when the input carried the value (undefined = not observed, keep what we knew). */
function setter(facts: Record<string, FactValue>) {
  return (key: string, v: FactValue | undefined): void => {
    if (v !== undefined) facts[key] = v;
  };
}

function numOf(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function nonEmpty(s: string | null | undefined): string | null {
  return s === undefined || s === null || s.trim() === "" ? null : s.trim();
}

// ---------------------------------------------------------------- nodes

/** A storage as /cluster/resources (type "storage") or /nodes/{node}/storage reports it. */
export type StorageInput = StorageResource | NodeStorage;

export interface NodeInputs {
  /** GET /nodes/{node}/status. */
  status?: NodeStatus | null;
  /** Storages; entries carrying another `node` are ignored, so the whole /cluster/resources storage list may be passed. */
  storages?: readonly StorageInput[] | null;
  /** This node's /cluster/status entry (clusterMember): gives the address and node id. */
  member?: ClusterStatusNode | null;
  /** Section results the caller knows better (failed calls); they override the defaults. */
  sections?: Record<string, SectionResult>;
}

function isStorageResource(s: StorageInput): s is StorageResource {
  return s.type === "storage" || "plugintype" in s;
}

/**
 * A node from GET /nodes or a node entry of /cluster/resources, with its status
 * and storages, as a `proxmox_node` observation.
 *
 * Facts: pve.cluster, pve.node.status (online|offline|unknown),
 * pve.node.subscription_level, pve.node.ssl_fingerprint, pve.node.nodeid,
 * cpu.count, cpu.model, cpu.sockets, cpu.cores_per_socket, memory.total_bytes,
 * memory.used_bytes, memory.available_bytes (PVE 9), swap.total_bytes,
 * swap.free_bytes, disk.total_bytes / disk.used_bytes (root fs), uptime_seconds,
 * load.1m/5m/15m, pve.version, pve.repoid, kernel.name, kernel.release, arch,
 * boot.mode, boot.secureboot, and per storage pve.storage.<id>.type / .shared /
 * .content / .used_bytes / .total_bytes. A key is present only when its input was.
 */
export function mapNode(node: NodesEntry, ctx: PveMapContext, inputs: NodeInputs = {}): TargetObservation {
  const name = node.node;
  const st = inputs.status ?? null;
  const member = inputs.member ?? null;
  const online = node.status === "online";
  const facts: Record<string, FactValue> = {};
  const set = setter(facts);

  set("pve.cluster", ctx.cluster);
  set("pve.node.status", node.status ?? "unknown");
  if (node.level !== undefined) set("pve.node.subscription_level", nonEmpty(node.level));
  set("pve.node.ssl_fingerprint", node.ssl_fingerprint);
  set("pve.node.nodeid", member?.nodeid);

  const cpuinfo = st?.cpuinfo;
  set("cpu.count", cpuinfo?.cpus ?? node.maxcpu);
  if (cpuinfo) {
    set("cpu.model", cpuinfo.model);
    set("cpu.sockets", cpuinfo.sockets);
    if (cpuinfo.cores !== undefined && cpuinfo.sockets !== undefined && cpuinfo.sockets > 0 && cpuinfo.cores % cpuinfo.sockets === 0) {
      set("cpu.cores_per_socket", cpuinfo.cores / cpuinfo.sockets);
    }
  }
  set("memory.total_bytes", st?.memory?.total ?? node.maxmem);
  set("memory.used_bytes", st?.memory?.used ?? node.mem);
  set("memory.available_bytes", st?.memory?.available);
  set("swap.total_bytes", st?.swap?.total);
  set("swap.free_bytes", st?.swap?.free);
  set("disk.total_bytes", st?.rootfs?.total ?? node.maxdisk);
  set("disk.used_bytes", st?.rootfs?.used ?? node.disk);
  if (online) set("uptime_seconds", st?.uptime ?? node.uptime);

  if (st) {
    const [l1, l5, l15] = st.loadavg ?? [];
    set("load.1m", l1);
    set("load.5m", l5);
    set("load.15m", l15);
    const pv = parsePveManagerVersion(st.pveversion);
    if (pv) {
      set("pve.version", pv.version);
      set("pve.repoid", pv.repoid);
    }
    const ck = st["current-kernel"];
    const kv = typeof st.kversion === "string" ? /^(\S+)\s+(\S+)/.exec(st.kversion) : null;
    set("kernel.name", ck?.sysname ?? kv?.[1]);
    set("kernel.release", ck?.release ?? kv?.[2]);
    set("arch", ck?.machine);
    const boot = st["boot-info"];
    if (boot) {
      set("boot.mode", boot.mode);
      set("boot.secureboot", boot.secureboot);
    }
  }

  for (const s of inputs.storages ?? []) {
    if (isStorageResource(s)) {
      if (s.node !== undefined && s.node !== name) continue;
      const p = `pve.storage.${s.storage}`;
      set(`${p}.type`, s.plugintype ?? null);
      set(`${p}.shared`, s.shared);
      set(`${p}.content`, s.content ?? null);
      set(`${p}.used_bytes`, s.disk ?? null);
      set(`${p}.total_bytes`, s.maxdisk ?? null);
    } else {
      const p = `pve.storage.${s.storage}`;
      set(`${p}.type`, s.type ?? null);
      set(`${p}.shared`, s.shared);
      set(`${p}.content`, s.content ?? null);
      set(`${p}.used_bytes`, s.used ?? null);
      set(`${p}.total_bytes`, s.total ?? null);
    }
  }

  const sections: Record<string, SectionResult> = { node: ok() };
  if (st) sections["status"] = ok();
  else if (!online) sections["status"] = unavailable(`node_${node.status ?? "unknown"}`);
  if (inputs.storages) sections["storage"] = ok();
  Object.assign(sections, inputs.sections);

  const obs: TargetObservation = {
    kind: "proxmox_node",
    identity: [nodeIdentity(ctx.cluster, name)],
    name,
    address: nonEmpty(member?.ip),
    status: online ? "ok" : "unreachable",
    sections,
    facts,
    observedAt: ctx.observedAt,
    durationMs: 0,
  };
  if (!online) obs.error = `Proxmox reports node ${name} as ${node.status ?? "unknown"}`;
  return obs;
}

// ---------------------------------------------------------------- guests

/** An item of GET /nodes/{node}/lxc or /nodes/{node}/qemu, shaped like a /cluster/resources guest entry. */
export function guestFromListItem(item: LxcListItem | QemuListItem, node: string, type: "lxc" | "qemu"): GuestResource {
  const { cpus, lock, ...rest } = item;
  return {
    ...rest,
    id: `${type}/${item.vmid}`,
    type,
    vmid: item.vmid,
    node,
    template: item.template,
    maxcpu: cpus,
    lock: nonEmpty(lock) ?? undefined,
  };
}

export interface GuestInputs {
  /** GET …/lxc/{vmid}/config or …/qemu/{vmid}/config (or `pct config`/`qm config` via cli.ts). */
  config?: LxcConfig | QemuConfig | null;
  /**
   * Runtime interfaces: the LXC interfaces endpoint (null = container not running)
   * or the QEMU agent's network-get-interfaces reply. Undefined = not asked.
   */
  interfaces?: LxcInterfaces | AgentNetworkReply | null;
  /** Section results the caller knows better (failed calls); they override the defaults. */
  sections?: Record<string, SectionResult>;
}

type RunState = "running" | "stopped" | "unknown";

/** running | stopped as reported; a QMP state (paused, prelaunch, suspended, …) means the QEMU process runs. */
function runStateOf(status: string | undefined): RunState {
  if (status === "running" || status === "stopped") return status;
  if (status === undefined || status === "" || status === "unknown") return "unknown";
  return "running";
}

interface NicSpec {
  index: number;
  name: string;
  mac: string | null;
  bridge: string | null;
  vlan: number | null;
  firewall: boolean;
  mtu: number | null;
  linkDown: boolean;
  /** Configured static addresses (LXC ip=/ip6=, QEMU cloud-init ipconfigN). */
  staticAddresses: AddressObs[];
}

interface RuntimeIface {
  name: string;
  mac: string | null;
  addresses: AddressObs[];
}

type Runtime = { source: "lxc-interfaces" | "qemu-agent"; ifaces: RuntimeIface[] } | { source: null; section: SectionResult | null };

/** Linux-style scope for an address we only know as a CIDR: loopback host, link-local link, the rest global. */
function scopeOf(family: "inet" | "inet6", address: string): string {
  const a = address.toLowerCase();
  if (family === "inet6") {
    if (a === "::1") return "host";
    if (/^fe[89ab][0-9a-f]:/.test(a)) return "link";
    return "global";
  }
  if (a.startsWith("127.")) return "host";
  if (a.startsWith("169.254.")) return "link";
  return "global";
}

function addressOf(family: "inet" | "inet6", address: string, prefixlen: number): AddressObs | null {
  const scope = scopeOf(family, address);
  if (scope === "host") return null; // loopback is skipped
  return { family, address: family === "inet6" ? address.toLowerCase() : address, prefixlen, scope };
}

function familyOf(t: string): "inet" | "inet6" | null {
  const s = t.toLowerCase();
  if (s === "inet" || s === "ipv4") return "inet";
  if (s === "inet6" || s === "ipv6") return "inet6";
  return null;
}

function cidrAddress(s: string | null | undefined): AddressObs | null {
  const c = parseCidr(s);
  return c ? addressOf(c.family, c.address, c.prefixlen) : null;
}

function entryAddresses(list: ReadonlyArray<{ "ip-address": string; "ip-address-type": string; prefix: number }>): AddressObs[] {
  const out: AddressObs[] = [];
  for (const e of list) {
    const fam = familyOf(e["ip-address-type"]);
    // Drop an IPv6 zone suffix ("fe80::1%eth0") if an agent ever sends one.
    const a = fam ? addressOf(fam, e["ip-address"].replace(/%.*$/, ""), e.prefix) : null;
    if (a) out.push(a);
  }
  return out;
}

function isLoopbackIface(name: string, mac: string | null): boolean {
  return name === "lo" || (mac === "00:00:00:00:00:00" && /^lo\d*$/.test(name));
}

function runtimeOf(kind: "lxc" | "vm", input: GuestInputs["interfaces"], state: RunState, agentEnabled: boolean | null): Runtime {
  if (input === undefined) {
    if (state === "stopped") return { source: null, section: unavailable("stopped") };
    if (kind === "vm" && agentEnabled === false) return { source: null, section: unavailable("agent_disabled") };
    return { source: null, section: null };
  }
  if (input === null) return { source: null, section: unavailable(state === "stopped" ? "stopped" : "not_running") };
  if (Array.isArray(input)) {
    const ifaces: RuntimeIface[] = [];
    for (const i of input) {
      const mac = normalizeMac(i["hardware-address"] ?? i.hwaddr);
      if (isLoopbackIface(i.name, mac)) continue;
      const list = i["ip-addresses"];
      const addresses = list ? entryAddresses(list) : [cidrAddress(i.inet), cidrAddress(i.inet6)].filter((a): a is AddressObs => a !== null);
      ifaces.push({ name: i.name, mac, addresses });
    }
    return { source: "lxc-interfaces", ifaces };
  }
  const result = (input as AgentNetworkReply).result;
  if (!Array.isArray(result)) {
    const err = result.error;
    const detail = [err.class, err.desc].filter((x) => x !== undefined && x !== "").join(": ");
    return { source: null, section: unavailable("agent_error", detail || undefined) };
  }
  const ifaces: RuntimeIface[] = [];
  for (const i of result) {
    const mac = normalizeMac(i["hardware-address"]);
    if (isLoopbackIface(i.name, mac)) continue;
    ifaces.push({ name: i.name, mac, addresses: entryAddresses(i["ip-addresses"] ?? []) });
  }
  return { source: "qemu-agent", ifaces };
}

function configNics(kind: "lxc" | "vm", cfg: Record<string, unknown>): NicSpec[] {
  const out: NicSpec[] = [];
  for (const [key, value] of Object.entries(cfg)) {
    const m = /^net(\d+)$/.exec(key);
    if (!m || typeof value !== "string") continue;
    const index = Number(m[1]);
    if (kind === "lxc") {
      const n = parseLxcNet(value);
      out.push({
        index,
        name: n.name ?? key,
        mac: n.mac,
        bridge: n.bridge,
        vlan: n.vlan,
        firewall: n.firewall,
        mtu: n.mtu,
        linkDown: n.linkDown,
        staticAddresses: [cidrAddress(n.ip), cidrAddress(n.ip6)].filter((a): a is AddressObs => a !== null),
      });
    } else {
      const n = parseQemuNet(value);
      const ipc = cfg[`ipconfig${index}`];
      const ic = typeof ipc === "string" ? parseIpConfig(ipc) : null;
      out.push({
        index,
        name: key,
        mac: n.mac,
        bridge: n.bridge,
        vlan: n.vlan,
        firewall: n.firewall,
        // QEMU mtu=1 means "use the bridge MTU".
        mtu: n.mtu !== null && n.mtu > 1 ? n.mtu : null,
        linkDown: n.linkDown,
        staticAddresses: ic ? [cidrAddress(ic.ip), cidrAddress(ic.ip6)].filter((a): a is AddressObs => a !== null) : [],
      });
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

function dedupeAddresses(list: AddressObs[]): AddressObs[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = `${a.family}|${a.address}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Config NICs (name = LXC `name=` or QEMU `netN`, MAC, bridge as master) merged
 * with runtime addresses: a runtime interface belongs to a NIC when its name
 * (LXC) or MAC matches; several may (a bridge or VLAN device inside the guest
 * carries the NIC's MAC). Without runtime data, the NIC gets its static config
 * addresses. Runtime interfaces of no NIC (docker0, a VPN) are kept when they
 * carry an address. Loopback is skipped.
 */
function mergeInterfaces(kind: "lxc" | "vm", nics: NicSpec[], runtime: Runtime): InterfaceObs[] {
  const ifaces = runtime.source !== null ? runtime.ifaces : null;
  const used = new Set<RuntimeIface>();
  const out: InterfaceObs[] = [];
  for (const nic of nics) {
    let addresses: AddressObs[];
    let mac = nic.mac;
    if (ifaces) {
      const matched = ifaces.filter((r) => (kind === "lxc" && r.name === nic.name) || (nic.mac !== null && r.mac === nic.mac));
      for (const r of matched) used.add(r);
      addresses = dedupeAddresses(matched.flatMap((r) => r.addresses));
      mac = mac ?? matched.find((r) => r.mac !== null)?.mac ?? null;
    } else {
      addresses = nic.staticAddresses;
    }
    out.push({ name: nic.name, mac, mtu: nic.mtu, state: nic.linkDown ? "down" : null, master: nic.bridge, addresses });
  }
  for (const r of ifaces ?? []) {
    if (used.has(r) || r.addresses.length === 0) continue;
    out.push({ name: r.name, mac: r.mac, mtu: null, state: null, master: null, addresses: dedupeAddresses(r.addresses) });
  }
  return out;
}

/** LXC `arch` (Debian names) in uname -m terms, as the host probe reports `arch`. */
const LXC_ARCH: Record<string, string> = { amd64: "x86_64", i386: "i686", arm64: "aarch64", armhf: "armv7l", riscv32: "riscv32", riscv64: "riscv64" };

function diskOrder(a: DiskSpec, b: DiskSpec): number {
  if (a.key === "rootfs") return -1;
  if (b.key === "rootfs") return 1;
  return a.key.localeCompare(b.key, "en", { numeric: true });
}

/**
 * A guest (a /cluster/resources qemu/lxc entry, or a list item / CLI row turned
 * into one) with its config and runtime interfaces, as an `lxc` or `vm`
 * observation whose parent is its node.
 *
 * Status is "ok" whenever Proxmox knows the guest's state (running or stopped:
 * the guest itself was observed, through Proxmox); `pve.status` carries the run
 * state. A guest whose state is unknown (its node is offline) is "unreachable".
 *
 * Facts: pve.cluster, pve.node, pve.vmid, pve.status (running|stopped|unknown),
 * pve.qmpstatus (when given), pve.template, pve.lock, pve.pool, pve.ha_state,
 * pve.tags (";"-joined), cpu.count, memory.total_bytes, memory.used_bytes
 * (running only, else null), swap.total_bytes (LXC), disk.total_bytes,
 * disk.used_bytes (LXC; running only, else null), uptime_seconds (running only,
 * else null); with a config: pve.ostype, pve.onboot, pve.protection,
 * pve.description, pve.disks (JSON), pve.agent (QEMU), pve.unprivileged (LXC),
 * arch (LXC), pve.created_at (QEMU meta ctime), pve.net.<n>.vlan,
 * pve.net.<n>.firewall; with config or runtime data: pve.addresses_source
 * (lxc-interfaces | qemu-agent | config).
 */
export function mapGuest(guest: GuestResource, ctx: PveMapContext, inputs: GuestInputs = {}): TargetObservation {
  const kind = guest.type === "lxc" ? "lxc" : "vm";
  const vmid = guest.vmid;
  const state = runStateOf(guest.status);
  const running = state === "running";
  const cfg = inputs.config ?? null;
  const raw = cfg as Record<string, unknown> | null;
  const lxcCfg = kind === "lxc" ? (cfg as LxcConfig | null) : null;
  const qemuCfg = kind === "vm" ? (cfg as QemuConfig | null) : null;
  const facts: Record<string, FactValue> = {};
  const set = setter(facts);

  set("pve.cluster", ctx.cluster);
  set("pve.node", guest.node);
  set("pve.vmid", vmid);
  set("pve.status", state);
  const qmp = guest.qmpstatus ?? (state === "running" && guest.status !== "running" ? guest.status : undefined);
  set("pve.qmpstatus", qmp);
  set("pve.template", guest.template || (cfg?.template ?? false));
  set("pve.lock", nonEmpty(guest.lock) ?? nonEmpty(cfg?.lock));
  set("pve.pool", nonEmpty(guest.pool));
  set("pve.ha_state", nonEmpty(guest.hastate));
  const tags = parseTags(guest.tags ?? cfg?.tags);
  set("pve.tags", tags.length > 0 ? tags.join(";") : null);

  // CPU: QEMU cores × sockets (defaults 1); LXC cores; else what the list says (maxcpu may be a cpulimit fraction).
  let cpus: number | undefined;
  if (qemuCfg) cpus = (qemuCfg.cores ?? 1) * (qemuCfg.sockets ?? 1);
  else if (lxcCfg?.cores !== undefined) cpus = lxcCfg.cores;
  else if (guest.maxcpu !== undefined) cpus = Math.ceil(guest.maxcpu);
  set("cpu.count", cpus ?? null);

  const memMiB = qemuCfg ? parseQemuMemory(qemuCfg.memory) : (lxcCfg?.memory ?? null);
  set("memory.total_bytes", memMiB !== null ? Math.round(memMiB * MiB) : (guest.maxmem ?? null));
  set("memory.used_bytes", running ? (guest.mem ?? null) : null);
  if (kind === "lxc") {
    const maxswap = numOf(guest["maxswap"]);
    set("swap.total_bytes", lxcCfg?.swap !== undefined ? Math.round(lxcCfg.swap * MiB) : (maxswap ?? null));
  }

  const disks: DiskSpec[] = [];
  if (raw) {
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value === "string" && isDiskKey(kind === "lxc" ? "lxc" : "qemu", key)) disks.push(parseDisk(key, value));
    }
    disks.sort(diskOrder);
  }
  const sized = disks.filter((d) => isDataDisk(d) && d.sizeBytes !== null);
  const maxdisk = guest.maxdisk !== undefined && guest.maxdisk > 0 ? guest.maxdisk : null;
  set("disk.total_bytes", sized.length > 0 ? sized.reduce((a, d) => a + (d.sizeBytes ?? 0), 0) : maxdisk);
  // QEMU reports disk 0 always (no guest view of usage); an LXC's is a live df of its rootfs.
  if (kind === "lxc") set("disk.used_bytes", running ? (guest.disk ?? null) : null);
  set("uptime_seconds", running ? (guest.uptime ?? null) : null);

  const nics = raw ? configNics(kind, raw) : [];
  if (cfg) {
    set("pve.ostype", nonEmpty(cfg.ostype));
    set("pve.onboot", cfg.onboot);
    set("pve.protection", cfg.protection);
    set("pve.description", nonEmpty(cfg.description));
    set(
      "pve.disks",
      JSON.stringify(
        disks.map((d) => ({
          key: d.key,
          volid: d.volid,
          storage: d.storage,
          size_bytes: d.sizeBytes,
          ...(d.media !== null ? { media: d.media } : {}),
          ...(d.mountpoint !== null ? { mp: d.mountpoint } : {}),
        })),
      ),
    );
    if (lxcCfg) {
      set("pve.unprivileged", lxcCfg.unprivileged);
      const arch = nonEmpty(lxcCfg.arch);
      if (arch !== null) set("arch", LXC_ARCH[arch] ?? arch);
    }
    if (qemuCfg) {
      set("pve.agent", parseAgent(qemuCfg.agent).enabled);
      const ctime = parseMeta(qemuCfg.meta).ctime;
      set("pve.created_at", ctime !== null ? new Date(ctime * 1000).toISOString() : null);
    }
    for (const nic of nics) {
      set(`pve.net.${nic.index}.vlan`, nic.vlan);
      set(`pve.net.${nic.index}.firewall`, nic.firewall);
    }
  }

  const agentEnabled = qemuCfg ? parseAgent(qemuCfg.agent).enabled : null;
  const runtime = runtimeOf(kind, inputs.interfaces, state, agentEnabled);
  let interfaces: InterfaceObs[] | undefined;
  if (cfg || runtime.source !== null) {
    interfaces = mergeInterfaces(kind, nics, runtime);
    set("pve.addresses_source", runtime.source ?? "config");
  }

  const sections: Record<string, SectionResult> = {};
  if (cfg) sections["config"] = ok();
  if (runtime.source !== null) sections["interfaces"] = ok();
  else if (runtime.section) sections["interfaces"] = runtime.section;
  Object.assign(sections, inputs.sections);

  const configName = lxcCfg ? lxcCfg.hostname : qemuCfg?.name;
  const name = nonEmpty(guest.name) ?? nonEmpty(configName) ?? (kind === "lxc" ? `CT${vmid}` : `VM ${vmid}`);
  const identity = guestIdentity(ctx.cluster, vmid, guest.node);
  const obs: TargetObservation = {
    kind,
    identity: [identity],
    name,
    parentIdentity: nodeIdentity(ctx.cluster, guest.node),
    address: null,
    status: state === "unknown" ? "unreachable" : "ok",
    sections,
    facts,
    observedAt: ctx.observedAt,
    durationMs: 0,
  };
  if (interfaces !== undefined) obs.interfaces = interfaces;
  if (state === "unknown") obs.error = `Proxmox does not know the state of ${kind === "lxc" ? "CT" : "VM"} ${vmid} (is node ${guest.node} offline?)`;
  return obs;
}
