import { z } from "zod";
import type { AppContext } from "../app/context.js";
import {
  CHANGE_KINDS,
  compareKeyTuples,
  CRITICAL_KINDS,
  diffDocuments,
  ENTITY_TYPES,
  type ChangeRef,
  type Scalar,
  type SnapshotDocument,
} from "../inventory/diff.js";
import { captureInventory, findSnapshot, loadSnapshotDocument, recentSnapshotIds } from "../inventory/snapshots.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

/** At most this many health drops and critical changes are listed; their totals are always given. */
const HEALTH_ITEMS = 25;
const CRITICAL_ITEMS = 50;

const SideRef = z.string().min(1).max(200).regex(/\S/, "must not be blank");

const Side = z.object({
  ref: z.string().describe("What was asked for."),
  id: z.number().int().nullable().describe("Snapshot id; null for live."),
  name: z.string(),
  captured_at: z.string(),
});

const Counts = z.object({ created: z.number().int(), modified: z.number().int(), deleted: z.number().int() });

interface ResolvedSide {
  ref: string;
  id: number | null;
  name: string;
  doc: SnapshotDocument;
}

function resolveSide(app: AppContext, ref: string): ResolvedSide {
  const trimmed = ref.trim();
  if (trimmed.toLowerCase() === "live") return { ref, id: null, name: "live", doc: captureInventory(app.db, app.now()) };
  const meta = findSnapshot(app.db, trimmed);
  if (!meta) {
    const known = recentSnapshotIds(app.db, 10);
    if (known.total === 0) {
      throw new ToolError(`Snapshot ${trimmed} not found: there are no snapshots yet. Call create_snapshot first, or compare against "live".`);
    }
    const more = known.total > known.ids.length ? ` (newest ${known.ids.length} of ${known.total})` : "";
    throw new ToolError(`Snapshot ${trimmed} not found. Known: ${known.ids.join(", ")}${more} — call list_snapshots.`);
  }
  const doc = loadSnapshotDocument(app.db, meta.id);
  if (!doc) throw new ToolError(`Snapshot ${meta.id} was removed meanwhile (retention?). Call list_snapshots.`);
  return { ref, id: meta.id, name: meta.name, doc };
}

