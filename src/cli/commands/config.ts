import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { configView, type ConfigView } from "../../app/config-store.js";
import {
  ConfigError,
  DEFAULT_CONFIG_NAMES,
  defaultConfigDir,
  defaultDbPath,
  findDefaultConfig,
  loadConfig,
  parseConfigText,
  type FleetConfig,
} from "../../config.js";
import { insecureSources } from "../../inventory/reports/security.js";
import { redactValue, secretValueRedactor } from "../../redact.js";
import { ALL_TOOLS } from "../../tools/index.js";
import { selectTools } from "../../tools/presets.js";
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js";
import { clean, paint, table, type Output } from "../output.js";
import { heading } from "../tools.js";

type Json = Record<string, unknown>;

export const configCommand: Command = {
  name: "config",
  summary: "Check the effective configuration (config check) or show which file is used (config path)",
  usage: "fleet-mcp config check [--config FILE] [--json]\n       fleet-mcp config path [--config FILE] [--json]",
  help: `config check — loads the configuration exactly as \`serve\` and \`discover\` do (the file,
then FLEET_* and PROXMOX_* variables, then --config/--db), validates it and prints it:
every source with its settings, every other setting with where its value came from
(a flag, an environment variable, the file or the default), and warnings (TLS or
host key checking turned off, password logins, a known_hosts or key file that is
missing, no sources but this machine, ...). Secrets are never printed: the config
names the environment variables that hold them, and only those names are shown.
Neither the database nor any host is touched.

config path — which config file would be used and why (--config, FLEET_CONFIG, or
the first default location that exists), and the default locations searched.

Examples:
  fleet-mcp config check
  fleet-mcp config check --config /etc/fleet-mcp/fleet.config.yaml --json | jq .warnings
  fleet-mcp config path

Exit: 0 valid (warnings do not change it), 2 invalid — the message names the key and
the fix (also: an environment variable the config names is not set).`,
  subcommands: ["check", "path"],
  async run(ctx) {
    const [sub, ...rest] = ctx.args;
    if ((sub !== "check" && sub !== "path") || rest.length > 0) {
      throw new UsageError(`unknown config command ${JSON.stringify(ctx.args.join(" "))}; use \`fleet-mcp config check\` or \`fleet-mcp config path\``);
    }
    return sub === "path" ? configPath(ctx) : configCheck(ctx);
  },
};

interface FileChoice {
  file: string | null;
  from: "--config" | "FLEET_CONFIG" | "default location" | null;
  searched: Array<{ path: string; exists: boolean }>;
  /** The environment could not be read into a configuration (config check names the problem). */
  error?: string;
}

/**
 * The same choice loadConfig makes, with the reason. Only src/config.ts reads the
 * environment: loading an empty file content (nothing is read) tells which path
 * --config, FLEET_CONFIG or the default locations give.
 */
function chooseFile(ctx: CommandContext): FileChoice {
  const dir = defaultConfigDir();
  const searched = DEFAULT_CONFIG_NAMES.map((n) => ({ path: join(dir, n), exists: existsSync(join(dir, n)) }));
  const flagValue = typeof ctx.values.config === "string" && ctx.values.config ? ctx.values.config : undefined;
  if (flagValue) return { file: resolve(flagValue), from: "--config", searched };
  let file: string | null;
  try {
    file = loadConfig({ fileContent: {}, db: ":memory:" }).configFile;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const found = findDefaultConfig();
    return { file: found, from: found ? "default location" : null, searched, error: err.message };
  }
  if (!file) return { file: null, from: null, searched };
  return { file, from: file === findDefaultConfig() ? "default location" : "FLEET_CONFIG", searched };
}

