// Zod schemas for the Proxmox VE API at our boundary: the `data` of each
// endpoint (after the {"data": …} envelope), which is also exactly what
// `pvesh get <path> --output-format json` prints (FORMATS.md §1.4, §1.5).
//
// Lenient on purpose, because the wire is loose (FORMATS.md §1.3):
//   - booleans are 0/1 (sometimes "0"/"1" or "", PVE 6.2), and optional flags
//     such as `template` are simply absent when false → bool01();
//   - numbers sometimes arrive as strings (vmid "101" before PVE 8.2, PVE 6.2
//     disk/maxdisk, node loadavg ["0.16",…], qemu config memory "4096") → num();
//   - unknown keys are kept (z.looseObject), unknown /cluster/resources types
//     are tolerated.
// A value of the wrong shape (an object where a number belongs, a missing vmid)
// still throws a ZodError: the caller turns it into a warning for that call.
// Nothing here is exported past src/discovery/proxmox: map.ts turns these
// shapes into our vocabulary (types.ts).

import { z } from "zod";

const NUMERIC = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

/** A number, or a string holding one ("101", "0.16", "800.000"). */
export function num() {
  return z.preprocess((v) => (typeof v === "string" && NUMERIC.test(v) ? Number(v) : v), z.number());
}

/** 0/1, "0"/"1", true/false; "", null and absent read as false (PVE omits false flags). */
export function bool01() {
  return z.preprocess((v) => {
    if (v === undefined || v === null || v === "" || v === 0 || v === "0" || v === false) return false;
    if (v === 1 || v === "1" || v === true) return true;
    return v;
  }, z.boolean());
}

/** A string, or a number where PVE sometimes emits one for a string property (agent: 1). Output: string. */
function strOrNum() {
  return z.union([z.string(), z.number()]).transform((v) => String(v));
}

// ---------------------------------------------------------------- envelope

/** The HTTP body: {"data": <result>} plus, on errors, `errors` and (libpve-http-server ≥ 5.2) `message`. */
export const EnvelopeSchema = z.looseObject({
  data: z.unknown(),
  errors: z.unknown().optional(),
  message: z.string().optional(),
});

// ---------------------------------------------------------------- GET /version

export const VersionSchema = z.looseObject({
  version: z.string(),
  release: z.string().optional(),
  repoid: z.string().optional(),
  console: z.string().optional(),
});
export type PveVersionData = z.infer<typeof VersionSchema>;

// ---------------------------------------------------------------- GET /cluster/status

export const ClusterStatusClusterSchema = z.looseObject({
  type: z.literal("cluster"),
  id: z.string().optional(),
  name: z.string(),
  nodes: num().optional(),
  quorate: bool01(),
  version: num().optional(),
});
export type ClusterStatusCluster = z.infer<typeof ClusterStatusClusterSchema>;

export const ClusterStatusNodeSchema = z.looseObject({
  type: z.literal("node"),
  id: z.string().optional(),
  name: z.string(),
  nodeid: num().optional(),
  ip: z.string().optional(),
  local: bool01(),
  online: bool01(),
  level: z.string().optional(),
});
export type ClusterStatusNode = z.infer<typeof ClusterStatusNodeSchema>;

/** Any other entry type a future PVE might add: kept, not interpreted. */
const OtherStatusEntrySchema = z.looseObject({ type: z.string().refine((t) => t !== "cluster" && t !== "node") });

export const ClusterStatusSchema = z.array(z.union([ClusterStatusClusterSchema, ClusterStatusNodeSchema, OtherStatusEntrySchema]));
export type ClusterStatus = z.infer<typeof ClusterStatusSchema>;

export function isStatusCluster(e: ClusterStatus[number]): e is ClusterStatusCluster {
  return e.type === "cluster";
}
export function isStatusNode(e: ClusterStatus[number]): e is ClusterStatusNode {
  return e.type === "node";
}

// ---------------------------------------------------------------- GET /nodes and node entries of /cluster/resources

const nodeFields = {
  id: z.string().optional(),
  node: z.string(),
  /** online | offline | unknown */
  status: z.string().optional(),
  /** Subscription level letter: "" (none), c, b, s, p. */
  level: z.string().optional(),
  uptime: num().optional(),
  cpu: num().optional(),
  maxcpu: num().optional(),
  mem: num().optional(),
  maxmem: num().optional(),
  /** Root filesystem bytes. */
  disk: num().optional(),
  maxdisk: num().optional(),
  ssl_fingerprint: z.string().optional(),
  "cgroup-mode": num().optional(),
  hastate: z.string().optional(),
};

