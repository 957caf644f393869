// Writes of discovery into the inventory. One run's writes are one transaction:
// a crash leaves the previous inventory intact and the run row "running", which
// the next start marks "interrupted". A collection a source did not observe
// (undefined) is left as it was: a failed section or an unreachable host never
// deletes what we knew.
import { createHash } from "node:crypto";
import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/open.js";
import {
  containers,
  discoveryHostResults,
  discoveryRuns,
  discoverySourceResults,
  events,
  facts,
  observations,
  services,
  sshEndpoints,
  stacks,
  targetIdentities,
  targets,
} from "../db/schema.js";
import type { SourceResult, TargetKind, TargetObservation } from "../discovery/types.js";
import {
  ADDRESSES,
  CONTAINERS,
  FILESYSTEMS,
  INTERFACES,
  PORTS,
  SERVICES,
  STACKS,
  bindDriver,
  placeholders,
  prepared,
  syncCollection,
  type CollectionSpec,
  type Row,
  type SyncResult,
  type Tx,
} from "./collections.js";
import type { HealthThresholds, RoleRule } from "../config.js";
import { computeHealth } from "./health.js";
import { applyRoles } from "./roles.js";
import { recordEvents, type EventSeverity, type EventType, type NewEvent } from "./events.js";

export type RunTrigger = "tool" | "cli" | "scheduler";
export type RunStatus = "running" | "ok" | "partial" | "failed" | "cancelled" | "interrupted";

const KIND_PREFIX: Record<TargetKind, string> = { host: "h", proxmox_node: "n", lxc: "ct", vm: "vm" };

/** A target's id is a function of its strongest identity key: the same machine gets the same id in any database. */
export function deriveTargetId(kind: TargetKind, identity: string): string {
  return `${KIND_PREFIX[kind]}-${createHash("sha256").update(identity).digest("hex").slice(0, 12)}`;
}

const REACHED = new Set(["ok", "partial"]);

/** Keys that say where a machine is reached (an SSH endpoint, the local host, a pct exec path), not what it is. */
function isLocator(identity: string): boolean {
  return /^(ssh|endpoint|pct):/.test(identity);
}

/** Fact keys mirrored into summary columns of `targets`, so overviews read one table. */
const SUMMARY_COLUMNS = {
  "os.id": "osId",
  "os.version_id": "osVersion",
  "os.pretty_name": "osName",
  "kernel.release": "kernel",
  arch: "arch",
  "cpu.count": "cpuCount",
  "memory.total_bytes": "memTotalBytes",
  "memory.available_bytes": "memAvailableBytes",
  "disk.total_bytes": "diskTotalBytes",
  "disk.used_bytes": "diskUsedBytes",
  uptime_seconds: "uptimeSeconds",
} as const satisfies Record<string, keyof typeof targets.$inferInsert>;

export interface StartRunInput {
  correlationId: string;
  trigger: RunTrigger;
  now: Date;
  ownerPid: number;
  ownerHost: string;
}

export function startRun(db: Db, input: StartRunInput): number {
  const row = db
    .insert(discoveryRuns)
    .values({
      correlationId: input.correlationId,
      trigger: input.trigger,
      status: "running",
      startedAt: input.now.toISOString(),
      ownerPid: input.ownerPid,
      ownerHost: input.ownerHost,
    })
    .returning({ id: discoveryRuns.id })
    .get();
  return row.id;
}

/**
 * Starts a run unless one is in progress, as one step under the write lock
 * (IMMEDIATE): `inProgress` (which reads the running rows through `db`) and the
 * insert cannot interleave with another process sharing the database, so two
 * servers asked at the same moment never both start. `input` is built inside the
 * lock, so the run's start time is after any run that finished before it.
 */
export function claimRun<T>(db: Db, inProgress: () => T | null, input: () => StartRunInput): { busy: T } | { runId: number; startedAt: Date } {
  return db.transaction(
    () => {
      const busy = inProgress();
      if (busy !== null) return { busy };
      const start = input();
      return { runId: startRun(db, start), startedAt: start.now };
    },
    { behavior: "immediate" },
  );
}

export interface RunOutcome {
  runId: number;
  status: RunStatus;
  targetsSeen: number;
  targetsAdded: number;
  targetsUnreachable: number;
  durationMs: number;
  /** Target id and stored name of each observation, per source, in the order the source listed them. */
  targetsBySource: Map<string, Array<{ id: string; name: string }>>;
}

export interface LifecyclePolicy {
  /** Not reached for this long: unreachable/active -> stale. */
  staleAfterMs: number;
  /** Not reached for this long: -> retired. null: only by explicit action. */
  retireAfterMs: number | null;
}

export interface FinishRunInput {
  runId: number;
  results: SourceResult[];
  startedAt: Date;
  now: Date;
  cancelled: boolean;
  error?: string;
  lifecycle?: LifecyclePolicy;
  /** Role rules re-applied after the run's writes (roles follow names, tags and pools as they change). */
  roles?: readonly RoleRule[];
  /** Health thresholds: every live target's score is recomputed after the run's writes. */
  health?: HealthThresholds;
  /** false when the run probed only some targets (a targets filter): nothing absent from it is "unseen". */
  completeListing?: boolean;
}

