// The resources report: capacity and use per Proxmox cluster and node (with
// what their guests are allocated), per machine, and which machines are over-
// or under-used. Readings are the last ones discovery stored; unreachable and
// stale machines are listed but never judged over- or under-used on old data.
import type { HealthThresholds } from "../../config.js";
import type { Db } from "../../db/open.js";
import { filesystems } from "../../db/schema.js";
import {
  freshestSources,
  fromFreshest,
  latestFacts,
  listed,
  liveTargets,
  NEVER_FULL_FSTYPES,
  num,
  pct,
  read,
  ref,
  round,
  type Listed,
  type TargetRef,
} from "./common.js";

/** Under-used: memory use below this percentage... */
export const UNDERUSED_MEMORY_PCT = 20;
/** ...and the 5-minute load per CPU below this. */
export const UNDERUSED_LOAD_PER_CPU = 0.1;

export interface Capacity {
  cpu_count: number;
  memory_bytes: number;
  memory_used_bytes: number;
  disk_bytes: number;
  disk_used_bytes: number;
}

export interface Allocation {
  guests: number;
  running: number;
  /** CPUs and memory configured for running guests. */
  allocated_cpu: number;
  allocated_memory_bytes: number;
  /** Allocated over capacity (1.0 = fully committed; above = overcommitted); null when the capacity is unknown. */
  cpu_ratio: number | null;
  memory_ratio: number | null;
}

export interface MachineUse extends TargetRef {
  lifecycle: string;
  cpu_count: number | null;
  memory_bytes: number | null;
  memory_used_pct: number | null;
  load_per_cpu: number | null;
  /** The fullest filesystem (the disk summary when no filesystem was read). */
  fullest_filesystem: { mount: string; used_pct: number } | null;
}

export interface ResourcesReport {
  thresholds: { memory_over_pct: number; filesystem_over_pct: number; load_per_cpu_over: number; memory_under_pct: number; load_per_cpu_under: number };
  totals: Capacity & { targets: number };
  clusters: Array<{ name: string; nodes: number } & Capacity & Allocation>;
  nodes: Listed<TargetRef & { cluster: string | null; lifecycle: string; load_per_cpu: number | null; memory_used_pct: number | null } & Capacity & Allocation>;
  machines: Listed<MachineUse>;
  over_used: Listed<MachineUse & { reasons: string[] }>;
  under_used: Listed<MachineUse>;
}

export interface ResourcesOptions {
  limit: number;
  thresholds: HealthThresholds;
}

const JUDGED = new Set(["active", "discovered"]);

