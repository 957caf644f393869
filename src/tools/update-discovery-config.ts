import { z } from "zod";
import { ConfigUpdateError, updateConfigFile } from "../app/config-store.js";
import { ConfigViewSchema } from "./get-discovery-config.js";
import { defineTool, ToolError } from "./tool.js";

const Obj = z.record(z.string(), z.unknown());

export const updateDiscoveryConfig = defineTool({
  name: "update_discovery_config",
  title: "Update the discovery configuration",
  description:
    "Changes sources (add or replace by id, remove by id), role rules, health thresholds, the snapshot policy or lifecycle, validated like the config file, written to it atomically and applied to the running server without a restart; secrets stay in environment variables named by *_env fields, and dry_run shows the diff without writing. Call get_discovery_config first to see the current settings, and run_discovery afterwards to discover with the new sources.",
  input: z
    .object({
      upsert_sources: z
        .array(Obj)
        .max(100)
        .optional()
        .describe(
          'Source objects exactly as in the config file\'s "sources" (e.g. {"kind":"ssh","id":"lab","hosts":[{"address":"10.0.0.5"}],"auth":{"password_env":"LAB_SSH_PASSWORD"}}): replaces the source with the same id (id defaults to the kind), otherwise added. Secrets only as environment variable names; that variable must be set for the server.',
        ),
      remove_sources: z
        .array(z.string().min(1).max(63))
        .max(100)
        .optional()
        .describe("Ids of sources to remove (applied before upsert_sources). Their inventory stays; its targets go stale then retired."),
      roles: z
        .array(Obj)
        .max(1000)
        .optional()
        .describe('Replaces the role rules, in order (first match wins), e.g. [{"role":"production","name":"web-*"},{"role":"lab","tag":"lab"}].'),
      health: Obj.optional().describe('Merged into the health thresholds, e.g. {"filesystem_warning_pct":85}; a null value restores that key\'s default.'),
      snapshots: Obj.optional().describe('Merged into the snapshot policy, e.g. {"auto":true,"retention_days":30}; a null value restores that key\'s default.'),
      lifecycle: Obj.optional().describe(
        'Merged into lifecycle, e.g. {"stale_after_hours":48,"retire_after_days":30}; a null value restores that key\'s default.',
      ),
      dry_run: z.boolean().default(false).describe("Validate and return the diff without writing the file or changing the running server."),
    })
    .strict(),
  output: z.object({
    config_file: z.string(),
    dry_run: z.boolean(),
    written: z.boolean().describe("The file was rewritten (false for dry_run or when nothing changed)."),
    changes: z
      .array(
        z.object({ path: z.string().describe("e.g. sources[lab], health.filesystem_warning_pct, roles[0].role"), before: z.unknown(), after: z.unknown() }),
      )
      .describe("Differences of the effective configuration (secrets masked); empty when nothing changed."),
    before: ConfigViewSchema,
    after: ConfigViewSchema,
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const changes = {
      ...(args.upsert_sources ? { upsertSources: args.upsert_sources } : {}),
      ...(args.remove_sources ? { removeSources: args.remove_sources } : {}),
      ...(args.roles ? { roles: args.roles } : {}),
      ...(args.health ? { health: args.health } : {}),
      ...(args.snapshots ? { snapshots: args.snapshots } : {}),
      ...(args.lifecycle ? { lifecycle: args.lifecycle } : {}),
    };
    if (Object.keys(changes).length === 0) {
      throw new ToolError(
        "No change given. Pass upsert_sources, remove_sources, roles, health, snapshots or lifecycle (get_discovery_config shows the current values).",
      );
    }
    try {
      const r = updateConfigFile(ctx.app, changes, { dryRun: args.dry_run });
      if (r.written) ctx.app.log.info("config file updated", { config_file: r.configFile, changed: r.changes.map((c) => c.path) });
      return { config_file: r.configFile, dry_run: args.dry_run, written: r.written, changes: r.changes, before: r.before, after: r.after };
    } catch (err) {
      if (err instanceof ConfigUpdateError) throw new ToolError(err.message);
      throw err;
    }
  },
  summarize(o) {
    if (o.changes.length === 0) return `No change: ${o.config_file} already holds this configuration.`;
    const paths = o.changes.slice(0, 8).map((c) => c.path);
    const more = o.changes.length > 8 ? ` and ${o.changes.length - 8} more` : "";
    return o.dry_run
      ? `Dry run: ${o.changes.length} change(s) would be made (${paths.join(", ")}${more}); nothing was written.`
      : `${o.changes.length} change(s) ${o.written ? `written to ${o.config_file} and ` : `(already in ${o.config_file}) `}applied (${paths.join(", ")}${more}). Call run_discovery to use the new sources.`;
  },
});
