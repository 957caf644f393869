// Prometheus service discovery from the inventory: target groups in the JSON
// form shared by file_sd and http_sd, [{"targets":["host:port"],"labels":{...}}]
// (prometheus docs/configuration/configuration.md <file_sd_config> and
// docs/http_sd.md). Labels are plain (not __meta_*), so they survive relabeling
// without a relabel_configs rule.
import { and, asc, eq, inArray } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";
import { targets } from "../db/schema.js";

export type PrometheusGroupBy = "role" | "kind" | "none";

export interface PrometheusTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface PrometheusExportOptions {
  groupBy: PrometheusGroupBy;
  port: number;
  lifecycles: readonly string[];
  staticLabels: Readonly<Record<string, string>>;
}

export interface PrometheusExport {
  groups: PrometheusTargetGroup[];
  /** Distinct host:port entries over all groups. */
  targetCount: number;
  /** Matching targets without an address: Prometheus cannot scrape them. */
  skippedNoAddress: Array<{ id: string; name: string }>;
  /** Targets whose host:port another target already had (scraped once). */
  skippedDuplicate: Array<{ id: string; name: string; target: string }>;
}

export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** host:port as Prometheus expects it; IPv6 addresses in brackets. */
export function hostPort(address: string, port: number): string {
  const bare = address.replace(/^\[|\]$/g, "");
  return `${bare.includes(":") ? `[${bare}]` : bare}:${port}`;
}

export function buildPrometheusTargets(db: Db, opts: PrometheusExportOptions): PrometheusExport {
  for (const name of Object.keys(opts.staticLabels)) {
    if (!LABEL_NAME.test(name)) throw new Error(`invalid Prometheus label name ${JSON.stringify(name)}`);
  }
  const parent = alias(targets, "parent");
  const rows = db
    .select({
      id: targets.id,
      name: targets.name,
      kind: targets.kind,
      role: targets.role,
      address: targets.address,
      os: targets.osId,
      node: parent.name,
    })
    .from(targets)
    .leftJoin(parent, eq(parent.id, targets.parentId))
    .where(and(opts.lifecycles.length ? inArray(targets.lifecycle, [...opts.lifecycles]) : undefined))
    // By role first, so a file written with every label still reads grouped by role.
    .orderBy(asc(targets.role), asc(targets.name), asc(targets.id))
    .all();

  const skippedNoAddress: PrometheusExport["skippedNoAddress"] = [];
  const skippedDuplicate: PrometheusExport["skippedDuplicate"] = [];
  const seen = new Set<string>();
  const byKey = new Map<string, PrometheusTargetGroup>();
  for (const r of rows) {
    if (!r.address) {
      skippedNoAddress.push({ id: r.id, name: r.name });
      continue;
    }
    const target = hostPort(r.address, opts.port);
    if (seen.has(target)) {
      skippedDuplicate.push({ id: r.id, name: r.name, target });
      continue;
    }
    seen.add(target);
    // An empty label value is the same as no label to Prometheus: leave those out.
    const own: Record<string, string> = {};
    const put = (k: string, v: string | null) => {
      if (v) own[k] = v;
    };
    put("fleet_role", r.role);
    put("fleet_kind", r.kind);
    if (opts.groupBy === "none") {
      put("fleet_name", r.name);
      // The machine the target runs on: its parent (a guest's Proxmox node), else the target itself.
      put("fleet_node", r.node ?? r.name);
      put("fleet_os", r.os);
    }
    const key = opts.groupBy === "none" ? target : opts.groupBy === "role" ? r.role : r.kind;
    let group = byKey.get(key);
    if (!group) {
      // A group's labels apply to every target in it: grouped, only the grouping label is shared.
      const labels = opts.groupBy === "none" ? own : opts.groupBy === "role" ? { fleet_role: r.role } : { fleet_kind: r.kind };
      group = { targets: [], labels: { ...opts.staticLabels, ...labels } };
      byKey.set(key, group);
    }
    group.targets.push(target);
  }
  const groups = [...byKey.entries()].sort(([a], [b]) => (opts.groupBy === "none" ? 0 : a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
  return { groups, targetCount: seen.size, skippedNoAddress, skippedDuplicate };
}

/** The file_sd / http_sd document: the bytes the tool, the CLI and the after-discovery writer all produce. */
export function targetGroupsJson(groups: readonly PrometheusTargetGroup[]): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}
