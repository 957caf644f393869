// Fleet search: words ranked by SQLite FTS5 (bm25) plus exact `key:value`
// filters parsed out of the query. The index is one contentless FTS5 table per
// inventory table (migration 0006): triggers note changed rows, and a flush at
// the end of each discovery run (or here, before a search) indexes them. See
// docs/search.md for the syntax and the design.
//
// User words never reach FTS5 as syntax: each is quoted as an FTS string, so
// AND/OR/NEAR, `*`, `^`, `:`, parentheses and stray quotes are plain text.
import { createHash } from "node:crypto";
import type { Statement } from "better-sqlite3";
import { sql, type SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/open.js";

export const SEARCH_ENTITY_TYPES = ["target", "service", "container", "stack", "port"] as const;
export type SearchEntityType = (typeof SEARCH_ENTITY_TYPES)[number];

export const SEARCH_FILTER_KEYS = ["port", "image", "state", "role", "os", "node", "tag", "kind", "type", "lifecycle"] as const;
export type SearchFilterKey = (typeof SEARCH_FILTER_KEYS)[number];

/** A query the caller must fix (a filter with a value it cannot take, a cursor of another query). */
export class SearchInputError extends Error {
  override name = "SearchInputError";
}

/** Words beyond this are ignored (and reported): FTS5 expressions have a depth limit, and more words only narrow further. */
export const MAX_WORDS = 16;
const MAX_WORD_CHARS = 128;
const MAX_VALUE_CHARS = 200;
/** Words this long or longer also match as prefixes ("postg" finds postgresql). */
const PREFIX_MIN_CHARS = 3;

export interface ParsedSearchQuery {
  words: string[];
  /** Words dropped beyond MAX_WORDS. */
  ignoredWords: string[];
  filters: Partial<Record<SearchFilterKey, string[]>>;
}

// A character FTS5's unicode61 tokenizer keeps in a token; a word without one is
// an empty FTS string, which matches nothing and only clutters the expression.
const TOKEN_CHAR = /[\p{L}\p{N}\p{M}\p{Co}]/u;
const FILTER = /^([A-Za-z_]+):(.+)$/s;

export function parseSearchQuery(query: string): ParsedSearchQuery {
  const words: string[] = [];
  const ignoredWords: string[] = [];
  const filters: Partial<Record<SearchFilterKey, string[]>> = {};
  for (const part of query.split(/\s+/u)) {
    if (!part) continue;
    const m = FILTER.exec(part);
    const key = m?.[1]!.toLowerCase() as SearchFilterKey | undefined;
    if (m && key && (SEARCH_FILTER_KEYS as readonly string[]).includes(key)) {
      const value = filterValue(key, m[2]!);
      const list = (filters[key] ??= []);
      if (!list.includes(value)) list.push(value);
      continue;
    }
    if (!TOKEN_CHAR.test(part)) continue;
    const word = [...part].slice(0, MAX_WORD_CHARS).join("");
    if (words.includes(word)) continue;
    if (words.length < MAX_WORDS) words.push(word);
    else ignoredWords.push(word.length > 40 ? `${word.slice(0, 40)}…` : word);
  }
  return { words, ignoredWords, filters };
}

function filterValue(key: SearchFilterKey, raw: string): string {
  const value = [...raw].slice(0, MAX_VALUE_CHARS).join("");
  switch (key) {
    case "port": {
      const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new SearchInputError(`port: takes a port number from 1 to 65535, e.g. port:443 (got "${value}").`);
      return String(n);
    }
    case "type": {
      const v = value.toLowerCase().replace(/s$/, "");
      if (!(SEARCH_ENTITY_TYPES as readonly string[]).includes(v)) {
        throw new SearchInputError(`type: takes one of ${SEARCH_ENTITY_TYPES.join(", ")} (got "${value}").`);
      }
      return v;
    }
    case "image":
      return value;
    default:
      return value.toLowerCase();
  }
}

/** The FTS5 MATCH expression: every word an FTS string ("" escapes a quote), implicitly AND-ed. */
export function ftsExpression(words: readonly string[]): string {
  return words.map((w) => `"${w.replace(/"/g, '""')}"${[...w].length >= PREFIX_MIN_CHARS ? "*" : ""}`).join(" ");
}

// ------------------------------------------------------------------ search

export interface SearchCursor {
  /** Fingerprint of the query the cursor belongs to. */
  q: string;
  /** Sort position of the last item returned: score, entity type rank, base rowid. */
  s: number;
  t: number;
  r: number;
}

export interface SearchOptions {
  query: string;
  entityType?: SearchEntityType | undefined;
  /** Retired targets and their entities are left out unless this is set or the query has lifecycle:. */
  includeRetired?: boolean | undefined;
  limit: number;
  cursor?: SearchCursor | null | undefined;
}

export interface SearchHitTarget {
  id: string;
  name: string;
  kind: string;
  role: string;
  lifecycle: string;
}

export type SearchFieldValue = string | number | null;

export interface SearchHit {
  type: SearchEntityType;
  /** Target name, unit name, container name, stack name, or "tcp/443". */
  name: string;
  /** Lifecycle, unit active/sub state, container state, stack status; null for ports. */
  state: string | null;
  /** The source that saw the entity; null for targets (several sources may know one). */
  source: string | null;
  /** A few type-specific fields (description, image, process, ...). */
  fields: Record<string, SearchFieldValue>;
  target: SearchHitTarget;
  /** bm25 relevance (higher is better), null for a query of filters only. */
  score: number | null;
}

export interface SearchResult {
  items: SearchHit[];
  /** Matches of the whole query: exact, or (totalIsLowerBound) at least this many. */
  total: number;
  /** True when there are more than `total` matches (the count stopped at the cap). */
  totalIsLowerBound: boolean;
  nextCursor: SearchCursor | null;
  parsed: ParsedSearchQuery;
  /** Entity types the query could match, after filters and entity_type. */
  entityTypes: SearchEntityType[];
  /** Why the result is empty or partial, when the query itself explains it. */
  notes: string[];
}

/**
 * Where counting needs a lookup per match (a filter on the entity or its
 * target), a query is counted up to here, then reported as "at least": counting
 * every match of a common word would cost more than the search.
 */
export const COUNT_CAP = 1_000;

const TYPE_RANK: Record<SearchEntityType, number> = { target: 0, service: 1, container: 2, stack: 3, port: 4 };

interface Arm {
  type: SearchEntityType;
  table: string;
  fts: string;
  /** The indexed columns, as migration 0006 declares them (verifySearchIndex checks the two agree). */
  columns: string[];
}
// `search_pending.tbl` is the TYPE_RANK of the table.
const ARMS: Record<SearchEntityType, Arm> = {
  target: { type: "target", table: "targets", fts: "targets_fts", columns: ["id", "name", "address", "os_name", "os_id", "kind", "role", "tags"] },
  service: { type: "service", table: "services", fts: "services_fts", columns: ["name", "description"] },
  container: { type: "container", table: "containers", fts: "containers_fts", columns: ["name", "image", "compose_project", "compose_service"] },
  stack: { type: "stack", table: "stacks", fts: "stacks_fts", columns: ["name", "config_files"] },
  port: { type: "port", table: "ports", fts: "ports_fts", columns: ["port", "protocol", "address", "process"] },
};

// Entity filters and the only types they can apply to.
const ENTITY_FILTER_TYPES: Partial<Record<SearchFilterKey, SearchEntityType[]>> = {
  port: ["port"],
  image: ["container"],
  state: ["service", "container"],
};

// Queries are composed as Drizzle `sql` fragments (every value a bound
// parameter) and run as cached prepared statements: a search issues a dozen
// statements whose text repeats for every query of the same shape, and
// preparing them anew would cost as much as running them.
interface Reader {
  all<T>(q: SQL): T[];
  get<T>(q: SQL): T | undefined;
}
const dialect = new SQLiteSyncDialect();
const statements = new WeakMap<object, Map<string, Statement>>();
const MAX_CACHED_STATEMENTS = 256;

function reader(db: Db): Reader {
  const client = db.$client;
  let cache = statements.get(client);
  if (!cache) statements.set(client, (cache = new Map()));
  const prepare = (q: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(q);
    let stmt = cache.get(text);
    if (!stmt) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      cache.set(text, (stmt = client.prepare(text)));
    }
    return { stmt, params };
  };
  return {
    all<T>(q: SQL) {
      const { stmt, params } = prepare(q);
      return stmt.all(...params) as T[];
    },
    get<T>(q: SQL) {
      const { stmt, params } = prepare(q);
      return stmt.get(...params) as T | undefined;
    },
  };
}

