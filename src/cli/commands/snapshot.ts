import { SNAPSHOT_TYPES } from "../../inventory/snapshots.js";
import { createSnapshot } from "../../tools/create-snapshot.js";
import { listSnapshotsTool } from "../../tools/list-snapshots.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { ago, clean, table } from "../output.js";
import { bytes, defined, healthStyle, healthText, num, str, strs, withTools } from "../tools.js";

export const snapshotCommand: Command = {
  name: "snapshot",
  summary: "Take a snapshot of the inventory (snapshot create) or list them (snapshot list)",
  usage:
    "fleet-mcp snapshot create [--name N] [--description D] [--tag T]... [--type T]\n       fleet-mcp snapshot list [--type T] [--limit N] [--cursor C] [--json]",
  help: `A snapshot is a point-in-time copy of the whole inventory (targets, services,
containers, stacks, ports, interfaces, filesystems), e.g. before a deployment.
\`fleet-mcp diff\` compares two of them, or one with the inventory now.

snapshot create — takes one (and applies the retention policy, config snapshots.*):
  --name N             Unique name, e.g. pre-deploy-2026-11-23 (default: <type>-<time>);
                       not all digits, not "latest" or "live"
  --description D      Why it was taken
  --tag T              A label to find it by later (repeatable)
  --type T             manual (default) | scheduled | pre_deployment | post_deployment | auto

snapshot list — newest first:
  --type T             Only snapshots of this type
  --limit N            Rows per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one

Calls the MCP tools create_snapshot / list_snapshots (audited, client fleet-mcp-cli);
--json prints their structured result.

Examples:
  fleet-mcp snapshot create --name pre-deploy --description "before the nginx upgrade"
  fleet-mcp snapshot list
  fleet-mcp diff pre-deploy            # later: what changed since

Exit: 0 done, 1 a tool error (e.g. the name is taken), 2 bad usage or no such database.`,
  options: {
    name: { type: "string" },
    description: { type: "string" },
    tag: { type: "string", multiple: true },
    type: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
  },
  subcommands: ["create", "list"],
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    if ((sub !== "create" && sub !== "list") || rest.length > 0) {
      throw new UsageError(`unknown snapshot command ${JSON.stringify(ctx.args.join(" "))}; use \`fleet-mcp snapshot create\` or \`fleet-mcp snapshot list\``);
    }
    const type = str(ctx, "type");
    if (type !== undefined && !(SNAPSHOT_TYPES as readonly string[]).includes(type))
      throw new UsageError(`--type must be one of ${SNAPSHOT_TYPES.join(", ")} (got ${JSON.stringify(type)})`);
    if (sub === "create") {
      for (const o of ["limit", "cursor"]) if (ctx.values[o] !== undefined) throw new UsageError(`--${o} goes with \`snapshot list\``);
      const args = defined({ name: str(ctx, "name"), description: str(ctx, "description"), tags: strs(ctx, "tag"), type });
      return withTools(ctx, async (s) => {
        const o = await s.call(createSnapshot, args, { tags: "--tag" });
        if (ctx.out.json) {
          ctx.out.printJson(o);
          return EXIT.OK;
        }
        const lines = [
          `Snapshot ${o.id} "${clean(o.name)}" (${o.type}): ${o.target_count} target(s), ${o.entity_count} entities, ${bytes(o.size_bytes)}, mean health ${healthText(o.health_mean)}`,
        ];
        if (o.retention.deleted_ids.length)
          lines.push(
            `Retention removed ${o.retention.deleted_ids.length} older snapshot(s)${o.retention.archived_files ? ` (${o.retention.archived_files} archived)` : ""}: ${o.retention.deleted_ids.join(", ")}`,
          );
        if (o.retention.error) lines.push(`Retention failed (the snapshot is stored): ${clean(o.retention.error)}`);
        ctx.out.print(lines.join("\n"));
        return EXIT.OK;
      });
    }
    for (const o of ["name", "description", "tag"]) if (ctx.values[o] !== undefined) throw new UsageError(`--${o} goes with \`snapshot create\``);
    const args = defined({ type, limit: num(ctx, "limit"), cursor: str(ctx, "cursor") });
    return withTools(ctx, async (s) => {
      const page = await s.call(listSnapshotsTool, args);
      if (ctx.out.json) {
        ctx.out.printJson(page);
        return EXIT.OK;
      }
      if (page.total === 0) {
        ctx.out.print("No snapshots yet. Take one with `fleet-mcp snapshot create`.");
        return EXIT.OK;
      }
      const rows = table(
        ctx.out,
        [
          { header: "ID", value: (x) => x.id, align: "right" },
          { header: "NAME", value: (x) => x.name, max: 40 },
          { header: "TYPE", value: (x) => x.type },
          { header: "CREATED", value: (x) => `${x.created_at} (${ago(x.created_at)})` },
          { header: "TARGETS", value: (x) => x.target_count, align: "right" },
          { header: "ENTITIES", value: (x) => x.entity_count, align: "right" },
          { header: "HEALTH", value: (x) => healthText(x.health_mean), align: "right", style: (x) => healthStyle(x.health_mean) },
          { header: "SIZE", value: (x) => bytes(x.size_bytes), align: "right" },
          { header: "TAGS", value: (x) => x.tags.join(","), max: 30 },
          { header: "DESCRIPTION", value: (x) => x.description, max: 50 },
        ],
        page.snapshots,
      );
      ctx.out.print(`${rows}\n\n${page.snapshots.length} of ${page.total} snapshot(s)${page.next_cursor ? `; next page: --cursor ${page.next_cursor}` : ""}`);
      return EXIT.OK;
    });
  },
};