export function finishRun(db: Db, input: FinishRunInput): RunOutcome {
  return db.transaction(
    (tx) => {
      bindDriver(tx, db);
      const pending: NewEvent[] = [];
      let added = 0;
      let unreachable = 0;
      const seen = new Set<string>();
      const targetsBySource = new Map<string, Array<{ id: string; name: string }>>();
      for (const result of input.results) {
        const ids: Array<{ id: string; name: string }> = [];
        targetsBySource.set(result.sourceId, ids);
        let hostsOk = 0;
        let hostsFailed = 0;
        for (const obs of result.targets) {
          const { targetId, name, created } = ingestObservation(tx, result.sourceId, obs, input.runId, pending);
          seen.add(targetId);
          ids.push({ id: targetId, name });
          if (created) added++;
          if (REACHED.has(obs.status)) hostsOk++;
          else {
            hostsFailed++;
            unreachable++;
          }
        }
        // A source that finished cleanly lists everything it knows of: what it listed before and not now is unseen.
        if (result.status === "ok" && input.completeListing !== false) markUnseen(tx, result.sourceId, new Set(ids.map((i) => i.id)), input.now, input.runId);
        tx.insert(discoverySourceResults)
          .values({
            runId: input.runId,
            sourceId: result.sourceId,
            kind: result.kind,
            status: result.status,
            startedAt: result.startedAt.toISOString(),
            finishedAt: result.finishedAt.toISOString(),
            durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
            targets: result.targets.length,
            hostsOk,
            hostsFailed,
            warnings: JSON.stringify(result.warnings),
            error: result.error ?? null,
          })
          .run();
      }
      recordEvents(tx as unknown as Db, pending);
      if (input.lifecycle) ageTargets(tx, input.now, input.lifecycle, input.runId);
      // Derived state follows in the same transaction: a reader never sees new
      // data with old roles or health.
      if (input.roles) applyRoles(tx as unknown as Db, input.roles, { now: input.now, runId: input.runId });
      if (input.health) computeHealth(tx as unknown as Db, input.health, { now: input.now, staleAfterMs: input.lifecycle?.staleAfterMs ?? 24 * 3600_000 });
      const status = input.cancelled ? "cancelled" : runStatus(input.results);
      const durationMs = input.now.getTime() - input.startedAt.getTime();
      tx.update(discoveryRuns)
        .set({
          status,
          finishedAt: input.now.toISOString(),
          durationMs,
          targetsSeen: seen.size,
          targetsAdded: added,
          targetsUnreachable: unreachable,
          error: input.error ?? null,
        })
        .where(eq(discoveryRuns.id, input.runId))
        .run();
      return { runId: input.runId, status, targetsSeen: seen.size, targetsAdded: added, targetsUnreachable: unreachable, durationMs, targetsBySource };
    },
    { behavior: "immediate" },
  );
}

function markUnseen(tx: Tx, sourceId: string, listedNow: Set<string>, now: Date, runId: number): void {
  const listed = tx
    .select({ id: targets.id, name: targets.name, lastSeenAt: targets.lastSeenAt })
    .from(observations)
    .innerJoin(targets, eq(targets.id, observations.targetId))
    .where(and(eq(observations.sourceId, sourceId), eq(observations.collection, LISTED)))
    .all();
  const gone = listed.filter((t) => !listedNow.has(t.id));
  if (gone.length === 0) return;
  const at = now.toISOString();
  recordEvents(
    tx as unknown as Db,
    gone.map((t) => ({
      ts: at,
      targetId: t.id,
      runId,
      type: "target_unseen" as const,
      severity: "warning" as const,
      message: `${t.name}: no longer listed by source ${sourceId} (last seen ${t.lastSeenAt ?? "never"})`,
      data: { source: sourceId, last_seen_at: t.lastSeenAt },
    })),
  );
  const del = prepared(tx, "delete:listed", () =>
    tx
      .delete(observations)
      .where(and(eq(observations.targetId, sql.placeholder("t")), eq(observations.sourceId, sql.placeholder("s")), eq(observations.collection, LISTED))),
  );
  for (const t of gone) del.run({ t: t.id, s: sourceId });
  // No source lists it any more (a deleted guest, a host taken out of the config):
  // it is not "active" whatever it was last time. Stale says "probably gone" and
  // lets the retention clock retire it; nothing it had is deleted.
  const stillListed = prepared(tx, "select:listed_any", () =>
    tx
      .select({ n: sql<number>`count(*)` })
      .from(observations)
      .where(and(eq(observations.targetId, sql.placeholder("t")), eq(observations.collection, LISTED))),
  );
  const lifecycleOf = prepared(tx, "select:lifecycle", () =>
    tx
      .select({ lifecycle: targets.lifecycle })
      .from(targets)
      .where(eq(targets.id, sql.placeholder("t"))),
  );
  const orphaned = gone.flatMap((t) => {
    if (Number(stillListed.get({ t: t.id })?.n ?? 0) > 0) return [];
    const lifecycle = String(lifecycleOf.get({ t: t.id })?.lifecycle ?? "");
    return ["active", "unreachable", "discovered"].includes(lifecycle) ? [{ ...t, lifecycle }] : [];
  });
  moveLifecycle(tx, orphaned, "stale", now, runId, "warning", () => ({ why: "no source lists it any more", data: { reason: "unlisted", source: sourceId } }));
}

function runStatus(results: SourceResult[]): RunStatus {
  if (results.length === 0) return "ok";
  if (results.every((r) => r.status === "ok")) return "ok";
  if (results.every((r) => r.status === "failed")) return "failed";
  return "partial";
}