/** One read transaction, so a search never sees half of a discovery's write. */
function read<T>(db: Db, fn: (rd: Reader) => T): T {
  const rd = reader(db);
  return db.$client.transaction(() => fn(rd)).deferred();
}

export function searchFleet(db: Db, opts: SearchOptions): SearchResult {
  const parsed = parseSearchQuery(opts.query);
  const f = parsed.filters;
  const notes: string[] = [];
  if (parsed.ignoredWords.length) notes.push(`Only the first ${MAX_WORDS} words are searched; ignored: ${parsed.ignoredWords.slice(0, 5).join(" ")}.`);

  let types: SearchEntityType[] = [...SEARCH_ENTITY_TYPES];
  if (opts.entityType) types = types.filter((t) => t === opts.entityType);
  if (f.type) types = types.filter((t) => f.type!.includes(t));
  for (const [key, only] of Object.entries(ENTITY_FILTER_TYPES) as Array<[SearchFilterKey, SearchEntityType[]]>) {
    if (f[key]) types = types.filter((t) => only.includes(t));
  }
  const entityFiltered = Object.keys(ENTITY_FILTER_TYPES).some((k) => f[k as SearchFilterKey]);
  // Filters on targets alone ("role:production") ask for targets, not everything on them.
  if (!parsed.words.length && !entityFiltered && !opts.entityType && !f.type) types = types.filter((t) => t === "target");

  const fingerprint = createHash("sha256")
    .update(JSON.stringify([parsed.words, Object.entries(f).sort(), opts.entityType ?? null, !!opts.includeRetired]))
    .digest("base64url")
    .slice(0, 12);
  const cursor = opts.cursor ?? null;
  if (cursor && cursor.q !== fingerprint) {
    throw new SearchInputError(
      "This cursor belongs to another query: pass the same query, entity_type and include_retired as the page it came from, or omit the cursor.",
    );
  }

  const empty = (why: string | null): SearchResult => ({
    items: [],
    total: 0,
    totalIsLowerBound: false,
    nextCursor: null,
    parsed,
    entityTypes: types,
    notes: why ? [...notes, why] : notes,
  });
  if (!parsed.words.length && !Object.keys(f).length) {
    return empty("The query has no searchable words or filters: give a name, a word of a description, or a filter such as port:443 or role:production.");
  }
  if (!types.length) {
    return empty(
      "No entity type satisfies every filter at once (port: applies to ports, image: to containers, state: to services and containers); drop one of them or the entity_type.",
    );
  }

  if (pendingChanges(db) && !flushSearchIndex(db)) {
    notes.push("Some recent changes are not indexed yet (another process is writing): run the search again shortly.");
  }
  return read(db, (tx) => {
    const plan: Plan = { f, ...targetConditions(f, !!opts.includeRetired) };
    // Without retired targets, "not retired" filters nothing: skip the joins it needs.
    if (plan.defaultOnly && !tx.get(sql`SELECT 1 FROM targets WHERE lifecycle = 'retired' LIMIT 1`)) {
      plan.targetCond = [];
      plan.defaultOnly = false;
    }
    // A narrow target filter (one node's guests, a rare tag) is cheaper as the
    // list of its targets, probed through each table's (target_id, ...) key,
    // than as a join per row; a broad one (a role, "not retired") stays a join.
    if (plan.targetCond.length && !plan.defaultOnly && types.some((t) => t !== "target")) {
      const ids = tx.all<{ id: string }>(sql`SELECT id FROM targets WHERE ${where(plan.targetCond)} LIMIT ${NARROW_TARGET_SET + 1}`);
      if (ids.length <= NARROW_TARGET_SET) plan.targetIds = ids.map((r) => r.id);
    }
    const need = opts.limit + 1;
    let positions: Position[] = [];
    let total = 0;
    let lowerBound = false;
    // Counting by a lookup per match shares one budget across the types.
    let budget = COUNT_CAP;
    const count = (rows: SQL) => {
      if (budget <= 0) {
        lowerBound = true;
        return;
      }
      const n = tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM (${rows} LIMIT ${budget + 1})`)?.n ?? 0;
      if (n > budget) lowerBound = true;
      total += Math.min(n, budget);
      budget -= n;
    };
    if (parsed.words.length) {
      const match = ftsExpression(parsed.words);
      for (const t of types) {
        const fts = sql.raw(ARMS[t].fts);
        // Counting a word's matches reads only its doclist: cheap, and lets a type without any be skipped.
        const matches = tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM ${fts} WHERE ${fts} MATCH ${match}`)?.n ?? 0;
        if (matches === 0) continue;
        const exact = exactCount(tx, ARMS[t], match, plan, matches);
        if (exact !== null) {
          total += exact;
          positions.push(...rankedCandidates(tx, ARMS[t], match, plan, cursor, need).positions);
        } else if (!cursor && budget > 0) {
          // First page: the pass that finds the page also counts (up to the budget),
          // so each match is looked up once, not once for the page and again to count.
          const r = rankedCandidates(tx, ARMS[t], match, plan, null, need, budget);
          positions.push(...r.positions);
          total += Math.min(r.fetched, budget);
          if (r.fetched > budget) lowerBound = true;
          budget -= r.fetched;
        } else {
          positions.push(...rankedCandidates(tx, ARMS[t], match, plan, cursor, need).positions);
          count(sql`SELECT 1 FROM ${ftsFrom(ARMS[t], plan)} WHERE ${where([sql`${fts} MATCH ${match}`, ...armConditions(ARMS[t], plan)])}`);
        }
      }
      positions.sort((a, b) => a.score - b.score || a.ty - b.ty || a.rid - b.rid);
      positions = positions.slice(0, need);
    } else {
      // Filters only: no relevance, so entities come by type, then in discovery
      // order (rowid), which lets every type be paged straight from its table.
      for (const t of types) {
        const rank = TYPE_RANK[t];
        if (cursor && rank < cursor.t) continue;
        const after = cursor && rank === cursor.t ? cursor.r : -1;
        const want = need - positions.length;
        if (want <= 0) break;
        const table = sql.raw(ARMS[t].table);
        const keyset = after >= 0 ? [sql`${table}.rowid > ${after}`] : [];
        positions.push(
          ...tx.all<Position>(
            sql`SELECT ${rank} AS ty, ${table}.rowid AS rid, 0.0 AS score FROM ${table}${joinTargets(ARMS[t], plan)} WHERE ${where([...keyset, ...armConditions(ARMS[t], plan)])} ORDER BY ${table}.rowid LIMIT ${want}`,
          ),
        );
      }
      for (const t of types) {
        const table = sql.raw(ARMS[t].table);
        count(sql`SELECT 1 FROM ${table}${joinTargets(ARMS[t], plan)} WHERE ${where(armConditions(ARMS[t], plan))}`);
      }
    }
    const more = positions.length > opts.limit;
    const page = positions.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      items: hydrate(tx, page, parsed.words.length > 0),
      total,
      totalIsLowerBound: lowerBound,
      nextCursor: more && last ? { q: fingerprint, s: last.score, t: last.ty, r: last.rid } : null,
      parsed,
      entityTypes: types,
      notes,
    };
  });
}

