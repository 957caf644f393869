// Roles: what a target is for (production, staging, ...). A role comes from,
// in order of precedence: a person (set_target_role; wins until cleared), the
// config host entry that names the target (a "role" fact written by its source),
// the first config rule that matches, or nothing (unassigned). The winner is
// stored on the target with where it came from, so "why is this production?"
// always has an answer, and every change of role is an event.
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { ROLES, type Role, type RoleRule } from "../config.js";
import type { Db } from "../db/open.js";
import { facts, observations, targets } from "../db/schema.js";
import { recordEvents, type NewEvent } from "./events.js";

export type RoleSource = "manual" | "config" | "rule";

export interface RoleDecision {
  role: Role;
  /** null when unassigned. */
  source: RoleSource | null;
  reason: string | null;
}

export interface ApplyRolesOptions {
  now: Date;
  runId: number | null;
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

interface CompiledRule {
  index: number;
  rule: RoleRule;
  name: RegExp | null;
  reason: string;
}

/** What a rule can be matched against, and the role stored now. */
interface RoleInputs {
  id: string;
  name: string;
  stored: RoleDecision;
  kind: string;
  tags: string[];
  /** The "role" fact of the freshest source that gives one, with that source. */
  configRole: { role: Role; sourceId: string } | null;
  pool: string | null;
  sources: Set<string>;
}

const storedDecision = (r: { role: string; roleSource: string | null; roleReason: string | null }): RoleDecision => ({
  role: r.role as Role,
  source: r.roleSource as RoleSource | null,
  reason: r.roleReason,
});

/** Case-insensitive glob: `*` any run of characters (also none), `?` exactly one. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, "is");
}

function compile(rules: readonly RoleRule[]): CompiledRule[] {
  return rules.map((rule, index) => {
    const conds = (["name", "tag", "pool", "source", "kind"] as const).filter((k) => rule[k] !== undefined).map((k) => `${k}=${rule[k]}`);
    return { index, rule, name: rule.name !== undefined ? globToRegExp(rule.name) : null, reason: `rule ${index + 1}: ${conds.join(", ")}` };
  });
}

function matches(c: CompiledRule, t: RoleInputs): boolean {
  const r = c.rule;
  if (c.name && !c.name.test(t.name)) return false;
  if (r.kind !== undefined && r.kind !== t.kind) return false;
  if (r.tag !== undefined && !t.tags.some((x) => x.toLowerCase() === r.tag!.toLowerCase())) return false;
  if (r.pool !== undefined && (t.pool === null || t.pool.toLowerCase() !== r.pool.toLowerCase())) return false;
  if (r.source !== undefined && !t.sources.has(r.source)) return false;
  return true;
}

/** The role a target gets without a manual one: its config host entry, else the first matching rule, else unassigned. */
function derive(t: RoleInputs, rules: readonly CompiledRule[]): RoleDecision {
  if (t.configRole) return { role: t.configRole.role, source: "config", reason: `host entry in source ${t.configRole.sourceId}` };
  for (const c of rules) if (matches(c, t)) return { role: c.rule.role, source: "rule", reason: c.reason };
  return { role: "unassigned", source: null, reason: null };
}

/**
 * What rules can match on, for the given targets (all when `ids` is omitted).
 * Facts from several sources: the one whose source observed its facts last wins.
 */
function loadInputs(tx: Tx, rules: readonly CompiledRule[], ids?: string[]): RoleInputs[] {
  const scope = ids ? inArray(targets.id, ids) : undefined;
  const rows = tx
    .select({
      id: targets.id,
      name: targets.name,
      kind: targets.kind,
      tags: targets.tags,
      role: targets.role,
      roleSource: targets.roleSource,
      roleReason: targets.roleReason,
    })
    .from(targets)
    .where(scope)
    .all();
  const wantPool = rules.some((c) => c.rule.pool !== undefined);
  const wantSources = rules.some((c) => c.rule.source !== undefined);
  const factRows = tx
    .select({ targetId: facts.targetId, sourceId: facts.sourceId, key: facts.key, value: facts.value, at: observations.observedAt })
    .from(facts)
    .leftJoin(observations, and(eq(observations.targetId, facts.targetId), eq(observations.sourceId, facts.sourceId), eq(observations.collection, "facts")))
    .where(and(inArray(facts.key, wantPool ? ["role", "pve.pool"] : ["role"]), ne(facts.value, "null"), ids ? inArray(facts.targetId, ids) : undefined))
    .all();
  const best = new Map<string, { at: string; sourceId: string; value: unknown }>();
  for (const f of factRows) {
    let value: unknown;
    try {
      value = JSON.parse(f.value);
    } catch {
      continue;
    }
    // A null role (a host entry without one) gives no role: it does not hide another source's.
    if (f.key === "role" && !(ROLES as readonly unknown[]).includes(value)) continue;
    if (f.key === "pve.pool" && (typeof value !== "string" || value === "")) continue;
    const k = `${f.targetId}\0${f.key}`;
    const at = f.at ?? "";
    const prev = best.get(k);
    if (!prev || at > prev.at || (at === prev.at && f.sourceId < prev.sourceId)) best.set(k, { at, sourceId: f.sourceId, value });
  }
  const sourcesOf = new Map<string, Set<string>>();
  if (wantSources) {
    // Every source that wrote anything about a target, or lists it now, has an observations row for it.
    const pairs = tx
      .selectDistinct({ t: observations.targetId, s: observations.sourceId })
      .from(observations)
      .where(ids ? inArray(observations.targetId, ids) : undefined)
      .all();
    for (const p of pairs) {
      let set = sourcesOf.get(p.t);
      if (!set) sourcesOf.set(p.t, (set = new Set()));
      set.add(p.s);
    }
  }
  return rows.map((r) => {
    const role = best.get(`${r.id}\0role`);
    const pool = best.get(`${r.id}\0pve.pool`);
    return {
      id: r.id,
      name: r.name,
      stored: storedDecision(r),
      kind: r.kind,
      tags: parseTags(r.tags),
      configRole: role ? { role: role.value as Role, sourceId: role.sourceId } : null,
      pool: pool ? (pool.value as string) : null,
      sources: sourcesOf.get(r.id) ?? new Set(),
    };
  });
}

function parseTags(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function roleEvent(target: { id: string; name: string }, before: RoleDecision, after: RoleDecision, at: string, runId: number | null): NewEvent {
  const why = after.source === null ? "no rule or host entry gives one" : after.reason;
  return {
    ts: at,
    targetId: target.id,
    runId,
    type: "role_changed",
    // Leaving or entering production changes what "critical" means for this target.
    severity: before.role === "production" || after.role === "production" ? "warning" : "info",
    message: `${target.name}: role ${before.role} -> ${after.role} (${why})`,
    data: { before: before.role, after: after.role, source: after.source, reason: after.reason, before_source: before.source },
  };
}

/**
 * Recomputes the role of every target not set by hand from the host entries
 * and `rules`, writes role, role_source and role_reason where they differ, and
 * records a role_changed event for every target whose role changed. `db` may
 * be a transaction (discovery calls it after ingest).
 */
export function applyRoles(db: Db, rules: readonly RoleRule[], opts: ApplyRolesOptions): { changed: number } {
  return db.transaction(
    (tx) => {
      const compiled = compile(rules);
      const update = tx
        .update(targets)
        .set({
          role: sql.placeholder("role"),
          roleSource: sql.placeholder("source"),
          roleReason: sql.placeholder("reason"),
        } as unknown as Partial<typeof targets.$inferInsert>)
        .where(and(eq(targets.id, sql.placeholder("id")), ne(sql`coalesce(${targets.roleSource}, '')`, "manual")))
        .prepare();
      const at = opts.now.toISOString();
      const changes: NewEvent[] = [];
      for (const t of loadInputs(tx, compiled)) {
        const before = t.stored;
        if (before.source === "manual") continue;
        const after = derive(t, compiled);
        if (before.role === after.role && before.source === after.source && before.reason === after.reason) continue;
        update.run({ id: t.id, role: after.role, source: after.source, reason: after.reason });
        if (before.role !== after.role) changes.push(roleEvent(t, before, after, at, opts.runId));
      }
      recordEvents(tx as unknown as Db, changes);
      return { changed: changes.length };
    },
    { behavior: "immediate" },
  );
}

export interface SetRoleResult {
  target: { id: string; name: string };
  before: RoleDecision;
  after: RoleDecision;
  /** Whether anything (role, or where it comes from) changed; an event is recorded when it did. */
  changed: boolean;
}

/**
 * Sets a manual role on one target (it wins over host entries and rules until
 * cleared), or with `role: null` clears it and returns the target to the role
 * its host entry or `rules` give. Records a role_changed event when the role or
 * its source changed. Returns null when the target does not exist.
 */
export function setTargetRole(db: Db, rules: readonly RoleRule[], targetId: string, role: Role | null, opts: { now: Date }): SetRoleResult | null {
  return db.transaction(
    (tx) => {
      const t = tx
        .select({ id: targets.id, name: targets.name, role: targets.role, roleSource: targets.roleSource, roleReason: targets.roleReason })
        .from(targets)
        .where(eq(targets.id, targetId))
        .get();
      if (!t) return null;
      const at = opts.now.toISOString();
      const before = storedDecision(t);
      let after: RoleDecision;
      if (role !== null) {
        // Setting the same manual role again keeps its original reason (and time): idempotent.
        after = before.source === "manual" && before.role === role ? before : { role, source: "manual", reason: `set with set_target_role at ${at}` };
      } else {
        const compiled = compile(rules);
        after = derive(loadInputs(tx, compiled, [targetId])[0]!, compiled);
      }
      const changed = before.role !== after.role || before.source !== after.source || before.reason !== after.reason;
      if (changed) {
        tx.update(targets).set({ role: after.role, roleSource: after.source, roleReason: after.reason }).where(eq(targets.id, targetId)).run();
        if (before.role !== after.role || before.source !== after.source) recordEvents(tx as unknown as Db, [roleEvent(t, before, after, at, null)]);
      }
      return { target: { id: t.id, name: t.name }, before, after, changed };
    },
    { behavior: "immediate" },
  );
}