/**
 * Time-driven lifecycle: targets nobody has reached for `staleAfterMs` become
 * stale, and retired after `retireAfterMs` when a retention is configured.
 * Each transition is an event. Nothing is deleted.
 */
function ageTargets(tx: Tx, now: Date, policy: LifecyclePolicy, runId: number | null): number {
  const lastContact = sql<string>`coalesce(${targets.lastSeenAt}, ${targets.firstSeenAt})`;
  const transition = (to: "stale" | "retired", fromStates: string[], olderThanMs: number): number => {
    const cutoff = new Date(now.getTime() - olderThanMs).toISOString();
    const rows = tx
      .select({ id: targets.id, name: targets.name, lifecycle: targets.lifecycle, last: lastContact })
      .from(targets)
      .where(and(inArray(targets.lifecycle, fromStates), sql`${lastContact} < ${cutoff}`))
      .all();
    moveLifecycle(tx, rows, to, now, runId, to === "retired" ? "info" : "warning", (r) => ({
      why: `not reached since ${r.last}`,
      data: { last_seen_at: r.last },
    }));
    return rows.length;
  };
  const stale = transition("stale", ["active", "unreachable", "discovered"], policy.staleAfterMs);
  return stale + (policy.retireAfterMs !== null ? transition("retired", ["stale"], policy.retireAfterMs) : 0);
}

/** The lifecycle clock between runs (the scheduler's stale-cleanup pass): the same transitions as after a run, with no run id. Returns how many targets moved. */
export function ageInventory(db: Db, now: Date, policy: LifecyclePolicy): number {
  return db.transaction((tx) => ageTargets(tx, now, policy, null), { behavior: "immediate" });
}

/** Moves targets to another lifecycle state by time or listing, each with its lifecycle_changed event. */
function moveLifecycle<R extends { id: string; name: string; lifecycle: string }>(
  tx: Tx,
  rows: R[],
  to: string,
  now: Date,
  runId: number | null,
  severity: EventSeverity,
  detail: (r: R) => { why: string; data: Record<string, unknown> },
): void {
  for (const r of rows) tx.update(targets).set({ lifecycle: to }).where(eq(targets.id, r.id)).run();
  recordEvents(
    tx as unknown as Db,
    rows.map((r) => {
      const { why, data } = detail(r);
      return {
        ts: now.toISOString(),
        targetId: r.id,
        runId,
        type: "lifecycle_changed" as const,
        severity,
        message: `${r.name}: ${r.lifecycle} -> ${to} (${why})`,
        data: { before: r.lifecycle, after: to, ...data },
      };
    }),
  );
}

/** Closes a run whose write failed: its transaction rolled back, so the inventory is as before. */
export function failRun(db: Db, runId: number, now: Date, startedAt: Date, error: string): void {
  db.update(discoveryRuns)
    .set({ status: "failed", finishedAt: now.toISOString(), durationMs: now.getTime() - startedAt.getTime(), error: `nothing was written: ${error}` })
    // Only a run still open: a run that was written keeps its outcome.
    .where(and(eq(discoveryRuns.id, runId), eq(discoveryRuns.status, "running")))
    .run();
}

/** Marks runs whose owning process is gone (a crash or kill) as interrupted. */
export function markInterruptedRuns(
  db: Db,
  isAlive: (run: { ownerPid: number; ownerHost: string; startedAt: string; correlationId: string }) => boolean,
  now: Date,
): number[] {
  const running = db.select().from(discoveryRuns).where(eq(discoveryRuns.status, "running")).all();
  const dead = running.filter((r) => !isAlive(r)).map((r) => r.id);
  if (dead.length > 0) {
    db.update(discoveryRuns)
      .set({
        status: "interrupted",
        finishedAt: now.toISOString(),
        error: "the process running this discovery stopped before it finished; nothing of it was written",
      })
      // Only rows still open: a run that finished meanwhile keeps its outcome.
      .where(and(inArray(discoveryRuns.id, dead), eq(discoveryRuns.status, "running")))
      .run();
  }
  return dead;
}

/** Fields of a target whose change is an event; volatile readings (uptime, memory available, disk used) are not. */
const TRACKED_TARGET_FIELDS = [
  "name",
  "kind",
  "address",
  "parentId",
  "osId",
  "osVersion",
  "osName",
  "kernel",
  "arch",
  "cpuCount",
  "memTotalBytes",
  "diskTotalBytes",
] as const;
const FIELD_LABEL: Record<(typeof TRACKED_TARGET_FIELDS)[number], string> = {
  name: "name",
  kind: "kind",
  address: "address",
  parentId: "parent",
  osId: "os",
  osVersion: "os version",
  osName: "os name",
  kernel: "kernel",
  arch: "arch",
  cpuCount: "cpu count",
  memTotalBytes: "memory",
  diskTotalBytes: "disk size",
};

/** What an observation may change on its target: one statement for every update, whatever changed. */
const UPDATABLE_TARGET_COLUMNS = [
  "lastStatus",
  "lastError",
  "lastAttemptAt",
  "name",
  "kind",
  "lastSeenAt",
  "lifecycle",
  "address",
  "parentId",
  ...Object.values(SUMMARY_COLUMNS),
] as const;

/** `observations.collection` of the row that says a source lists a target. */
const LISTED = "listed";

