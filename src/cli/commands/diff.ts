import type { z } from "zod";
import { CHANGE_KINDS, ENTITY_TYPES } from "../../inventory/diff.js";
import { compareSnapshots } from "../../tools/compare-snapshots.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { clean, paint, table, type Output } from "../output.js";
import { allPages, defined, flag, healthText, heading, num, str, strs, withTools } from "../tools.js";

type Result = z.output<typeof compareSnapshots.output>;
type Change = Result["changes"][number];

const FLAGS = { a: "A", b: "B", include_volatile: "--volatile", types: "--type", change: "--change", limit: "--limit", cursor: "--cursor" };

export const diffCommand: Command = {
  name: "diff",
  summary: "What changed between two snapshots, or since a snapshot (default: latest vs live)",
  usage: "fleet-mcp diff [A [B]] [--type T]... [--change C] [--volatile] [--all] [--fail-on-critical] [--json]",
  help: `Compares two inventory states. A and B are each a snapshot id, a snapshot name,
"latest" (the newest snapshot) or "live" (the inventory now); A defaults to latest and
B to live, so \`fleet-mcp diff pre-deploy\` shows everything since that snapshot.
Prints the counts per kind of entity, critical changes (production targets gone, new
ports on production hosts, host key changes, services that failed), targets whose
health dropped, then one row per changed entity with the fields that changed.
Volatile readings (uptime, load, memory and disk use, ...) are left out unless --volatile.

Options:
  --type T             Only list changes of this entity type (repeatable): target | service |
                       container | stack | port | interface | filesystem
  --change C           Only list created | modified | deleted
  --volatile           Count volatile readings as changes too
  --limit N            Rows per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one
  --all                Every changed entity (ignores --limit and --cursor)
  --fail-on-critical   Exit 1 when there are critical changes (for scripts and CI)

Calls the MCP tool compare_snapshots (audited, client fleet-mcp-cli); --json prints its
structured result (with --all: every change, next_cursor null).

Examples:
  fleet-mcp snapshot create --name before && <deploy> && fleet-mcp discover && fleet-mcp diff before
  fleet-mcp diff 3 5 --type service --change modified
  fleet-mcp diff --fail-on-critical --json > changes.json

Exit: 0 compared, 1 a tool error (e.g. no such snapshot) or critical changes with
--fail-on-critical, 2 bad usage or no such database.`,
  options: {
    type: { type: "string", multiple: true },
    change: { type: "string" },
    volatile: { type: "boolean" },
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean" },
    "fail-on-critical": { type: "boolean" },
  },
  async run(ctx) {
    if (ctx.args.length > 2) throw new UsageError(`diff takes at most two sides, A and B (got ${ctx.args.length})`);
    const types = strs(ctx, "type");
    for (const t of types ?? [])
      if (!(ENTITY_TYPES as readonly string[]).includes(t)) throw new UsageError(`--type must be one of ${ENTITY_TYPES.join(", ")} (got ${JSON.stringify(t)})`);
    const change = str(ctx, "change");
    if (change !== undefined && !(CHANGE_KINDS as readonly string[]).includes(change))
      throw new UsageError(`--change must be one of ${CHANGE_KINDS.join(", ")} (got ${JSON.stringify(change)})`);
    const all = flag(ctx, "all") === true;
    if (all && (ctx.values.cursor !== undefined || ctx.values.limit !== undefined))
      throw new UsageError("--all pages through everything: drop --limit/--cursor");
    const args = defined({
      a: ctx.args[0],
      b: ctx.args[1],
      include_volatile: flag(ctx, "volatile"),
      types: types ? [...new Set(types)] : undefined,
      change,
      limit: all ? 200 : num(ctx, "limit"),
      cursor: str(ctx, "cursor"),
    });
    return withTools(ctx, async (s) => {
      let r: Result;
      if (all) {
        const { first, items } = await allPages(
          (cursor) => s.call(compareSnapshots, defined({ ...args, cursor }), FLAGS),
          (p) => p.changes,
        );
        r = { ...first, changes: items, next_cursor: null };
      } else {
        r = await s.call(compareSnapshots, args, FLAGS);
      }
      if (ctx.out.json) ctx.out.printJson(r);
      else ctx.out.print(render(ctx.out, r));
      return ctx.values["fail-on-critical"] === true && r.critical.total > 0 ? EXIT.PROBLEM : EXIT.OK;
    });
  },
};

function side(s: Result["a"]): string {
  return s.id === null ? `live (${clean(s.captured_at)})` : `snapshot ${s.id} "${clean(s.name)}" (${clean(s.captured_at)})`;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return "-";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function fieldsText(c: Change): string {
  return c.fields.map((f) => `${f.field}: ${value(f.before)} -> ${value(f.after)}`).join("; ");
}

function render(out: Output, r: Result): string {
  const lines = [heading(out, `${side(r.a)} -> ${side(r.b)}`)];
  if (r.summary.total === 0 && r.critical.total === 0 && r.health_impact.targets_dropped === 0) {
    lines.push(`No changes${r.include_volatile ? "" : " (volatile readings ignored; --volatile counts them)"}.`);
    return lines.join("\n");
  }
  const bc = r.summary.by_change;
  lines.push(
    `${r.summary.total} change(s): ${paint(out, "green", `${bc.created} created`)}, ${paint(out, "yellow", `${bc.modified} modified`)}, ${paint(out, "red", `${bc.deleted} deleted`)}`,
  );
  const perType = ENTITY_TYPES.flatMap((t) => {
    const c = r.summary.by_type[t];
    const bits = CHANGE_KINDS.filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
    return bits.length ? [`  ${t}: ${bits.join(", ")}`] : [];
  });
  lines.push(...perType);
  if (r.critical.total) {
    lines.push("", paint(out, "red", heading(out, `Critical (${r.critical.total}):`)));
    const w = Math.max(...r.critical.items.map((c) => c.kind.length));
    for (const c of r.critical.items) lines.push(`  ${paint(out, "red", clean(c.kind).padEnd(w))}  ${clean(c.message)}`);
    if (r.critical.total > r.critical.items.length)
      lines.push(`  ... ${r.critical.total - r.critical.items.length} more (--json has the first ${r.critical.items.length})`);
  }
  if (r.health_impact.targets_dropped) {
    lines.push("", heading(out, `Health dropped on ${r.health_impact.targets_dropped} target(s):`));
    for (const h of r.health_impact.items)
      lines.push(
        `  ${clean(h.target_name)}: ${healthText(h.before)} -> ${paint(out, "red", healthText(h.after))}${h.new_issues.length ? ` (${h.new_issues.map((i) => clean(i.message)).join("; ")})` : ""}`,
      );
  }
  if (r.changes.length) {
    lines.push(
      "",
      table<Change>(
        out,
        [
          {
            header: "CHANGE",
            value: (c) => c.change,
            style: (c) => (c.change === "created" ? "green" : c.change === "deleted" ? "red" : "yellow"),
          },
          { header: "TYPE", value: (c) => c.type },
          { header: "TARGET", value: (c) => c.target_name, max: 32 },
          { header: "ENTITY", value: (c) => c.entity, max: 48 },
          { header: "FIELDS", value: fieldsText, max: 100 },
        ],
        r.changes,
      ),
    );
  }
  lines.push("", `${r.changes.length} of ${r.matching} listed change(s)${r.next_cursor ? `; next page: --cursor ${r.next_cursor} (or --all)` : ""}`);
  return lines.join("\n");
}
