// The audit log of tool calls: append-only (triggers refuse UPDATE/DELETE) and
// hash-chained, so that editing, deleting or reordering rows with the triggers
// dropped is caught by verifyAuditChain.
import { createHash } from "node:crypto";
import { and, desc, eq, gte, lt, lte } from "drizzle-orm";
import type { Db } from "../db/open.js";
import { auditLog } from "../db/schema.js";

export const AUDIT_OUTCOMES = ["ok", "tool_error", "rejected", "unknown_tool", "exception", "cancelled"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEntryInput {
  ts: Date;
  correlationId: string;
  tool: string;
  /** Already redacted. */
  arguments: unknown;
  outcome: AuditOutcome;
  durationMs: number;
  error: string | null;
  clientName: string | null;
  clientVersion: string | null;
  sessionId?: string | null;
  principal?: string | null;
}

export interface AuditRow {
  id: number;
  ts: string;
  correlationId: string;
  tool: string;
  arguments: string;
  outcome: string;
  durationMs: number;
  error: string | null;
  clientName: string | null;
  clientVersion: string | null;
  sessionId: string | null;
  principal: string | null;
  prevHash: string;
  hash: string;
}

/** The hash covers every column but the hash itself, in a fixed order, and the previous hash. */
export function auditRowHash(row: Omit<AuditRow, "hash">): string {
  const content = JSON.stringify([
    row.id,
    row.ts,
    row.correlationId,
    row.tool,
    row.arguments,
    row.outcome,
    row.durationMs,
    row.error,
    row.clientName,
    row.clientVersion,
    row.sessionId,
    row.principal,
  ]);
  return createHash("sha256").update(row.prevHash).update("\n").update(content).digest("hex");
}

export function appendAudit(db: Db, entry: AuditEntryInput): AuditRow {
  // IMMEDIATE: take the write lock before reading the chain head, so two
  // processes sharing the database cannot both chain onto the same row.
  return db.transaction(
    (tx) => {
      const head = tx.select({ id: auditLog.id, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.id)).limit(1).get();
      const base: Omit<AuditRow, "hash"> = {
        id: (head?.id ?? 0) + 1,
        ts: entry.ts.toISOString(),
        correlationId: entry.correlationId,
        tool: entry.tool.slice(0, 200),
        arguments: stringifyArguments(entry.arguments),
        outcome: entry.outcome,
        durationMs: Math.max(0, Math.round(entry.durationMs)),
        error: entry.error === null ? null : entry.error.slice(0, 4000),
        clientName: entry.clientName,
        clientVersion: entry.clientVersion,
        sessionId: entry.sessionId ?? null,
        principal: entry.principal ?? null,
        prevHash: head?.hash ?? GENESIS_HASH,
      };
      const row: AuditRow = { ...base, hash: auditRowHash(base) };
      tx.insert(auditLog).values(row).run();
      return row;
    },
    { behavior: "immediate" },
  );
}

const MAX_ARGUMENT_CHARS = 16 * 1024;

function stringifyArguments(args: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(args ?? null) ?? "null";
  } catch {
    text = JSON.stringify("[unserialisable arguments]");
  }
  // A hostile caller must not be able to bloat the log: keep a prefix, valid JSON.
  if (text.length > MAX_ARGUMENT_CHARS) {
    text = JSON.stringify({ truncated: true, bytes: text.length, prefix: text.slice(0, MAX_ARGUMENT_CHARS) });
  }
  return text;
}

export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  /** Hash of the last good row (the genesis hash for an empty log). */
  headHash: string;
  /** First row that fails, with why. */
  firstBad?: { id: number; reason: string };
}

export function verifyAuditChain(db: Db): AuditVerifyResult {
  let prev = GENESIS_HASH;
  let expectedId = 1;
  let rows = 0;
  const stmt = db.$client.prepare(
    `SELECT id, ts, correlation_id AS correlationId, tool, arguments, outcome, duration_ms AS durationMs, error,
            client_name AS clientName, client_version AS clientVersion, session_id AS sessionId, principal,
            prev_hash AS prevHash, hash FROM audit_log ORDER BY id`,
  );
  for (const raw of stmt.iterate()) {
    const row = raw as AuditRow;
    rows++;
    if (row.id !== expectedId) {
      return { ok: false, rows, headHash: prev, firstBad: { id: row.id, reason: `expected row ${expectedId} next: rows are missing or renumbered` } };
    }
    if (row.prevHash !== prev) {
      return {
        ok: false,
        rows,
        headHash: prev,
        firstBad: { id: row.id, reason: "prev_hash does not match the previous row's hash: rows were removed, inserted or reordered" },
      };
    }
    const { hash, ...rest } = row;
    if (auditRowHash(rest) !== hash) {
      return { ok: false, rows, headHash: prev, firstBad: { id: row.id, reason: "hash does not match the row's content: the row was modified" } };
    }
    prev = hash;
    expectedId++;
  }
  return { ok: true, rows, headHash: prev };
}

export interface AuditQuery {
  tool?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
  limit: number;
  /** Return rows with id below this (newest first paging). */
  beforeId?: number;
}

export function queryAudit(db: Db, q: AuditQuery): { rows: AuditRow[]; nextBeforeId: number | null } {
  const conds = [
    q.tool ? eq(auditLog.tool, q.tool) : undefined,
    q.outcome ? eq(auditLog.outcome, q.outcome) : undefined,
    q.since ? gte(auditLog.ts, q.since.toISOString()) : undefined,
    q.until ? lte(auditLog.ts, q.until.toISOString()) : undefined,
    q.beforeId !== undefined ? lt(auditLog.id, q.beforeId) : undefined,
  ].filter((c) => c !== undefined);
  const rows = db
    .select()
    .from(auditLog)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
    .all();
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  return { rows: page, nextBeforeId: more ? page[page.length - 1]!.id : null };
}
