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

/**
 * The FTS5 MATCH expression: every word an FTS string ("" escapes a quote), implicitly AND-ed.
 * FTS5 reads the expression as a C string, so a NUL would end it mid-string ("unterminated
 * string"): it becomes a space, a separator like the U+FFFD stored text has in its place.
 */
export function ftsExpression(words: readonly string[]): string {
  return words.map((w) => `"${w.replace(/"/g, '""').replace(/\u0000/g, " ")}"${[...w].length >= PREFIX_MIN_CHARS ? "*" : ""}`).join(" ");
}

// ------------------------------------------------------------------ search

export interface SearchCursor {
  /** Fingerprint of the query the cursor belongs to. */
  q: string;
  /** Sort position of the last item returned: group (0: name match, 1: other; always 0 when every type is ranked), score, entity type rank, base rowid. */
  g: number;
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
  /** bm25 relevance (higher is better); null for a query of filters only, and for the matches of a type with more than RANK_LIMIT of them. */
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

/**
 * A type whose words match more of its entities than this (before filters) is
 * not ranked. bm25 costs about 1 µs per match, every match must be ranked to
 * find the best, and a word on every host (nginx, a word of every unit's
 * description) matches tens of thousands of rows. Such a query is grouped
 * instead (name matches first, see Position), and the unranked type's matches
 * are walked in rowid order, which FTS5 serves without reading past the page.
 */
export const RANK_LIMIT = 2_000;

/**
 * When an index leads to the rows that pass a filter (or, for the default "not
 * retired", to the rows that fail it) and there are at most this many, matches
 * are tested against that set, which SQLite builds once per statement, instead
 * of by a lookup per match (see armFilter).
 */
const FILTER_SET_LIMIT = 5_000;

/**
 * Counting a word's matches reads its doclists, about 0.1 µs a match: past
 * this many matches of one type it stops, and the total is a lower bound.
 */
export const MATCH_COUNT_LIMIT = 20_000;

/**
 * A filter tested by a join per match (one the indexes cannot turn into a small
 * set of passing rows) checks at most this many matches of an unranked type per
 * group and page. When it rejects nearly all of them, the page ends there,
 * shorter than `limit` (possibly empty), and next_cursor continues the walk:
 * a page's work stays bounded whatever the filter keeps.
 */
export const FILTER_SCAN_LIMIT = 2_000;

const TYPE_RANK: Record<SearchEntityType, number> = { target: 0, service: 1, container: 2, stack: 3, port: 4 };

interface Arm {
  type: SearchEntityType;
  table: string;
  fts: string;
  /** The indexed columns, as migration 0006 declares them (verifySearchIndex checks the two agree). */
  columns: string[];
  /** The column bm25 weighs most: a match there is a "name match". */
  nameColumn: string;
}
// `search_pending.tbl` is the TYPE_RANK of the table.
const ARMS: Record<SearchEntityType, Arm> = {
  target: {
    type: "target",
    table: "targets",
    fts: "targets_fts",
    columns: ["id", "name", "address", "os_name", "os_id", "kind", "role", "tags"],
    nameColumn: "name",
  },
  service: { type: "service", table: "services", fts: "services_fts", columns: ["name", "description"], nameColumn: "name" },
  container: {
    type: "container",
    table: "containers",
    fts: "containers_fts",
    columns: ["name", "image", "compose_project", "compose_service"],
    nameColumn: "name",
  },
  stack: { type: "stack", table: "stacks", fts: "stacks_fts", columns: ["name", "config_files"], nameColumn: "name" },
  port: { type: "port", table: "ports", fts: "ports_fts", columns: ["port", "protocol", "address", "process"], nameColumn: "port" },
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
  /** Steps the rows one at a time: leaving the loop early stops the statement there. */
  iterate<T>(q: SQL): IterableIterator<T>;
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
    iterate<T>(q: SQL) {
      const { stmt, params } = prepare(q);
      return stmt.iterate(...params) as IterableIterator<T>;
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
    /** Set when the page ends where a walk stopped checking a filter, before `limit` matches: the cursor resumes there. */
    let stoppedAt: Position | null = null;
    let total = 0;
    let lowerBound = false;
    // With a filter, counts stop at COUNT_CAP matches, shared by the types.
    let budget = COUNT_CAP;
    const counted = (n: number) => {
      if (n > budget) lowerBound = true;
      total += Math.max(0, Math.min(n, budget));
      budget -= n;
    };
    const count = (rows: SQL) => {
      if (budget <= 0) {
        lowerBound = true;
        return;
      }
      counted(tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM (${rows} LIMIT ${budget + 1})`)?.n ?? 0);
    };
    if (parsed.words.length) {
      const match = ftsExpression(parsed.words);
      const found: Array<{ arm: Arm; matches: number }> = [];
      for (const t of types) {
        // Counting a word's matches reads only its doclists: cheap, and lets a type without any be skipped.
        const matches = countMatches(tx, ARMS[t], match, null, MATCH_COUNT_LIMIT + 1);
        if (matches > 0) found.push({ arm: ARMS[t], matches });
      }
      const grouped = found.some((x) => x.matches > RANK_LIMIT);
      const unranked: Array<{ arm: Arm; filter: ArmFilter }> = [];
      // A lookup filter costs a lookup per match it checks: counting shares COUNT_CAP checks across the types.
      let checkBudget = COUNT_CAP;
      const countChecked = (arm: Arm, matches: number) => {
        const checks = Math.min(matches, checkBudget);
        if (checks > 0) total += countJoined(tx, arm, match, plan, checks);
        if (checks < matches) lowerBound = true;
        checkBudget -= checks;
      };
      const visible = (rows: Position[]) => rows.filter((p) => !cursor || after(p, cursor));
      for (const { arm, matches } of found) {
        if (matches > MATCH_COUNT_LIMIT) lowerBound = true;
        const counting = Math.min(matches, MATCH_COUNT_LIMIT);
        const filtered = armConditions(arm, plan).length > 0;
        const defaultOnly = plan.defaultOnly && entityConditions(arm, plan.f).length === 0;
        if (matches <= RANK_LIMIT) {
          if (!filtered) {
            const rows = rankedMatches(tx, arm, match, unfiltered(arm), grouped);
            positions.push(...visible(rows));
            total += rows.length;
            continue;
          }
          // Rank every match unfiltered, look up only the page's candidates (in order, a batch at a time), then count.
          const lazy = (count: () => void) => {
            const rows = visible(rankedMatches(tx, arm, match, unfiltered(arm), grouped)).sort(byKey);
            positions.push(...passingInOrder(tx, arm, plan, rows, need));
            count();
          };
          if (defaultOnly) {
            lazy(() => (total += matches - retiredMatches(tx, arm, match)));
            continue;
          }
          const filter = armFilter(tx, arm, plan);
          if (filter.kind === "join" && matches > checkBudget) {
            lazy(() => countChecked(arm, matches));
            continue;
          }
          const rows = rankedMatches(tx, arm, match, filter, grouped);
          positions.push(...visible(rows));
          if (filter.kind === "set") counted(rows.length);
          else {
            // Every match was looked up: the count is exact.
            total += rows.length;
            checkBudget -= matches;
          }
          continue;
        }
        const filter = armFilter(tx, arm, plan);
        unranked.push({ arm, filter });
        if (filter.kind === "none") total += counting;
        else if (filter.kind === "join") countChecked(arm, matches);
        else if (!defaultOnly) {
          if (budget > 0) counted(countMatches(tx, arm, match, filter, budget + 1));
          else lowerBound = true;
        } else if (matches <= MATCH_COUNT_LIMIT) total += countMatches(tx, arm, match, filter, matches);
        else {
          // Past the count limit anyway: rather than a second pass, at least the counted matches less every retired row.
          total += Math.max(0, counting - filter.size);
        }
      }
      // Where a walk stopped checking a filter, the page must end: a match past it could come before one it has not checked.
      let frontier: Position | null = null;
      if (unranked.length) {
        const kinds = unranked.map(({ arm }) => `${arm.type}s`);
        notes.push(
          `More than ${RANK_LIMIT.toLocaleString("en-US")} ${kinds.length > 1 ? `${kinds.slice(0, -1).join(", ")} and ${kinds[kinds.length - 1]}` : kinds[0]} match these words, too many to rank: ` +
            "they have no score and come in discovery order, matches of every word in the name first, each after the ranked matches of its group. More words narrow them.",
        );
        const named = new Map<Arm, number[]>();
        for (const g of [0, 1]) {
          if (g === 1 && (frontier || positions.filter((p) => p.g === 0).length >= need)) break;
          for (const { arm, filter } of unranked) {
            const w = walk(tx, arm, match, g, filter, cursor, need, named.get(arm));
            positions.push(...w.positions);
            if (w.stoppedAt && (!frontier || byKey(w.stoppedAt, frontier) < 0)) frontier = w.stoppedAt;
            const rids = w.positions.map((p) => p.rid);
            if (w.complete) named.set(arm, rids);
          }
        }
      }
      positions.sort(byKey);
      if (frontier) {
        const end = frontier;
        positions = positions.filter((p) => byKey(p, end) <= 0);
        if (positions.length <= opts.limit) {
          notes.push(
            `Checked the filters on ${FILTER_SCAN_LIMIT.toLocaleString("en-US")} matches of words too common to rank and ${positions.length ? "only these passed" : "none passed"}: pass next_cursor to check the next ones, or add words.`,
          );
          stoppedAt = end;
        }
      }
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
        for (const { rid } of tx.all<{ rid: number }>(
          sql`SELECT ${table}.rowid AS rid FROM ${table}${joinTargets(ARMS[t], plan)} WHERE ${where([...keyset, ...armConditions(ARMS[t], plan)])} ORDER BY ${table}.rowid LIMIT ${want}`,
        )) {
          positions.push({ g: 0, score: 0, ty: rank, rid, ranked: false });
        }
      }
      for (const t of types) {
        const table = sql.raw(ARMS[t].table);
        count(sql`SELECT 1 FROM ${table}${joinTargets(ARMS[t], plan)} WHERE ${where(armConditions(ARMS[t], plan))}`);
      }
    }
    const more = positions.length > opts.limit || stoppedAt !== null;
    const page = positions.slice(0, opts.limit);
    const last = positions.length > opts.limit ? page[page.length - 1] : (stoppedAt ?? page[page.length - 1]);
    return {
      items: hydrate(tx, page),
      total,
      totalIsLowerBound: lowerBound,
      nextCursor: more && last ? { q: fingerprint, g: last.g, s: last.score, t: last.ty, r: last.rid } : null,
      parsed,
      entityTypes: types,
      notes,
    };
  });
}

/**
 * A match's place in the total order (g, score, ty, rid) that pages follow.
 * When every type is ranked, g is 0 and the order is bm25's, ties broken by type
 * and discovery order. When some type has more than RANK_LIMIT matches, g
 * groups them: 0 for a match of every word in the type's name column, 1 for the
 * rest; within a group the ranked types' matches come first by bm25, then the
 * unranked ones (score 0, above any bm25 rank, which FTS5 makes negative) by type
 * and discovery order.
 */
interface Position {
  g: number;
  /** FTS5's rank (negative bm25: lower is better), or 0 when not ranked. */
  score: number;
  ty: number;
  rid: number;
  ranked: boolean;
}

function byKey(a: Omit<Position, "ranked">, b: Omit<Position, "ranked">): number {
  return a.g - b.g || a.score - b.score || a.ty - b.ty || a.rid - b.rid;
}

function after(p: Position, c: SearchCursor): boolean {
  return byKey(p, { g: c.g, score: c.s, ty: c.t, rid: c.r }) > 0;
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

/** The entity conditions an index serves (ports.port, services.active_state, containers.state), to tell whether the rows that pass are few. */
function indexedConditions(arm: Arm, f: ParsedSearchQuery["filters"]): SQL[] {
  const list = (vs: string[]) =>
    sql.join(
      vs.map((v) => sql`${v}`),
      sql`, `,
    );
  if (arm.type === "port" && f.port) return entityConditions(arm, f);
  if (arm.type === "container" && f.state) return [sql`containers.state IN (${list(f.state)})`];
  // A sub state (running, dead) has no index: only a filter of active states alone leads by the index.
  if (arm.type === "service" && f.state && f.state.every((v) => ACTIVE_STATES.has(v))) return [sql`services.active_state IN (${list(f.state)})`];
  return [];
}

function like(v: string): string {
  return `%${v.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function where(conds: SQL[]): SQL {
  return conds.length ? sql.join(conds, sql` AND `) : sql`1`;
}

function joinTargets(arm: Arm, plan: Plan, join: "JOIN" | "CROSS JOIN" = "JOIN"): SQL {
  return arm.type === "target" || plan.targetCond.length === 0 || plan.targetIds
    ? sql``
    : sql` ${sql.raw(join)} targets ON targets.id = ${sql.raw(arm.table)}.target_id`;
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

/** The FTS5 expression for one group of an unranked type: its name matches (0) or the rest (1). */
function groupExpression(arm: Arm, match: string, g: number): string {
  const named = `{${arm.nameColumn}} : (${match})`;
  return g === 0 ? named : `(${match}) NOT (${named})`;
}

/**
 * Every match of a ranked type (at most RANK_LIMIT, before filters) that passes
 * the filter, with its bm25 rank and, when the query is grouped, its group.
 * Fetching them all and ordering here costs the same bm25 per match as FTS5's
 * ORDER BY rank, orders ties by rowid without a second query, and lets every
 * page apply the cursor in the same way.
 */
function rankedMatches(tx: Reader, arm: Arm, match: string, filter: ArmFilter, grouped: boolean): Position[] {
  const ty = TYPE_RANK[arm.type];
  const fts = sql.raw(arm.fts);
  const rows = tx.all<{ rid: number; score: number }>(
    sql`SELECT ${fts}.rowid AS rid, ${fts}.rank AS score FROM ${filter.from} WHERE ${where([sql`${fts} MATCH ${match}`, filter.test])}`,
  );
  const named = grouped
    ? new Set(tx.all<{ rid: number }>(sql`SELECT rowid AS rid FROM ${fts} WHERE ${fts} MATCH ${groupExpression(arm, match, 0)}`).map((r) => r.rid))
    : null;
  return rows.map((r) => ({ g: named && !named.has(r.rid) ? 1 : 0, score: r.score, ty, rid: r.rid, ranked: true }));
}

interface ArmFilter {
  /** The FTS table, joined to the entity row (and its target) when the filter is tested by a join. */
  from: SQL;
  /** The whole filter as one boolean over `from`. */
  test: SQL;
  /** How it is tested: none, a set of rows SQLite builds once per statement, or a lookup per match. */
  kind: "none" | "set" | "join";
  /** The rows in the set (at most FILTER_SET_LIMIT). */
  size: number;
}

/**
 * How a type's matches are filtered. A lookup per match (the entity row, then
 * its target) costs a few µs once the rows are out of the page cache, and a
 * common word has tens of thousands of matches; so where an index leads to the
 * rows that pass, or to the few that fail, and they are at most
 * FILTER_SET_LIMIT, each match is tested against that set instead:
 * - only the default "not retired": the rows of retired targets, left out;
 * - an indexed state or port, or the short list of targets a narrow target
 *   filter leaves: the rows that pass.
 * Other filters (image:, a broad role:, os: or tag:) are tested by a join.
 */
function armFilter(tx: Reader, arm: Arm, plan: Plan): ArmFilter {
  const fts = sql.raw(arm.fts);
  const table = sql.raw(arm.table);
  const conds = armConditions(arm, plan);
  if (!conds.length) return unfiltered(arm);
  const joined: ArmFilter = { from: ftsFrom(arm, plan), test: sql`(${where(conds)})`, kind: "join", size: 0 };
  const size = (rows: SQL) => tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM (${rows} LIMIT ${FILTER_SET_LIMIT + 1})`)?.n ?? 0;
  // `+` keeps SQLite from handing the list to FTS5 as rowids to look up one by one.
  if (plan.defaultOnly && entityConditions(arm, plan.f).length === 0) {
    const retired =
      arm.type === "target"
        ? sql`SELECT rowid FROM targets WHERE lifecycle = 'retired'`
        : sql`SELECT ${table}.rowid FROM ${table} WHERE ${table}.target_id IN (SELECT id FROM targets WHERE lifecycle = 'retired')`;
    const n = size(retired);
    if (n === 0) return unfiltered(arm);
    return n <= FILTER_SET_LIMIT ? { from: fts, test: sql`+${fts}.rowid NOT IN (${retired})`, kind: "set", size: n } : joined;
  }
  // A target's own filters are tested on the row its match already is (the targets table is small and cached).
  if (arm.type === "target") return joined;
  const lead = plan.targetIds ? conds : indexedConditions(arm, plan.f);
  if (!lead.length) return joined;
  const n = size(sql`SELECT 1 FROM ${table} WHERE ${where(lead)}`);
  if (n > FILTER_SET_LIMIT) return joined;
  return {
    from: fts,
    test: sql`+${fts}.rowid IN (SELECT ${table}.rowid FROM ${table}${joinTargets(arm, plan)} WHERE ${where(conds)})`,
    kind: "set",
    size: n,
  };
}

/**
 * Matches of the words (that pass a set filter, when given), counted up to
 * `upTo`: FTS5 reads only the doclists, about 0.1 µs a match, and SQLite
 * probes the set.
 */
function countMatches(tx: Reader, arm: Arm, match: string, filter: ArmFilter | null, upTo: number): number {
  const fts = sql.raw(arm.fts);
  const conds = [sql`${fts} MATCH ${match}`, ...(filter ? [filter.test] : [])];
  return tx.get<{ n: number }>(sql`SELECT count(*) AS n FROM (SELECT 1 FROM ${fts} WHERE ${where(conds)} LIMIT ${upTo})`)?.n ?? 0;
}

/** Matches of a ranked type (at most RANK_LIMIT: cheap to list) on retired targets, counted from the retired side. */
function retiredMatches(tx: Reader, arm: Arm, match: string): number {
  const fts = sql.raw(arm.fts);
  const table = sql.raw(arm.table);
  const retired = arm.type === "target" ? sql`targets.lifecycle = 'retired'` : sql`${table}.target_id IN (SELECT id FROM targets WHERE lifecycle = 'retired')`;
  return (
    tx.get<{ n: number }>(
      sql`SELECT count(*) AS n FROM ${table} WHERE ${retired} AND +${table}.rowid IN (SELECT rowid FROM ${fts} WHERE ${fts} MATCH ${match})`,
    )?.n ?? 0
  );
}

/** The first `need` of a ranked type's candidates (in page order) that pass its joined filter, looked up a growing batch at a time. */
function passingInOrder(tx: Reader, arm: Arm, plan: Plan, candidates: Position[], need: number): Position[] {
  const table = sql.raw(arm.table);
  const out: Position[] = [];
  for (let i = 0, size = need; i < candidates.length && out.length < need; i += size, size *= 2) {
    const batch = candidates.slice(i, i + size);
    const ids = JSON.stringify(batch.map((p) => p.rid));
    const ok = new Set(
      tx
        .all<{ rid: number }>(
          // CROSS JOIN: from the candidates out, never from a broad filter's index in.
          sql`SELECT ${table}.rowid AS rid FROM json_each(${ids}) AS b CROSS JOIN ${table} ON ${table}.rowid = b.value${joinTargets(arm, plan, "CROSS JOIN")} WHERE ${where(armConditions(arm, plan))}`,
        )
        .map((r) => r.rid),
    );
    out.push(...batch.filter((p) => ok.has(p.rid)));
  }
  return out.slice(0, need);
}

function unfiltered(arm: Arm): ArmFilter {
  return { from: sql.raw(arm.fts), test: sql`1 = 1`, kind: "none", size: 0 };
}

/** Matches that pass a joined filter among the word's first `checks` matches: a lower bound. */
function countJoined(tx: Reader, arm: Arm, match: string, plan: Plan, checks: number): number {
  const fts = sql.raw(arm.fts);
  const table = sql.raw(arm.table);
  // CROSS JOIN keeps this order: from the capped matches out, never from a broad filter's index in.
  return (
    tx.get<{ n: number }>(
      sql`SELECT count(*) AS n FROM (SELECT rowid AS rid FROM ${fts} WHERE ${fts} MATCH ${match} LIMIT ${checks}) AS m CROSS JOIN ${table} ON ${table}.rowid = m.rid${joinTargets(arm, plan, "CROSS JOIN")} WHERE ${where(armConditions(arm, plan))}`,
    )?.n ?? 0
  );
}

/**
 * The first `need` matches of one group of an unranked type after the cursor,
 * in rowid order: FTS5 walks its doclists in that order, so this reads only as
 * far as the page. A joined filter is checked on at most FILTER_SCAN_LIMIT
 * matches; `stoppedAt` is the last one checked when the walk stopped there with
 * matches left. `complete` says the walk returned every passing row of its group.
 *
 * Group 1 is "the words, but not all of them in the name", an expression that
 * holds the words twice, and FTS5 expands a prefix word's doclist once per
 * occurrence (3 ms for a word in every unit). When the group-0 walk of this page
 * found all its passing rows (`named`), group 1 is the words without those.
 */
function walk(
  tx: Reader,
  arm: Arm,
  match: string,
  g: number,
  filter: ArmFilter,
  cursor: SearchCursor | null,
  need: number,
  named?: number[],
): { positions: Position[]; stoppedAt: Position | null; complete: boolean } {
  const ty = TYPE_RANK[arm.type];
  const fts = sql.raw(arm.fts);
  const keyset: SQL[] = [];
  if (cursor) {
    const order = byKey({ g, score: 0, ty, rid: 0 }, { g: cursor.g, score: cursor.s, ty: cursor.t, rid: 0 });
    if (order < 0) return { positions: [], stoppedAt: null, complete: false };
    if (order === 0) keyset.push(sql`${fts}.rowid > ${cursor.r}`);
  }
  const position = (rid: number): Position => ({ g, score: 0, ty, rid, ranked: false });
  const conds =
    g === 1 && named
      ? [sql`${fts} MATCH ${match}`, sql`+${fts}.rowid NOT IN (SELECT value FROM json_each(${JSON.stringify(named)}))`, ...keyset]
      : [sql`${fts} MATCH ${groupExpression(arm, match, g)}`, ...keyset];
  if (filter.kind !== "join") {
    const positions = tx
      .all<{ rid: number }>(sql`SELECT ${fts}.rowid AS rid FROM ${filter.from} WHERE ${where([...conds, filter.test])} ORDER BY ${fts}.rowid LIMIT ${need}`)
      .map((r) => position(r.rid));
    return { positions, stoppedAt: null, complete: keyset.length === 0 && positions.length < need };
  }
  // Row by row, so the walk knows how many matches it has checked, not only how many passed.
  const positions: Position[] = [];
  let checked = 0;
  let last = 0;
  for (const r of tx.iterate<{ rid: number; ok: number }>(
    sql`SELECT ${fts}.rowid AS rid, ${filter.test} AS ok FROM ${filter.from} WHERE ${where(conds)} ORDER BY ${fts}.rowid`,
  )) {
    // A match past the limit shows there are more: stop with somewhere to resume.
    if (checked === FILTER_SCAN_LIMIT) return { positions, stoppedAt: position(last), complete: false };
    checked++;
    last = r.rid;
    if (r.ok) positions.push(position(r.rid));
    if (positions.length >= need) break;
  }
  return { positions, stoppedAt: null, complete: keyset.length === 0 && positions.length < need };
}

// ------------------------------------------------------------------ hydration

type Row = Record<string, string | number | null>;

function hydrate(tx: Reader, page: Position[]): SearchHit[] {
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
      score: p.ranked ? round(-p.score) : null,
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