export function buildResourcesReport(db: Db, opts: ResourcesOptions): ResourcesReport {
  const th = {
    memory_over_pct: opts.thresholds.memory_warning_pct,
    filesystem_over_pct: opts.thresholds.filesystem_critical_pct,
    load_per_cpu_over: opts.thresholds.load_per_cpu_warning,
    memory_under_pct: UNDERUSED_MEMORY_PCT,
    load_per_cpu_under: UNDERUSED_LOAD_PER_CPU,
  };
  return read(db, (tx) => {
    const live = liveTargets(tx);
    const f = latestFacts(tx, ["load.5m", "memory.used_bytes", "pve.cluster", "pve.status"]);
    const fact = (id: string, k: string) => f.get(id)?.get(k);

    // The fullest real filesystem per target, each device once, from the freshest source.
    const fullest = new Map<string, { mount: string; used_pct: number }>();
    const fsRows = fromFreshest(
      tx
        .select({
          targetId: filesystems.targetId,
          sourceId: filesystems.sourceId,
          mount: filesystems.mount,
          fstype: filesystems.fstype,
          size: filesystems.sizeBytes,
          used: filesystems.usedBytes,
          avail: filesystems.availBytes,
        })
        .from(filesystems)
        .all(),
      freshestSources(tx, "filesystems"),
    );
    for (const r of fsRows) {
      if (NEVER_FULL_FSTYPES.has(r.fstype.toLowerCase())) continue;
      // Reserved blocks are not usable: used of used + available is what df shows.
      const cap = r.used + r.avail > 0 ? r.used + r.avail : r.size;
      if (cap <= 0) continue;
      const p = pct(r.used, cap);
      const prev = fullest.get(r.targetId);
      if (!prev || p > prev.used_pct || (p === prev.used_pct && r.mount.length < prev.mount.length)) fullest.set(r.targetId, { mount: r.mount, used_pct: p });
    }

    const machines: MachineUse[] = [];
    const memUsed = new Map<string, number | null>();
    for (const t of live.values()) {
      const load = num(fact(t.id, "load.5m"));
      const used = t.memTotalBytes && t.memAvailableBytes !== null ? t.memTotalBytes - t.memAvailableBytes : num(fact(t.id, "memory.used_bytes"));
      memUsed.set(t.id, used);
      const disk =
        fullest.get(t.id) ?? (t.diskTotalBytes && t.diskUsedBytes !== null ? { mount: "disk", used_pct: pct(t.diskUsedBytes, t.diskTotalBytes) } : null);
      if (t.cpuCount === null && t.memTotalBytes === null && !disk) continue;
      machines.push({
        ...ref(t),
        lifecycle: t.lifecycle,
        cpu_count: t.cpuCount,
        memory_bytes: t.memTotalBytes,
        memory_used_pct: t.memTotalBytes && used !== null ? pct(used, t.memTotalBytes) : null,
        load_per_cpu: load !== null && t.cpuCount ? round(load / t.cpuCount, 2) : null,
        fullest_filesystem: disk,
      });
    }

    const over: Array<MachineUse & { reasons: string[] }> = [];
    const under: MachineUse[] = [];
    for (const m of machines) {
      if (!JUDGED.has(m.lifecycle)) continue;
      // A stopped guest's configured memory says nothing about use.
      const status = fact(m.id, "pve.status");
      if ((m.kind === "lxc" || m.kind === "vm") && typeof status === "string" && status !== "running") continue;
      const reasons: string[] = [];
      if (m.memory_used_pct !== null && m.memory_used_pct >= th.memory_over_pct)
        reasons.push(`memory ${m.memory_used_pct}% used (over at ${th.memory_over_pct}%)`);
      if (m.fullest_filesystem && m.fullest_filesystem.used_pct >= th.filesystem_over_pct)
        reasons.push(`${m.fullest_filesystem.mount} ${m.fullest_filesystem.used_pct}% full (over at ${th.filesystem_over_pct}%)`);
      if (m.load_per_cpu !== null && m.load_per_cpu >= th.load_per_cpu_over) reasons.push(`load ${m.load_per_cpu} per CPU (over at ${th.load_per_cpu_over})`);
      if (reasons.length) over.push({ ...m, reasons });
      else if (m.memory_used_pct !== null && m.load_per_cpu !== null && m.memory_used_pct < th.memory_under_pct && m.load_per_cpu < th.load_per_cpu_under)
        under.push(m);
    }

    const capacityOf = (ids: Iterable<string>): Capacity => {
      const c: Capacity = { cpu_count: 0, memory_bytes: 0, memory_used_bytes: 0, disk_bytes: 0, disk_used_bytes: 0 };
      for (const id of ids) {
        const t = live.get(id)!;
        c.cpu_count += t.cpuCount ?? 0;
        c.memory_bytes += t.memTotalBytes ?? 0;
        c.memory_used_bytes += memUsed.get(id) ?? 0;
        c.disk_bytes += t.diskTotalBytes ?? 0;
        c.disk_used_bytes += t.diskUsedBytes ?? 0;
      }
      return c;
    };
    const guestsOf = new Map<string, string[]>();
    for (const t of live.values()) {
      if (t.parentId && (t.kind === "lxc" || t.kind === "vm")) {
        const g = guestsOf.get(t.parentId);
        if (g) g.push(t.id);
        else guestsOf.set(t.parentId, [t.id]);
      }
    }
    const allocationOf = (nodeIds: string[], cap: Capacity): Allocation => {
      const a: Allocation = { guests: 0, running: 0, allocated_cpu: 0, allocated_memory_bytes: 0, cpu_ratio: null, memory_ratio: null };
      for (const n of nodeIds) {
        for (const g of guestsOf.get(n) ?? []) {
          a.guests++;
          if (fact(g, "pve.status") !== "running") continue;
          const t = live.get(g)!;
          a.running++;
          a.allocated_cpu += t.cpuCount ?? 0;
          a.allocated_memory_bytes += t.memTotalBytes ?? 0;
        }
      }
      a.cpu_ratio = cap.cpu_count > 0 ? round(a.allocated_cpu / cap.cpu_count, 2) : null;
      a.memory_ratio = cap.memory_bytes > 0 ? round(a.allocated_memory_bytes / cap.memory_bytes, 2) : null;
      return a;
    };

    const nodes = [...live.values()].filter((t) => t.kind === "proxmox_node").sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const machineById = new Map(machines.map((m) => [m.id, m]));
    const nodeLines = nodes.map((n) => {
      const cap = capacityOf([n.id]);
      const m = machineById.get(n.id);
      const cluster = fact(n.id, "pve.cluster");
      return {
        ...ref(n),
        cluster: typeof cluster === "string" ? cluster : null,
        lifecycle: n.lifecycle,
        load_per_cpu: m?.load_per_cpu ?? null,
        memory_used_pct: m?.memory_used_pct ?? null,
        ...cap,
        ...allocationOf([n.id], cap),
      };
    });
    const byCluster = new Map<string, string[]>();
    for (const n of nodeLines) {
      // A node outside a cluster is its own.
      const key = n.cluster ?? `${n.name} (standalone)`;
      const ids = byCluster.get(key);
      if (ids) ids.push(n.id);
      else byCluster.set(key, [n.id]);
    }
    const clusters = [...byCluster]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([name, ids]) => {
        const cap = capacityOf(ids);
        return { name, nodes: ids.length, ...cap, ...allocationOf(ids, cap) };
      });

    const pressure = (m: MachineUse) => Math.max(m.memory_used_pct ?? 0, m.fullest_filesystem?.used_pct ?? 0, (m.load_per_cpu ?? 0) * 100);
    const byPressure = (a: MachineUse, b: MachineUse) => pressure(b) - pressure(a) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
    machines.sort(byPressure);
    over.sort(byPressure);
    under.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    return {
      thresholds: th,
      totals: { targets: live.size, ...capacityOf([...live.values()].filter((t) => !(t.parentId && (t.kind === "lxc" || t.kind === "vm"))).map((t) => t.id)) },
      clusters,
      nodes: listed(nodeLines, opts.limit),
      machines: listed(machines, opts.limit),
      over_used: listed(over, opts.limit),
      under_used: listed(under, opts.limit),
    };
  });
}
