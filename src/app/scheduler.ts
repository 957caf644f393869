// The long-running server's own jobs: a discovery every schedule.discovery_interval
// and a health check with the stale-cleanup pass every
// schedule.health_check_interval, each wait jittered so that several servers do
// not probe in step. A job never overlaps itself, and a discovery tick that finds
// a run in progress (a manual one, or one of another process sharing the
// database) skips it and says so. Each timer re-reads the config when it fires
// (and at least every `recheckMs`), so a config update reschedules without a
// restart. stop() cancels a discovery in progress and waits, bounded, for its
// write to complete or roll back.
import type { FleetConfig } from "../config.js";
import { computeHealth } from "../inventory/health.js";
import { lastRun, recentRunDurations } from "../inventory/run-history.js";
import { ageInventory } from "../inventory/store.js";
import type { AppContext } from "./context.js";
import { DiscoveryBusyError } from "./discovery-service.js";

/** Timers the scheduler arms; tests may pass their own. */
export interface SchedulerTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface SchedulerOptions {
  /** The clock that next-run times and the lifecycle cutoffs are computed with; app.now by default. */
  now?: () => Date;
  timers?: SchedulerTimers;
  /** A number in [0, 1) for the jitter; Math.random by default. */
  random?: () => number;
  /** How soon after start the first discovery runs when one is due (never ran, or the last is older than the interval); default 2 s, jittered. */
  firstRunDelayMs?: number;
  /** A waiting job wakes at least this often to re-read the config (an interval turned on, shortened); default 60 s. */
  recheckMs?: number;
  /** How long stop() waits for a cancelled discovery to write or roll back; default 10 s. */
  stopTimeoutMs?: number;
  /** Completed runs whose durations status() lists; default 10. */
  recentRuns?: number;
}

export interface SchedulerStatus {
  /** The scheduler is started and not stopped. */
  active: boolean;
  started_at: string | null;
  discovery: {
    enabled: boolean;
    /** 0: off. */
    interval_s: number;
    jitter: number;
    next_run_at: string | null;
    /** The scheduled run in progress, if any. */
    running_run_id: number | null;
    last_run_id: number | null;
    skipped: number;
    last_skipped_at: string | null;
    last_skip_reason: string | null;
    last_error: string | null;
  };
  health_check: {
    enabled: boolean;
    interval_s: number;
    next_run_at: string | null;
    last_run_at: string | null;
    last_duration_ms: number | null;
    /** Targets the last pass moved to stale or retired. */
    last_lifecycle_changes: number | null;
    skipped: number;
    last_skipped_at: string | null;
    last_skip_reason: string | null;
    last_error: string | null;
  };
  /** Durations of the last completed discovery runs (any trigger), newest first. */
  recent_durations_ms: number[];
}

type JobName = "discovery" | "health_check";

interface Job {
  timer: unknown;
  /** This cycle's jitter: the interval is multiplied by it. Drawn once per cycle so the next-run time is stable between wakes. */
  factor: number | null;
  /** The last time this job ran or skipped: the next wait counts from it at the latest. */
  lastAttemptAt: number | null;
  skipped: number;
  lastSkippedAt: string | null;
  lastSkipReason: string | null;
  lastError: string | null;
}

const newJob = (): Job => ({ timer: null, factor: null, lastAttemptAt: null, skipped: 0, lastSkippedAt: null, lastSkipReason: null, lastError: null });