interface Position {
  ty: number;
  rid: number;
  score: number;
}

interface Plan {
  f: ParsedSearchQuery["filters"];
  /** Conditions on the `targets` table. */
  targetCond: SQL[];
  /** The only target condition is the default "not retired". */
  defaultOnly: boolean;
  /** The targets the target conditions leave, when they are few: used instead of targetCond on entity tables. */
  targetIds?: string[];
}

/** At most this many targets are passed as a list rather than joined. */
const NARROW_TARGET_SET = 500;

/** Conditions on the `targets` table: lifecycle (retired left out by default) and the target-level filters. */
function targetConditions(f: ParsedSearchQuery["filters"], includeRetired: boolean): { targetCond: SQL[]; defaultOnly: boolean } {
  const c: SQL[] = [];
  const list = (vs: string[]) =>
    sql.join(
      vs.map((v) => sql`${v}`),
      sql`, `,
    );
  if (f.lifecycle) c.push(sql`targets.lifecycle IN (${list(f.lifecycle)})`);
  else if (!includeRetired) c.push(sql`targets.lifecycle <> 'retired'`);
  const defaultOnly = !f.lifecycle && !includeRetired;
  if (f.role) c.push(sql`targets.role IN (${list(f.role)})`);
  if (f.kind) c.push(sql`targets.kind IN (${list(f.kind)})`);
  if (f.os) {
    c.push(
      sql`(${sql.join(
        f.os.map((v) => sql`lower(targets.os_id) = ${v} OR targets.os_name LIKE ${like(v)} ESCAPE '\\'`),
        sql` OR `,
      )})`,
    );
  }
  if (f.node) {
    // The node itself and every guest whose parent it is.
    const nodes = sql`(SELECT n.id FROM targets AS n WHERE ${sql.join(
      f.node.map((v) => sql`n.id = ${v} OR lower(n.name) = ${v}`),
      sql` OR `,
    )})`;
    c.push(sql`(targets.id IN ${nodes} OR targets.parent_id IN ${nodes})`);
  }
  if (f.tag) c.push(sql`EXISTS (SELECT 1 FROM json_each(targets.tags) AS tg WHERE lower(tg.value) IN (${list(f.tag)}))`);
  return { targetCond: c, defaultOnly: defaultOnly && c.length === 1 };
}

