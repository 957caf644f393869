// MCP resources: read-only views an agent (or the person in the client) can
// attach as context. They reuse the tools' own handlers and output schemas, so a
// resource and the matching tool never disagree, and they are redacted the same
// way. Reads are not tools/call and are not audited.
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { AppContext } from "../app/context.js";
import { documentCounts } from "../inventory/diff.js";
import { findTargets } from "../inventory/queries.js";
import { findSnapshot, listSnapshots, loadSnapshotDocument } from "../inventory/snapshots.js";
import { listTargets } from "../inventory/targets-list.js";
import { redactValue } from "../redact.js";
import { REPORT_KINDS, type ReportKind } from "../inventory/reports/index.js";
import { generateFleetReport } from "../tools/generate-fleet-report.js";
import { getFleetOverview } from "../tools/get-fleet-overview.js";
import { getTarget } from "../tools/get-target.js";
import { snapshotView } from "../tools/list-snapshots.js";
import { ToolError, type ToolDefinition } from "../tools/tool.js";

/** Completion answers at most this many values (the protocol's own cap is 100). */
export const COMPLETION_LIMIT = 20;
/** Items per collection in fleet://targets/{id}; get_target pages further. */
const TARGET_COLLECTION_LIMIT = 25;

/** Runs a read-only tool handler outside tools/call and returns its validated, redacted output. */
async function viaTool<I extends z.ZodObject, O extends z.ZodObject>(
  app: AppContext,
  tool: ToolDefinition<I, O>,
  args: z.input<I>,
  signal: AbortSignal,
): Promise<z.output<O>> {
  try {
    const raw = await tool.handler(tool.input.parse(args), { app, signal, correlationId: "resource", progress: () => undefined });
    return redactValue(tool.output.parse(raw), app.redact) as z.output<O>;
  } catch (err) {
    if (err instanceof ToolError) throw new McpError(ErrorCode.InvalidParams, app.redact(err.message));
    throw err;
  }
}

function json(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(value, null, 2) }] };
}

function one(v: string | string[] | undefined): string {
  return decodeURIComponent(Array.isArray(v) ? (v[0] ?? "") : (v ?? ""));
}

/**
 * Target names (and an exact id) starting with `prefix`, case-insensitively,
 * in name order. Names sort by lower(name), so every name with the prefix comes
 * in one run right after the keyset position `prefix`.
 */
export function completeTargetRefs(app: AppContext, prefix: string, limit = COMPLETION_LIMIT): string[] {
  const p = prefix.toLowerCase();
  const page = listTargets(app.db, {
    filter: {},
    sort: "name",
    desc: false,
    limit,
    ...(p ? { after: { value: p, id: "" } } : {}),
  });
  const names = page.items.filter((t) => t.name.toLowerCase().startsWith(p)).map((t) => t.name);
  const ids = p
    ? findTargets(app.db, prefix)
        .filter((t) => t.id === prefix)
        .map((t) => t.id)
    : [];
  return [...new Set([...ids, ...names])].slice(0, limit);
}

function completeSnapshotRefs(app: AppContext, prefix: string): string[] {
  const p = prefix.toLowerCase();
  // Snapshots are few compared with targets: the newest 200 are enough to complete from.
  const recent = listSnapshots(app.db, { limit: 200 }).items;
  const out = new Set<string>();
  for (const s of recent) {
    if (String(s.id).startsWith(p)) out.add(String(s.id));
    if (s.name.toLowerCase().startsWith(p)) out.add(s.name);
    if (out.size >= COMPLETION_LIMIT) break;
  }
  return [...out].slice(0, COMPLETION_LIMIT);
}

export function registerResources(server: McpServer, app: AppContext): void {
  server.registerResource(
    "fleet-overview",
    "fleet://overview",
    {
      title: "Fleet overview",
      description: "The whole inventory in numbers (the same JSON as get_fleet_overview).",
      mimeType: "application/json",
    },
    async (uri, extra) => json(uri, await viaTool(app, getFleetOverview, {}, extra.signal)),
  );

  server.registerResource(
    "fleet-target",
    new ResourceTemplate("fleet://targets/{id}", {
      // Thousands of targets make a useless list; completion finds them by name instead.
      list: undefined,
      complete: { id: (value) => completeTargetRefs(app, value) },
    }),
    {
      title: "One target",
      description: `Everything known about one machine, by id, name or address (the same JSON as get_target, ${TARGET_COLLECTION_LIMIT} items per collection).`,
      mimeType: "application/json",
    },
    async (uri, vars, extra) => json(uri, await viaTool(app, getTarget, { target: one(vars.id), limit: TARGET_COLLECTION_LIMIT }, extra.signal)),
  );

  server.registerResource(
    "fleet-snapshot",
    new ResourceTemplate("fleet://snapshots/{id}", {
      list: () => ({
        resources: listSnapshots(app.db, { limit: 50 }).items.map((s) => ({
          uri: `fleet://snapshots/${s.id}`,
          name: app.redact(s.name),
          title: `Snapshot ${s.id} "${app.redact(s.name)}"`,
          description: `${s.type} snapshot of ${s.targetCount} target(s), taken ${s.createdAt}`,
          mimeType: "application/json",
        })),
      }),
      complete: { id: (value) => completeSnapshotRefs(app, value) },
    }),
    {
      title: "One snapshot",
      description: "A stored snapshot's metadata and how many entities of each type it holds (by id, name or `latest`); compare_snapshots diffs two of them.",
      mimeType: "application/json",
    },
    (uri, vars) => {
      const ref = one(vars.id);
      const s = findSnapshot(app.db, ref);
      const doc = s ? loadSnapshotDocument(app.db, s.id) : null;
      if (!s || !doc) {
        throw new McpError(
          ErrorCode.InvalidParams,
          `Snapshot ${JSON.stringify(app.redact(ref))} not found. Call list_snapshots for the ids, or read fleet://snapshots/latest.`,
        );
      }
      return json(uri, redactValue({ ...snapshotView(s), counts: documentCounts(doc) }, app.redact));
    },
  );

  server.registerResource(
    "fleet-report",
    new ResourceTemplate("fleet://reports/{kind}", {
      list: () => ({
        resources: REPORT_KINDS.map((k) => ({ uri: `fleet://reports/${k}`, name: `${k} report`, title: `Fleet ${k} report`, mimeType: "text/markdown" })),
      }),
      complete: { kind: (value) => REPORT_KINDS.filter((k) => k.startsWith(value.toLowerCase())) },
    }),
    {
      title: "Fleet report",
      description: `A fleet report in markdown (${REPORT_KINDS.join(", ")}), as generate_fleet_report renders it with its defaults.`,
      mimeType: "text/markdown",
    },
    async (uri, vars, extra) => {
      const kind = one(vars.kind);
      if (!(REPORT_KINDS as readonly string[]).includes(kind)) {
        throw new McpError(ErrorCode.InvalidParams, `No report kind ${JSON.stringify(app.redact(kind))}. Kinds: ${REPORT_KINDS.join(", ")}.`);
      }
      const out = await viaTool(app, generateFleetReport, { kind: kind as ReportKind, format: "markdown" }, extra.signal);
      if (out.markdown === null) throw new Error(`generate_fleet_report returned no markdown for ${kind}`);
      return { contents: [{ uri: uri.href, mimeType: "text/markdown", text: out.markdown }] };
    },
  );
}
