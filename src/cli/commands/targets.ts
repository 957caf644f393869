import type { z } from "zod";
import { listTargetsTool } from "../../tools/list-targets.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { ago, table, type Output } from "../output.js";
import { allPages, defined, flag, healthStyle, healthText, lifecycleStyle, num, str, withTools } from "../tools.js";

type Item = z.output<typeof listTargetsTool.output>["items"][number];

const FLAGS = {
  kind: "--kind",
  role: "--role",
  lifecycle: "--lifecycle",
  tag: "--tag",
  parent: "--parent",
  os: "--os",
  health_below: "--health-below",
  unseen_hours: "--unseen-hours",
  text: "TEXT",
  sort: "--sort",
  order: "--desc",
  limit: "--limit",
  cursor: "--cursor",
};

export const targetsCommand: Command = {
  name: "targets",
  summary: "List targets with their role, lifecycle and health (filters, paging)",
  usage: "fleet-mcp targets [TEXT] [--kind K] [--role R] [--lifecycle L] [--tag T] [--health-below N] [--limit N | --all] [--json]",
  help: `One row per machine: NAME KIND ROLE LIFECYCLE HEALTH OS ADDRESS LAST SEEN, sorted by name.
Health is the stored score (0.00-1.00: green >= 0.90, yellow >= 0.60, red below;
\`fleet-mcp health\` recomputes it). Retired targets appear only with --lifecycle retired.

Options:
  TEXT                 Only names or addresses containing TEXT (case-insensitive)
  --kind K             host | proxmox_node | lxc | vm
  --role R             production | staging | development | testing | lab | monitoring |
                       gateway | unassigned
  --lifecycle L        discovered | active | unreachable | stale | retired
  --tag T              Only targets carrying tag T
  --parent NODE        Only guests of this Proxmox node (id or name)
  --os OS              OS id (debian, alpine) or part of the OS name ("Ubuntu 24")
  --health-below N     Only targets scored below N (0-1), e.g. 0.6 for the unhealthy ones
  --unseen-hours N     Only targets no source has reached for N hours or more
  --sort KEY           name (default) | health | last_seen | kind
  --desc               Sort descending
  --limit N            Rows per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one
  --all                Every page (ignores --limit and --cursor)

Calls the MCP tool list_targets (audited, client fleet-mcp-cli); --json prints its
structured result ({total, items, next_cursor}; with --all every item, next_cursor null).

Examples:
  fleet-mcp targets --role production --health-below 0.9
  fleet-mcp targets --lifecycle unreachable --all
  fleet-mcp targets web --json | jq -r '.items[].address'

Exit: 0 listed (also when nothing matches), 1 a tool error (e.g. a bad cursor or
unknown --parent), 2 bad usage or no such database.`,
  options: {
    kind: { type: "string" },
    role: { type: "string" },
    lifecycle: { type: "string" },
    tag: { type: "string" },
    parent: { type: "string" },
    os: { type: "string" },
    "health-below": { type: "string" },
    "unseen-hours": { type: "string" },
    sort: { type: "string" },
    desc: { type: "boolean" },
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean" },
  },
  async run(ctx) {
    if (ctx.args.length > 1) throw new UsageError(`targets takes at most one TEXT to match names and addresses (got ${JSON.stringify(ctx.args.join(" "))})`);
    const all = flag(ctx, "all") === true;
    if (all && (ctx.values.cursor !== undefined || ctx.values.limit !== undefined))
      throw new UsageError("--all pages through everything: drop --limit/--cursor");
    const args = defined({
      kind: str(ctx, "kind"),
      role: str(ctx, "role"),
      lifecycle: str(ctx, "lifecycle"),
      tag: str(ctx, "tag"),
      parent: str(ctx, "parent"),
      os: str(ctx, "os"),
      health_below: num(ctx, "health-below"),
      unseen_hours: num(ctx, "unseen-hours"),
      text: ctx.args[0],
      sort: str(ctx, "sort"),
      order: flag(ctx, "desc") ? "desc" : undefined,
      limit: all ? 200 : num(ctx, "limit"),
      cursor: str(ctx, "cursor"),
    });
    return withTools(ctx, async (s) => {
      if (all) {
        const { first, items } = await allPages(
          (cursor) => s.call(listTargetsTool, defined({ ...args, cursor }), FLAGS),
          (p) => p.items,
        );
        if (ctx.out.json) ctx.out.printJson({ total: first.total, items, next_cursor: null });
        else ctx.out.print(render(ctx.out, items, first.total, null));
        return EXIT.OK;
      }
      const page = await s.call(listTargetsTool, args, FLAGS);
      if (ctx.out.json) ctx.out.printJson(page);
      else ctx.out.print(render(ctx.out, page.items, page.total, page.next_cursor));
      return EXIT.OK;
    });
  },
};

function render(out: Output, items: Item[], total: number, next: string | null): string {
  if (total === 0) return "No target matches. Loosen the filters, or run `fleet-mcp discover` if the inventory is empty.";
  const rows = table<Item>(
    out,
    [
      { header: "NAME", value: (t) => t.name, max: 40 },
      { header: "KIND", value: (t) => t.kind },
      { header: "ROLE", value: (t) => t.role },
      { header: "LIFECYCLE", value: (t) => t.lifecycle, style: (t) => lifecycleStyle(t.lifecycle) },
      { header: "HEALTH", value: (t) => healthText(t.health_score), align: "right", style: (t) => healthStyle(t.health_score) },
      { header: "OS", value: (t) => t.os, max: 32 },
      { header: "ADDRESS", value: (t) => t.address, max: 40 },
      { header: "LAST SEEN", value: (t) => ago(t.last_seen_at) },
    ],
    items,
  );
  const foot = `${items.length} of ${total} target(s)${next ? `; next page: --cursor ${next} (or --all)` : ""}`;
  return `${rows}\n\n${foot}`;
}