// Systemd's active states; any other state word is a sub state (running, exited, dead, ...).
const ACTIVE_STATES = new Set(["active", "inactive", "failed", "activating", "deactivating", "reloading", "maintenance", "refreshing"]);

/** Conditions on the entity's own table (port, image, state), written so an index on the column can serve them. */
function entityConditions(arm: Arm, f: ParsedSearchQuery["filters"]): SQL[] {
  const c: SQL[] = [];
  const list = (vs: string[]) =>
    sql.join(
      vs.map((v) => sql`${v}`),
      sql`, `,
    );
  if (arm.type === "port" && f.port)
    c.push(
      sql`ports.port IN (${sql.join(
        f.port.map((v) => sql`${Number(v)}`),
        sql`, `,
      )})`,
    );
  if (arm.type === "container" && f.image)
    c.push(
      sql`(${sql.join(
        f.image.map((v) => sql`containers.image LIKE ${like(v)} ESCAPE '\\'`),
        sql` OR `,
      )})`,
    );
  // States are lower-case as systemd and Docker report them; the value was lower-cased when parsed.
  if (arm.type === "container" && f.state) c.push(sql`containers.state IN (${list(f.state)})`);
  if (arm.type === "service" && f.state) {
    const active = f.state.filter((v) => ACTIVE_STATES.has(v));
    const sub = f.state.filter((v) => !ACTIVE_STATES.has(v));
    const parts = [
      ...(active.length ? [sql`services.active_state IN (${list(active)})`] : []),
      ...(sub.length ? [sql`services.sub_state IN (${list(sub)})`] : []),
    ];
    c.push(sql`(${sql.join(parts, sql` OR `)})`);
  }
  return c;
}