function configPath(ctx: CommandContext): number {
  const c = chooseFile(ctx);
  if (ctx.out.json) {
    ctx.out.printJson({ config_file: c.file, from: c.from, exists: c.file ? existsSync(c.file) : null, searched: c.searched });
    return EXIT.OK;
  }
  if (c.error) ctx.out.note(`note: the environment does not make a valid configuration (\`fleet-mcp config check\` says why): ${c.error}`);
  const lines = [
    c.file
      ? `${c.file} (from ${c.from})${existsSync(c.file) ? "" : paint(ctx.out, "red", " — does not exist")}`
      : "no config file: the defaults are used (discover this machine only; PROXMOX_* adds a Proxmox cluster)",
    "",
    `Default locations searched${c.from === "--config" || c.from === "FLEET_CONFIG" ? ` (not used: ${c.from} wins)` : ", in order"}:`,
    ...c.searched.map((s) => `  ${s.path}${s.exists ? paint(ctx.out, "green", "  (exists)") : ""}`),
  ];
  ctx.out.print(lines.join("\n"));
  return EXIT.OK;
}

interface Warning {
  setting: string;
  message: string;
}

function expandHome(path: string, home: string): string {
  return path === "~" || path.startsWith("~/") ? join(home, path.slice(1)) : isAbsolute(path) ? path : resolve(path);
}

/** Problems that do not make the config invalid but that a person should know about. */
function warningsOf(config: FleetConfig, fileHasSources: boolean): Warning[] {
  const out: Warning[] = [];
  for (const i of insecureSources(config.sources)) out.push({ setting: `sources[${i.source_id}]`, message: i.detail });
  if (!fileHasSources && config.sources.every((s) => s.kind === "local")) {
    out.push({
      setting: "sources",
      message: "no sources configured: only this machine is discovered; add ssh, proxmox, tailscale or network sources (docs/configuration.md)",
    });
  }
  type SshLike = { host_key_policy: string; known_hosts_file: string; auth: { private_key_file?: string | undefined } };
  const ssh = (id: string, where: string, s: SshLike) => {
    if (s.host_key_policy === "strict" && !existsSync(expandHome(s.known_hosts_file, config.home)))
      out.push({
        setting: `sources[${id}].${where}known_hosts_file`,
        message: `host_key_policy is strict but ${s.known_hosts_file} does not exist: every host will be refused`,
      });
    if (s.auth.private_key_file && !existsSync(expandHome(s.auth.private_key_file, config.home)))
      out.push({ setting: `sources[${id}].${where}auth.private_key_file`, message: `${s.auth.private_key_file} does not exist` });
  };
  for (const s of config.sources) {
    if (s.kind === "ssh" || s.kind === "tailscale" || s.kind === "network" || s.kind === "proxmox-cli") ssh(s.id, "", s);
    if (s.kind === "proxmox") {
      if (s.ca_file && !existsSync(expandHome(s.ca_file, config.home)))
        out.push({ setting: `sources[${s.id}].ca_file`, message: `${s.ca_file} does not exist: the API's certificate cannot be verified` });
      if (s.cli_fallback) ssh(s.id, "cli_fallback.", s.cli_fallback);
      if (s.guests) ssh(s.id, "guests.", s.guests);
    }
  }
  if (!["127.0.0.1", "::1", "localhost"].includes(config.http.host))
    out.push({
      setting: "http.host",
      message: `${config.http.host} is not a loopback address: \`serve --http\` is reachable from the network (put a TLS proxy in front)`,
    });
  if (config.tools.preset === "full")
    out.push({ setting: "tools.preset", message: "full: MCP clients may change the config, roles and accept host keys, not only read" });
  return out;
}

/** Settings the environment can set, with the variable and how to read the value from a FleetConfig. */
const ENV_SETTINGS: Record<string, { name: string; value: (c: FleetConfig) => unknown }> = {
  log_level: { name: "FLEET_LOG_LEVEL", value: (c) => c.logLevel },
  "limits.max_concurrent_probes": { name: "FLEET_MAX_CONCURRENT_PROBES", value: (c) => c.limits.maxConcurrentProbes },
  "limits.max_fleet_size": { name: "FLEET_MAX_FLEET_SIZE", value: (c) => c.limits.maxFleetSize },
  "schedule.discovery_interval_s": { name: "FLEET_DISCOVERY_INTERVAL", value: (c) => c.schedule.discoveryIntervalMs },
  "schedule.health_check_interval_s": { name: "FLEET_HEALTH_CHECK_INTERVAL", value: (c) => c.schedule.healthCheckIntervalMs },
  "tools.preset": { name: "FLEET_TOOL_PRESET", value: (c) => c.tools.preset },
  auto_register: { name: "FLEET_AUTO_REGISTER", value: (c) => c.autoRegister },
};