/** A target's tags: the union of what every source says (config and Tailscale tags, comma-joined; Proxmox tags, ";"-joined). */
function updateTags(tx: Tx, targetId: string): void {
  const rows = prepared(tx, "select:tag_facts", () =>
    tx
      .select({ key: facts.key, value: facts.value })
      .from(facts)
      .where(and(eq(facts.targetId, sql.placeholder("t")), inArray(facts.key, ["tags", "pve.tags"]))),
  ).all({ t: targetId }) as Array<{ key: string; value: string }>;
  const tags = new Set<string>();
  for (const r of rows) {
    const v: unknown = JSON.parse(r.value);
    if (typeof v !== "string") continue;
    for (const t of v.split(r.key === "pve.tags" ? ";" : ",")) if (t.trim()) tags.add(t.trim());
  }
  const json = JSON.stringify([...tags].sort());
  prepared(tx, "update:tags", () =>
    tx
      .update(targets)
      .set({ tags: sql.placeholder("tags") as unknown as string })
      .where(and(eq(targets.id, sql.placeholder("t")), sql`${targets.tags} <> ${sql.placeholder("tags")}`)),
  ).run({ t: targetId, tags: json });
}

function ingestObservation(
  tx: Tx,
  sourceId: string,
  obs: TargetObservation,
  runId: number,
  pending: NewEvent[],
): { targetId: string; name: string; created: boolean } {
  const at = obs.observedAt.toISOString();
  const reached = REACHED.has(obs.status);
  const { targetId, created } = resolveTarget(tx, sourceId, obs, at, reached);

  // Identity keys not yet recorded. A key already owned by another target stays
  // with it: identities are never stolen (cloned machine-ids are a known hazard).
  for (const identity of obs.identity) {
    // Locators (where a machine is reached, not what it is) follow whichever
    // machine answered there last; real identities are never reassigned.
    const locator = isLocator(identity);
    const values = placeholders(["identity", "targetId", "sourceId", "firstSeenAt"]) as unknown as typeof targetIdentities.$inferInsert;
    const stmt =
      locator && reached
        ? prepared(tx, "identity:move", () =>
            tx
              .insert(targetIdentities)
              .values(values)
              .onConflictDoUpdate({ target: targetIdentities.identity, set: { targetId: sqlExcluded("target_id"), sourceId: sqlExcluded("source_id") } }),
          )
        : prepared(tx, "identity:keep", () => tx.insert(targetIdentities).values(values).onConflictDoNothing());
    stmt.run({ identity, targetId, sourceId, firstSeenAt: at });
  }

  const update: Partial<typeof targets.$inferInsert> = {
    lastStatus: obs.status,
    lastError: obs.error ?? null,
    lastAttemptAt: at,
  };
  if (reached) {
    update.name = obs.name;
    update.kind = obs.kind;
    update.lastSeenAt = at;
    update.lifecycle = "active";
    if (obs.address) update.address = obs.address;
    if (obs.parentIdentity) {
      const parent = identityOwner(tx).get({ i: obs.parentIdentity }) as { targetId: string } | undefined;
      if (parent) update.parentId = parent.targetId;
    }
    for (const [key, column] of Object.entries(SUMMARY_COLUMNS)) {
      if (key in obs.facts) (update as Record<string, unknown>)[column] = obs.facts[key] ?? null;
    }
  }
  const prev = prepared(tx, "select:target_prev", () =>
    tx
      .select()
      .from(targets)
      .where(eq(targets.id, sql.placeholder("id"))),
  ).get({ id: targetId }) as typeof targets.$inferSelect | undefined;
  // A failure moves a live target to unreachable; stale and retired ones stay where the clock put them.
  if (!reached && prev && (prev.lifecycle === "active" || prev.lifecycle === "discovered") && !created) update.lifecycle = "unreachable";
  prepared(tx, "update:target", () =>
    tx
      .update(targets)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .set(placeholders(UPDATABLE_TARGET_COLUMNS) as any)
      .where(eq(targets.id, sql.placeholder("id"))),
  ).run({ ...prev, ...update, id: targetId });
  const ctx: IngestContext = { targetId, name: prev?.name ?? obs.name, sourceId, at, runId, created, role: prev?.role ?? "unassigned" };
  const evts: NewEvent[] = [];
  if (created) {
    evts.push(
      event(ctx, "target_added", "info", `new ${obs.kind}${obs.address ? ` at ${obs.address}` : ""}`, {
        kind: obs.kind,
        address: obs.address,
        status: obs.status,
      }),
    );
  } else if (prev) {
    if (update.lifecycle && update.lifecycle !== prev.lifecycle) {
      evts.push(
        event(
          ctx,
          "lifecycle_changed",
          update.lifecycle === "unreachable" ? "warning" : "info",
          `${prev.lifecycle} -> ${update.lifecycle}${obs.error ? ` (${obs.error})` : ""}`,
          { before: prev.lifecycle, after: update.lifecycle, status: obs.status },
        ),
      );
    }
    for (const field of TRACKED_TARGET_FIELDS) {
      if (!(field in update)) continue;
      const before = prev[field] ?? null;
      const after = update[field] ?? null;
      if (before === after) continue;
      evts.push(event(ctx, "target_changed", "info", `${FIELD_LABEL[field]} ${str(before)} -> ${str(after)}`, { field: FIELD_LABEL[field], before, after }));
    }
  }

  // Only a probe that got through writes data: a timed-out, truncated or refused
  // one says nothing trustworthy, and what we knew stays as it was.
  if (reached) {
    evts.push(...writeObservedData(tx, ctx, obs));
    if (ctx.tagsChanged) updateTags(tx, targetId);
  }
  // Which targets each source currently lists, reached or not: a target a source stops listing is "unseen".
  observationUpsert(tx).run({ targetId, sourceId, collection: LISTED, observedAt: at, runId });
  pending.push(...evts);
  recordEndpoint(tx, targetId, obs, at, runId);

  const hostRow = {
    runId,
    sourceId,
    targetId,
    address: obs.address,
    status: obs.status,
    error: obs.error ?? null,
    sections: JSON.stringify(obs.sections),
    durationMs: Math.round(obs.durationMs),
  };
  prepared(tx, "insert:host_results", () =>
    tx
      .insert(discoveryHostResults)
      .values(placeholders(Object.keys(hostRow)) as unknown as typeof discoveryHostResults.$inferInsert)
      .onConflictDoNothing(),
  ).run(hostRow);
  return { targetId, name: update.name ?? prev?.name ?? obs.name, created };
}

