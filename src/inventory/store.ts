// Writes of discovery into the inventory. One run's writes are one transaction:
// a crash leaves the previous inventory intact and the run row "running", which
// the next start marks "interrupted". A collection a source did not observe
// (undefined) is left as it was: a failed section or an unreachable host never
// deletes what we knew.
import { createHash } from "node:crypto";
import { and, eq, getTableName, inArray, sql } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";
import {
  addresses,
  containers,
  discoveryHostResults,
  discoveryRuns,
  discoverySourceResults,
  events,
  facts,
  filesystems,
  interfaces,
  ports,
  services,
  sshEndpoints,
  stacks,
  targetIdentities,
  targets,
} from "../db/schema.js";
import type { SourceResult, TargetKind, TargetObservation } from "../discovery/types.js";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

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
}

export function finishRun(db: Db, input: FinishRunInput): RunOutcome {
  return db.transaction(
    (tx) => {
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
          const { targetId, name, created } = ingestObservation(tx, result.sourceId, obs, input.runId);
          seen.add(targetId);
          ids.push({ id: targetId, name });
          if (created) added++;
          if (REACHED.has(obs.status)) hostsOk++;
          else {
            hostsFailed++;
            unreachable++;
          }
        }
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
      if (input.lifecycle) ageTargets(tx, input.now, input.lifecycle, input.runId);
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
function ageTargets(tx: Tx, now: Date, policy: LifecyclePolicy, runId: number): void {
  const lastContact = sql<string>`coalesce(${targets.lastSeenAt}, ${targets.firstSeenAt})`;
  const transition = (to: "stale" | "retired", fromStates: string[], olderThanMs: number) => {
    const cutoff = new Date(now.getTime() - olderThanMs).toISOString();
    const rows = tx
      .select({ id: targets.id, name: targets.name, lifecycle: targets.lifecycle, last: lastContact })
      .from(targets)
      .where(and(inArray(targets.lifecycle, fromStates), sql`${lastContact} < ${cutoff}`))
      .all();
    for (const r of rows) {
      tx.update(targets).set({ lifecycle: to }).where(eq(targets.id, r.id)).run();
      tx.insert(events)
        .values({
          ts: now.toISOString(),
          targetId: r.id,
          runId,
          type: "lifecycle_changed",
          severity: to === "retired" ? "info" : "warning",
          message: `${r.name}: ${r.lifecycle} -> ${to} (not reached since ${r.last})`,
          data: JSON.stringify({ before: r.lifecycle, after: to, last_seen_at: r.last }),
        })
        .run();
    }
  };
  transition("stale", ["active", "unreachable", "discovered"], policy.staleAfterMs);
  if (policy.retireAfterMs !== null) transition("retired", ["stale"], policy.retireAfterMs);
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
export function markInterruptedRuns(db: Db, isAlive: (run: { ownerPid: number; ownerHost: string; startedAt: string }) => boolean, now: Date): number[] {
  const running = db.select().from(discoveryRuns).where(eq(discoveryRuns.status, "running")).all();
  const dead = running.filter((r) => !isAlive(r)).map((r) => r.id);
  if (dead.length > 0) {
    db.update(discoveryRuns)
      .set({
        status: "interrupted",
        finishedAt: now.toISOString(),
        error: "the process running this discovery stopped before it finished; nothing of it was written",
      })
      .where(inArray(discoveryRuns.id, dead))
      .run();
  }
  return dead;
}

function ingestObservation(tx: Tx, sourceId: string, obs: TargetObservation, runId: number): { targetId: string; name: string; created: boolean } {
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
      const parent = tx.select({ id: targetIdentities.targetId }).from(targetIdentities).where(eq(targetIdentities.identity, obs.parentIdentity)).get();
      if (parent) update.parentId = parent.id;
    }
    for (const [key, column] of Object.entries(SUMMARY_COLUMNS)) {
      if (key in obs.facts) (update as Record<string, unknown>)[column] = obs.facts[key] ?? null;
    }
  }
  const prev = prepared(tx, "select:target_prev", () =>
    tx
      .select({ lifecycle: targets.lifecycle, name: targets.name })
      .from(targets)
      .where(eq(targets.id, sql.placeholder("id"))),
  ).get({ id: targetId }) as { lifecycle: string; name: string } | undefined;
  // A failure moves a live target to unreachable; stale and retired ones stay where the clock put them.
  if (!reached && prev && (prev.lifecycle === "active" || prev.lifecycle === "discovered") && !created) update.lifecycle = "unreachable";
  tx.update(targets).set(update).where(eq(targets.id, targetId)).run();
  if (prev && update.lifecycle && update.lifecycle !== prev.lifecycle && !created) {
    tx.insert(events)
      .values({
        ts: at,
        targetId,
        runId,
        type: "lifecycle_changed",
        severity: update.lifecycle === "unreachable" ? "warning" : "info",
        message: `${prev.name}: ${prev.lifecycle} -> ${update.lifecycle}${obs.error ? ` (${obs.error})` : ""}`,
        data: JSON.stringify({ before: prev.lifecycle, after: update.lifecycle, status: obs.status }),
      })
      .run();
  }

  // Only a probe that got through writes data: a timed-out, truncated or refused
  // one says nothing trustworthy, and what we knew stays as it was.
  if (reached) writeObservedData(tx, targetId, sourceId, obs, at, runId);
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
  const stored = prepared(tx, "select:target_name", () =>
    tx
      .select({ name: targets.name })
      .from(targets)
      .where(eq(targets.id, sql.placeholder("id"))),
  ).get({ id: targetId }) as { name: string } | undefined;
  return { targetId, name: stored?.name ?? obs.name, created };
}

/** Facts and collections of a reached target; a collection left undefined (its section failed) is kept as it was. */
function writeObservedData(tx: Tx, targetId: string, sourceId: string, obs: TargetObservation, at: string, runId: number): void {
  writeFacts(tx, targetId, sourceId, obs, at, runId);
  if (obs.services) {
    replaceRows(
      tx,
      services,
      services.targetId,
      services.sourceId,
      targetId,
      sourceId,
      at,
      dedupe(obs.services, (x) => x.name).map((s) => ({
        key: s.name,
        row: { name: s.name, description: s.description, loadState: s.load, activeState: s.active, subState: s.sub },
      })),
    );
  }
  if (obs.containers) {
    replaceRows(
      tx,
      containers,
      containers.targetId,
      containers.sourceId,
      targetId,
      sourceId,
      at,
      dedupe(obs.containers, (c) => c.name).map((c) => ({
        key: c.name,
        row: {
          name: c.name,
          containerId: c.id,
          image: c.image,
          state: c.state,
          status: c.status,
          ports: c.ports,
          labels: JSON.stringify(c.labels),
          composeProject: c.composeProject,
          composeService: c.composeService,
          createdAt: c.createdAt,
        },
      })),
    );
  }
  if (obs.stacks) {
    replaceRows(
      tx,
      stacks,
      stacks.targetId,
      stacks.sourceId,
      targetId,
      sourceId,
      at,
      dedupe(obs.stacks, (s) => s.name).map((s) => ({ key: s.name, row: { name: s.name, status: s.status, configFiles: JSON.stringify(s.configFiles) } })),
    );
  }
  if (obs.ports) {
    replaceRows(
      tx,
      ports,
      ports.targetId,
      ports.sourceId,
      targetId,
      sourceId,
      at,
      dedupe(obs.ports, (p) => `${p.protocol}|${p.address}|${p.port}`).map((p) => ({
        key: `${p.protocol}|${p.address}|${p.port}`,
        row: { protocol: p.protocol, address: p.address, port: p.port, process: p.process, pid: p.pid },
      })),
      (r) => `${r.protocol}|${r.address}|${r.port}`,
    );
  }
  if (obs.interfaces) {
    tx.delete(interfaces)
      .where(and(eq(interfaces.targetId, targetId), eq(interfaces.sourceId, sourceId)))
      .run();
    tx.delete(addresses)
      .where(and(eq(addresses.targetId, targetId), eq(addresses.sourceId, sourceId)))
      .run();
    const ifRows = dedupe(obs.interfaces, (i) => i.name).map((i) => ({
      targetId,
      sourceId,
      name: i.name,
      mac: i.mac,
      mtu: i.mtu,
      state: i.state,
      master: i.master,
      observedAt: at,
    }));
    insertRows(tx, interfaces, ifRows);
    const addrRows = dedupe(
      obs.interfaces.flatMap((i) =>
        i.addresses.map((a) => ({
          targetId,
          sourceId,
          interfaceName: i.name,
          family: a.family,
          address: a.address,
          prefixlen: a.prefixlen,
          scope: a.scope,
          observedAt: at,
        })),
      ),
      (a) => `${a.interfaceName}|${a.address}`,
    );
    insertRows(tx, addresses, addrRows);
  }
  if (obs.filesystems) {
    tx.delete(filesystems)
      .where(and(eq(filesystems.targetId, targetId), eq(filesystems.sourceId, sourceId)))
      .run();
    insertRows(
      tx,
      filesystems,
      dedupe(obs.filesystems, (f) => f.mount).map((f) => ({
        targetId,
        sourceId,
        mount: f.mount,
        device: f.source,
        fstype: f.fstype,
        sizeBytes: f.sizeBytes,
        usedBytes: f.usedBytes,
        availBytes: f.availBytes,
        observedAt: at,
      })),
    );
  }
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

function resolveTarget(tx: Tx, sourceId: string, obs: TargetObservation, at: string, reached: boolean): { targetId: string; created: boolean } {
  if (obs.identity.length === 0) throw new Error(`observation of ${obs.name} from ${sourceId} has no identity key`);
  const known = tx.select().from(targetIdentities).where(inArray(targetIdentities.identity, obs.identity)).all();
  const machineId = obs.identity.find((k) => k.startsWith("machine-id:"));
  // Strongest key first: the observation lists its keys in that order.
  for (const identity of obs.identity) {
    const hit = known.find((k) => k.identity === identity);
    if (!hit) continue;
    // A weaker key (a host key, an endpoint) must not pull a machine whose
    // machine-id we have never seen onto a target that is known to be another
    // machine: a replaced or cloned host at the same address is a new target.
    if (machineId && identity !== machineId) {
      const other = tx
        .select({ identity: targetIdentities.identity })
        .from(targetIdentities)
        .where(and(eq(targetIdentities.targetId, hit.targetId), sql`${targetIdentities.identity} LIKE 'machine-id:%'`))
        .get();
      if (other && other.identity !== machineId) continue;
    }
    return { targetId: hit.targetId, created: false };
  }
  const id = deriveTargetId(obs.kind, obs.identity[0]!);
  tx.insert(targets)
    .values({
      id,
      kind: obs.kind,
      name: obs.name,
      lifecycle: reached ? "active" : "discovered",
      address: obs.address,
      firstSeenAt: at,
      lastAttemptAt: at,
    })
    // The id exists without this identity only if its key was recorded under
    // another kind's prefix collision; keep the row, merge onto it.
    .onConflictDoNothing()
    .run();
  return { targetId: id, created: true };
}

function writeFacts(tx: Tx, targetId: string, sourceId: string, obs: TargetObservation, at: string, runId: number): void {
  const entries = Object.entries(obs.facts);
  if (entries.length === 0) return;
  const existing = new Map(
    (
      prepared(tx, "select:facts", () =>
        tx
          .select({ key: facts.key, value: facts.value, first: facts.firstObservedAt })
          .from(facts)
          .where(and(eq(facts.targetId, sql.placeholder("t")), eq(facts.sourceId, sql.placeholder("s")))),
      ).all({ t: targetId, s: sourceId }) as Array<{ key: string; value: string; first: string }>
    ).map((f) => [f.key, f]),
  );
  const upsert = prepared(tx, "upsert:facts", () =>
    tx
      .insert(facts)
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .values(placeholders(["targetId", "sourceId", "key", "value", "firstObservedAt", "observedAt", "runId"]) as any)
      .onConflictDoUpdate({
        target: [facts.targetId, facts.sourceId, facts.key],
        set: {
          value: sqlExcluded("value"),
          firstObservedAt: sqlExcluded("first_observed_at"),
          observedAt: sqlExcluded("observed_at"),
          runId: sqlExcluded("run_id"),
        },
      }),
  );
  for (const [key, v] of entries) {
    const value = JSON.stringify(v ?? null);
    const prev = existing.get(key);
    upsert.run({ targetId, sourceId, key, value, firstObservedAt: prev && prev.value === value ? prev.first : at, observedAt: at, runId });
  }
}

/**
 * Replaces what one source knows of one collection on one target, keeping each
 * surviving row's first_observed_at (when we first saw that service/container/port).
 */
function replaceRows<R extends Record<string, unknown>>(
  tx: Tx,
  table: SQLiteTable,
  targetCol: SQLiteColumn,
  sourceCol: SQLiteColumn,
  targetId: string,
  sourceId: string,
  at: string,
  items: Array<{ key: string; row: R }>,
  keyOf: (row: Record<string, unknown>) => string = (r) => String(r.name),
): void {
  const rows = rowsOf(tx, table, targetCol, sourceCol);
  const firstSeen = new Map(rows.select(targetId, sourceId).map((r) => [keyOf(r), String(r.firstObservedAt)]));
  rows.remove(targetId, sourceId);
  insertRows(
    tx,
    table,
    items.map(({ key, row }) => ({ ...row, targetId, sourceId, firstObservedAt: firstSeen.get(key) ?? at, observedAt: at })),
  );
}

/** `excluded.<column>` of an upsert: the value the conflicting insert carried. */
function sqlExcluded(column: string) {
  return sql.raw(`excluded.${column}`);
}

// A discovery of 1,000 hosts writes ~125,000 rows. Building each statement anew
// costs ~8x the write itself, so the hot statements are prepared once per
// transaction (with placeholders) and reused.
interface Prepared {
  run(values?: Record<string, unknown>): unknown;
  all(values?: Record<string, unknown>): unknown[];
  get(values?: Record<string, unknown>): unknown;
}
const statementCache = new WeakMap<object, Map<string, Prepared>>();

function prepared(tx: Tx, key: string, build: () => { prepare(): unknown }): Prepared {
  let cache = statementCache.get(tx);
  if (!cache) statementCache.set(tx, (cache = new Map()));
  let stmt = cache.get(key);
  if (!stmt) cache.set(key, (stmt = build().prepare() as Prepared));
  return stmt;
}

const placeholders = (keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, sql.placeholder(k)]));
const nullish = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === undefined ? null : v]));

function insertRows(tx: Tx, table: SQLiteTable, rows: Array<Record<string, unknown>>): void {
  for (const row of rows) {
    const keys = Object.keys(row);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    prepared(tx, `insert:${getTableName(table)}:${keys.join(",")}`, () => tx.insert(table).values(placeholders(keys) as any)).run(nullish(row));
  }
}

/** Rows of one target from one source, and their removal: the two halves of a replace. */
function rowsOf(tx: Tx, table: SQLiteTable, targetCol: SQLiteColumn, sourceCol: SQLiteColumn) {
  const where = and(eq(targetCol, sql.placeholder("t")), eq(sourceCol, sql.placeholder("s")));
  const name = getTableName(table);
  return {
    select: (t: string, s: string) =>
      prepared(tx, `select:${name}`, () => tx.select().from(table).where(where)).all({ t, s }) as Array<Record<string, unknown>>,
    remove: (t: string, s: string) => prepared(tx, `delete:${name}`, () => tx.delete(table).where(where)).run({ t, s }),
  };
}

function dedupe<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) seen.set(key(item), item);
  return [...seen.values()];
}
