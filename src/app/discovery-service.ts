// Runs discovery: the configured sources in parallel, under one deadline and the
// caller's cancellation, then one transactional write of everything they saw.
// One run at a time per inventory: a second caller is told which run is going.
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import type { FleetConfig, SourceConfig } from "../config.js";
import type { Db } from "../db/open.js";
import type { DiscoverySource, SourceResult, TargetObservation } from "../discovery/types.js";
import { capNewTargets, fleetCapWarning } from "../inventory/fleet-cap.js";
import { findTargets, runningRuns } from "../inventory/queries.js";
import { applySnapshotRetention, takeSnapshot } from "../inventory/snapshots.js";
import { claimRun, failRun, finishRun, markInterruptedRuns, type RunStatus, type RunTrigger } from "../inventory/store.js";
import { currentCorrelationId, withLogContext, type Logger } from "../log.js";
import type { AppEvents } from "./events.js";
import type { SourceFactory } from "./sources.js";
import { holdRun, isRunAlive, RUN_GRACE_MS } from "./liveness.js";
import { anySignal } from "../discovery/signals.js";
import { neutralise, neutraliseText } from "../discovery/neutralise.js";

export class DiscoveryBusyError extends Error {
  override name = "DiscoveryBusyError";
  constructor(
    readonly runId: number,
    readonly startedAt: string,
  ) {
    super(`Discovery run ${runId} is already running (started ${startedAt}). Call get_discovery_status to follow it, then read the results.`);
  }
}

/** Marks a run failed after an error, retrying briefly if the database is busy; logs if it cannot. */
function closeRunAfterError(db: Db, runId: number, now: Date, startedAt: Date, error: string, log: Logger): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      failRun(db, runId, now, startedAt, error);
      return;
    } catch (err) {
      if (attempt === 2)
        log.error("could not mark the failed discovery run; it will be marked interrupted at the next start", { run_id: runId, error: (err as Error).message });
    }
  }
}

export class UnknownSourceError extends Error {
  override name = "UnknownSourceError";
}

export interface DiscoveryProgress {
  done: number;
  total: number;
  /** The host that finished last. */
  host: string;
  message: string;
}

export interface RunDiscoveryOptions {
  trigger: RunTrigger;
  /** Only these source ids; all configured sources when absent. */
  sourceIds?: string[];
  /** Only these hosts (configured name or address) within the sources, e.g. to re-probe one machine. */
  targets?: string[];
  signal?: AbortSignal;
  onProgress?: (p: DiscoveryProgress) => void;
}

export interface HostReport {
  targetId: string;
  name: string;
  sourceId: string;
  status: string;
  error: string | null;
}

export interface RunReport {
  runId: number;
  correlationId: string;
  status: RunStatus;
  startedAt: Date;
  durationMs: number;
  targetsSeen: number;
  targetsAdded: number;
  targetsUnreachable: number;
  sources: Array<{
    id: string;
    kind: string;
    status: string;
    targets: number;
    hostsOk: number;
    hostsFailed: number;
    durationMs: number;
    error: string | null;
    warnings: string[];
  }>;
  /** Hosts that were not fully probed (status other than ok). */
  problems: HostReport[];
}

interface Deps {
  db: Db;
  log: Logger;
  now: () => Date;
  config: FleetConfig;
  sourceFactory: SourceFactory;
  events?: AppEvents;
}

export class DiscoveryService {
  private active: { runId: number; startedAt: string; correlationId: string } | null = null;

  constructor(private deps: Deps) {}

  /** A config update: runs that start from now on use it; a run in progress keeps the config it started with. */
  setConfig(config: FleetConfig): void {
    this.deps = { ...this.deps, config };
  }

  /** The run in progress, in this process or another one sharing the database. */
  current(): { runId: number; startedAt: string; correlationId: string } | null {
    if (this.active) return this.active;
    const maxAge = this.deps.config.limits.discoveryTimeoutMs + RUN_GRACE_MS;
    const other = runningRuns(this.deps.db).find((r) => isRunAlive(r, maxAge, this.deps.now()));
    return other ? { runId: other.id, startedAt: other.startedAt, correlationId: other.correlationId } : null;
  }

  sourceConfigs(ids?: string[]): SourceConfig[] {
    const all = this.deps.config.sources;
    if (!ids || ids.length === 0) return all;
    const unknown = ids.filter((id) => !all.some((s) => s.id === id));
    if (unknown.length > 0) {
      throw new UnknownSourceError(
        `Unknown source ${unknown.map((u) => JSON.stringify(u)).join(", ")}. Configured sources: ${all.map((s) => s.id).join(", ")}.`,
      );
    }
    return all.filter((s) => ids.includes(s.id));
  }