/** Where each setting's key lives in the file, when it is not the view's own path. */
const FILE_PATHS: Record<string, string[]> = {
  "schedule.discovery_interval_s": ["schedule", "discovery_interval"],
  "schedule.health_check_interval_s": ["schedule", "health_check_interval"],
};

/**
 * The same file read without any environment variable (sources and tokens, which
 * need the environment for their secrets, left out): a setting whose value differs
 * from the effective one came from the environment. Null when that cannot be built.
 */
function withoutEnv(config: FleetConfig, file: Json): FleetConfig | null {
  const content: Json = { ...file, sources: [{ kind: "local" }] };
  if (file.http && typeof file.http === "object") content.http = { ...(file.http as Json), tokens: [] };
  try {
    return loadConfig({ fileContent: content, db: ":memory:", env: {}, ...(config.configFile ? { configPath: config.configFile } : {}) });
  } catch {
    return null;
  }
}

/** Where a setting of the view came from: a flag, an environment variable, the file, or the default. */
function originOf(setting: string, config: FleetConfig, noEnv: FleetConfig | null, file: Json, ctx: CommandContext, choice: FileChoice): string {
  const inFile = (p: string[]) => {
    let v: unknown = file;
    for (const k of p) v = v && typeof v === "object" ? (v as Json)[k] : undefined;
    return v !== undefined;
  };
  const path = setting.split(".");
  const fileOrDefault = () => (inFile(FILE_PATHS[setting] ?? (path[0] === "roles" ? ["roles"] : path)) ? "file" : "default");
  if (setting === "config_file") return choice.from ?? "default";
  if (setting === "db_path") {
    if (typeof ctx.values.db === "string" && ctx.values.db) return "--db";
    if (typeof file.db === "string" && resolve(file.db) === config.dbPath) return "file";
    return config.dbPath === defaultDbPath() ? "default" : "env FLEET_DB";
  }
  if (setting === "http.tokens") {
    const http = file.http as { tokens?: Array<{ name?: string }> } | undefined;
    const named = new Set((http?.tokens ?? []).map((t) => t.name));
    const fromEnv = config.http.tokens.some((t) => t.name === "env" && !named.has("env"));
    return named.size && fromEnv ? "file + env FLEET_HTTP_TOKEN" : fromEnv ? "env FLEET_HTTP_TOKEN" : named.size ? "file" : "default";
  }
  const env = ENV_SETTINGS[setting];
  if (env && noEnv && !isDeepStrictEqual(env.value(config), env.value(noEnv))) return `env ${env.name}`;
  return fileOrDefault();
}

function display(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** Leaves of the view (arrays are one value), as [path, value]. */
function leaves(value: unknown, path: string[] = []): Array<[string[], unknown]> {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value as Json).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [[path, value]];
}