const realTimers: SchedulerTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class Scheduler {
  private readonly now: () => Date;
  private readonly timers: SchedulerTimers;
  private readonly random: () => number;
  private readonly firstRunDelayMs: number;
  private readonly recheckMs: number;
  private readonly stopTimeoutMs: number;
  private readonly recentRuns: number;
  private readonly jobs: Record<JobName, Job> = { discovery: newJob(), health_check: newJob() };
  private startedAt: number | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  /** The scheduled discovery in progress and the controller that cancels it. */
  private inFlight: { done: Promise<void>; controller: AbortController } | null = null;
  private lastRunId: number | null = null;
  private health: { at: string; durationMs: number; moved: number } | null = null;

  constructor(
    private readonly app: AppContext,
    opts: SchedulerOptions = {},
  ) {
    this.now = opts.now ?? (() => app.now());
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
    this.firstRunDelayMs = opts.firstRunDelayMs ?? 2000;
    this.recheckMs = opts.recheckMs ?? 60_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
    this.recentRuns = opts.recentRuns ?? 10;
  }

  private get schedule(): FleetConfig["schedule"] {
    return this.app.config.schedule;
  }

  /** Arms both jobs; a second call does nothing. */
  start(): this {
    if (this.startedAt !== null || this.stopped) return this;
    this.startedAt = this.now().getTime();
    this.arm("discovery");
    this.arm("health_check");
    const s = this.schedule;
    this.app.log.info("scheduler started", {
      discovery_interval_s: s.discoveryIntervalMs / 1000,
      health_check_interval_s: s.healthCheckIntervalMs / 1000,
      jitter: s.jitter,
      next_discovery_at: iso(this.due("discovery")),
    });
    return this;
  }

  /** Clears the timers, cancels a scheduled discovery in progress and waits (bounded) for it to end. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    for (const job of Object.values(this.jobs)) {
      if (job.timer !== null) this.timers.clear(job.timer);
      job.timer = null;
    }
    const inFlight = this.inFlight;
    if (!inFlight) return;
    this.app.log.info("cancelling the scheduled discovery run: the scheduler is stopping", { run_id: this.app.discovery.current()?.runId ?? null });
    inFlight.controller.abort();
    let timer: unknown = null;
    const finished = await Promise.race([
      inFlight.done.then(() => true),
      new Promise<boolean>((resolve) => (timer = this.timers.set(() => resolve(false), this.stopTimeoutMs))),
    ]);
    if (timer !== null) this.timers.clear(timer);
    if (!finished) this.app.log.warn("the cancelled discovery run did not end in time; stopping anyway", { wait_ms: this.stopTimeoutMs });
  }

  status(): SchedulerStatus {
    const s = this.schedule;
    const d = this.jobs.discovery;
    const h = this.jobs.health_check;
    const active = this.startedAt !== null && !this.stopped;
    return {
      active,
      started_at: this.startedAt === null ? null : new Date(this.startedAt).toISOString(),
      discovery: {
        enabled: s.discoveryIntervalMs > 0,
        interval_s: s.discoveryIntervalMs / 1000,
        jitter: s.jitter,
        // While a scheduled run goes on, the next one counts from its end: not known yet.
        next_run_at: active && !this.inFlight ? iso(this.due("discovery")) : null,
        running_run_id: this.inFlight ? (this.app.discovery.current()?.runId ?? null) : null,
        last_run_id: this.lastRunId,
        skipped: d.skipped,
        last_skipped_at: d.lastSkippedAt,
        last_skip_reason: d.lastSkipReason,
        last_error: d.lastError,
      },
      health_check: {
        enabled: s.healthCheckIntervalMs > 0,
        interval_s: s.healthCheckIntervalMs / 1000,
        next_run_at: active ? iso(this.due("health_check")) : null,
        last_run_at: this.health?.at ?? null,
        last_duration_ms: this.health?.durationMs ?? null,
        last_lifecycle_changes: this.health?.moved ?? null,
        skipped: h.skipped,
        last_skipped_at: h.lastSkippedAt,
        last_skip_reason: h.lastSkipReason,
        last_error: h.lastError,
      },
      recent_durations_ms: recentRunDurations(this.app.db, this.recentRuns),
    };
  }

  /** When the job runs next (ms since the epoch, by this.now), or null when it is off. */
  private due(name: JobName): number | null {
    const job = this.jobs[name];
    const interval = name === "discovery" ? this.schedule.discoveryIntervalMs : this.schedule.healthCheckIntervalMs;
    if (interval <= 0 || this.startedAt === null) return null;
    job.factor ??= 1 + this.schedule.jitter * (2 * this.random() - 1);
    let anchor = job.lastAttemptAt;
    if (name === "discovery") {
      // Counted from the end of the last run, whoever started it: a slow fleet is never probed back to back.
      const last = lastRun(this.app.db);
      if (last) anchor = Math.max(anchor ?? 0, Date.parse(last.finishedAt ?? last.startedAt));
      // Never discovered, or not for longer than the interval: soon after start.
      return Math.max((anchor ?? 0) + interval * job.factor, this.startedAt + this.firstRunDelayMs * job.factor);
    }
    return (anchor ?? this.startedAt) + interval * job.factor;
  }

  private arm(name: JobName): void {
    if (this.stopped) return;
    const job = this.jobs[name];
    if (job.timer !== null) this.timers.clear(job.timer);
    let wait = this.recheckMs;
    try {
      const due = this.due(name);
      if (due !== null) wait = Math.min(Math.max(0, due - this.now().getTime()), this.recheckMs);
    } catch (err) {
      this.app.log.error("scheduler: could not compute the next run; trying again later", { job: name, error: err });
    }
    const timer = this.timers.set(() => {
      job.timer = null;
      void this.wake(name);
    }, wait);
    // The scheduler alone never keeps the process alive.
    (timer as { unref?: () => void } | null)?.unref?.();
    job.timer = timer;
  }

  private async wake(name: JobName): Promise<void> {
    if (this.stopped) return;
    try {
      const due = this.due(name);
      if (due !== null && due <= this.now().getTime()) {
        const job = this.jobs[name];
        job.lastAttemptAt = this.now().getTime();
        job.factor = null;
        if (name === "discovery") await this.discoveryTick();
        else this.healthTick();
      }
    } catch (err) {
      this.app.log.error("scheduler job failed", { job: name, error: err });
      this.jobs[name].lastError = (err as Error).message;
    } finally {
      this.arm(name);
    }
  }

  private skip(name: JobName, reason: string, fields: Record<string, unknown>): void {
    const job = this.jobs[name];
    job.skipped++;
    job.lastSkippedAt = this.now().toISOString();
    job.lastSkipReason = reason;
    this.app.log.info(`scheduled ${name === "discovery" ? "discovery" : "health check"} skipped: ${reason}`, fields);
  }

  private async discoveryTick(): Promise<void> {
    const busy = this.app.discovery.current();
    if (busy) {
      this.skip("discovery", `discovery run ${busy.runId} (started ${busy.startedAt}) was in progress`, { run_id: busy.runId });
      return;
    }
    const controller = new AbortController();
    const job = this.jobs.discovery;
    const done = this.app.discovery.run({ trigger: "scheduler", signal: controller.signal }).then(
      (report) => {
        this.lastRunId = report.runId;
        job.lastError = null;
      },
      (err: unknown) => {
        // Between current() and run() another process may have started one.
        if (err instanceof DiscoveryBusyError)
          this.skip("discovery", `discovery run ${err.runId} (started ${err.startedAt}) was in progress`, { run_id: err.runId });
        else {
          job.lastError = (err as Error).message;
          this.app.log.error("scheduled discovery failed", { error: err });
        }
      },
    );
    this.inFlight = { done, controller };
    try {
      await done;
    } finally {
      this.inFlight = null;
    }
  }

  /** The lifecycle clock (stale, retired) and every score, as a discovery run's write does them. */
  private healthTick(): void {
    const busy = this.app.discovery.current();
    if (busy) {
      // The run ages and scores the inventory itself when it is written.
      this.skip("health_check", `discovery run ${busy.runId} was in progress; it ages and scores the inventory when it finishes`, { run_id: busy.runId });
      return;
    }
    const { db, config, log } = this.app;
    const started = performance.now();
    const now = this.now();
    const moved = ageInventory(db, now, config.lifecycle);
    const summary = computeHealth(db, config.health, { now, staleAfterMs: config.lifecycle.staleAfterMs });
    const durationMs = Math.round(performance.now() - started);
    this.health = { at: now.toISOString(), durationMs, moved };
    this.jobs.health_check.lastError = null;
    (moved > 0 ? log.info : log.debug).call(log, "scheduled health check", {
      lifecycle_changes: moved,
      targets: summary.targets,
      mean: summary.mean,
      duration_ms: durationMs,
    });
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
