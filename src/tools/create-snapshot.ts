import { z } from "zod";
import { ENTITY_TYPES } from "../inventory/diff.js";
import { applySnapshotRetention, SNAPSHOT_TYPES, SnapshotNameError, takeSnapshot } from "../inventory/snapshots.js";
import { snapshotView } from "./list-snapshots.js";
import { defineTool, ToolError } from "./tool.js";

export const createSnapshot = defineTool({
  name: "create_snapshot",
  title: "Create a snapshot",
  description:
    "Stores a point-in-time copy of the whole inventory (targets, services, containers, stacks, ports, interfaces, filesystems), e.g. before a deployment, and applies the snapshot retention policy. Call compare_snapshots with its id or name against `live` or another snapshot to see what changed.",
  input: z
    .object({
      name: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .describe("Unique name, e.g. pre-deploy-2026-11-23; not all digits, not `latest` or `live`. Default: <type>-<ISO time>."),
      description: z.string().max(2000).optional().describe("Why the snapshot was taken."),
      type: z.enum(SNAPSHOT_TYPES).default("manual").describe("manual (default), scheduled, pre_deployment, post_deployment or auto."),
      tags: z.array(z.string().min(1).max(64)).max(20).optional().describe("Labels for finding the snapshot later."),
    })
    .strict(),
  output: z.object({
    id: z.number().int(),
    name: z.string(),
    type: z.string(),
    description: z.string().nullable(),
    tags: z.array(z.string()),
    created_at: z.string(),
    target_count: z.number().int(),
    entity_count: z.number().int().describe("Targets plus every service, container, stack, port, interface and filesystem."),
    counts: z.object(Object.fromEntries(ENTITY_TYPES.map((t) => [t, z.number().int()])) as Record<(typeof ENTITY_TYPES)[number], z.ZodNumber>),
    health_mean: z.number().nullable().describe("Mean health score of the targets not retired that have one."),
    size_bytes: z.number().int().describe("Compressed size stored."),
    retention: z.object({
      deleted_ids: z.array(z.number().int()).describe("Older snapshots that left the database under the retention policy."),
      archived_files: z.number().int().describe("Of those, how many were written to the archive directory first."),
      error: z.string().nullable().describe("Why retention could not run this time; the new snapshot is stored regardless."),
    }),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx) {
    const { app } = ctx;
    const now = app.now();
    let snap;
    try {
      snap = takeSnapshot(app.db, {
        ...(args.name !== undefined ? { name: args.name } : {}),
        description: args.description ?? null,
        type: args.type,
        tags: args.tags ?? [],
        now,
      });
    } catch (err) {
      if (err instanceof SnapshotNameError) throw new ToolError(`${err.message} list_snapshots shows the names in use.`);
      throw err;
    }
    let retention = { deleted_ids: [] as number[], archived_files: 0, error: null as string | null };
    try {
      const r = applySnapshotRetention(app.db, app.config.snapshots, now);
      retention = { deleted_ids: r.deleted, archived_files: r.archived.length, error: null };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      app.log.warn("snapshot retention failed; expired snapshots stay in the database", { error: message, archive_dir: app.config.snapshots.archiveDir });
      retention.error = message;
    }
    // The snapshot view list_snapshots shows, without run_id (a manual snapshot follows no run), plus what only creation tells.
    const { run_id: _runId, ...view } = snapshotView(snap);
    return { ...view, counts: snap.counts, retention };
  },
  summarize(o) {
    const expired = o.retention.deleted_ids.length
      ? ` Retention removed ${o.retention.deleted_ids.length} older snapshot(s)${o.retention.archived_files ? ` (${o.retention.archived_files} archived)` : ""}.`
      : "";
    const failed = o.retention.error ? ` Retention failed: ${o.retention.error}` : "";
    return `Snapshot ${o.id} "${o.name}" (${o.type}): ${o.target_count} targets, ${o.entity_count} entities, ${(o.size_bytes / 1024).toFixed(1)} KiB.${expired}${failed}`;
  },
});