function configCheck(ctx: CommandContext): number {
  const choice = chooseFile(ctx);
  let config: FleetConfig;
  try {
    config = ctx.config();
    // tools.allow/deny must name real tools (serve refuses to start otherwise).
    selectTools(ALL_TOOLS, config.tools);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (ctx.out.json) ctx.out.printJson({ valid: false, config_file: choice.file, config_file_from: choice.from, error: err.message });
    else
      ctx.out.error(
        `${err.message}\n\nThe configuration is ${paint(ctx.out, "red", "invalid")}${choice.file ? ` (${choice.file}, from ${choice.from})` : ""}.`,
      );
    return EXIT.USAGE;
  }
  // Secrets are only ever named; this is a second line of defence should a value reach the text.
  const redact = secretValueRedactor(config.secretValues);
  let file: Json = {};
  if (config.configFile) {
    try {
      file = (parseConfigText(readFileSync(config.configFile, "utf8"), config.configFile) ?? {}) as Json;
    } catch {
      file = {};
    }
  }
  const view: ConfigView & { tools: FleetConfig["tools"] } = { ...configView(config), tools: config.tools };
  const warnings = warningsOf(config, Array.isArray(file.sources));
  const sections = { ...view } as Json;
  delete sections.sources;
  const noEnv = withoutEnv(config, file);
  const settings = leaves(sections).map(([path, value]) => {
    const setting = path.join(".");
    return { setting, value, from: originOf(setting, config, noEnv, file, ctx, choice) };
  });
  const sourcesFrom = Array.isArray(file.sources)
    ? "file"
    : config.sources.some((s) => s.kind === "proxmox")
      ? "default (local) + env PROXMOX_*"
      : "default (local)";
  const dbExists = config.dbPath === ":memory:" || existsSync(config.dbPath);
  if (ctx.out.json) {
    const doc = {
      valid: true,
      config_file: config.configFile,
      config_file_from: choice.from,
      db_path: config.dbPath,
      db_exists: dbExists,
      sources_from: sourcesFrom,
      config: view,
      origins: Object.fromEntries(settings.map((s) => [s.setting, s.from])),
      warnings,
    };
    ctx.out.printJson(redactValue(doc, redact));
    return EXIT.OK;
  }
  ctx.out.print(redact(renderCheck(ctx.out, config, view, choice, dbExists, sourcesFrom, settings, warnings)));
  return EXIT.OK;
}

function renderCheck(
  out: Output,
  config: FleetConfig,
  view: ConfigView,
  choice: FileChoice,
  dbExists: boolean,
  sourcesFrom: string,
  settings: Array<{ setting: string; value: unknown; from: string }>,
  warnings: Warning[],
): string {
  const lines = [
    `Config file: ${config.configFile ? `${clean(config.configFile)} (from ${choice.from})` : "none (defaults)"}`,
    `Database:    ${clean(config.dbPath)} (from ${settings.find((s) => s.setting === "db_path")?.from ?? "default"}; ${dbExists ? "exists" : "not created yet: `fleet-mcp discover` creates it"})`,
    `Status:      ${paint(out, "green", "valid")}${warnings.length ? `, ${paint(out, "yellow", `${warnings.length} warning(s)`)}` : ""}`,
    "",
    heading(out, `Sources (${view.sources.length}, from ${sourcesFrom}):`),
  ];
  for (const s of view.sources) {
    lines.push(`  ${paint(out, "bold", clean(s.id))} (${clean(s.kind)})`);
    const rows: Array<[string, string]> = [];
    for (const [path, value] of leaves(s.settings)) {
      const key = path.join(".");
      if (key === "hosts" && Array.isArray(value)) {
        const hosts = value as Array<{ address: string; port?: number; name?: string }>;
        const shown = hosts.slice(0, 5).map((h) => `${h.address}${h.port ? `:${h.port}` : ""}${h.name ? ` (${h.name})` : ""}`);
        rows.push(["hosts", `${hosts.length}: ${shown.join(", ")}${hosts.length > 5 ? ", ..." : ""}`]);
      } else rows.push([key, display(value)]);
    }
    for (const e of s.env_vars) rows.push([e.setting, `$${e.name} (value not shown)`]);
    const w = Math.max(0, ...rows.map(([k]) => k.length));
    for (const [k, v] of rows) lines.push(`    ${k.padEnd(w)}  ${clean(v)}`);
  }
  lines.push(
    "",
    heading(out, "Settings:"),
    table(
      out,
      [
        { header: "SETTING", value: (r) => r.setting },
        { header: "VALUE", value: (r) => display(r.value), max: 80 },
        { header: "FROM", value: (r) => r.from, style: (r) => (r.from === "default" ? "gray" : undefined) },
      ],
      settings,
    ),
  );
  if (warnings.length) {
    lines.push("", paint(out, "yellow", heading(out, `Warnings (${warnings.length}):`)));
    for (const w of warnings) lines.push(`  ${paint(out, "yellow", clean(w.setting))}: ${clean(w.message)}`);
  }
  return lines.join("\n");
}
