import { z } from "zod";
import { configView } from "../app/config-store.js";
import { defineTool } from "./tool.js";

const Json = z.record(z.string(), z.unknown());

/** The masked effective configuration; shared with update_discovery_config's before/after. */
export const ConfigViewSchema = z.object({
  config_file: z.string().nullable().describe("The config file this server reads and update_discovery_config writes; null when started without one."),
  db_path: z.string(),
  log_level: z.string(),
  sources: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      settings: Json.describe("The source's settings with defaults applied (secrets are never in the config)."),
      env_vars: z
        .array(
          z.object({ setting: z.string().describe("e.g. auth.password_env"), name: z.string().describe("The environment variable's name (never its value).") }),
        )
        .describe("Environment variables the source reads its secrets from."),
    }),
  ),
  lifecycle: z.object({ stale_after_hours: z.number(), retire_after_days: z.number().nullable() }),
  roles: z.array(Json).describe("Role rules, first match wins."),
  health: z.record(z.string(), z.number()).describe("Health thresholds."),
  snapshots: z.object({
    auto: z.boolean(),
    retention_days: z.number().nullable(),
    min_keep: z.number().int(),
    archive_dir: z.string(),
    on_expire: z.string(),
  }),
  limits: z.object({ max_result_bytes: z.number().int(), discovery_timeout_ms: z.number().int(), max_concurrent_probes: z.number().int() }),
  prometheus: z.object({ static_labels: z.record(z.string(), z.string()), file_sd_path: z.string().nullable(), default_port: z.number().int() }),
  auto_register: z.boolean(),
});

export const getDiscoveryConfig = defineTool({
  name: "get_discovery_config",
  title: "Get the discovery configuration",
  description:
    "Returns the effective configuration: sources with their settings, lifecycle, role rules, health thresholds, snapshot policy, limits, Prometheus export settings, the database and the config file path; secrets are never shown, only the names of the environment variables that hold them. Call update_discovery_config to change sources, roles, health, snapshots or lifecycle.",
  input: z.object({}).strict(),
  output: ConfigViewSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_args, ctx) {
    return configView(ctx.app.config);
  },
  summarize(o) {
    const sources = o.sources.map((s) => `${s.id} (${s.kind})`).join(", ");
    return `${o.sources.length} source(s): ${sources}; ${o.roles.length} role rule(s); snapshots ${o.snapshots.auto ? "automatic" : "manual"}; config file ${o.config_file ?? "none (started without --config)"}.`;
  },
});
