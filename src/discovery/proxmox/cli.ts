// Parsers for the Proxmox CLIs, for the SSH fallback (FORMATS.md §1.5, §3):
// `pct list`, `qm list`, `pct config`, `qm config`, `pvesh get … --output-format
// json`, `pveversion` and `pvecm status`. Pure text in, our or the API's shapes
// out: configs come back as the API config object (so mapGuest works on them),
// list rows as /cluster/resources-style guest entries.

import { decodeConfigText, parsePveManagerVersion, type PveManagerVersion } from "./config-strings.js";
import { LxcConfigSchema, QemuConfigSchema, type GuestResource, type LxcConfig, type QemuConfig } from "./schemas.js";

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

// ---------------------------------------------------------------- pct list / qm list

export interface PctListRow {
  vmid: number;
  status: string;
  lock: string | null;
  name: string;
}

/**
 * `pct list`: printf("%-10s %-10s %-12s %-20s\n", VMID, Status, Lock, Name),
 * nothing at all when there are no containers. The Lock column is usually
 * empty, and a lock like "snapshot-delete" overflows its 12 columns, so the row
 * is split on whitespace: 3 tokens = no lock, 4 = lock and name. Names are
 * hostnames (no spaces) and may be longer than 20 characters.
 */
export function parsePctList(text: string): PctListRow[] {
  const rows: PctListRow[] = [];
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    if (/^\s*VMID\s+Status\b/i.test(line)) continue;
    const t = line.trim().split(/\s+/);
    if (!/^\d+$/.test(t[0] ?? "") || t.length < 3) throw new Error(`pct list: unexpected line ${JSON.stringify(line.slice(0, 120))}`);
    const vmid = Number(t[0]);
    if (t.length === 3) rows.push({ vmid, status: t[1]!, lock: null, name: t[2]! });
    else rows.push({ vmid, status: t[1]!, lock: t[2]!, name: t.slice(3).join(" ") });
  }
  return rows;
}

export interface QmListRow {
  vmid: number;
  name: string;
  /** qmpstatus || status: running, stopped, paused, prelaunch, … */
  status: string;
  /** maxmem in MiB (may be fractional). */
  memMiB: number | null;
  /** Boot disk in GiB, 2 decimals. */
  bootDiskGiB: number | null;
  /** null when 0 (stopped). */
  pid: number | null;
}

/**
 * `qm list`: header "%10s %-20s %-10s %-10s %12s %-10s", rows
 * "%10s %-20s %-10s %-10s %12.2f %-10s" (VMID NAME STATUS MEM(MB) BOOTDISK(GB)
 * PID), nothing when there are no VMs. The default name "VM 100" has a space, so
 * the row is read from both ends: VMID first, the last four columns last, the
 * name in between.
 */
export function parseQmList(text: string): QmListRow[] {
  const rows: QmListRow[] = [];
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    if (/^\s*VMID\s+NAME\b/i.test(line)) continue;
    const t = line.trim().split(/\s+/);
    if (!/^\d+$/.test(t[0] ?? "") || t.length < 5) throw new Error(`qm list: unexpected line ${JSON.stringify(line.slice(0, 120))}`);
    const n = t.length;
    const numOrNull = (s: string | undefined) => (s !== undefined && /^\d+(?:\.\d+)?$/.test(s) ? Number(s) : null);
    const pid = numOrNull(t[n - 1]);
    rows.push({
      vmid: Number(t[0]),
      name: t.slice(1, n - 4).join(" "),
      status: t[n - 4]!,
      memMiB: numOrNull(t[n - 3]),
      bootDiskGiB: numOrNull(t[n - 2]),
      pid: pid === 0 ? null : pid,
    });
  }
  return rows;
}

/** A `pct list` row as a /cluster/resources lxc entry (the CLI shows the local node only). */
export function pctRowToGuest(row: PctListRow, node: string): GuestResource {
  return {
    id: `lxc/${row.vmid}`,
    type: "lxc",
    vmid: row.vmid,
    node,
    name: row.name,
    status: row.status,
    // Not in the CLI output; a template's config says `template: 1`, which mapGuest reads.
    template: false,
    lock: row.lock ?? undefined,
  };
}

const GiB = 1024 ** 3;

/** A `qm list` row as a /cluster/resources qemu entry; a QMP state other than running/stopped becomes `qmpstatus`. */
export function qmRowToGuest(row: QmListRow, node: string): GuestResource {
  const plain = row.status === "running" || row.status === "stopped";
  return {
    id: `qemu/${row.vmid}`,
    type: "qemu",
    vmid: row.vmid,
    node,
    name: row.name,
    status: plain ? row.status : "running",
    qmpstatus: plain ? undefined : row.status,
    template: false,
    maxmem: row.memMiB !== null ? Math.round(row.memMiB * 1024 * 1024) : undefined,
    maxdisk: row.bootDiskGiB !== null ? Math.round(row.bootDiskGiB * GiB) : undefined,
    pid: row.pid ?? undefined,
  };
}

// ---------------------------------------------------------------- pct config / qm config

/**
 * `pct config <vmid>` / `qm config <vmid>`: `key: value` lines sorted by key
 * (digest left out), then for LXC the raw `lxc.*: value` lines. Returns the API
 * config object: values stay strings (the schemas coerce numbers and 0/1),
 * `description` is percent-decoded (the CLI prints it through encode_text),
 * `lxc.*` lines become `lxc: [[key, value], …]`. Stops at a `[section]` header.
 */