/** Facts and collections of a reached target; a collection left undefined (its section failed) is kept as it was. */
function writeObservedData(tx: Tx, ctx: IngestContext, obs: TargetObservation): NewEvent[] {
  const { targetId, sourceId, at, runId } = ctx;
  // A target created by this very observation has no rows yet: nothing to read back.
  const fresh = ctx.created;
  const seenBefore = fresh ? new Set<string>() : observedCollections(tx, targetId, sourceId);
  const observed: string[] = [];
  const evts: NewEvent[] = [];
  let countsStale = ctx.created;
  // A collection this source never observed on this target is a baseline, not a
  // change: a second source reaching a known machine must not "add" its services.
  const diff = (spec: CollectionSpec, rows: Row[]) => {
    observed.push(spec.collection);
    const r = syncCollection(tx, spec, targetId, sourceId, rows, at, fresh);
    if (COUNTED.has(spec) && (r.added.length > 0 || r.removed.length > 0 || r.changed.length > 0)) countsStale = true;
    return seenBefore.has(spec.collection) && !ctx.created ? r : null;
  };
  const written = writeFacts(tx, targetId, sourceId, obs, at, fresh);
  if (written.observed) observed.push("facts");
  ctx.tagsChanged = written.changed.has("tags") || written.changed.has("pve.tags");
  if (obs.services) {
    const r = diff(
      SERVICES,
      obs.services.map((s) => ({
        name: s.name,
        description: s.description,
        loadState: s.load,
        activeState: s.active,
        subState: s.sub,
        enabled: s.enabled ?? null,
      })),
    );
    if (r) evts.push(...serviceEvents(ctx, r));
  }
  if (obs.containers) {
    const r = diff(
      CONTAINERS,
      obs.containers.map((c) => ({
        name: c.name,
        containerId: c.id,
        image: c.image,
        imageId: c.imageId ?? null,
        state: c.state,
        status: c.status,
        ports: c.ports,
        labels: JSON.stringify(c.labels),
        composeProject: c.composeProject,
        composeService: c.composeService,
        createdAt: c.createdAt,
        restartCount: c.restartCount ?? null,
        health: c.health ?? null,
        exitCode: c.exitCode ?? null,
        privileged: c.privileged ?? null,
        networkMode: c.networkMode ?? null,
      })),
    );
    if (r) evts.push(...containerEvents(ctx, r));
  }
  if (obs.stacks) {
    const r = diff(
      STACKS,
      obs.stacks.map((s) => ({ name: s.name, status: s.status, configFiles: JSON.stringify(s.configFiles) })),
    );
    if (r) evts.push(...stackEvents(ctx, r));
  }
  if (obs.ports) {
    const r = diff(
      PORTS,
      obs.ports.map((p) => ({ protocol: p.protocol, address: p.address, port: p.port, process: p.process, pid: p.pid })),
    );
    if (r) evts.push(...portEvents(ctx, r));
  }
  if (obs.interfaces) {
    diff(
      INTERFACES,
      obs.interfaces.map((i) => ({ name: i.name, mac: i.mac, mtu: i.mtu, state: i.state, master: i.master })),
    );
    syncCollection(
      tx,
      ADDRESSES,
      targetId,
      sourceId,
      obs.interfaces.flatMap((i) =>
        i.addresses.map((a) => ({ interfaceName: i.name, family: a.family, address: a.address, prefixlen: a.prefixlen, scope: a.scope })),
      ),
      at,
    );
  }
  if (obs.filesystems) {
    diff(
      FILESYSTEMS,
      obs.filesystems.map((f) => ({
        mount: f.mount,
        device: f.source,
        fstype: f.fstype,
        sizeBytes: f.sizeBytes,
        usedBytes: f.usedBytes,
        availBytes: f.availBytes,
      })),
    );
  }
  if (countsStale) updateCounts(tx, targetId);
  const upsert = observationUpsert(tx);
  for (const collection of new Set(observed)) upsert.run({ targetId, sourceId, collection, observedAt: at, runId });
  return evts;
}

const COUNTED = new Set<CollectionSpec>([SERVICES, CONTAINERS, STACKS]);

/**
 * The target's collection counts (all sources), for overviews that read one
 * table. Each count filters on target_id alone (conditions go in CASE), so the
 * primary key serves it: a condition on a state column could lead the planner
 * onto the state index and through every running container of the fleet.
 */
