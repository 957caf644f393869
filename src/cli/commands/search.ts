import type { z } from "zod";
import { SEARCH_ENTITY_TYPES } from "../../inventory/search.js";
import { searchFleet } from "../../tools/search-fleet.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { clean, table, type Output } from "../output.js";
import { defined, flag, heading, lifecycleStyle, num, str, withTools } from "../tools.js";

type Result = z.output<typeof searchFleet.output>;
type Match = Result["matches"][number];

const FLAGS = { query: "QUERY", entity_type: "--type", include_retired: "--include-retired", limit: "--limit", cursor: "--cursor" };

const GROUP_TITLES: Record<string, string> = {
  target: "Targets",
  service: "Services",
  container: "Containers",
  stack: "Compose stacks",
  port: "Listening ports",
};

export const searchCommand: Command = {
  name: "search",
  summary: "Search targets, services, containers, stacks and ports",
  usage: "fleet-mcp search QUERY... [--type T] [--include-retired] [--limit N] [--cursor C] [--json]",
  help: `Words are AND-ed, case-insensitive, and words of 3+ characters match as prefixes;
filters narrow exactly: port:443 image:nginx state:failed role:production os:alpine
node:pve1 tag:web kind:lxc type:service lifecycle:retired. Results are grouped by kind
(targets, services, containers, stacks, ports), best first within each group.

Options:
  QUERY...             Words and filters (several arguments are joined with spaces)
  --type T             Only target | service | container | stack | port (same as type:T)
  --include-retired    Also match retired targets and what ran on them
  --limit N            Matches per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one

Calls the MCP tool search_fleet (audited, client fleet-mcp-cli); --json prints its
structured result ({matches, total, next_cursor, interpreted, notes}).

Examples:
  fleet-mcp search nginx
  fleet-mcp search state:failed role:production
  fleet-mcp search port:5432 --json | jq -r '.matches[].target.name'

Exit: 0 searched (also when nothing matches), 1 a tool error (e.g. a query it cannot
read, a bad cursor), 2 bad usage or no such database.`,
  options: { type: { type: "string" }, "include-retired": { type: "boolean" }, limit: { type: "string" }, cursor: { type: "string" } },
  async run(ctx) {
    const query = ctx.args.join(" ").trim();
    if (!query) throw new UsageError(`search needs a QUERY, e.g. \`fleet-mcp search nginx\` or \`fleet-mcp search port:443\``);
    const type = str(ctx, "type");
    if (type !== undefined && !(SEARCH_ENTITY_TYPES as readonly string[]).includes(type))
      throw new UsageError(`--type must be one of ${SEARCH_ENTITY_TYPES.join(", ")} (got ${JSON.stringify(type)})`);
    const args = defined({
      query,
      entity_type: type,
      include_retired: flag(ctx, "include-retired"),
      limit: num(ctx, "limit"),
      cursor: str(ctx, "cursor"),
    });
    return withTools(ctx, async (s) => {
      const r = await s.call(searchFleet, args, FLAGS);
      if (ctx.out.json) ctx.out.printJson(r);
      else ctx.out.print(render(ctx.out, r));
      return EXIT.OK;
    });
  },
};

/** A few of the entity's fields, as "key=value". */
function details(m: Match): string {
  return Object.entries(m.fields)
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
}

function render(out: Output, r: Result): string {
  const total = `${r.total}${r.total_is_lower_bound ? "+" : ""}`;
  const lines: string[] = [];
  if (r.matches.length === 0) {
    lines.push(r.next_cursor ? "No matches on this page." : "No matches.");
  } else {
    const order = [...new Set(r.matches.map((m) => m.type))].sort((a, b) => SEARCH_ENTITY_TYPES.indexOf(a) - SEARCH_ENTITY_TYPES.indexOf(b));
    for (const type of order) {
      const group = r.matches.filter((m) => m.type === type);
      if (lines.length) lines.push("");
      lines.push(heading(out, `${GROUP_TITLES[type] ?? type} (${group.length}):`));
      lines.push(
        type === "target"
          ? table<Match>(
              out,
              [
                { header: "NAME", value: (m) => m.name, max: 40 },
                { header: "KIND", value: (m) => m.target.kind },
                { header: "ROLE", value: (m) => m.target.role },
                { header: "LIFECYCLE", value: (m) => m.state, style: (m) => lifecycleStyle(m.state ?? "") },
                { header: "DETAILS", value: details, max: 80 },
              ],
              group,
            )
          : table<Match>(
              out,
              [
                { header: "NAME", value: (m) => m.name, max: 48 },
                { header: "STATE", value: (m) => m.state, style: (m) => (/failed|exited|unhealthy|restarting/.test(m.state ?? "") ? "red" : undefined) },
                { header: "TARGET", value: (m) => m.target.name, max: 40 },
                { header: "SOURCE", value: (m) => m.source },
                { header: "DETAILS", value: details, max: 80 },
              ],
              group,
            ),
      );
    }
  }
  lines.push("", `${r.matches.length} of ${total} match(es)${r.next_cursor ? `; next page: --cursor ${r.next_cursor}` : ""}`);
  for (const n of r.notes) lines.push(`note: ${clean(n)}`);
  return lines.join("\n");
}