  async run(opts: RunDiscoveryOptions): Promise<RunReport> {
    this.closeDeadRuns();
    const busy = this.current();
    if (busy) throw new DiscoveryBusyError(busy.runId, busy.startedAt);
    const configs = this.sourceConfigs(opts.sourceIds);
    const { db, now } = this.deps;
    // Called from a tool, the run shares the call's correlation id: audit row, run row and log lines link up.
    const correlationId = currentCorrelationId() ?? randomUUID();
    // The check above is a fast path; this one and the insert are one step under
    // the write lock, so another process sharing the database cannot start a run in between.
    const claim = claimRun(
      db,
      () => this.current(),
      () => ({ correlationId, trigger: opts.trigger, now: now(), ownerPid: process.pid, ownerHost: hostname() }),
    );
    if ("busy" in claim) throw new DiscoveryBusyError(claim.busy.runId, claim.busy.startedAt);
    const { runId, startedAt } = claim;
    // Alive while this process holds it; a row with our pid that we do not hold is a dead predecessor's.
    const release = holdRun(correlationId);
    this.active = { runId, startedAt: startedAt.toISOString(), correlationId };
    try {
      const report = await withLogContext({ correlationId }, () => this.execute(runId, correlationId, startedAt, configs, opts));
      this.deps.events?.emit("run_finished", report);
      return report;
    } catch (err) {
      // Whatever failed (a source factory, the write, a locked database), the run
      // must not stay "running" under this live process and block every later run.
      closeRunAfterError(db, runId, now(), startedAt, (err as Error).message, this.deps.log);
      throw err;
    } finally {
      this.active = null;
      release();
    }
  }

  /**
   * Rows left "running" by a process that died while this one is up (a killed
   * `fleet-mcp discover` beside a long-running server) are marked interrupted
   * when the next run starts, not only at the next restart.
   */
  private closeDeadRuns(): void {
    const { db, log, now, config } = this.deps;
    const maxAge = config.limits.discoveryTimeoutMs + RUN_GRACE_MS;
    try {
      const dead = markInterruptedRuns(db, (r) => isRunAlive(r, maxAge, now()), now());
      if (dead.length > 0) log.warn("marked discovery runs interrupted: their process stopped before finishing", { run_ids: dead });
    } catch (err) {
      log.debug("could not mark dead discovery runs interrupted; the next start will", { error: (err as Error).message });
    }
  }

  /** limits.max_fleet_size: new targets beyond it are left out (known ones never are), with a warning on their source. */
  private capFleet(results: SourceResult[]): SourceResult[] {
    const { db, log, config } = this.deps;
    const max = config.limits.maxFleetSize;
    if (max === null) return results;
    const cap = capNewTargets(db, results, max);
    for (const { sourceId, targets } of cap.leftOut) {
      log.warn(fleetCapWarning(targets, cap.held, max), { source: sourceId, left_out: targets, held: cap.held, max_fleet_size: max });
    }
    return cap.results;
  }

  /** The run is written: a snapshot of the result (and retention) may fail without failing the run. */
  private autoSnapshot(runId: number): void {
    const { db, log, now, config } = this.deps;
    try {
      const snap = takeSnapshot(db, { type: "auto", runId, now: now(), description: `after discovery run ${runId}` });
      log.info("snapshot taken", { snapshot_id: snap.id, name: snap.name, run_id: runId });
      const kept = applySnapshotRetention(db, config.snapshots, now());
      if (kept.archived.length + kept.deleted.length > 0) log.info("snapshot retention", { archived: kept.archived, deleted: kept.deleted });
    } catch (err) {
      log.warn("automatic snapshot after discovery failed; the run itself is recorded", { run_id: runId, error: err });
    }
  }