/** One item of GET /nodes (type is "node" in every capture; tolerated absent). */
export const NodesEntrySchema = z.looseObject({ ...nodeFields, type: z.literal("node").optional() });
export const NodesListSchema = z.array(NodesEntrySchema);
export type NodesEntry = z.infer<typeof NodesEntrySchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/status

const memTriple = z.looseObject({
  total: num().optional(),
  used: num().optional(),
  free: num().optional(),
  /** PVE 9 (2025-08) and later. */
  available: num().optional(),
});

export const NodeStatusSchema = z.looseObject({
  uptime: num().optional(),
  cpu: num().optional(),
  wait: num().optional(),
  idle: num().optional(),
  loadavg: z.array(num()).optional(),
  kversion: z.string().optional(),
  /** Since PVE 8.1. */
  "current-kernel": z
    .looseObject({
      sysname: z.string().optional(),
      release: z.string().optional(),
      version: z.string().optional(),
      machine: z.string().optional(),
    })
    .optional(),
  /** Since PVE 8.1. */
  "boot-info": z.looseObject({ mode: z.string().optional(), secureboot: bool01() }).optional(),
  cpuinfo: z
    .looseObject({
      model: z.string().optional(),
      cpus: num().optional(),
      /** Physical cores summed over all sockets (pve-common read_cpuinfo). */
      cores: num().optional(),
      sockets: num().optional(),
      mhz: num().optional(),
      hvm: z.unknown().optional(),
      user_hz: num().optional(),
      flags: z.string().optional(),
    })
    .optional(),
  memory: memTriple.optional(),
  swap: memTriple.optional(),
  ksm: z.looseObject({ shared: num().optional() }).optional(),
  rootfs: z.looseObject({ total: num().optional(), used: num().optional(), free: num().optional(), avail: num().optional() }).optional(),
  /** "pve-manager/8.4.14/b502d23c55afcba1" */
  pveversion: z.string().optional(),
});
export type NodeStatus = z.infer<typeof NodeStatusSchema>;

// ---------------------------------------------------------------- GET /cluster/resources

/** Fields shared by guest entries of /cluster/resources and items of /nodes/{node}/{lxc,qemu}. */
const guestStatFields = {
  name: z.string().optional(),
  /** running | stopped, and "unknown" in /cluster/resources (e.g. guests of an offline node). */
  status: z.string().optional(),
  template: bool01(),
  uptime: num().optional(),
  cpu: num().optional(),
  mem: num().optional(),
  maxmem: num().optional(),
  disk: num().optional(),
  maxdisk: num().optional(),
  netin: num().optional(),
  netout: num().optional(),
  diskread: num().optional(),
  diskwrite: num().optional(),
  tags: z.string().optional(),
  /** Present only while a lock is held; PVE 6.2 lists send "". */
  lock: z.string().optional(),
};

export const NodeResourceSchema = z.looseObject({ ...nodeFields, type: z.literal("node") });
export type NodeResource = z.infer<typeof NodeResourceSchema>;

export const GuestResourceSchema = z.looseObject({
  ...guestStatFields,
  id: z.string().optional(),
  type: z.enum(["qemu", "lxc"]),
  vmid: num(),
  node: z.string(),
  maxcpu: num().optional(),
  pool: z.string().optional(),
  hastate: z.string().optional(),
  memhost: num().optional(),
  /** Only when the row came from a list with `full=1` or from `qm list` (running, paused, prelaunch, …). */
  qmpstatus: z.string().optional(),
  pid: num().optional(),
});
export type GuestResource = z.infer<typeof GuestResourceSchema>;

export const StorageResourceSchema = z.looseObject({
  id: z.string().optional(),
  type: z.literal("storage"),
  storage: z.string(),
  node: z.string().optional(),
  status: z.string().optional(),
  plugintype: z.string().optional(),
  content: z.string().optional(),
  shared: bool01(),
  disk: num().optional(),
  maxdisk: num().optional(),
});
export type StorageResource = z.infer<typeof StorageResourceSchema>;