function like(v: string): string {
  return `%${v.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function where(conds: SQL[]): SQL {
  return conds.length ? sql.join(conds, sql` AND `) : sql`1`;
}

function joinTargets(arm: Arm, plan: Plan): SQL {
  return arm.type === "target" || plan.targetCond.length === 0 || plan.targetIds ? sql`` : sql` JOIN targets ON targets.id = ${sql.raw(arm.table)}.target_id`;
}

/** Every condition of one type: its entity filters, then its target's (as a join's conditions or as the narrow id list). */
function armConditions(arm: Arm, plan: Plan): SQL[] {
  const entity = entityConditions(arm, plan.f);
  if (arm.type === "target" || !plan.targetIds) return [...entity, ...plan.targetCond];
  // One JSON parameter, not one per id, so the statement text (and its cached plan) does not vary with the list's length.
  return [...entity, sql`${sql.raw(arm.table)}.target_id IN (SELECT value FROM json_each(${JSON.stringify(plan.targetIds)}))`];
}

function ftsFrom(arm: Arm, plan: Plan): SQL {
  const fts = sql.raw(arm.fts);
  const table = sql.raw(arm.table);
  return sql`${fts} JOIN ${table} ON ${table}.rowid = ${fts}.rowid${joinTargets(arm, plan)}`;
}

/**
 * The first `need` matches of one type after the cursor, in (score, rowid) order.
 *
 * ORDER BY rank alone lets FTS5 sort the matches itself and SQLite stop joining
 * and filtering once it has `need` rows, so the cost is ranking the matches, not
 * looking up every matching row. FTS5 does not order ties, so the rows that
 * share the last score are fetched again in rowid order: the page boundary then
 * never falls between equal scores at random, and paging has no gaps or repeats.
 * `+rank` keeps SQLite from handing the comparison to FTS5, which would read
 * `rank = x` as the name of a ranking function.
 */
function rankedCandidates(
  tx: Reader,
  arm: Arm,
  match: string,
  plan: Plan,
  cursor: SearchCursor | null,
  need: number,
  countUpTo = 0,
): { positions: Position[]; fetched: number } {
  const ty = TYPE_RANK[arm.type];
  const fts = sql.raw(arm.fts);
  const conds: SQL[] = [sql`${fts} MATCH ${match}`];
  if (cursor) {
    if (ty > cursor.t) conds.push(sql`+${fts}.rank >= ${cursor.s}`);
    else if (ty < cursor.t) conds.push(sql`+${fts}.rank > ${cursor.s}`);
    else conds.push(sql`(+${fts}.rank > ${cursor.s} OR (+${fts}.rank = ${cursor.s} AND ${fts}.rowid > ${cursor.r}))`);
  }
  conds.push(...armConditions(arm, plan));
  const from = ftsFrom(arm, plan);
  const limit = Math.max(need, countUpTo + 1);
  const rows = tx.all<Position>(
    sql`SELECT ${ty} AS ty, ${fts}.rowid AS rid, ${fts}.rank AS score FROM ${from} WHERE ${where(conds)} ORDER BY ${fts}.rank LIMIT ${limit}`,
  );
  const byOrder = (a: Position, b: Position) => a.score - b.score || a.rid - b.rid;
  // Every match is here: order them fully.
  if (rows.length < limit) return { positions: rows.sort(byOrder).slice(0, need), fetched: rows.length };
  const boundary = rows[need - 1]!.score;
  // The rows fetched past `need` to count them already hold every tie of the boundary score.
  if (rows[rows.length - 1]!.score > boundary) {
    return {
      positions: rows
        .filter((r) => r.score <= boundary)
        .sort(byOrder)
        .slice(0, need),
      fetched: rows.length,
    };
  }
  const certain = rows.filter((r) => r.score < boundary).sort(byOrder);
  const ties = tx.all<Position>(
    sql`SELECT ${ty} AS ty, ${fts}.rowid AS rid, ${fts}.rank AS score FROM ${from} WHERE ${where([...conds, sql`+${fts}.rank = ${boundary}`])} ORDER BY ${fts}.rowid LIMIT ${need - certain.length}`,
  );
  return { positions: [...certain, ...ties], fetched: rows.length };
}

/**
 * Matches of one type, given how many rows the words match, where that is cheap
 * to know exactly: with no filter, the word count itself; with only the default
 * "not retired", the word count minus the matches on retired targets (found from
 * the retired side when there are many matches). Otherwise null: the caller
 * counts with a lookup per match, up to COUNT_CAP.
 */
function exactCount(tx: Reader, arm: Arm, match: string, plan: Plan, matches: number): number | null {
  const fts = sql.raw(arm.fts);
  const table = sql.raw(arm.table);
  const entityFiltered = entityConditions(arm, plan.f).length > 0;
  if (!entityFiltered && plan.targetCond.length === 0) return matches;
  if (entityFiltered || !plan.defaultOnly || matches <= COUNT_CAP) return null;
  const matched = sql`+${table}.rowid IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH ${match})`;
  const retired =
    arm.type === "target"
      ? tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM targets WHERE targets.lifecycle = 'retired' AND ${matched}`)
      : tx.get<{ n: number }>(
          sql`SELECT count(*) AS n FROM ${table} WHERE ${table}.target_id IN (SELECT id FROM targets WHERE lifecycle = 'retired') AND ${matched}`,
        );
  return matches - (retired?.n ?? 0);
}

