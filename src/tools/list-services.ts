import { createHash } from "node:crypto";
import { z } from "zod";
import { listServices as list, SERVICE_RUNTIMES, type ServicesCursor } from "../inventory/services-list.js";
import { findTargetsOrThrow } from "./targets.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

export const listServices = defineTool({
  name: "list_services",
  title: "List services",
  description:
    "Lists what runs on the fleet in one list: systemd units, Docker containers and Compose stacks, each with its runtime, state and target, filtered by runtime, state, target and stack. Call search_fleet to find something by name across all entities, or get_target for everything on one machine.",
  input: z
    .object({
      runtime: z
        .enum([...SERVICE_RUNTIMES, "all"])
        .default("all")
        .describe("systemd (units), docker (containers), compose (stacks), or all (default)."),
      state: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe(
          "systemd: active or sub state (failed, active, inactive, running, exited); docker: container state (running, exited, restarting); compose: a status word (running, exited).",
        ),
      target: z.string().min(1).max(256).optional().describe("Only this target: id, name (case-insensitive) or IP address."),
      stack: z.string().min(1).max(256).optional().describe("Only this Compose project: the stack itself and its containers (not systemd units)."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(1000).optional().describe("next_cursor from the previous page of the same listing."),
    })
    .strict(),
  output: z.object({
    services: z.array(
      z.object({
        runtime: z.enum(SERVICE_RUNTIMES),
        name: z.string().describe("Unit, container or Compose project name."),
        state: z.string().describe("systemd active/sub, container state, or Compose status."),
        target: z.object({ id: z.string(), name: z.string() }),
        source: z.string(),
        description: z.string().nullable().optional().describe("systemd: the unit's description."),
        enabled: z.string().nullable().optional().describe("systemd: unit file state (enabled, disabled, static, masked)."),
        load: z.string().nullable().optional(),
        active: z.string().nullable().optional(),
        sub: z.string().nullable().optional(),
        image: z.string().optional().describe("docker: image reference."),
        status: z.string().nullable().optional().describe("docker: status text (Up 3 days, Exited (1) ...)."),
        ports: z.string().nullable().optional().describe("docker: published ports."),
        compose_project: z.string().nullable().optional(),
        compose_service: z.string().nullable().optional(),
        config_files: z.array(z.string()).optional().describe("compose: the project's compose files."),
        compose_services: z.array(z.string()).optional().describe("compose: services of the project seen among the target's containers."),
      }),
    ),
    total: z.number().int().describe("Items of the whole listing (a lower bound when total_is_lower_bound)."),
    total_is_lower_bound: z.boolean(),
    next_cursor: z.string().nullable(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db } = ctx.app;
    if (args.stack !== undefined && args.runtime === "systemd") {
      throw new ToolError("stack filters Compose projects and their containers; systemd units have none. Use runtime docker, compose or all with stack.");
    }
    let targetIds: string[] | undefined;
    if (args.target !== undefined) {
      const matches = findTargetsOrThrow(db, args.target);
      // A name several targets share lists all of them: each item names its target.
      targetIds = matches.map((t) => t.id);
    }
    // The cursor carries a fingerprint of the listing, so a cursor is never applied to another one.
    const fingerprint = createHash("sha256")
      .update(JSON.stringify([args.runtime, args.state ?? null, targetIds ?? null, args.stack ?? null]))
      .digest("base64url")
      .slice(0, 12);
    let cursor: ServicesCursor | null = null;
    if (args.cursor) {
      const c = decodeCursor(args.cursor, ["f", "r", "t", "s", "n"]);
      if (c.f !== fingerprint)
        throw new ToolError("This cursor belongs to another listing: pass the same runtime, state, target and stack as before, or omit the cursor.");
      cursor = { r: Number(c.r), t: String(c.t), s: String(c.s), n: String(c.n) };
    }
    const out = list(db, { runtime: args.runtime, state: args.state, targetIds, stack: args.stack, limit: args.limit, cursor });
    return {
      services: out.items.map((i) => ({
        runtime: i.runtime,
        name: i.name,
        state: i.state,
        target: i.target,
        source: i.source,
        ...(i.runtime === "systemd"
          ? { description: i.description ?? null, enabled: i.enabled ?? null, load: i.load ?? null, active: i.active ?? null, sub: i.sub ?? null }
          : {}),
        ...(i.runtime === "docker"
          ? {
              image: i.image ?? "",
              status: i.status ?? null,
              ports: i.ports ?? null,
              compose_project: i.composeProject ?? null,
              compose_service: i.composeService ?? null,
            }
          : {}),
        ...(i.runtime === "compose" ? { config_files: i.configFiles ?? [], compose_services: i.composeServices ?? [] } : {}),
      })),
      total: out.total,
      total_is_lower_bound: out.totalIsLowerBound,
      next_cursor: out.nextCursor ? encodeCursor({ f: fingerprint, ...out.nextCursor }) : null,
    };
  },
  summarize(o) {
    if (o.services.length === 0) return "Nothing matches. Widen the filters, or call run_discovery if the inventory is empty.";
    const by = new Map<string, number>();
    for (const s of o.services) by.set(s.runtime, (by.get(s.runtime) ?? 0) + 1);
    const parts = [...by].map(([r, n]) => `${n} ${r}`).join(", ");
    return `${o.services.length} of ${o.total}${o.total_is_lower_bound ? "+" : ""} (${parts}).${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});
