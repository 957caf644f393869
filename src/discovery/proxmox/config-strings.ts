// Parsers for the Proxmox "property strings" inside guest configs:
// `key=value,key=value`, where one key may be the format's default key and be
// written bare (`local-lvm:vm-100-disk-0,size=32G` is `file=`/`volume=`;
// `virtio=BC:24:…` names the NIC model and carries the MAC). Rules follow
// pve-common PVE::JSONSchema (parse_property_string, parse_size, parse_boolean)
// and the netN formats of pve-container and qemu-server (FORMATS.md §1.4).
// Pure functions; unparsable pieces give null, never an exception.

export type PropertyString = Record<string, string>;

/**
 * Splits `a=1,b=2,bare` on commas (as PVE does: values never contain commas).
 * A part without "=" is the value of `defaultKey` (the first one only); without
 * a default key it is kept as a key with the value "".
 */
export function parsePropertyString(s: string, defaultKey?: string): PropertyString {
  const out: PropertyString = {};
  for (const raw of s.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq > 0) {
      const key = part.slice(0, eq);
      if (!(key in out)) out[key] = part.slice(eq + 1);
    } else if (eq < 0) {
      if (defaultKey !== undefined && !(defaultKey in out)) out[defaultKey] = part;
      else if (!(part in out)) out[part] = "";
    }
  }
  return out;
}

/** PVE parse_boolean: 1|on|yes|true and 0|off|no|false, case-insensitive. */
export function parseBool(v: string | number | boolean | null | undefined): boolean | null {
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v === 1 ? true : v === 0 ? false : null;
  if (typeof v !== "string") return null;
  const s = v.trim().toLowerCase();
  if (s === "1" || s === "on" || s === "yes" || s === "true") return true;
  if (s === "0" || s === "off" || s === "no" || s === "false") return false;
  return null;
}

function int(v: string | undefined): number | null {
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return null;
  return Number.parseInt(v, 10);
}

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v === "" ? null : v;
}

const SIZE_UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `8G`, `512M`, `1T`, `100K`, `4.5G`, `16GiB` or plain bytes → bytes (binary units, as PVE parse_size). */
export function parseSize(s: string | null | undefined): number | null {
  if (typeof s !== "string") return null;
  const m = /^(\d+(?:\.\d+)?)(?:([KMGT])(?:iB)?)?$/.exec(s.trim());
  if (!m) return null;
  const factor = m[2] ? (SIZE_UNITS[m[2]] ?? 1) : 1;
  return Math.trunc(Number(m[1]) * factor);
}

/** Lower-cased MAC address, or null if the string is not one. */
export function normalizeMac(s: string | null | undefined): string | null {
  if (typeof s !== "string") return null;
  const t = s.trim();
  return /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/.test(t) ? t.toLowerCase() : null;
}

export interface Cidr {
  family: "inet" | "inet6";
  address: string;
  prefixlen: number;
}

/** `192.168.3.95/22`, `fe80::1/64` → parts; `dhcp`, `auto`, `manual` or garbage → null. */
export function parseCidr(s: string | null | undefined): Cidr | null {
  if (typeof s !== "string") return null;
  const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const address = m[1]!;
  const prefixlen = Number(m[2]);
  if (address.includes(":")) return prefixlen <= 128 ? { family: "inet6", address: address.toLowerCase(), prefixlen } : null;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(address) && address.split(".").every((o) => Number(o) <= 255)) {
    return prefixlen <= 32 ? { family: "inet", address, prefixlen } : null;
  }
  return null;
}

/** Tags: `;`-separated since PVE 7.3, `,` or `, ` in older free-form configs. Order kept, duplicates dropped. */
export function parseTags(s: string | null | undefined): string[] {
  if (typeof s !== "string") return [];
  return [...new Set(s.split(/[;, ]+/).filter((t) => t !== ""))];
}

// ---------------------------------------------------------------- network devices

/** LXC `netN`: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:…,ip=dhcp|a.b.c.d/nn,gw=…,ip6=…,tag=10,type=veth`. */
export interface LxcNet {
  /** Interface name inside the container. */
  name: string | null;
  mac: string | null;
  bridge: string | null;
  vlan: number | null;
  firewall: boolean;
  /** `dhcp`, `manual` or a CIDR. */
  ip: string | null;
  gw: string | null;
  /** `auto`, `dhcp`, `manual` or a CIDR. */
  ip6: string | null;
  gw6: string | null;
  mtu: number | null;
  linkDown: boolean;
  trunks: string | null;
}

