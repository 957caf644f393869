// The change-event vocabulary and its one writer. Events are append-only
// (triggers refuse UPDATE and DELETE); each carries before/after values in
// `data` so an agent can answer "what changed" without a snapshot.
import { and, desc, eq, gte, inArray, lt, lte } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { events, targets } from "../db/schema.js";

export const EVENT_TYPES = [
  "target_added",
  "target_changed",
  "target_unseen",
  "lifecycle_changed",
  "role_changed",
  "host_key_changed",
  "service_added",
  "service_removed",
  "service_started",
  "service_stopped",
  "service_failed",
  "service_changed",
  "container_added",
  "container_removed",
  "container_image_changed",
  "container_state_changed",
  "port_opened",
  "port_closed",
  "stack_added",
  "stack_removed",
  "stack_changed",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_SEVERITIES = ["info", "warning", "critical"] as const;
export type EventSeverity = (typeof EVENT_SEVERITIES)[number];

export interface NewEvent {
  ts: string;
  targetId: string | null;
  runId: number | null;
  type: EventType;
  severity: EventSeverity;
  message: string;
  /** Before/after values and whatever names the entity (service name, port, ...). */
  data: Record<string, unknown>;
}

/** Appends events. `db` may be a transaction. */
export function recordEvents(db: Db, rows: NewEvent[]): void {
  if (rows.length === 0) return;
  // Chunked: SQLite caps the number of bound parameters per statement.
  for (let i = 0; i < rows.length; i += 500) {
    db.insert(events)
      .values(rows.slice(i, i + 500).map((e) => ({ ...e, data: JSON.stringify(e.data) })))
      .run();
  }
}

export interface EventQuery {
  targetIds?: string[];
  types?: EventType[];
  /** Only events at least this severe. */
  minSeverity?: EventSeverity;
  since?: Date;
  until?: Date;
  runId?: number;
  limit: number;
  /** Newest-first paging: rows with id below this. */
  beforeId?: number;
}

export interface EventRow {
  id: number;
  ts: string;
  type: string;
  severity: string;
  message: string;
  targetId: string | null;
  targetName: string | null;
  runId: number | null;
  data: Record<string, unknown>;
}

/** Events newest first, with the name each target has now. One read transaction. */
export function queryEvents(db: Db, q: EventQuery): { rows: EventRow[]; nextBeforeId: number | null } {
  return db.transaction(
    (tx) => {
      const severities = q.minSeverity ? EVENT_SEVERITIES.slice(EVENT_SEVERITIES.indexOf(q.minSeverity)) : undefined;
      const conds = [
        q.targetIds ? inArray(events.targetId, q.targetIds) : undefined,
        q.types?.length ? inArray(events.type, q.types) : undefined,
        severities && severities.length < EVENT_SEVERITIES.length ? inArray(events.severity, [...severities]) : undefined,
        q.since ? gte(events.ts, q.since.toISOString()) : undefined,
        q.until ? lte(events.ts, q.until.toISOString()) : undefined,
        q.runId !== undefined ? eq(events.runId, q.runId) : undefined,
        q.beforeId !== undefined ? lt(events.id, q.beforeId) : undefined,
      ].filter((c) => c !== undefined);
      const rows = tx
        .select({
          id: events.id,
          ts: events.ts,
          type: events.type,
          severity: events.severity,
          message: events.message,
          targetId: events.targetId,
          targetName: targets.name,
          runId: events.runId,
          data: events.data,
        })
        .from(events)
        .leftJoin(targets, eq(targets.id, events.targetId))
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(events.id))
        .limit(q.limit + 1)
        .all();
      const more = rows.length > q.limit;
      const page = (more ? rows.slice(0, q.limit) : rows).map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
      return { rows: page, nextBeforeId: more ? page[page.length - 1]!.id : null };
    },
    { behavior: "deferred" },
  );
}
