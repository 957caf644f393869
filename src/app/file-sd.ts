// Prometheus file_sd kept current: after every discovery run that did not fail,
// the inventory's scrape targets replace prometheus.file_sd_path, atomically and
// only when they changed (Prometheus re-reads the file on every inotify event).
// The same document and the same checks serve export_prometheus_targets and
// `fleet-mcp export prometheus`.
import { lstatSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { FleetConfig } from "../config.js";
import type { Db } from "../db/open.js";
import { writeFileAtomic } from "../inventory/files.js";
import { buildPrometheusTargets, targetGroupsJson, type PrometheusExport } from "../inventory/prometheus.js";
import type { Logger } from "../log.js";
import type { AppEvents } from "./events.js";

/** Where a file_sd path came from, for messages: its name and how to change it. */
export interface PathOrigin {
  what: string;
  change: string;
}

const CONFIGURED: PathOrigin = { what: "prometheus.file_sd_path", change: "change file_sd_path in the config file" };

/** Every active target, one group per target with all its labels, on the default port, and the file_sd JSON of them. */
export function renderFileSd(db: Db, cfg: FleetConfig["prometheus"]): PrometheusExport & { json: string } {
  const out = buildPrometheusTargets(db, { groupBy: "none", port: cfg.defaultPort, lifecycles: ["active"], staticLabels: cfg.staticLabels });
  return { ...out, json: targetGroupsJson(out.groups) };
}

/**
 * Why `path` cannot take a file_sd file, as a sentence with the fix, or null.
 * A symlink is refused: the rename would replace the link, not write where it points.
 */
export function fileSdPathProblem(path: string, { what, change }: PathOrigin = CONFIGURED): string | null {
  let dir;
  try {
    dir = statSync(dirname(path));
  } catch {
    dir = null;
  }
  if (!dir?.isDirectory()) return `The directory of ${what} (${dirname(path)}) does not exist. Create it, or ${change}.`;
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return null; // a new file
  }
  if (!st.isFile()) return `${what} ${path} exists and is not a regular file (a symlink or directory). Point it at a plain file, or ${change}.`;
  return null;
}

/**
 * Writes `data` to `path` atomically (temp file in the same directory, fsync,
 * rename; an existing file keeps its mode) unless the file already holds exactly
 * that. Returns whether it wrote.
 */
export function writeIfChanged(path: string, data: string, mode = 0o644): boolean {
  let current: string | null = null;
  try {
    current = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (current === data) return false;
  writeFileAtomic(path, data, mode);
  return true;
}

/** A failed write as a sentence that says what to do. */
export function fileSdWriteFix(path: string, err: unknown, { change }: PathOrigin = CONFIGURED): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS")
    return `fleet-mcp may not write in ${dirname(path)} (${code}): it creates a temp file there and renames it over ${path}. Give its user write access to that directory (Prometheus only needs to read the file), or ${change}.`;
  if (code === "ENOSPC") return `The disk holding ${path} is full. Free space there, or ${change}.`;
  return `${(err as Error).message}. Check ${path} and its directory, or ${change}.`;
}

/** Renders the targets and writes them to `path` when they changed; a problem comes back as a sentence with the fix. */
export function updateFileSd(
  db: Db,
  cfg: FleetConfig["prometheus"],
  path: string,
  origin: PathOrigin = CONFIGURED,
): { problem: string } | { problem: null; written: boolean; doc: ReturnType<typeof renderFileSd> } {
  const problem = fileSdPathProblem(path, origin);
  if (problem) return { problem };
  const doc = renderFileSd(db, cfg);
  try {
    return { problem: null, written: writeIfChanged(path, doc.json), doc };
  } catch (err) {
    return { problem: fileSdWriteFix(path, err, origin) };
  }
}

export interface FileSdWriterDeps {
  /** Read at event time: the config may change while the server runs. */
  config(): FleetConfig;
  db: Db;
  log: Logger;
  events: AppEvents;
}

/** Rewrites the file_sd file after each discovery run; never fails the run. Returns the unsubscribe function. */
export function watchFileSd(deps: FileSdWriterDeps): () => void {
  return deps.events.on("run_finished", (report) => {
    const cfg = deps.config().prometheus;
    const path = cfg.fileSdPath;
    if (!path || !cfg.writeAfterDiscovery) return;
    if (report.status === "failed") {
      deps.log.debug("prometheus file_sd left as it was: the discovery run failed", { path, run_id: report.runId });
      return;
    }
    const r = updateFileSd(deps.db, cfg, path);
    if (r.problem !== null) deps.log.warn(`prometheus file_sd not written: ${r.problem}`, { path, run_id: report.runId });
    else if (r.written) deps.log.info("prometheus file_sd written", { path, targets: r.doc.targetCount, groups: r.doc.groups.length });
    else deps.log.debug("prometheus file_sd unchanged", { path, targets: r.doc.targetCount });
  });
}