  private async execute(runId: number, correlationId: string, startedAt: Date, configs: SourceConfig[], opts: RunDiscoveryOptions): Promise<RunReport> {
    const { db, log, now, config } = this.deps;
    const deadline = AbortSignal.timeout(config.limits.discoveryTimeoutMs);
    const signal = opts.signal ? anySignal([opts.signal, deadline]) : deadline;
    // Every host in flight listens on this one signal; dozens at once are expected.
    setMaxListeners(0, signal);
    log.info("discovery started", { run_id: runId, sources: configs.map((c) => c.id), trigger: opts.trigger });

    const perSource = new Map<string, { done: number; total: number }>();
    const report = (host: string) => {
      let done = 0;
      let total = 0;
      for (const p of perSource.values()) {
        done += p.done;
        total += p.total;
      }
      opts.onProgress?.({ done, total, host, message: `${done}/${total} hosts probed (last: ${host})` });
    };

    // Targets may be named as the config names them, by address, or as the inventory knows them (id, hostname).
    const only = opts.targets?.length
      ? [...new Set(opts.targets.flatMap((t) => [t, ...findTargets(db, t).flatMap((row) => (row.address ? [row.address] : []))]))]
      : undefined;
    const sources: DiscoverySource[] = configs.map((c) => this.deps.sourceFactory(c, { db, config, ...(only ? { only } : {}) }));
    const runSource = async (source: DiscoverySource): Promise<SourceResult> => {
      const sourceStarted = now();
      try {
        const result = await source.discover({
          signal,
          now,
          log,
          onHostDone: (done, total, host) => {
            perSource.set(source.id, { done, total });
            report(host);
          },
        });
        log.debug("source finished", {
          source: source.id,
          status: result.status,
          targets: result.targets.length,
          duration_ms: result.finishedAt.getTime() - result.startedAt.getTime(),
        });
        return result;
      } catch (err) {
        log.error("source failed", { source: source.id, error: err });
        return {
          sourceId: source.id,
          kind: source.kind,
          status: signal.aborted ? "cancelled" : "failed",
          startedAt: sourceStarted,
          finishedAt: now(),
          targets: [],
          warnings: [],
          error: (err as Error).message,
        };
      }
    };
    const first = await Promise.all(sources.map(runSource));
    // Follow-ups (guests found by Proxmox, to probe over SSH) run after the wave that found them.
    const followUps = first.flatMap((r) => (r.followUp && !signal.aborted ? [r.followUp] : []));
    const settled = [...first, ...(await Promise.all(followUps.map(runSource)))];

    const cancelled = opts.signal?.aborted ?? false;
    const timedOut = deadline.aborted && !cancelled;
    // Observations cut short by the caller's cancellation say nothing about the
    // host: drop them rather than mark a healthy machine unreachable. Cut short by
    // the run's deadline, they are timeouts. Finished ones are kept either way.
    // Remote text loses its control characters (ANSI escapes, NULs) before it is stored.
    const observed = settled.map((r) => ({
      ...r,
      ...(r.error ? { error: neutraliseText(r.error) } : {}),
      warnings: r.warnings.map(neutraliseText),
      targets: r.targets
        .filter((t: TargetObservation) => t.status !== "cancelled" || timedOut)
        .map((t) =>
          t.status === "cancelled"
            ? { ...t, status: "timeout" as const, error: `not finished when the discovery deadline of ${config.limits.discoveryTimeoutMs} ms passed` }
            : t,
        )
        .map(neutralise),
    }));
    const results = this.capFleet(observed);
    const outcome = finishRun(db, {
      runId,
      results,
      startedAt,
      now: now(),
      cancelled,
      ...(timedOut ? { error: `the discovery deadline of ${config.limits.discoveryTimeoutMs} ms passed` } : {}),
      lifecycle: config.lifecycle,
      roles: config.roles,
      health: config.health,
      completeListing: !only && !cancelled && !timedOut,
    });
    log.info("discovery finished", { run_id: runId, status: outcome.status, duration_ms: outcome.durationMs, targets: outcome.targetsSeen });
    if (config.snapshots.auto && !cancelled && outcome.status !== "failed") this.autoSnapshot(runId);

    const stored = new Map<TargetObservation, { id: string; name: string }>();
    results.forEach((r) => r.targets.forEach((t, i) => stored.set(t, outcome.targetsBySource.get(r.sourceId)![i]!)));
    return {
      runId,
      correlationId,
      status: outcome.status,
      startedAt,
      durationMs: outcome.durationMs,
      targetsSeen: outcome.targetsSeen,
      targetsAdded: outcome.targetsAdded,
      targetsUnreachable: outcome.targetsUnreachable,
      sources: results.map((r) => ({
        id: r.sourceId,
        kind: r.kind,
        status: r.status,
        targets: r.targets.length,
        hostsOk: r.targets.filter((t) => t.status === "ok" || t.status === "partial").length,
        hostsFailed: r.targets.filter((t) => t.status !== "ok" && t.status !== "partial").length,
        durationMs: r.finishedAt.getTime() - r.startedAt.getTime(),
        error: r.error ?? null,
        warnings: r.warnings,
      })),
      problems: results.flatMap((r) =>
        r.targets
          .filter((t) => t.status !== "ok")
          .map((t) => ({ targetId: stored.get(t)!.id, name: stored.get(t)!.name, sourceId: r.sourceId, status: t.status, error: t.error ?? null })),
      ),
    };
  }
}