function updateCounts(tx: Tx, targetId: string): void {
  const t = sql.placeholder("t");
  const n = (table: typeof services | typeof containers | typeof stacks, when?: SQL) =>
    sql<number>`(select ${when ? sql`coalesce(sum(case when ${when} then 1 else 0 end), 0)` : sql`count(*)`} from ${table} where ${table.targetId} = ${t})`;
  prepared(tx, "update:counts", () =>
    tx
      .update(targets)
      .set({
        serviceCount: n(services),
        servicesRunning: n(services, sql`${services.subState} = 'running'`),
        servicesFailed: n(services, sql`${services.activeState} = 'failed'`),
        containerCount: n(containers),
        containersRunning: n(containers, sql`${containers.state} = 'running'`),
        stackCount: n(stacks),
      })
      .where(eq(targets.id, t)),
  ).run({ t: targetId });
}

/** The collections this source has observed on this target before now. */
function observedCollections(tx: Tx, targetId: string, sourceId: string): Set<string> {
  const rows = prepared(tx, "select:observations", () =>
    tx
      .select({ c: observations.collection })
      .from(observations)
      .where(and(eq(observations.targetId, sql.placeholder("t")), eq(observations.sourceId, sql.placeholder("s")))),
  ).all({ t: targetId, s: sourceId }) as Array<{ c: string }>;
  return new Set(rows.map((r) => r.c));
}

function observationUpsert(tx: Tx) {
  return prepared(tx, "upsert:observations", () =>
    tx
      .insert(observations)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .values(placeholders(["targetId", "sourceId", "collection", "observedAt", "runId"]) as any)
      .onConflictDoUpdate({
        target: [observations.targetId, observations.sourceId, observations.collection],
        set: { observedAt: sqlExcluded("observed_at"), runId: sqlExcluded("run_id") },
      }),
  );
}

interface IngestContext {
  targetId: string;
  name: string;
  sourceId: string;
  at: string;
  runId: number;
  created: boolean;
  /** The target's role before this run, for the severity of exposure changes. */
  role: string;
  /** A tag fact (config/Tailscale tags, Proxmox tags) changed: the target's tags need recomputing. */
  tagsChanged?: boolean;
}

function event(ctx: IngestContext, type: EventType, severity: EventSeverity, message: string, data: Record<string, unknown>): NewEvent {
  return { ts: ctx.at, targetId: ctx.targetId, runId: ctx.runId, type, severity, message: `${ctx.name}: ${message}`, data: { source: ctx.sourceId, ...data } };
}

const str = (v: unknown) => (v === null || v === undefined ? "none" : String(v));

function serviceEvents(ctx: IngestContext, r: SyncResult): NewEvent[] {
  const out: NewEvent[] = [];
  const state = (row: Row) => ({ active: row.activeState ?? null, sub: row.subState ?? null });
  for (const s of r.added)
    out.push(
      event(ctx, "service_added", "info", `service ${s.name} appeared (${str(s.activeState)}/${str(s.subState)})`, { service: s.name, after: state(s) }),
    );
  for (const s of r.removed) out.push(event(ctx, "service_removed", "info", `service ${s.name} is gone`, { service: s.name, before: state(s) }));
  for (const c of r.changed) {
    const name = c.after.name;
    const before = state(c.before);
    const after = state(c.after);
    if (c.fields.includes("activeState")) {
      const was = String(c.before.activeState);
      const now = String(c.after.activeState);
      const [type, severity]: [EventType, EventSeverity] =
        now === "failed"
          ? ["service_failed", "critical"]
          : now === "active"
            ? ["service_started", "info"]
            : was === "active"
              ? ["service_stopped", "warning"]
              : ["service_changed", "info"];
      out.push(event(ctx, type, severity, `service ${name} ${was} -> ${now}`, { service: name, before, after }));
    }
    const rest = c.fields.filter((f) => f !== "activeState" && f !== "subState");
    if (rest.length > 0 || (c.fields.includes("subState") && !c.fields.includes("activeState"))) {
      const fields = c.fields.filter((f) => f !== "activeState");
      out.push(
        event(ctx, "service_changed", "info", `service ${name} changed: ${fields.join(", ")}`, {
          service: name,
          fields,
          before: Object.fromEntries(fields.map((f) => [f, c.before[f] ?? null])),
          after: Object.fromEntries(fields.map((f) => [f, c.after[f] ?? null])),
        }),
      );
    }
  }
  return out;
}

/** An exit that is not a clean stop: restarting, dead, or exited with a non-zero code. */
function badContainerState(row: Row): boolean {
  if (row.state === "restarting" || row.state === "dead") return true;
  if (row.state !== "exited") return false;
  const code = typeof row.exitCode === "number" ? row.exitCode : Number(/Exited \((\d+)\)/.exec(String(row.status ?? ""))?.[1] ?? 0);
  return code !== 0;
}

