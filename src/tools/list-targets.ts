import { z } from "zod";
import { ROLES } from "../config.js";
import { HEALTH_CODES, HEALTH_SEVERITIES } from "../inventory/health.js";
import { LIFECYCLES, listTargets, resolveParents, TARGET_SORTS, type TargetListItem } from "../inventory/targets-list.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

const Issue = z.object({ code: z.enum(HEALTH_CODES), severity: z.enum(HEALTH_SEVERITIES), message: z.string(), deduction: z.number() });

export const listTargetsTool = defineTool({
  name: "list_targets",
  title: "List targets",
  description:
    "Lists machines filtered by kind, role, lifecycle, tag, parent, OS, health below a threshold, time since last reached, or text in name or address, sorted by name, health, last seen or kind, with each target's role, health score and top issue; retired targets appear only when lifecycle is retired. Pass next_cursor back for the next page, call get_target for one target's details and run_health_check to refresh scores.",
  input: z
    .object({
      kind: z.enum(["host", "proxmox_node", "lxc", "vm"]).optional().describe("Only targets of this kind."),
      role: z.enum(ROLES).optional().describe("Only targets with this role (unassigned: no role)."),
      lifecycle: z.enum(LIFECYCLES).optional().describe("Only targets in this lifecycle state. Default: all but retired."),
      tag: z.string().min(1).max(64).optional().describe("Only targets carrying this tag (exact)."),
      parent: z.string().min(1).max(256).optional().describe("Only guests of this parent (a Proxmox node): its id or name."),
      os: z.string().min(1).max(128).optional().describe("OS id (e.g. debian, alpine) or a part of the OS name (e.g. 'Ubuntu 24')."),
      health_below: z.number().min(0).max(1).optional().describe("Only targets whose health score is below this (0-1); unscored targets are left out."),
      unseen_hours: z.number().min(0).max(87_600).optional().describe("Only targets no source has reached for at least this many hours."),
      text: z.string().min(1).max(253).optional().describe("Substring of the name or address (case-insensitive for ASCII)."),
      sort: z.enum(TARGET_SORTS).default("name").describe("Sort key: name, health (score), last_seen or kind (then name)."),
      order: z.enum(["asc", "desc"]).default("asc").describe("asc (default) or desc. Unscored / never seen targets come last either way."),
      detail: z.enum(["brief", "full"]).default("brief").describe("full adds tags, role source, CPU, memory, disk and every health issue."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(1000).optional().describe("next_cursor from the previous page (same filters and sort)."),
    })
    .strict(),
  output: z.object({
    total: z.number().int().describe("Targets matching the filters (all pages)."),
    items: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        kind: z.string(),
        role: z.string(),
        lifecycle: z.string(),
        address: z.string().nullable(),
        os: z.string().nullable(),
        health_score: z.number().nullable().describe("0.0-1.0; null until the first health check."),
        top_issue: Issue.nullable().describe("The issue that took most off the score."),
        last_seen_at: z.string().nullable(),
        parent: z.object({ id: z.string(), name: z.string() }).nullable(),
        tags: z.array(z.string()).optional(),
        role_source: z.string().nullable().optional(),
        role_reason: z.string().nullable().optional(),
        cpu_count: z.number().int().nullable().optional(),
        memory_total_bytes: z.number().int().nullable().optional(),
        memory_available_bytes: z.number().int().nullable().optional(),
        disk_total_bytes: z.number().int().nullable().optional(),
        disk_used_bytes: z.number().int().nullable().optional(),
        health_checked_at: z.string().nullable().optional(),
        issues: z.array(Issue).optional(),
      }),
    ),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db } = ctx.app;
    const desc = args.order === "desc";
    let after: { value: string | number; id: string } | undefined;
    if (args.cursor) {
      const c = decodeCursor(args.cursor, ["s", "o", "v", "i"]);
      if (c.s !== args.sort || c.o !== args.order) {
        throw new ToolError(`This cursor belongs to a list sorted by ${c.s} ${c.o}: call again with that sort and order, or omit the cursor to start over.`);
      }
      after = { value: c.v!, id: String(c.i) };
    }
    let parentIds: string[] | undefined;
    if (args.parent) {
      parentIds = resolveParents(db, args.parent).map((p) => p.id);
      if (parentIds.length === 0)
        throw new ToolError(`No target "${args.parent}" to list the guests of. Call list_targets with kind proxmox_node to find the nodes.`);
    }
    const page = listTargets(db, {
      filter: {
        ...(args.kind ? { kind: args.kind } : {}),
        ...(args.role ? { role: args.role } : {}),
        ...(args.lifecycle ? { lifecycle: args.lifecycle } : {}),
        ...(args.tag ? { tag: args.tag } : {}),
        ...(parentIds ? { parentIds } : {}),
        ...(args.os ? { os: args.os } : {}),
        ...(args.health_below !== undefined ? { healthBelow: args.health_below } : {}),
        ...(args.unseen_hours !== undefined ? { unseenSince: new Date(ctx.app.now().getTime() - args.unseen_hours * 3600_000) } : {}),
        ...(args.text ? { text: args.text } : {}),
      },
      sort: args.sort,
      desc,
      limit: args.limit,
      ...(after ? { after } : {}),
    });
    const full = args.detail === "full";
    return {
      total: page.total,
      items: page.items.map((t) => item(t, full)),
      next_cursor: page.next ? encodeCursor({ s: args.sort, o: args.order, v: page.next.value, i: page.next.id }) : null,
    };
  },
  summarize(o) {
    if (o.total === 0) return "No target matches. Loosen the filters, or call run_discovery if the inventory is empty.";
    const shown = o.items
      .slice(0, 5)
      .map((t) => `${t.name} (${t.health_score ?? "?"})`)
      .join(", ");
    return `${o.total} target(s) match; showing ${o.items.length}: ${shown}${o.items.length > 5 ? ", ..." : ""}.${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});

function item(t: TargetListItem, full: boolean) {
  const brief = {
    id: t.id,
    name: t.name,
    kind: t.kind,
    role: t.role,
    lifecycle: t.lifecycle,
    address: t.address,
    os: t.os,
    health_score: t.healthScore,
    top_issue: t.issues[0] ?? null,
    last_seen_at: t.lastSeenAt,
    parent: t.parent,
  };
  if (!full) return brief;
  return {
    ...brief,
    tags: t.tags,
    role_source: t.roleSource,
    role_reason: t.roleReason,
    cpu_count: whole(t.cpuCount),
    memory_total_bytes: whole(t.memTotalBytes),
    memory_available_bytes: whole(t.memAvailableBytes),
    disk_total_bytes: whole(t.diskTotalBytes),
    disk_used_bytes: whole(t.diskUsedBytes),
    health_checked_at: t.healthCheckedAt,
    issues: t.issues,
  };
}

/** Byte and CPU counts are whole numbers; a source that sent a fraction must not fail the whole listing. */
function whole(n: number | null): number | null {
  return n === null ? null : Math.round(n);
}