export function parseConfigText(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const lxc: Array<[string, string]> = [];
  let seen = false;
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    if (/^\[[^\]]+\]\s*$/.test(line)) break;
    const m = /^([a-z][a-z0-9_.-]*):(?: (.*)|)$/i.exec(line.replace(/\s+$/, ""));
    if (!m) continue;
    seen = true;
    const key = m[1]!;
    const value = m[2] ?? "";
    if (key.startsWith("lxc.")) lxc.push([key, value]);
    else if (key === "description") out[key] = decodeConfigText(value);
    else if (!(key in out)) out[key] = value;
  }
  if (!seen && text.trim() !== "") throw new Error("config: no `key: value` lines in the output");
  if (lxc.length > 0) out["lxc"] = lxc;
  return out;
}

/** `pct config <vmid>` → the same object GET …/lxc/{vmid}/config gives. Throws a ZodError on a wrong shape. */
export function parsePctConfig(text: string): LxcConfig {
  return LxcConfigSchema.parse(parseConfigText(text));
}

/** `qm config <vmid>` → the same object GET …/qemu/{vmid}/config gives. Throws a ZodError on a wrong shape. */
export function parseQmConfig(text: string): QemuConfig {
  return QemuConfigSchema.parse(parseConfigText(text));
}

// ---------------------------------------------------------------- pvesh

/**
 * `pvesh get <path> --output-format json|json-pretty`: the API's `data` without
 * the envelope (one line, keys sorted, or indented). Empty output reads as null.
 * The result is unknown: parse it with the endpoint's schema.
 */
export function parsePveshJson(text: string): unknown {
  const t = text.trim();
  if (t === "") return null;
  try {
    return JSON.parse(t) as unknown;
  } catch (err) {
    throw new Error(`pvesh: output is not JSON (${(err as Error).message})`);
  }
}

// ---------------------------------------------------------------- pveversion

/** `pveversion`: `pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-15-pve)`; null if not that. */
export function parsePveversion(text: string): PveManagerVersion | null {
  const first = lines(text).find((l) => l.trim() !== "");
  return first === undefined ? null : parsePveManagerVersion(first.trim());
}

// ---------------------------------------------------------------- pvecm status

export interface PvecmMember {
  nodeid: number;
  votes: number;
  /** What corosync-quorumtool -siH prints: usually the ring address. */
  name: string;
  local: boolean;
}

export interface PvecmStatus {
  /** From the "Cluster information" block; absent in old (corosync 2 era) output. */
  clusterName: string | null;
  configVersion: number | null;
  transport: string | null;
  quorate: boolean | null;
  /** Nodes currently in the membership ("Nodes:"). */
  nodes: number | null;
  localNodeId: number | null;
  expectedVotes: number | null;
  totalVotes: number | null;
  quorum: number | null;
  ringId: string | null;
  members: PvecmMember[];
}

/**
 * `pvecm status` (pve-cluster pvecm.pm + `corosync-quorumtool -siH`). Prefer
 * `pvesh get /cluster/status --output-format json` where available: it names
 * every node, online or not; this output lists only current members, by address.
 */
export function parsePvecmStatus(text: string): PvecmStatus {
  const field = new Map<string, string>();
  const members: PvecmMember[] = [];
  let inMembers = false;
  for (const raw of lines(text)) {
    const line = raw.replace(/\s+$/, "");
    if (/^Membership information/.test(line)) {
      inMembers = true;
      continue;
    }
    if (inMembers) {
      const m = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\d+)\s+(.+?)(\s+\(local\))?$/.exec(line);
      if (m) members.push({ nodeid: Number(m[1]), votes: Number(m[2]), name: m[3]!, local: m[4] !== undefined });
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z ]*?):\s+(.*)$/.exec(line);
    if (kv && !field.has(kv[1]!)) field.set(kv[1]!, kv[2]!.trim());
  }
  const known = ["Quorate", "Quorum provider", "Nodes", "Config Version"].some((k) => field.has(k));
  if (!known && members.length === 0) throw new Error("pvecm status: no quorum or membership information in the output");
  const n = (k: string) => {
    const v = field.get(k);
    if (v === undefined) return null;
    const x = /^0x[0-9a-f]+$/i.test(v) ? Number(v) : Number.parseInt(v, 10);
    return Number.isFinite(x) ? x : null;
  };
  const q = field.get("Quorate");
  return {
    clusterName: field.get("Name") ?? null,
    configVersion: n("Config Version"),
    transport: field.get("Transport") ?? null,
    quorate: q === undefined ? null : /^yes$/i.test(q),
    nodes: n("Nodes"),
    localNodeId: n("Node ID"),
    expectedVotes: n("Expected votes"),
    totalVotes: n("Total votes"),
    quorum: n("Quorum"),
    ringId: field.get("Ring ID") ?? null,
    members,
  };
}

/** The stderr of `pvecm status` on a node that is not in a cluster (pve-cluster Corosync.pm check_conf_exists). */
export function isNotClusteredError(stderr: string): boolean {
  return /is this node part of a cluster\?/.test(stderr);
}