function containerEvents(ctx: IngestContext, r: SyncResult): NewEvent[] {
  const out: NewEvent[] = [];
  for (const c of r.added)
    out.push(
      event(ctx, "container_added", "info", `container ${c.name} appeared (${c.image}, ${c.state})`, {
        container: c.name,
        after: { image: c.image, state: c.state },
      }),
    );
  for (const c of r.removed)
    out.push(
      event(ctx, "container_removed", "info", `container ${c.name} is gone (was ${c.image})`, {
        container: c.name,
        before: { image: c.image, state: c.state },
      }),
    );
  for (const c of r.changed) {
    const name = c.after.name;
    if (c.fields.includes("image") || c.fields.includes("imageId")) {
      out.push(
        event(ctx, "container_image_changed", "info", `container ${name} image ${c.before.image} -> ${c.after.image}`, {
          container: name,
          before: { image: c.before.image, image_id: c.before.imageId ?? null },
          after: { image: c.after.image, image_id: c.after.imageId ?? null },
        }),
      );
    }
    if (c.fields.includes("state") || c.fields.includes("health")) {
      const severity: EventSeverity = badContainerState(c.after) || c.after.health === "unhealthy" ? "warning" : "info";
      const h = (row: Row) => (row.health ? ` (${row.health})` : "");
      out.push(
        event(ctx, "container_state_changed", severity, `container ${name} ${c.before.state}${h(c.before)} -> ${c.after.state}${h(c.after)}`, {
          container: name,
          before: { state: c.before.state, health: c.before.health ?? null, exit_code: c.before.exitCode ?? null },
          after: { state: c.after.state, health: c.after.health ?? null, exit_code: c.after.exitCode ?? null },
        }),
      );
    }
  }
  return out;
}

function portEvents(ctx: IngestContext, r: SyncResult): NewEvent[] {
  const label = (p: Row) => `${p.protocol}/${p.port} on ${p.address}${p.process ? ` (${p.process})` : ""}`;
  const data = (p: Row) => ({ protocol: p.protocol, address: p.address, port: p.port, process: p.process ?? null });
  return [
    ...r.added.map((p) =>
      event(ctx, "port_opened", ctx.role === "production" ? "critical" : "warning", `now listening on ${label(p)}`, {
        port: p.port,
        after: data(p),
        role: ctx.role,
      }),
    ),
    ...r.removed.map((p) => event(ctx, "port_closed", "info", `no longer listening on ${label(p)}`, { port: p.port, before: data(p) })),
  ];
}

function stackEvents(ctx: IngestContext, r: SyncResult): NewEvent[] {
  return [
    ...r.added.map((s) => event(ctx, "stack_added", "info", `compose stack ${s.name} appeared (${s.status})`, { stack: s.name, after: { status: s.status } })),
    ...r.removed.map((s) => event(ctx, "stack_removed", "info", `compose stack ${s.name} is gone`, { stack: s.name, before: { status: s.status } })),
    ...r.changed.map((c) =>
      event(ctx, "stack_changed", "info", `compose stack ${c.after.name} ${c.before.status} -> ${c.after.status}`, {
        stack: c.after.name,
        fields: c.fields,
        before: { status: c.before.status, config_files: c.before.configFiles },
        after: { status: c.after.status, config_files: c.after.configFiles },
      }),
    ),
  ];
}

/**
 * Per-endpoint memory for SSH: TOFU pin on the first successful contact, a
 * mismatching key kept as "pending" with a critical event (until an explicit
 * accept), and the consecutive-failure count behind the circuit breaker.
 */
function recordEndpoint(tx: Tx, targetId: string, obs: TargetObservation, at: string, runId: number): void {
  const ep = obs.endpoint;
  if (!ep) return;
  const row = tx.select().from(sshEndpoints).where(eq(sshEndpoints.endpoint, ep.key)).get();
  const reached = REACHED.has(obs.status);
  const next: Partial<typeof sshEndpoints.$inferInsert> = { targetId };
  const key = ep.presentedKey;
  // The same endpoint reached twice in one run (two sources) with different keys on
  // "first use": the second is a mismatch against the pin the first one just wrote.
  const check = ep.hostKeyCheck === "first_use" && key && row?.pinnedFingerprint && row.pinnedFingerprint !== key.fingerprint ? "mismatch" : ep.hostKeyCheck;
  // A strict refusal is remembered by its key in last_error, so the event is raised once per key.
  const strictMarker = key && check === "not_in_known_hosts" ? `not_in_known_hosts:${key.fingerprint}` : null;
  if (!ep.skipped && obs.status !== "cancelled") {
    if (reached) {
      next.consecutiveFailures = 0;
      next.lastSuccessAt = at;
    } else {
      next.consecutiveFailures = (row?.consecutiveFailures ?? 0) + 1;
      next.lastFailureAt = at;
      next.lastError = strictMarker ?? obs.error ?? obs.status;
    }
  }
  if (key && check === "first_use" && reached && !row?.pinnedFingerprint) {
    next.pinnedFingerprint = key.fingerprint;
    next.pinnedKeyType = key.type;
    next.pinnedAt = at;
  }
  // Back with the trusted key: a key seen in between is no longer waiting to be accepted.
  if (key && check === "pinned" && reached && row?.pendingFingerprint) {
    next.pendingFingerprint = null;
    next.pendingKeyType = null;
    next.pendingAt = null;
  }
  if (key && strictMarker && row?.lastError !== strictMarker) {
    tx.insert(events)
      .values({
        ts: at,
        targetId,
        runId,
        type: "host_key_changed",
        severity: "critical",
        message: `${ep.key} presented host key ${key.fingerprint} (${key.type}), which known_hosts does not trust (host_key_policy: strict); connection refused. Update known_hosts if the change is legitimate.`,
        data: JSON.stringify({ endpoint: ep.key, trusted: "known_hosts", presented: key.fingerprint, presented_type: key.type }),
      })
      .run();
  }
  if (key && check === "mismatch" && row?.pendingFingerprint !== key.fingerprint) {
    next.pendingFingerprint = key.fingerprint;
    next.pendingKeyType = key.type;
    next.pendingAt = at;
    tx.insert(events)
      .values({
        ts: at,
        targetId,
        runId,
        type: "host_key_changed",
        severity: "critical",
        message: `${ep.key} presented host key ${key.fingerprint} (${key.type}), not the trusted ${row?.pinnedFingerprint ?? "known_hosts key"}; connection refused until the new key is accepted`,
        data: JSON.stringify({ endpoint: ep.key, trusted: row?.pinnedFingerprint ?? null, presented: key.fingerprint, presented_type: key.type }),
      })
      .run();
  }
  if (row) tx.update(sshEndpoints).set(next).where(eq(sshEndpoints.endpoint, ep.key)).run();
  else
    tx.insert(sshEndpoints)
      .values({ endpoint: ep.key, ...next })
      .run();
}