export const PoolResourceSchema = z.looseObject({ id: z.string().optional(), type: z.literal("pool"), pool: z.string() });
export const SdnResourceSchema = z.looseObject({
  id: z.string().optional(),
  type: z.literal("sdn"),
  sdn: z.string().optional(),
  node: z.string().optional(),
  status: z.string().optional(),
});
/** PVE 9 `type:"network"` entries; no capture, so only the discriminator is checked. */
export const NetworkResourceSchema = z.looseObject({ id: z.string().optional(), type: z.literal("network") });

const KNOWN_RESOURCE_TYPES = new Set(["node", "qemu", "lxc", "storage", "pool", "sdn", "network"]);
const OtherResourceSchema = z.looseObject({ type: z.string().refine((t) => !KNOWN_RESOURCE_TYPES.has(t), "known resource type with a wrong shape") });

export const ClusterResourceSchema = z.union([
  NodeResourceSchema,
  GuestResourceSchema,
  StorageResourceSchema,
  PoolResourceSchema,
  SdnResourceSchema,
  NetworkResourceSchema,
  OtherResourceSchema,
]);
export const ClusterResourcesSchema = z.array(ClusterResourceSchema);
export type ClusterResource = z.infer<typeof ClusterResourceSchema>;

export interface SplitResources {
  nodes: NodeResource[];
  guests: GuestResource[];
  storages: StorageResource[];
  pools: string[];
  /** Entries of types we do not map (sdn, network, future ones). */
  other: ClusterResource[];
}

/** Sorts a parsed /cluster/resources list by entry type. */
export function splitResources(list: readonly ClusterResource[]): SplitResources {
  const out: SplitResources = { nodes: [], guests: [], storages: [], pools: [], other: [] };
  for (const r of list) {
    if (r.type === "node") out.nodes.push(r as NodeResource);
    else if (r.type === "qemu" || r.type === "lxc") out.guests.push(r as GuestResource);
    else if (r.type === "storage") out.storages.push(r as StorageResource);
    else if (r.type === "pool" && typeof r["pool"] === "string") out.pools.push(r["pool"]);
    else out.other.push(r);
  }
  return out;
}

// ---------------------------------------------------------------- GET /nodes/{node}/lxc and /nodes/{node}/qemu

export const LxcListItemSchema = z.looseObject({
  ...guestStatFields,
  vmid: num(),
  type: z.literal("lxc").optional(),
  cpus: num().optional(),
  swap: num().optional(),
  maxswap: num().optional(),
  pid: num().optional(),
});
export const LxcListSchema = z.array(LxcListItemSchema);
export type LxcListItem = z.infer<typeof LxcListItemSchema>;

/** qemu lists carry no `type` key (qemu-server vmstatus never sets it). */
export const QemuListItemSchema = z.looseObject({
  ...guestStatFields,
  vmid: num(),
  cpus: num().optional(),
  pid: num().optional(),
  qmpstatus: z.string().optional(),
  serial: bool01(),
  memhost: num().optional(),
});
export const QemuListSchema = z.array(QemuListItemSchema);
export type QemuListItem = z.infer<typeof QemuListItemSchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/{lxc,qemu}/{vmid}/status/current

/** One guest's live status: the list item's keys plus `ha`, and for QEMU `agent`, `qmpstatus`, `running-qemu`, … */
export const GuestStatusCurrentSchema = z.looseObject({
  ...guestStatFields,
  vmid: num(),
  type: z.enum(["qemu", "lxc"]).optional(),
  cpus: num().optional(),
  pid: num().optional(),
  maxswap: num().optional(),
  swap: num().optional(),
  qmpstatus: z.string().optional(),
  /** QEMU: the config enables the guest agent (not that it answers). */
  agent: bool01(),
  ha: z.looseObject({ managed: bool01(), state: z.string().optional(), group: z.string().optional() }).optional(),
  "running-machine": z.string().optional(),
  "running-qemu": z.string().optional(),
});
export type GuestStatusCurrent = z.infer<typeof GuestStatusCurrentSchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/lxc/{vmid}/config

