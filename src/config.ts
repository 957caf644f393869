// Configuration: the only module that reads process.env. Everything else gets a
// validated FleetConfig. Zero config is a working config: the local machine is
// discovered into an SQLite file under the user's data directory.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { LOG_LEVELS, type LogLevel } from "./log.js";

const SourceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "use 1-63 lower-case letters, digits, '.', '_' or '-'");

export const LocalSourceConfigSchema = z
  .object({
    kind: z.literal("local"),
    id: SourceIdSchema.default("local"),
    /** Per-probe deadline. */
    timeout_ms: z.number().int().min(1000).max(600_000).default(30_000),
    /** Cap on the probe's output. */
    max_output_bytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(256 * 1024 * 1024)
      .default(4 * 1024 * 1024),
  })
  .strict();

/** One entry per source kind; later issues add ssh, proxmox, tailscale, static, network. */
export const SourceConfigSchema = z.discriminatedUnion("kind", [LocalSourceConfigSchema]);
export type SourceConfig = z.infer<typeof SourceConfigSchema>;

export const ConfigFileSchema = z
  .object({
    db: z.string().min(1).optional(),
    log_level: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).optional(),
    sources: z
      .array(SourceConfigSchema)
      .min(1)
      .optional()
      .refine((s) => !s || new Set(s.map((x) => x.id)).size === s.length, "source ids must be unique"),
    limits: z
      .object({
        max_result_bytes: z
          .number()
          .int()
          .min(4096)
          .max(10 * 1024 * 1024)
          .optional(),
        discovery_timeout_ms: z
          .number()
          .int()
          .min(1000)
          .max(24 * 3600 * 1000)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export interface FleetConfig {
  dbPath: string;
  logLevel: LogLevel;
  /** stderr is a terminal: log readable text instead of JSON lines. */
  logPretty: boolean;
  sources: SourceConfig[];
  configFile: string | null;
  limits: {
    /** Hard cap on one tool result (structuredContent as JSON). */
    maxResultBytes: number;
    /** Deadline of one whole discovery run. */
    discoveryTimeoutMs: number;
  };
  /** Secret values (from the environment variables the config names) to redact wherever they appear. */
  secretValues: string[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadConfigOptions {
  /** --db */
  db?: string;
  /** --config */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  stderrIsTty?: boolean;
}

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const dataHome = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith("/") ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(dataHome, "fleet-mcp", "fleet.db");
}

export function loadConfig(opts: LoadConfigOptions = {}): FleetConfig {
  const raw = opts.env ?? process.env;
  // An empty variable (FLEET_DB=) means unset, as it does for most tools.
  const env = (name: string): string | undefined => (raw[name] ? raw[name] : undefined);
  const configPath = opts.configPath || env("FLEET_CONFIG") || null;
  const file = configPath ? readConfigFile(configPath) : {};

  const levelRaw = env("FLEET_LOG_LEVEL") ?? file.log_level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(levelRaw)) {
    throw new ConfigError(`FLEET_LOG_LEVEL=${JSON.stringify(levelRaw)} is not a log level; use one of ${LOG_LEVELS.join(", ")}.`);
  }

  const sources = file.sources ?? [LocalSourceConfigSchema.parse({ kind: "local" })];
  const dbRaw = opts.db || env("FLEET_DB") || file.db || defaultDbPath(raw);
  return {
    dbPath: dbRaw === ":memory:" ? dbRaw : resolve(dbRaw),
    logLevel: levelRaw as LogLevel,
    logPretty: opts.stderrIsTty ?? Boolean(process.stderr.isTTY),
    sources,
    configFile: configPath ? resolve(configPath) : null,
    limits: {
      maxResultBytes: file.limits?.max_result_bytes ?? 100 * 1024,
      discoveryTimeoutMs: file.limits?.discovery_timeout_ms ?? 10 * 60 * 1000,
    },
    secretValues: [],
  };
}

function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `Cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}. Check the path given by --config or FLEET_CONFIG.`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  - ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new ConfigError(`Config file ${path} is invalid:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