function identityOwner(tx: Tx) {
  return prepared(tx, "select:identity", () =>
    tx
      .select({ identity: targetIdentities.identity, targetId: targetIdentities.targetId })
      .from(targetIdentities)
      .where(eq(targetIdentities.identity, sql.placeholder("i"))),
  );
}

function resolveTarget(tx: Tx, sourceId: string, obs: TargetObservation, at: string, reached: boolean): { targetId: string; created: boolean } {
  if (obs.identity.length === 0) throw new Error(`observation of ${obs.name} from ${sourceId} has no identity key`);
  const byIdentity = identityOwner(tx);
  const known = obs.identity.flatMap((i) => (byIdentity.get({ i }) as { identity: string; targetId: string } | undefined) ?? []);
  const machineId = obs.identity.find((k) => k.startsWith("machine-id:"));
  // Strongest key first: the observation lists its keys in that order.
  for (const identity of obs.identity) {
    const hit = known.find((k) => k.identity === identity);
    if (!hit) continue;
    // A weaker key (a host key, an endpoint) must not pull a machine whose
    // machine-id we have never seen onto a target that is known to be another
    // machine: a replaced or cloned host at the same address is a new target.
    if (machineId && identity !== machineId) {
      const other = prepared(tx, "select:machine_id_of", () =>
        tx
          .select({ identity: targetIdentities.identity })
          .from(targetIdentities)
          .where(and(eq(targetIdentities.targetId, sql.placeholder("t")), sql`${targetIdentities.identity} LIKE 'machine-id:%'`)),
      ).get({ t: hit.targetId }) as { identity: string } | undefined;
      if (other && other.identity !== machineId) continue;
    }
    return { targetId: hit.targetId, created: false };
  }
  const id = deriveTargetId(obs.kind, obs.identity[0]!);
  const inserted = prepared(tx, "insert:target", () =>
    tx
      .insert(targets)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .values(placeholders(["id", "kind", "name", "lifecycle", "address", "firstSeenAt", "lastAttemptAt"]) as any)
      // The id exists without this identity only if its key was recorded under
      // another kind's prefix collision; keep the row, merge onto it.
      .onConflictDoNothing(),
  ).run({ id, kind: obs.kind, name: obs.name, lifecycle: reached ? "active" : "discovered", address: obs.address, firstSeenAt: at, lastAttemptAt: at }) as {
    changes: number;
  };
  // Only a row really inserted is a new, empty target (its reads can be skipped).
  return { targetId: id, created: inserted.changes > 0 };
}

/** Upserts the facts whose value changed; returns whether any fact was observed, and which changed. */
function writeFacts(
  tx: Tx,
  targetId: string,
  sourceId: string,
  obs: TargetObservation,
  at: string,
  fresh: boolean,
): { observed: boolean; changed: Set<string> } {
  const changed = new Set<string>();
  const entries = Object.entries(obs.facts);
  if (entries.length === 0) return { observed: false, changed };
  const stored = fresh
    ? []
    : (prepared(tx, "select:facts", () =>
        tx
          .select({ key: facts.key, value: facts.value })
          .from(facts)
          .where(and(eq(facts.targetId, sql.placeholder("t")), eq(facts.sourceId, sql.placeholder("s")))),
      ).all({ t: targetId, s: sourceId }) as Array<{ key: string; value: string }>);
  const existing = new Map(stored.map((f) => [f.key, f.value]));
  const upsert = prepared(tx, "upsert:facts", () =>
    tx
      .insert(facts)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .values(placeholders(["targetId", "sourceId", "key", "value", "firstObservedAt"]) as any)
      .onConflictDoUpdate({
        target: [facts.targetId, facts.sourceId, facts.key],
        set: { value: sqlExcluded("value"), firstObservedAt: sqlExcluded("first_observed_at") },
      }),
  );
  for (const [key, v] of entries) {
    const value = JSON.stringify(v ?? null);
    // first_observed_at is when the current value was first seen.
    if (existing.get(key) === value) continue;
    upsert.run({ targetId, sourceId, key, value, firstObservedAt: at });
    changed.add(key);
  }
  return { observed: true, changed };
}

/** `excluded.<column>` of an upsert: the value the conflicting insert carried. */
function sqlExcluded(column: string) {
  return sql.raw(`excluded.${column}`);
}