// ------------------------------------------------------------------ hydration

type Row = Record<string, string | number | null>;

function hydrate(tx: Reader, page: Position[], ranked: boolean): SearchHit[] {
  const byType = new Map<number, number[]>();
  for (const p of page) byType.set(p.ty, [...(byType.get(p.ty) ?? []), p.rid]);
  const rows = new Map<string, Row>();
  for (const [ty, rids] of byType) {
    const type = SEARCH_ENTITY_TYPES[ty]!;
    const table = sql.raw(ARMS[type].table);
    for (const r of tx.all<Row>(
      sql`SELECT rowid AS rid, * FROM ${table} WHERE rowid IN (${sql.join(
        rids.map((id) => sql`${id}`),
        sql`, `,
      )})`,
    )) {
      rows.set(`${ty}:${r.rid}`, r);
    }
  }
  const targetIds = new Set<string>();
  for (const [key, r] of rows) targetIds.add(String(key.startsWith("0:") ? r.id : r.target_id));
  const targetRows = targetIds.size
    ? tx.all<Row>(
        sql`SELECT id, name, kind, role, lifecycle FROM targets WHERE id IN (${sql.join(
          [...targetIds].map((id) => sql`${id}`),
          sql`, `,
        )})`,
      )
    : [];
  const targetsById = new Map(targetRows.map((t) => [String(t.id), t]));
  const hits: SearchHit[] = [];
  for (const p of page) {
    const r = rows.get(`${p.ty}:${p.rid}`);
    // A row deleted between the two statements of this read cannot happen (one
    // read transaction), but a hit without its row is dropped, never invented.
    if (!r) continue;
    const type = SEARCH_ENTITY_TYPES[p.ty]!;
    const t = targetsById.get(String(type === "target" ? r.id : r.target_id));
    if (!t) continue;
    hits.push({
      ...describe(type, r),
      target: { id: String(t.id), name: String(t.name), kind: String(t.kind), role: String(t.role), lifecycle: String(t.lifecycle) },
      score: ranked ? round(-p.score) : null,
    });
  }
  return hits;
}

