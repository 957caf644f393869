import { z } from "zod";
import { listSnapshots, SNAPSHOT_TYPES, type SnapshotMeta } from "../inventory/snapshots.js";
import { decodeCursor, defineTool, encodeCursor } from "./tool.js";

/** A snapshot as tools and resources show it (its metadata, not its content). */
export const SnapshotViewSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  created_at: z.string(),
  run_id: z.number().int().nullable().describe("The discovery run an auto snapshot follows."),
  target_count: z.number().int(),
  entity_count: z.number().int(),
  health_mean: z.number().nullable(),
  size_bytes: z.number().int(),
});

export function snapshotView(s: SnapshotMeta): z.infer<typeof SnapshotViewSchema> {
  return {
    id: s.id,
    name: s.name,
    type: s.type,
    description: s.description,
    tags: s.tags,
    created_at: s.createdAt,
    run_id: s.runId,
    target_count: s.targetCount,
    entity_count: s.entityCount,
    health_mean: s.healthMean,
    size_bytes: s.sizeBytes,
  };
}

export const listSnapshotsTool = defineTool({
  name: "list_snapshots",
  title: "List snapshots",
  description:
    "Lists stored inventory snapshots, newest first, with their type, tags, counts and size (not their content). Call compare_snapshots with two ids or names (or `latest` / `live`) to see what changed between them.",
  input: z
    .object({
      type: z.enum(SNAPSHOT_TYPES).optional().describe("Only snapshots of this type."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(200).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    snapshots: z.array(SnapshotViewSchema),
    total: z.number().int().describe("Snapshots matching the filter, on all pages."),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const after = args.cursor ? decodeCursor(args.cursor, ["c", "i"]) : undefined;
    const page = listSnapshots(ctx.app.db, {
      limit: args.limit,
      ...(args.type ? { type: args.type } : {}),
      ...(after ? { after: { createdAt: String(after.c), id: Number(after.i) } } : {}),
    });
    const last = page.items[page.items.length - 1];
    return {
      snapshots: page.items.map(snapshotView),
      total: page.total,
      next_cursor: page.more && last ? encodeCursor({ c: last.createdAt, i: last.id }) : null,
    };
  },
  summarize(o) {
    if (o.total === 0) return "No snapshots yet. Call create_snapshot to take one.";
    const newest = o.snapshots[0];
    return `${o.snapshots.length} of ${o.total} snapshot(s)${newest ? `; newest on this page: ${newest.id} "${newest.name}" at ${newest.created_at}` : ""}.${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});