export const compareSnapshots = defineTool({
  name: "compare_snapshots",
  title: "Compare snapshots",
  description:
    "Shows what changed between two inventory states — each side a snapshot id, a name, `latest` or `live` (the inventory now): targets, services, containers, stacks, ports, interfaces and filesystems created, modified (field-level before/after) or deleted, with per-type counts, the targets whose health dropped, and critical changes. Volatile readings (uptime, load, memory and disk use, container status text, counters) are not changes unless include_volatile is set; page with next_cursor, and call get_target for one target's detail.",
  input: z
    .object({
      a: SideRef.default("latest").describe("The before side: a snapshot id, name, `latest` (default) or `live`."),
      b: SideRef.default("live").describe("The after side: a snapshot id, name, `latest` or `live` (default)."),
      include_volatile: z
        .boolean()
        .default(false)
        .describe("Also count changes of volatile readings (uptime, load, memory available, disk used, container status, restart counts, veth interfaces)."),
      types: z
        .array(z.enum(ENTITY_TYPES))
        .min(1)
        .max(ENTITY_TYPES.length)
        .optional()
        .describe("List only changes of these entity types; the summary still counts all."),
      change: z.enum(CHANGE_KINDS).optional().describe("List only created, modified or deleted entities; the summary still counts all."),
      detail: z.enum(["brief", "full"]).default("brief").describe("brief: names and changed fields; full: also every field of each listed entity."),
      limit: z.number().int().min(1).max(200).default(25).describe("Changes per page (1-200, default 25)."),
      cursor: z.string().max(2000).optional().describe("next_cursor from the previous page, with the same a, b and filters."),
    })
    .strict(),
  output: z.object({
    a: Side,
    b: Side,
    include_volatile: z.boolean(),
    summary: z.object({
      total: z.number().int().describe("Changed entities of every type; unchanged ones are never counted."),
      by_type: z.object(Object.fromEntries(ENTITY_TYPES.map((t) => [t, Counts])) as Record<(typeof ENTITY_TYPES)[number], typeof Counts>),
      by_change: Counts,
    }),
    health_impact: z.object({
      targets_dropped: z.number().int().describe("Targets on both sides whose health score is lower in b."),
      items: z
        .array(
          z.object({
            target_id: z.string(),
            target_name: z.string(),
            role: z.string().nullable(),
            before: z.number(),
            after: z.number(),
            new_issues: z.array(z.object({ code: z.string(), severity: z.string(), message: z.string() })),
          }),
        )
        .describe(`Largest drops first, at most ${HEALTH_ITEMS}.`),
    }),
    critical: z.object({
      total: z.number().int(),
      items: z
        .array(z.object({ kind: z.enum(CRITICAL_KINDS), target_id: z.string(), target_name: z.string(), message: z.string() }))
        .describe(
          `Production targets gone (deleted or retired), new listening ports on production hosts, host key changes, services that became failed; at most ${CRITICAL_ITEMS}.`,
        ),
    }),
    changes: z.array(
      z.object({
        type: z.enum(ENTITY_TYPES),
        change: z.enum(CHANGE_KINDS),
        target_id: z.string(),
        target_name: z.string(),
        entity: z.string().describe("The entity within its target: unit or container name, `tcp 0.0.0.0:443`, mount, interface; the id for targets."),
        fields: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })).describe("Changed fields, for modified."),
        values: z.record(z.string(), z.unknown()).optional().describe("With detail full: every field of the entity (b's; a's when deleted)."),
      }),
    ),
    matching: z.number().int().describe("Changes that match types/change, on all pages."),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { app } = ctx;
    const a = resolveSide(app, args.a);
    const b = resolveSide(app, args.b);
    const diff = diffDocuments(a.doc, b.doc, { includeVolatile: args.include_volatile });

    // A cursor is valid only for the comparison it came from: same sides, filters and volatility.
    const scope = JSON.stringify([a.id ?? "live", b.id ?? "live", args.include_volatile, args.types ? [...args.types].sort() : null, args.change ?? null]);
    const types = args.types ? new Set(args.types) : null;
    const listed = diff.changes.filter((c) => (!types || types.has(c.type)) && (!args.change || c.kind === args.change));
    let start = 0;
    if (args.cursor) {
      const cur = decodeCursor(args.cursor, ["s", "p"]);
      if (cur.s !== scope) {
        throw new ToolError(
          "This cursor belongs to a different comparison (other sides or filters). Repeat the call that produced it, or omit cursor to start over.",
        );
      }
      let after: Scalar[];
      try {
        after = JSON.parse(String(cur.p)) as Scalar[];
        if (!Array.isArray(after)) throw new Error("not an array");
      } catch {
        throw new ToolError("Invalid cursor: pass back the exact next_cursor value from the previous page, or omit it to start over.");
      }
      start = firstAfter(listed, (ref) => compareKeyTuples(diff.position(ref), after) > 0);
    }
    const page = listed.slice(start, start + args.limit);
    const last = page[page.length - 1];
    const full = args.detail === "full";
    const byChange = { created: 0, modified: 0, deleted: 0 };
    for (const t of ENTITY_TYPES) for (const k of CHANGE_KINDS) byChange[k] += diff.counts[t][k];
    return {
      a: { ref: args.a, id: a.id, name: a.name, captured_at: a.doc.captured_at },
      b: { ref: args.b, id: b.id, name: b.name, captured_at: b.doc.captured_at },
      include_volatile: args.include_volatile,
      summary: { total: diff.total, by_type: diff.counts, by_change: byChange },
      health_impact: {
        targets_dropped: diff.healthDrops.length,
        items: diff.healthDrops.slice(0, HEALTH_ITEMS).map((h) => ({
          target_id: h.targetId,
          target_name: h.name,
          role: h.role,
          before: h.before,
          after: h.after,
          new_issues: h.newIssues,
        })),
      },
      critical: {
        total: diff.critical.length,
        items: diff.critical.slice(0, CRITICAL_ITEMS).map((c) => ({ kind: c.kind, target_id: c.targetId, target_name: c.targetName, message: c.message })),
      },
      changes: page.map((ref) => {
        const d = diff.describe(ref, full);
        return {
          type: d.type,
          change: d.change,
          target_id: d.targetId,
          target_name: d.targetName,
          entity: d.entity,
          fields: d.fields,
          ...(d.values ? { values: d.values } : {}),
        };
      }),
      matching: listed.length,
      next_cursor: last && start + page.length < listed.length ? encodeCursor({ s: scope, p: JSON.stringify(diff.position(last)) }) : null,
    };
  },
  summarize(o) {
    const side = (s: { id: number | null; name: string }) => (s.id === null ? "live" : `snapshot ${s.id} "${s.name}"`);
    if (o.summary.total === 0 && o.critical.total === 0 && o.health_impact.targets_dropped === 0) {
      return `No changes between ${side(o.a)} and ${side(o.b)}${o.include_volatile ? "" : " (volatile readings ignored)"}.`;
    }
    const parts = ENTITY_TYPES.flatMap((t) => {
      const c = o.summary.by_type[t];
      const bits = CHANGE_KINDS.filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
      return bits.length ? [`${t}: ${bits.join(", ")}`] : [];
    });
    const critical = o.critical.total ? ` ${o.critical.total} critical: ${o.critical.items[0]!.message}` : "";
    const health = o.health_impact.targets_dropped ? ` Health dropped on ${o.health_impact.targets_dropped} target(s).` : "";
    return `${o.summary.total} change(s) from ${side(o.a)} to ${side(o.b)} — ${parts.join("; ") || "none listed"}.${critical}${health}${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});

/** First index whose predicate holds, in a list where it holds for a suffix. */
function firstAfter(list: ChangeRef[], pred: (ref: ChangeRef) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(list[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