/** `netN`, `mpN`, `unusedN`, … stay property strings under their own keys (loose object). */
export const LxcConfigSchema = z.looseObject({
  hostname: z.string().optional(),
  arch: z.string().optional(),
  ostype: z.string().optional(),
  cores: num().optional(),
  cpulimit: num().optional(),
  cpuunits: num().optional(),
  /** MiB */
  memory: num().optional(),
  /** MiB */
  swap: num().optional(),
  rootfs: z.string().optional(),
  onboot: bool01(),
  unprivileged: bool01(),
  template: bool01(),
  protection: bool01(),
  tags: z.string().optional(),
  description: z.string().optional(),
  lock: z.string().optional(),
  features: z.string().optional(),
  startup: z.string().optional(),
  digest: z.string().optional(),
  /** Raw lxc.* lines as [key, value] pairs. */
  lxc: z.array(z.tuple([z.string(), z.string()])).optional(),
});
export type LxcConfig = z.infer<typeof LxcConfigSchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/qemu/{vmid}/config

export const QemuConfigSchema = z.looseObject({
  name: z.string().optional(),
  cores: num().optional(),
  sockets: num().optional(),
  vcpus: num().optional(),
  /** A number before qemu-server 8.0.x (Sept 2023), the property string `[current=]<MiB>` since. */
  memory: z.union([z.number(), z.string()]).optional(),
  balloon: num().optional(),
  cpu: z.string().optional(),
  ostype: z.string().optional(),
  arch: z.string().optional(),
  /** "1", "0", "enabled=1,fstrim_cloned_disks=1", "1,fstrim_cloned_disks=1". */
  agent: strOrNum().optional(),
  onboot: bool01(),
  template: bool01(),
  protection: bool01(),
  kvm: z.unknown().optional(),
  tags: z.string().optional(),
  description: z.string().optional(),
  lock: z.string().optional(),
  meta: z.string().optional(),
  boot: z.string().optional(),
  bootdisk: z.string().optional(),
  machine: z.string().optional(),
  bios: z.string().optional(),
  digest: z.string().optional(),
});
export type QemuConfig = z.infer<typeof QemuConfigSchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/lxc/{vmid}/interfaces

const IpAddressEntrySchema = z.looseObject({
  "ip-address": z.string(),
  /** "inet"/"inet6" from the LXC endpoint, "ipv4"/"ipv6" from the QEMU agent. */
  "ip-address-type": z.string(),
  prefix: num(),
});

/**
 * Before pve-container 5f9f011 (2025-04-07): {name, hwaddr, inet?, inet6?}, one
 * CIDR per family (the last one). Since: also "hardware-address" and
 * "ip-addresses" with every address.
 */
export const LxcInterfaceSchema = z.looseObject({
  name: z.string(),
  hwaddr: z.string().nullish(),
  inet: z.string().nullish(),
  inet6: z.string().nullish(),
  "hardware-address": z.string().nullish(),
  "ip-addresses": z.array(IpAddressEntrySchema).nullish(),
});
/** `null` for a stopped container (HTTP 200, data null). */
export const LxcInterfacesSchema = z.array(LxcInterfaceSchema).nullable();
export type LxcInterface = z.infer<typeof LxcInterfaceSchema>;
export type LxcInterfaces = z.infer<typeof LxcInterfacesSchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces

export const AgentInterfaceSchema = z.looseObject({
  name: z.string(),
  "hardware-address": z.string().nullish(),
  "ip-addresses": z.array(IpAddressEntrySchema).nullish(),
  statistics: z.looseObject({}).nullish(),
});
export type AgentInterface = z.infer<typeof AgentInterfaceSchema>;

export const AgentErrorSchema = z.looseObject({ error: z.looseObject({ class: z.string().optional(), desc: z.string().optional() }) });

/** {"result": [...]} or, when the agent rejects the command, {"result": {"error": {class, desc}}}. */
export const AgentNetworkReplySchema = z.looseObject({ result: z.union([z.array(AgentInterfaceSchema), AgentErrorSchema]) });
export type AgentNetworkReply = z.infer<typeof AgentNetworkReplySchema>;

// ---------------------------------------------------------------- GET /nodes/{node}/storage

/** pve-storage API2/Storage/Status.pm `index`: no capture, shape from the source's return schema. */
export const NodeStorageSchema = z.looseObject({
  storage: z.string(),
  /** Plugin type (dir, lvmthin, zfspool, nfs, cifs, pbs, …). */
  type: z.string().optional(),
  content: z.string().optional(),
  enabled: bool01(),
  active: bool01(),
  shared: bool01(),
  total: num().optional(),
  used: num().optional(),
  avail: num().optional(),
  used_fraction: num().optional(),
});
export const NodeStorageListSchema = z.array(NodeStorageSchema);
export type NodeStorage = z.infer<typeof NodeStorageSchema>;
