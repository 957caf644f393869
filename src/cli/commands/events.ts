import type { z } from "zod";
import { EVENT_TYPES } from "../../inventory/events.js";
import { getChangeEvents } from "../../tools/get-change-events.js";
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js";
import { table } from "../output.js";
import { allPages, defined, flag, hoursOf, noArgs, num, severityStyle, str, strs, withTools } from "../tools.js";

type Event = z.output<typeof getChangeEvents.output>["events"][number];

const FLAGS = {
  target: "--target",
  types: "--type",
  min_severity: "--min-severity",
  since: "--since",
  since_hours: "--since",
  until: "--until",
  run_id: "--run",
  limit: "--limit",
  cursor: "--cursor",
};

const ISO = /^\d{4}-\d{2}-\d{2}/;

export const eventsCommand: Command = {
  name: "events",
  summary: "What changed in the fleet, newest first (change events)",
  usage: "fleet-mcp events [--since 24h|TIME] [--type T]... [--target NAME] [--min-severity S] [--limit N | --all] [--json]",
  help: `Every discovery run records what changed: targets added, unseen or changed, services
started, stopped or failed, containers added, removed or re-imaged, ports opened and
closed, stacks, host keys, lifecycle and role changes. Newest first.

Options:
  --since D            Only events of the last D (30m, 24h, 7d, 2w; a bare number is hours)
                       or since an ISO time (2026-11-23, 2026-11-23T08:00:00Z)
  --until TIME         Only events at or before this ISO time
  --type T             Only this event type (repeatable), e.g. service_failed, port_opened,
                       host_key_changed (the full list: docs/cli.md)
  --target NAME        Only events of this target (name, id or address)
  --min-severity S     info | warning | critical
  --run N              Only events recorded by discovery run N
  --limit N            Events per page (1-200, default 25)
  --cursor C           The next page: the cursor printed under the previous one
  --all                Every matching event (ignores --limit and --cursor)

Calls the MCP tool get_change_events (audited, client fleet-mcp-cli); --json prints
its structured result ({events, next_cursor}).

Examples:
  fleet-mcp events --since 24h
  fleet-mcp events --type service_failed --type container_removed --since 7d
  fleet-mcp events --target web-1 --all --json | jq -r '.events[].message'

Exit: 0 listed (also when none match), 1 a tool error (e.g. no such --target), 2 bad
usage or no such database.`,
  options: {
    since: { type: "string" },
    until: { type: "string" },
    type: { type: "string", multiple: true },
    target: { type: "string" },
    "min-severity": { type: "string" },
    run: { type: "string" },
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean" },
  },
  async run(ctx) {
    noArgs(ctx, "events");
    const types = strs(ctx, "type");
    for (const t of types ?? [])
      if (!(EVENT_TYPES as readonly string[]).includes(t))
        throw new UsageError(`--type ${JSON.stringify(t)} is not an event type; use one of ${EVENT_TYPES.join(", ")}`);
    const all = flag(ctx, "all") === true;
    if (all && (ctx.values.cursor !== undefined || ctx.values.limit !== undefined))
      throw new UsageError("--all pages through everything: drop --limit/--cursor");
    const args = defined({
      ...since(ctx),
      until: str(ctx, "until"),
      types: types ? [...new Set(types)] : undefined,
      target: str(ctx, "target"),
      min_severity: str(ctx, "min-severity"),
      run_id: num(ctx, "run"),
      limit: all ? 200 : num(ctx, "limit"),
      cursor: str(ctx, "cursor"),
    });
    return withTools(ctx, async (s) => {
      let events: Event[];
      let next: string | null;
      if (all) {
        ({ items: events } = await allPages(
          (cursor) => s.call(getChangeEvents, defined({ ...args, cursor }), FLAGS),
          (p) => p.events,
        ));
        next = null;
      } else {
        const page = await s.call(getChangeEvents, args, FLAGS);
        events = page.events;
        next = page.next_cursor;
      }
      if (ctx.out.json) {
        ctx.out.printJson({ events, next_cursor: next });
        return EXIT.OK;
      }
      if (events.length === 0) {
        ctx.out.print("No change events match.");
        return EXIT.OK;
      }
      const rows = table<Event>(
        ctx.out,
        [
          { header: "TIME", value: (e) => e.ts.replace(/\.\d+Z$/, "Z") },
          { header: "SEVERITY", value: (e) => e.severity, style: (e) => severityStyle(e.severity) },
          { header: "TYPE", value: (e) => e.type },
          { header: "TARGET", value: (e) => e.target?.name ?? e.target?.id ?? null, max: 32 },
          { header: "RUN", value: (e) => e.run_id, align: "right" },
          { header: "MESSAGE", value: (e) => e.message, max: 110 },
        ],
        events,
      );
      ctx.out.print(`${rows}\n\n${events.length} event(s)${next ? `; next page: --cursor ${next} (or --all)` : ""}`);
      return EXIT.OK;
    });
  },
};

function since(ctx: CommandContext): { since?: string; since_hours?: number } {
  const v = str(ctx, "since");
  if (v === undefined) return {};
  if (ISO.test(v.trim())) return { since: v.trim() };
  const hours = hoursOf(v, "--since");
  if (hours <= 0) throw new UsageError("--since must be longer than 0");
  return { since_hours: hours };
}