export function parseLxcNet(s: string): LxcNet {
  const p = parsePropertyString(s, "name");
  return {
    name: nonEmpty(p["name"]),
    mac: normalizeMac(p["hwaddr"]),
    bridge: nonEmpty(p["bridge"]),
    vlan: int(p["tag"]),
    firewall: parseBool(p["firewall"]) ?? false,
    ip: nonEmpty(p["ip"]),
    gw: nonEmpty(p["gw"]),
    ip6: nonEmpty(p["ip6"]),
    gw6: nonEmpty(p["gw6"]),
    mtu: int(p["mtu"]),
    linkDown: parseBool(p["link_down"]) ?? false,
    trunks: nonEmpty(p["trunks"]),
  };
}

/** qemu-server Network.pm $nic_model_list: each model is also a key whose value is the MAC. */
export const QEMU_NIC_MODELS: readonly string[] = [
  "e1000",
  "e1000-82540em",
  "e1000-82544gc",
  "e1000-82545em",
  "e1000e",
  "i82551",
  "i82557b",
  "i82559er",
  "ne2k_isa",
  "ne2k_pci",
  "pcnet",
  "rtl8139",
  "virtio",
  "vmxnet3",
];

/** QEMU `netN`: `virtio=BC:24:11:4E:8F:D1,bridge=vmbr0,firewall=1,tag=10` (or `model=virtio,macaddr=…`). */
export interface QemuNet {
  model: string | null;
  mac: string | null;
  bridge: string | null;
  vlan: number | null;
  firewall: boolean;
  mtu: number | null;
  linkDown: boolean;
  queues: number | null;
  trunks: string | null;
}

export function parseQemuNet(s: string): QemuNet {
  const p = parsePropertyString(s, "model");
  let model = nonEmpty(p["model"]);
  let mac = normalizeMac(p["macaddr"]);
  if (mac === null) {
    // `<model>=<mac>`: a known model key first, then any key whose value is a MAC.
    const key = QEMU_NIC_MODELS.find((m) => m in p) ?? Object.keys(p).find((k) => normalizeMac(p[k]) !== null && k !== "hwaddr");
    if (key !== undefined) {
      mac = normalizeMac(p[key]);
      model = model ?? key;
    }
  }
  return {
    model,
    mac,
    bridge: nonEmpty(p["bridge"]),
    vlan: int(p["tag"]),
    firewall: parseBool(p["firewall"]) ?? false,
    mtu: int(p["mtu"]),
    linkDown: parseBool(p["link_down"]) ?? false,
    queues: int(p["queues"]),
    trunks: nonEmpty(p["trunks"]),
  };
}

/** Cloud-init `ipconfigN`: `ip=10.0.0.5/24,gw=10.0.0.1`, `ip=dhcp`, `ip6=auto`. */
export interface IpConfig {
  ip: string | null;
  gw: string | null;
  ip6: string | null;
  gw6: string | null;
}

export function parseIpConfig(s: string): IpConfig {
  const p = parsePropertyString(s);
  return { ip: nonEmpty(p["ip"]), gw: nonEmpty(p["gw"]), ip6: nonEmpty(p["ip6"]), gw6: nonEmpty(p["gw6"]) };
}

// ---------------------------------------------------------------- disks

