import { z } from "zod";
import { fileSdPathProblem } from "../app/file-sd.js";
import { writeFileAtomic } from "../inventory/files.js";
import { buildPrometheusTargets, targetGroupsJson } from "../inventory/prometheus.js";
import { decodeCursor, defineTool, encodeCursor, ToolError } from "./tool.js";

const LIFECYCLES = ["discovered", "active", "unreachable", "stale", "retired"] as const;

function checkedFileSdPath(path: string | null): string {
  if (!path) {
    throw new ToolError(
      'No file_sd path is configured. Add "prometheus": {"file_sd_path": "/etc/prometheus/file_sd/fleet.json"} to the config file and restart the server, or call again without write_file to get the target groups inline.',
    );
  }
  const problem = fileSdPathProblem(path);
  if (problem) throw new ToolError(problem);
  return path;
}

export const exportPrometheusTargets = defineTool({
  name: "export_prometheus_targets",
  title: "Export Prometheus scrape targets",
  description:
    'Builds Prometheus service-discovery target groups ([{targets:["addr:port"], labels:{...}}], the JSON of file_sd and http_sd) from the inventory, with labels fleet_role, fleet_kind, and per target (group_by none) fleet_name, fleet_node and fleet_os, plus the configured static labels; targets without an address are skipped and counted. It only writes when write_file is true: then the whole list replaces the configured prometheus.file_sd_path atomically; call get_discovery_config to see that path.',
  input: z
    .object({
      group_by: z
        .enum(["role", "kind", "none"])
        .default("none")
        .describe("none: one group per target with all labels; role or kind: one group per value, labelled only with it (and the static labels)."),
      format: z
        .enum(["file_sd", "http_sd"])
        .default("file_sd")
        .describe("file_sd (may be written to a file) or http_sd (the same JSON, for an HTTP SD endpoint to serve)."),
      port: z
        .number()
        .int()
        .min(1)
        .max(65535)
        .optional()
        .describe("Port appended to each address; default prometheus.default_port from config (9100, node_exporter)."),
      lifecycle: z.array(z.enum(LIFECYCLES)).min(1).max(5).default(["active"]).describe("Only targets in these lifecycle states."),
      write_file: z.boolean().default(false).describe("Write every group to the configured prometheus.file_sd_path (atomically). Only with format file_sd."),
      limit: z.number().int().min(1).max(200).default(25).describe("Most target groups returned in this result (the written file always holds all)."),
      cursor: z.string().max(200).optional().describe("next_cursor from the previous page."),
    })
    .strict(),
  output: z.object({
    format: z.enum(["file_sd", "http_sd"]),
    group_by: z.enum(["role", "kind", "none"]),
    port: z.number().int(),
    groups: z.array(z.object({ targets: z.array(z.string()), labels: z.record(z.string(), z.string()) })).describe("This page of target groups."),
    group_count: z.number().int().describe("All groups, over every page."),
    target_count: z.number().int(),
    skipped_no_address: z.number().int().describe("Matching targets without an address (not exported)."),
    skipped_no_address_examples: z.array(z.string()).describe("Up to 10 of their names."),
    skipped_duplicate: z.number().int().describe("Targets whose host:port another target already had."),
    next_cursor: z.string().nullable(),
    file: z.object({ path: z.string(), bytes: z.number().int(), groups: z.number().int() }).nullable().describe("The file written, when write_file was true."),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const cfg = ctx.app.config.prometheus;
    if (args.write_file && args.format !== "file_sd") {
      throw new ToolError(
        "write_file needs format file_sd: an http_sd endpoint serves the list itself. Call again with format file_sd, or without write_file.",
      );
    }
    if (args.write_file && ctx.app.config.tools.preset !== "full") {
      throw new ToolError(
        'Writing files needs the full tool preset: set "tools": {"preset": "full"} in the config file (or FLEET_TOOL_PRESET=full) and restart, or call again without write_file to get the target groups inline.',
      );
    }
    const path = args.write_file ? checkedFileSdPath(cfg.fileSdPath) : null;
    const port = args.port ?? cfg.defaultPort;
    const out = buildPrometheusTargets(ctx.app.db, { groupBy: args.group_by, port, lifecycles: args.lifecycle, staticLabels: cfg.staticLabels });
    let file = null;
    if (path) {
      const data = targetGroupsJson(out.groups);
      writeFileAtomic(path, data, 0o644);
      file = { path, bytes: Buffer.byteLength(data), groups: out.groups.length };
      ctx.app.log.info("prometheus file_sd written", { path, groups: out.groups.length, targets: out.targetCount });
    }
    const offset = args.cursor ? Number(decodeCursor(args.cursor, ["o"]).o) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new ToolError("Invalid cursor: pass back the exact next_cursor value, or omit it to start over.");
    const page = out.groups.slice(offset, offset + args.limit);
    const end = offset + page.length;
    return {
      format: args.format,
      group_by: args.group_by,
      port,
      groups: page,
      group_count: out.groups.length,
      target_count: out.targetCount,
      skipped_no_address: out.skippedNoAddress.length,
      skipped_no_address_examples: out.skippedNoAddress.slice(0, 10).map((t) => t.name),
      skipped_duplicate: out.skippedDuplicate.length,
      next_cursor: end < out.groups.length ? encodeCursor({ o: end }) : null,
      file,
    };
  },
  summarize(o) {
    const skipped = o.skipped_no_address ? `; ${o.skipped_no_address} target(s) without an address skipped` : "";
    const written = o.file ? ` Written to ${o.file.path} (${o.file.bytes} bytes).` : "";
    return `${o.target_count} target(s) on port ${o.port} in ${o.group_count} group(s) (group_by ${o.group_by})${skipped}.${written}`;
  },
});