function describe(type: SearchEntityType, r: Row): Omit<SearchHit, "target" | "score"> {
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  switch (type) {
    case "target":
      return {
        type,
        name: String(r.name),
        state: s(r.lifecycle),
        source: null,
        fields: { kind: s(r.kind), address: s(r.address), os: s(r.os_name) ?? s(r.os_id), role: s(r.role), tags: tagList(r.tags) },
      };
    case "service":
      return {
        type,
        name: String(r.name),
        state: r.active_state === null ? s(r.sub_state) : `${r.active_state}${r.sub_state ? `/${r.sub_state}` : ""}`,
        source: s(r.source_id),
        fields: { description: s(r.description), enabled: s(r.enabled) },
      };
    case "container":
      return {
        type,
        name: String(r.name),
        state: s(r.state),
        source: s(r.source_id),
        fields: { image: s(r.image), status: s(r.status), ports: s(r.ports), compose_project: s(r.compose_project), compose_service: s(r.compose_service) },
      };
    case "stack":
      return { type, name: String(r.name), state: s(r.status), source: s(r.source_id), fields: { config_files: jsonList(r.config_files) } };
    case "port":
      return {
        type,
        name: `${r.protocol}/${r.port}`,
        state: null,
        source: s(r.source_id),
        fields: { protocol: s(r.protocol), address: s(r.address), port: Number(r.port), process: s(r.process), pid: r.pid === null ? null : Number(r.pid) },
      };
  }
}

function jsonList(v: unknown): string | null {
  try {
    const a: unknown = JSON.parse(String(v));
    return Array.isArray(a) ? a.join(", ") : null;
  } catch {
    return null;
  }
}