const LXC_DISK_KEY = /^(?:rootfs|mp\d+|unused\d+)$/;
const QEMU_DISK_KEY = /^(?:(?:ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|unused\d+)$/;

export function isDiskKey(kind: "lxc" | "qemu", key: string): boolean {
  return (kind === "lxc" ? LXC_DISK_KEY : QEMU_DISK_KEY).test(key);
}

export interface DiskSpec {
  /** Config key: rootfs, mp0, scsi0, efidisk0, unused0, … */
  key: string;
  /** `local-lvm:vm-100-disk-0`, a host path (bind mount, passthrough) or `none` (empty CD drive). */
  volid: string;
  /** Storage id for `storage:volume` volids, else null. */
  storage: string | null;
  sizeBytes: number | null;
  /** `cdrom` or `disk` when set (QEMU). */
  media: string | null;
  /** Mount point inside the container (LXC `mp=`; `/` for rootfs). */
  mountpoint: string | null;
}

/** `scsi0: local-lvm:vm-100-disk-0,size=32G`, `rootfs: local-lvm:vm-101-disk-0,size=8G`, `mp0: /mnt/foo,mp=/storage`. */
export function parseDisk(key: string, value: string): DiskSpec {
  // The default key is `file` for QEMU drives and `volume` for LXC mount points; both may also be spelled out.
  const p = parsePropertyString(value, "file");
  const volid = p["file"] ?? p["volume"] ?? "";
  const m = /^([A-Za-z][A-Za-z0-9_.-]*):(.+)$/.exec(volid);
  return {
    key,
    volid,
    storage: m ? m[1]! : null,
    sizeBytes: parseSize(p["size"]),
    media: nonEmpty(p["media"]),
    mountpoint: key === "rootfs" ? "/" : nonEmpty(p["mp"]),
  };
}

/** Whether a disk counts toward the guest's disk size: attached, not a CD/cloud-init drive, not EFI vars or TPM state. */
export function isDataDisk(d: DiskSpec): boolean {
  if (/^(?:unused\d+|efidisk\d+|tpmstate\d+)$/.test(d.key)) return false;
  if (d.media === "cdrom" || d.volid === "none" || /(?:^|[:/])vm-\d+-cloudinit(?:\.\w+)?$/.test(d.volid)) return false;
  return true;
}

// ---------------------------------------------------------------- scalar properties

export interface AgentSetting {
  enabled: boolean;
  /** virtio | isa, when set. */
  type: string | null;
  fstrimClonedDisks: boolean;
  freezeFsOnBackup: boolean | null;
}

/** QEMU `agent`: `"1"`, `"0"`, `"enabled=1,fstrim_cloned_disks=1"`, `"1,fstrim_cloned_disks=1"`; absent = disabled. */
export function parseAgent(v: string | number | null | undefined): AgentSetting {
  const p = v === null || v === undefined ? {} : parsePropertyString(String(v), "enabled");
  return {
    enabled: parseBool(p["enabled"]) ?? false,
    type: nonEmpty(p["type"]),
    fstrimClonedDisks: parseBool(p["fstrim_cloned_disks"]) ?? false,
    freezeFsOnBackup: parseBool(p["freeze-fs-on-backup"]),
  };
}

/** QEMU `memory` in MiB: a number (before Sept 2023) or the property string `[current=]<MiB>`. */
export function parseQemuMemory(v: string | number | null | undefined): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v !== "string") return null;
  const cur = parsePropertyString(v, "current")["current"];
  return cur !== undefined && /^\d+$/.test(cur.trim()) ? Number(cur) : null;
}

export interface GuestMeta {
  /** QEMU version the VM was created with, e.g. "10.0.2". */
  creationQemu: string | null;
  /** Creation time, Unix seconds. */
  ctime: number | null;
}

/** QEMU `meta`: `creation-qemu=10.0.2,ctime=1754900283`. */
export function parseMeta(s: string | null | undefined): GuestMeta {
  const p = typeof s === "string" ? parsePropertyString(s) : {};
  return { creationQemu: nonEmpty(p["creation-qemu"]), ctime: int(p["ctime"]) };
}

/**
 * Reverses PVE encode_text (pve-common ParseUtils): `pct config`/`qm config` print
 * `description` percent-encoded (control and high-bit bytes, ':' and, in newer
 * versions, '%'), UTF-8 underneath. The API returns it already decoded, so this
 * is for the CLI only. A malformed escape is kept as written.
 */
export function decodeConfigText(s: string): string {
  return s.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return run;
    }
  });
}

export interface PveManagerVersion {
  /** pve-manager version: "8.4.14" (PVE 8+) or "7.4-16" (PVE ≤ 7). */
  version: string;
  /** Git short hash: 8 hex digits in PVE 7, 16 in PVE 8+. */
  repoid: string | null;
  /** From `pveversion` output only: "6.8.12-15-pve". */
  runningKernel: string | null;
}

/**
 * `pve-manager/8.4.14/b502d23c55afcba1` (node status `pveversion`) or the
 * `pveversion` command's `pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-15-pve)`.
 */
export function parsePveManagerVersion(s: string | null | undefined): PveManagerVersion | null {
  if (typeof s !== "string") return null;
  const m = /pve-manager\/([^/\s]+)(?:\/([0-9a-fA-F]+))?(?:\s+\(running kernel:\s*([^)\s]+)\s*\))?/.exec(s);
  if (!m) return null;
  return { version: m[1]!, repoid: m[2] ?? null, runningKernel: m[3] ?? null };
}
