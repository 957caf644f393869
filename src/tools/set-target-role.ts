import { z } from "zod";
import { ROLES } from "../config.js";
import type { Db } from "../db/open.js";
import { setTargetRole } from "../inventory/roles.js";
import { resolveOneTarget } from "./targets.js";
import { defineTool, ToolError } from "./tool.js";

const Decision = z.object({
  role: z.enum(ROLES),
  source: z
    .enum(["manual", "config", "rule"])
    .nullable()
    .describe("manual: set_target_role; config: the host entry; rule: a config role rule; null: unassigned."),
  reason: z.string().nullable(),
});

export const setTargetRoleTool = defineTool({
  name: "set_target_role",
  title: "Set a target's role",
  description:
    "Sets the role of one target (production, staging, development, testing, lab, monitoring, gateway or unassigned) by hand, which wins over config host entries and role rules until cleared with clear: true; every change is recorded as a role_changed event. Call list_targets with role to see targets by role, or get_change_events with types [role_changed] for the history.",
  input: z
    .object({
      target: z.string().min(1).max(256).describe("Target id (e.g. h-3fa9c1d2e4b5), name (case-insensitive) or IP address."),
      role: z.enum(ROLES).optional().describe("The role to set by hand. Give either role or clear."),
      clear: z.boolean().optional().describe("true: drop the manual role; the target returns to the role its config host entry or the role rules give."),
    })
    .strict(),
  output: z.object({
    target: z.object({ id: z.string(), name: z.string() }),
    before: Decision,
    after: Decision,
    changed: z.boolean().describe("false when the target already had this role from this source (nothing was written)."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db, config } = ctx.app;
    if ((args.role === undefined) === (args.clear !== true)) {
      throw new ToolError(
        args.role !== undefined
          ? "Give either `role` or `clear: true`, not both."
          : `Give a \`role\` (one of ${ROLES.join(", ")}) or \`clear: true\` to return to the configured role.`,
      );
    }
    const target = resolveOneTarget(db, args.target);
    const res = setTargetRole(db, config.roles, target.id, args.role ?? null, { now: ctx.app.now() });
    if (!res) throw new ToolError(`Target ${target.id} was removed meanwhile. Call list_targets.`);
    return { target: res.target, before: res.before, after: res.after, changed: res.changed };
  },
  summarize(o) {
    const from = (d: { role: string; source: string | null; reason: string | null }) =>
      `${d.role}${d.source ? ` (${d.source}${d.reason ? `: ${d.reason}` : ""})` : ""}`;
    if (!o.changed) return `${o.target.name} already has role ${from(o.after)}; nothing changed.`;
    return `${o.target.name}: role ${from(o.before)} -> ${from(o.after)}.`;
  },
});
