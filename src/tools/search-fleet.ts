import { z } from "zod";
import { SEARCH_ENTITY_TYPES, SearchInputError, searchFleet as search, type SearchCursor } from "../inventory/search.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

const FieldValue = z.union([z.string(), z.number(), z.null()]);

export const searchFleet = defineTool({
  name: "search_fleet",
  title: "Search the fleet",
  description:
    "Finds targets, systemd services, containers, Compose stacks and listening ports by words (ranked, prefix-matched) and exact filters in the query: port:443, image:nginx, state:failed, role:production, os:alpine, node:pve1, tag:web, kind:lxc, type:service, lifecycle:retired. Call get_target with a match's target id for the whole machine, or list_services to list what runs by runtime and state.",
  input: z
    .object({
      query: z
        .string()
        .min(1)
        .max(16384)
        .describe(
          "Words and filters, e.g. `nginx`, `postgres state:failed`, `port:443 role:production`. Words are AND-ed, case-insensitive; words of 3+ characters also match as prefixes. Any punctuation is searched as text, never as syntax.",
        ),
      entity_type: z.enum(SEARCH_ENTITY_TYPES).optional().describe("Only this kind of entity (same as type: in the query)."),
      include_retired: z.boolean().default(false).describe("Also match retired targets and what they ran (lifecycle:retired in the query does the same)."),
      limit: z.number().int().min(1).max(200).default(25).describe("Page size (1-200, default 25)."),
      cursor: z.string().max(500).optional().describe("next_cursor from the previous page of the same query."),
    })
    .strict(),
  output: z.object({
    matches: z.array(
      z.object({
        type: z.enum(SEARCH_ENTITY_TYPES),
        name: z.string().describe("Target name, unit name, container name, stack name, or protocol/port."),
        state: z.string().nullable().describe("Target lifecycle, unit active/sub state, container state or stack status; null for ports."),
        source: z.string().nullable().describe("The discovery source that saw it; null for targets."),
        fields: z.record(z.string(), FieldValue).describe("A few fields of the entity: description, image, process, address, ..."),
        target: z.object({ id: z.string(), name: z.string(), kind: z.string(), role: z.string(), lifecycle: z.string() }),
        score: z
          .number()
          .nullable()
          .describe(
            "Relevance (bm25, higher is better); null for a query of filters only, and for a kind of entity the words match too often to rank (see notes).",
          ),
      }),
    ),
    total: z.number().int().describe("Matches of the whole query (a lower bound when total_is_lower_bound)."),
    total_is_lower_bound: z.boolean().describe("True when counting stopped early: there are at least `total` matches."),
    next_cursor: z
      .string()
      .nullable()
      .describe(
        "Pass as cursor for the next page; null at the end. A page can be short, even empty, when a filter rejected what it checked: go on while it is set.",
      ),
    interpreted: z.object({
      words: z.array(z.string()),
      filters: z.record(z.string(), z.array(z.string())),
      entity_types: z.array(z.enum(SEARCH_ENTITY_TYPES)).describe("The kinds of entity the query could match."),
    }),
    notes: z.array(z.string()).describe("Why a result is empty or partial, when the query explains it."),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    let cursor: SearchCursor | null = null;
    if (args.cursor) {
      const c = decodeCursor(args.cursor, ["q", "g", "s", "t", "r"]);
      cursor = { q: String(c.q), g: Number(c.g), s: Number(c.s), t: Number(c.t), r: Number(c.r) };
    }
    let out;
    try {
      out = search(ctx.app.db, {
        query: args.query,
        entityType: args.entity_type,
        includeRetired: args.include_retired,
        limit: args.limit,
        cursor,
      });
    } catch (err) {
      if (err instanceof SearchInputError) throw new ToolError(err.message);
      throw err;
    }
    return {
      matches: out.items.map((m) => ({ type: m.type, name: m.name, state: m.state, source: m.source, fields: m.fields, target: m.target, score: m.score })),
      total: out.total,
      total_is_lower_bound: out.totalIsLowerBound,
      next_cursor: out.nextCursor ? encodeCursor({ ...out.nextCursor }) : null,
      interpreted: {
        words: out.parsed.words,
        filters: Object.fromEntries(Object.entries(out.parsed.filters).filter((e): e is [string, string[]] => e[1] !== undefined)),
        entity_types: out.entityTypes,
      },
      notes: out.notes,
    };
  },
  summarize(o) {
    const total = `${o.total}${o.total_is_lower_bound ? "+" : ""}`;
    if (o.matches.length === 0)
      return o.next_cursor ? "No matches yet: pass next_cursor to check more." : `No matches.${o.notes.length ? ` ${o.notes[0]}` : ""}`;
    const top = o.matches
      .slice(0, 3)
      .map((m) => (m.type === "target" ? `${m.name} (target)` : `${m.name} (${m.type} on ${m.target.name})`))
      .join(", ");
    return `${o.matches.length} of ${total} match(es): ${top}${o.matches.length > 3 ? ", ..." : ""}.${o.next_cursor ? " More: pass next_cursor." : ""}`;
  },
});