function tagList(v: unknown): string | null {
  const list = jsonList(v);
  return list === "" ? null : list;
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}

// ------------------------------------------------------------------ index upkeep

/**
 * Applies the changes the triggers noted in `search_pending` to the FTS tables
 * (the flush migration 0006 defines). Discovery runs flush in their own
 * transaction; any other writer's changes are flushed here, or by the next
 * search. Returns false when the database is busy or read-only, leaving them
 * pending.
 */
export function flushSearchIndex(db: Db): boolean {
  const client = db.$client;
  try {
    client
      .transaction(() => {
        client.prepare("INSERT INTO search_index_flush(id) VALUES (NULL)").run();
      })
      .immediate();
    return true;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_LOCKED"))) return false;
    throw err;
  }
}

/** Rows changed since the last flush; searchFleet flushes them before it reads. */
function pendingChanges(db: Db): boolean {
  return db.$client.prepare("SELECT 1 FROM search_pending LIMIT 1").get() !== undefined;
}

/**
 * Re-derives every search index from its base table. The index is keyed by the
 * base tables' implicit rowids, which VACUUM may renumber: run this after a
 * VACUUM, or after rows were written with the triggers dropped.
 */
export function rebuildSearchIndex(db: Db): void {
  const client = db.$client;
  client
    .transaction(() => {
      for (const arm of Object.values(ARMS)) {
        client.prepare(`INSERT INTO ${arm.fts}(${arm.fts}) VALUES ('delete-all')`).run();
        client.prepare(`INSERT OR IGNORE INTO search_pending(tbl, rid) SELECT ${TYPE_RANK[arm.type]}, rowid FROM ${arm.table}`).run();
      }
      client.prepare("INSERT INTO search_index_flush(id) VALUES (NULL)").run();
    })
    .immediate();
}

/**
 * Checks that every search index holds exactly what a fresh index of its base
 * table would (every term, row, column and position, via fts5vocab), and that
 * nothing is pending. Throws naming the first table that differs. Builds a
 * temporary copy of each index: for tests and repair tooling, not for requests.
 */
export function verifySearchIndex(db: Db): void {
  const client = db.$client;
  const pending = client.prepare("SELECT count(*) AS n FROM search_pending").get() as { n: number };
  if (pending.n > 0) throw new Error(`search index has ${pending.n} unflushed change(s): call flushSearchIndex()`);
  for (const arm of Object.values(ARMS)) {
    const cols = arm.columns.join(", ");
    const tmp = `temp.fleet_verify_${arm.table}`;
    try {
      client.exec(`CREATE VIRTUAL TABLE ${tmp} USING fts5(${cols}, content='', tokenize='unicode61 remove_diacritics 2')`);
      client.exec(`INSERT INTO ${tmp}(rowid, ${cols}) SELECT rowid, ${cols} FROM main.${arm.table}`);
      client.exec(`CREATE VIRTUAL TABLE temp.fleet_verify_live USING fts5vocab(main, ${arm.fts}, instance)`);
      client.exec(`CREATE VIRTUAL TABLE temp.fleet_verify_fresh USING fts5vocab(temp, fleet_verify_${arm.table}, instance)`);
      const diff = client
        .prepare(
          `SELECT (SELECT count(*) FROM (SELECT * FROM temp.fleet_verify_live EXCEPT SELECT * FROM temp.fleet_verify_fresh)) AS extra,
                  (SELECT count(*) FROM (SELECT * FROM temp.fleet_verify_fresh EXCEPT SELECT * FROM temp.fleet_verify_live)) AS missing`,
        )
        .get() as { extra: number; missing: number };
      if (diff.extra || diff.missing) {
        throw new Error(
          `search index ${arm.fts} does not match ${arm.table}: ${diff.extra} stale and ${diff.missing} missing term instance(s); call rebuildSearchIndex()`,
        );
      }
    } finally {
      client.exec("DROP TABLE IF EXISTS temp.fleet_verify_live; DROP TABLE IF EXISTS temp.fleet_verify_fresh;");
      client.exec(`DROP TABLE IF EXISTS ${tmp}`);
    }
  }
}
