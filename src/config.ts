// Configuration: the only module that reads process.env. Everything else gets a
// validated FleetConfig. Zero config is a working config: the local machine is
// discovered into an SQLite file under the user's data directory.
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
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

const EnvNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "an environment variable name, e.g. FLEET_SSH_PASSWORD");
const noSecretHere = (field: string) =>
  z.never({ error: `never put a secret in the config file: put it in an environment variable and name that variable in ${field}` }).optional();

export const ROLES = ["production", "staging", "development", "testing", "lab", "monitoring", "gateway", "unassigned"] as const;

export const SshAuthConfigSchema = z
  .object({
    /** Use the ssh-agent at SSH_AUTH_SOCK when it is set. */
    agent: z.boolean().default(true),
    private_key_file: z.string().min(1).optional(),
    passphrase_env: EnvNameSchema.optional(),
    password_env: EnvNameSchema.optional(),
    password: noSecretHere("auth.password_env"),
    passphrase: noSecretHere("auth.passphrase_env"),
    private_key: noSecretHere("auth.private_key_file (a path)"),
  })
  .strict();

const PortSchema = z.number().int().min(1).max(65535);

export const SshHostConfigSchema = z
  .object({
    address: z.string().min(1).max(253),
    port: PortSchema.optional(),
    user: z.string().min(1).max(64).optional(),
    name: z.string().min(1).max(253).optional(),
    tags: z.array(z.string().min(1).max(64)).max(64).default([]),
    role: z.enum(ROLES).optional(),
  })
  .strict();

/** How every SSH-probing source (ssh, tailscale, network) connects and probes. */
const sshProbeFields = {
  user: z.string().min(1).max(64).default("root"),
  port: PortSchema.default(22),
  auth: SshAuthConfigSchema.default({ agent: true }),
  host_key_policy: z.enum(["tofu", "strict", "off"]).default("tofu"),
  known_hosts_file: z.string().min(1).default("~/.ssh/known_hosts"),
  /** Run the probe through `sudo -n` (non-interactive: never waits for a password). */
  sudo: z.boolean().default(false),
  timeout_ms: z.number().int().min(1000).max(600_000).default(15_000),
  max_output_bytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(256 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /** Overrides FLEET_MAX_CONCURRENT_PROBES for this source. */
  concurrency: z.number().int().min(1).max(1024).optional(),
  retries: z.number().int().min(0).max(10).default(2),
  retry_min_delay_ms: z.number().int().min(0).max(60_000).default(250),
  circuit_breaker: z
    .object({
      failures: z.number().int().min(1).max(100).default(3),
      cooldown_s: z
        .number()
        .int()
        .min(0)
        .max(7 * 86400)
        .default(300),
    })
    .strict()
    .default({ failures: 3, cooldown_s: 300 }),
};

export const SshSourceConfigSchema = z
  .object({
    kind: z.literal("ssh"),
    id: SourceIdSchema.default("ssh"),
    hosts: z.array(SshHostConfigSchema).max(100_000).default([]),
    /** Import Host entries of an OpenSSH client config (HostName, Port, User, IdentityFile). */
    ssh_config: z
      .object({
        path: z.string().min(1).default("~/.ssh/config"),
        /** Aliases (globs) to import; every concrete alias when omitted. */
        hosts: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    ...sshProbeFields,
  })
  .strict()
  .refine((s) => s.hosts.length > 0 || s.ssh_config, { error: "an ssh source needs `hosts` or `ssh_config`" });

/** Tailscale peers become SSH targets; `tailscale status --json` runs locally or on `via`. */
export const TailscaleSourceConfigSchema = z
  .object({
    kind: z.literal("tailscale"),
    id: SourceIdSchema.default("tailscale"),
    /** Run `tailscale status --json` on this host over SSH (with this source's auth) instead of locally. */
    via: z
      .object({ address: z.string().min(1).max(253), port: PortSchema.default(22), user: z.string().min(1).max(64).optional() })
      .strict()
      .optional(),
    use_magic_dns: z.boolean().default(false),
    include_offline: z.boolean().default(false),
    /** Only peers with one of these Tailscale tags (with or without "tag:"). */
    tags: z.array(z.string().min(1).max(64)).max(64).optional(),
    ...sshProbeFields,
  })
  .strict();

/** Sweeps CIDRs for SSH servers; responders are probed when auto_register is on. */
export const NetworkSourceConfigSchema = z
  .object({
    kind: z.literal("network"),
    id: SourceIdSchema.default("network"),
    cidrs: z.array(z.string().min(1).max(64)).min(1).max(256),
    ports: z.array(PortSchema).min(1).max(16).default([22]),
    /** Refuse sweeps larger than this many addresses (default 1024, a /22). */
    max_addresses: z
      .number()
      .int()
      .min(1)
      .max(1 << 20)
      .default(1024),
    sweep_concurrency: z.number().int().min(1).max(1024).default(64),
    connect_timeout_ms: z.number().int().min(50).max(60_000).default(1000),
    /** Probe what answers (default: FLEET_AUTO_REGISTER, else off: responders are only reported). */
    auto_register: z.boolean().optional(),
    tags: z.array(z.string().min(1).max(64)).max(64).default([]),
    ...sshProbeFields,
  })
  .strict();

/** SSH to one PVE node for the CLI path (pvesh, else pct/qm): root, or a user with sudo: true. */
// One connection to one node: retries, breaker and concurrency do not apply.
const { retries: _r, retry_min_delay_ms: _d, circuit_breaker: _b, concurrency: _c, ...sshConnectFields } = sshProbeFields;
const ProxmoxCliFields = {
  address: z.string().min(1).max(253),
  ...sshConnectFields,
};

/** A Proxmox VE cluster read with pvesh (or pct/qm) over SSH, for when the API is not available. */
export const ProxmoxCliSourceConfigSchema = z
  .object({
    kind: z.literal("proxmox-cli"),
    id: SourceIdSchema.default("proxmox-cli"),
    ...ProxmoxCliFields,
  })
  .strict();

/** A Proxmox VE cluster through its REST API (pveproxy). */
export const ProxmoxSourceConfigSchema = z
  .object({
    kind: z.literal("proxmox"),
    id: SourceIdSchema.default("proxmox"),
    host: z.string().min(1).max(253),
    port: PortSchema.default(8006),
    /** API token id, user@realm!tokenid; its secret comes from token_secret_env. */
    token_id: z
      .string()
      .regex(/^[^@\s]+@[^!\s]+![A-Za-z0-9_.-]+$/, "an API token id like root@pam!fleet")
      .optional(),
    token_secret_env: EnvNameSchema.optional(),
    /** Ticket auth: user@realm, password from password_env. */
    username: z
      .string()
      .regex(/^[^@\s]+@[^@\s]+$/, "a user like root@pam")
      .optional(),
    password_env: EnvNameSchema.optional(),
    token_secret: noSecretHere("token_secret_env"),
    password: noSecretHere("password_env"),
    /** PEM file of the CA that signed pveproxy's certificate. */
    ca_file: z.string().min(1).optional(),
    /** SHA-256 fingerprint of pveproxy's certificate, as the PVE GUI shows it (AA:BB:...). */
    fingerprint: z
      .string()
      .regex(/^(sha256[:=]?)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, "a SHA-256 fingerprint like 10:94:FF:...:D8:3A (64 hex digits)")
      .optional(),
    /** Skip TLS verification for this source only (warned on every run). Prefer ca_file or fingerprint. */
    insecure: z.boolean().default(false),
    timeout_ms: z.number().int().min(500).max(300_000).default(10_000),
    concurrency: z.number().int().min(1).max(64).default(8),
    requests_per_second: z.number().min(1).max(1000).default(20),
    /** When the API fails: read the cluster with pvesh (or pct/qm) over SSH to this node instead. */
    cli_fallback: z.object(ProxmoxCliFields).strict().optional(),
    /** Probe running guests over SSH too; their facts merge onto the guest targets. */
    guests: z
      .object({
        /** Probe every running guest with a discovered address (default: FLEET_AUTO_REGISTER, else off). */
        auto_register: z.boolean().optional(),
        /** vmid -> address to probe, for guests whose address the API cannot tell (always probed). */
        addresses: z.record(z.string().regex(/^\d+$/, "a vmid"), z.string().min(1).max(253)).default({}),
        /** Probe running LXC guests without an address through `pct exec <vmid> -- sh -s` on their node (SSH to the node with these settings; root or sudo). */
        pct_exec: z.boolean().default(false),
        ...sshProbeFields,
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine(
    (s) =>
      Boolean(s.token_id) === Boolean(s.token_secret_env) && Boolean(s.username) === Boolean(s.password_env) && Boolean(s.token_id) !== Boolean(s.username),
    {
      error: "give either token_id + token_secret_env, or username + password_env (not both, not half of one)",
    },
  )
  .refine((s) => [s.ca_file, s.fingerprint, s.insecure || undefined].filter(Boolean).length <= 1, {
    error: "choose one of ca_file, fingerprint or insecure",
  });

/** One entry per source kind; a later issue adds static lists. */
export const SourceConfigSchema = z.discriminatedUnion("kind", [
  LocalSourceConfigSchema,
  SshSourceConfigSchema,
  TailscaleSourceConfigSchema,
  NetworkSourceConfigSchema,
  ProxmoxSourceConfigSchema,
  ProxmoxCliSourceConfigSchema,
]);
export type SourceConfig = z.infer<typeof SourceConfigSchema>;

export type Role = (typeof ROLES)[number];

/** A role rule: every given condition must hold; rules are tried in order and the first match wins. */
export const RoleRuleSchema = z
  .object({
    role: z.enum(ROLES),
    /** Glob on the target's name: `*` any run of characters, `?` one character; case-insensitive. */
    name: z.string().min(1).max(253).optional(),
    /** The target carries this tag (config tags, Tailscale tags, Proxmox tags). */
    tag: z.string().min(1).max(64).optional(),
    /** Proxmox pool of the guest. */
    pool: z.string().min(1).max(64).optional(),
    /** A source that observed the target. */
    source: SourceIdSchema.optional(),
    kind: z.enum(["host", "proxmox_node", "lxc", "vm"]).optional(),
  })
  .strict()
  .refine((r) => r.name !== undefined || r.tag !== undefined || r.pool !== undefined || r.source !== undefined || r.kind !== undefined, {
    message: "a role rule needs at least one of name, tag, pool, source or kind",
  });
export type RoleRule = z.infer<typeof RoleRuleSchema>;

const PctSchema = z.number().min(1).max(100);
export const HealthThresholdsSchema = z
  .object({
    filesystem_warning_pct: PctSchema.default(80),
    filesystem_critical_pct: PctSchema.default(90),
    memory_warning_pct: PctSchema.default(90),
    memory_critical_pct: PctSchema.default(95),
    swap_warning_pct: PctSchema.default(50),
    swap_critical_pct: PctSchema.default(80),
    /** 5-minute load average per CPU. */
    load_per_cpu_warning: z.number().min(0.1).max(100).default(1.5),
    load_per_cpu_critical: z.number().min(0.1).max(100).default(3),
  })
  .strict()
  .refine((h) => h.filesystem_warning_pct < h.filesystem_critical_pct, { message: "filesystem_warning_pct must be below filesystem_critical_pct" })
  .refine((h) => h.memory_warning_pct < h.memory_critical_pct, { message: "memory_warning_pct must be below memory_critical_pct" })
  .refine((h) => h.swap_warning_pct < h.swap_critical_pct, { message: "swap_warning_pct must be below swap_critical_pct" })
  .refine((h) => h.load_per_cpu_warning < h.load_per_cpu_critical, { message: "load_per_cpu_warning must be below load_per_cpu_critical" });
export type HealthThresholds = z.infer<typeof HealthThresholdsSchema>;

export const SnapshotPolicySchema = z
  .object({
    /** Take an "auto" snapshot after every discovery run that wrote something. */
    auto: z.boolean().default(false),
    /** Snapshots older than this leave the database (null: kept forever). */
    retention_days: z.number().min(1).max(36500).nullable().default(null),
    /** The newest this many snapshots are always kept, whatever their age. */
    min_keep: z.number().int().min(0).max(100_000).default(10),
    /** Where expired snapshots are written (gzip JSON) before they leave the database. Default: <database dir>/snapshot-archive. */
    archive_dir: z.string().min(1).optional(),
    /** archive: write the file, then delete the row; delete: just delete. */
    on_expire: z.enum(["archive", "delete"]).default("archive"),
  })
  .strict();

export const TOOL_PRESETS = ["readonly", "full"] as const;
export type ToolPreset = (typeof TOOL_PRESETS)[number];
/** Which tools the server lists: a preset, then `allow` adds names and `deny` removes them (checked against the tool list when the server is built). */
export const ToolsConfigSchema = z
  .object({
    preset: z.enum(TOOL_PRESETS).default("readonly"),
    allow: z.array(z.string().min(1).max(64)).max(200).optional(),
    deny: z.array(z.string().min(1).max(64)).max(200).optional(),
  })
  .strict();

// Record keys are checked here, not by a key schema, so the error names the offending label.
const StaticLabelsSchema = z.record(z.string(), z.string().min(1).max(1024)).superRefine((labels, ctx) => {
  for (const name of Object.keys(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name))
      ctx.addIssue({ code: "custom", path: [name], message: "a Prometheus label name: letters, digits and '_', not starting with a digit" });
    else if (name.startsWith("__") || name.startsWith("fleet_"))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "names starting with '__' (reserved by Prometheus) or 'fleet_' (set by fleet-mcp) are not allowed",
      });
  }
});

/** export_prometheus_targets: labels added to every target group, and where write_file puts the file_sd JSON. */
export const PrometheusConfigSchema = z
  .object({
    static_labels: StaticLabelsSchema.default({}),
    /** Absolute (or ~/) path of the file_sd JSON file; Prometheus needs the name to end in .json. */
    file_sd_path: z
      .string()
      .min(1)
      .max(4096)
      .regex(/^(\/|~\/).*\.json$/, "an absolute path (or ~/...) ending in .json, e.g. /etc/prometheus/file_sd/fleet.json")
      .optional(),
    default_port: PortSchema.default(9100),
    /** With file_sd_path: rewrite the file after every discovery run. */
    write_after_discovery: z.boolean().default(true),
  })
  .strict();

/** An interval in seconds: a number, or a string like "300", "90s", "5m", "1h"; 0 turns the job off. */
const IntervalSchema = z.union([
  z
    .number()
    .int()
    .min(0)
    .max(7 * 86400),
  z.string().min(1).max(16),
]);

/** The long-running server's own jobs (FLEET_DISCOVERY_INTERVAL / FLEET_HEALTH_CHECK_INTERVAL override). */
export const ScheduleConfigSchema = z
  .object({
    /** Seconds between discovery runs (default 300; 0 = only on demand). */
    discovery_interval: IntervalSchema.optional(),
    /** Seconds between health checks and the stale-cleanup pass (default 60; 0 = off). */
    health_check_interval: IntervalSchema.optional(),
    /** Each wait is the interval ± this fraction, so that many servers do not probe in step. */
    jitter: z.number().min(0).max(0.5).default(0.1),
  })
  .strict();

const TokenNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/, "1-64 letters, digits, '.', '_', '@' or '-'");
/** One bearer token of the HTTP server: its value in the environment (token_env) or, in a file only its owner can read, inline. */
export const HttpTokenSchema = z
  .object({
    /** Recorded in the audit log for calls made with this token (the token itself never is). */
    name: TokenNameSchema,
    token_env: EnvNameSchema.optional(),
    token: z.string().min(16, "a bearer token must be at least 16 characters (e.g. `openssl rand -hex 32`)").max(4096).optional(),
  })
  .strict()
  .refine((t) => Boolean(t.token_env) !== Boolean(t.token), { message: "give exactly one of token_env (preferred) or token" });

/** `fleet-mcp serve --http`: Streamable HTTP for remote clients. */
export const HttpConfigSchema = z
  .object({
    host: z.string().min(1).max(253).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8765),
    tokens: z.array(HttpTokenSchema).max(100).default([]),
    /** Origins (scheme://host[:port]) allowed besides none; browsers send Origin, most MCP clients do not. */
    allowed_origins: z.array(z.string().min(1).max(512)).max(100).default([]),
    /** Host header values allowed besides the bound address, localhost and 127.0.0.1 (e.g. the name behind a reverse proxy). */
    allowed_hosts: z.array(z.string().min(1).max(253)).max(100).default([]),
    /** Serve Prometheus HTTP service discovery at /prometheus/targets (with the same token). */
    http_sd: z.boolean().default(true),
    /** Serve /metrics (Prometheus text format; with the same token unless metrics_public). */
    metrics: z.boolean().default(true),
    metrics_public: z.boolean().default(false),
  })
  .strict();

export const ConfigFileSchema = z
  .object({
    db: z.string().min(1).optional(),
    log_level: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).optional(),
    sources: z
      .array(SourceConfigSchema)
      .min(1)
      .optional()
      .refine((s) => {
        if (!s) return true;
        // Proxmox sources also record under <id>-cli and <id>-guests.
        const ids = s.flatMap((x) =>
          x.kind === "proxmox" ? [x.id, ...(x.cli_fallback ? [`${x.id}-cli`] : []), ...(x.guests ? [`${x.id}-guests`] : [])] : [x.id],
        );
        return new Set(ids).size === ids.length;
      }, "source ids must be unique (a proxmox source also uses <id>-cli and <id>-guests)"),
    lifecycle: z
      .object({
        stale_after_hours: z
          .number()
          .min(0.01)
          .max(24 * 365)
          .default(24),
        retire_after_days: z.number().min(1).max(3650).nullable().default(null),
      })
      .strict()
      .optional(),
    roles: z.array(RoleRuleSchema).max(1000).optional(),
    health: HealthThresholdsSchema.optional(),
    snapshots: SnapshotPolicySchema.optional(),
    prometheus: PrometheusConfigSchema.optional(),
    tools: ToolsConfigSchema.optional(),
    schedule: ScheduleConfigSchema.optional(),
    http: HttpConfigSchema.optional(),
    limits: z
      .object({
        max_concurrent_probes: z.number().int().min(1).max(1024).optional(),
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
        /** Most targets the inventory takes; new ones beyond it are left out of a run (and said so). Default: no limit. */
        max_fleet_size: z.number().int().min(1).max(10_000_000).optional(),
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
    /** Hosts probed at once per source (FLEET_MAX_CONCURRENT_PROBES). */
    maxConcurrentProbes: number;
    /** Most targets in the inventory (FLEET_MAX_FLEET_SIZE); null = no limit. */
    maxFleetSize: number | null;
  };
  /** The long-running server's jobs; 0 = off. */
  schedule: { discoveryIntervalMs: number; healthCheckIntervalMs: number; jitter: number };
  /** Streamable HTTP (`serve --http`). Tokens hold secret values: never logged or returned. */
  http: {
    host: string;
    port: number;
    tokens: Array<{ name: string; token: string }>;
    allowedOrigins: string[];
    allowedHosts: string[];
    httpSd: boolean;
    metrics: boolean;
    metricsPublic: boolean;
  };
  lifecycle: { staleAfterMs: number; retireAfterMs: number | null };
  /** Role rules, in order (first match wins). */
  roles: RoleRule[];
  health: HealthThresholds;
  snapshots: { auto: boolean; retentionMs: number | null; minKeep: number; archiveDir: string; onExpire: "archive" | "delete" };
  prometheus: { staticLabels: Record<string, string>; fileSdPath: string | null; defaultPort: number; writeAfterDiscovery: boolean };
  /** Tool selection (FLEET_TOOL_PRESET overrides the file's preset). */
  tools: { preset: ToolPreset; allow: string[]; deny: string[] };
  /** Default for sources that find hosts (network sweeps): probe what they find (FLEET_AUTO_REGISTER). */
  autoRegister: boolean;
  /** Secrets per source id, read from the environment variables the config names. Never logged or returned. */
  secrets: Map<string, SourceSecrets>;
  /** Secret values (from the environment variables the config names) to redact wherever they appear. */
  secretValues: string[];
  /** The user's home, for expanding `~` in paths. */
  home: string;
}

export interface SourceSecrets {
  password?: string;
  /** Proxmox API token secret. */
  tokenSecret?: string;
  passphrase?: string;
  agentSocket?: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadConfigOptions {
  /** --db */
  db?: string;
  /** --config (else FLEET_CONFIG, else the first of fleet.config.yaml, .yml, .json in the user's config directory) */
  configPath?: string;
  /** The config file's parsed JSON, used instead of reading configPath (to validate a change before it is written). */
  fileContent?: unknown;
  env?: NodeJS.ProcessEnv;
  stderrIsTty?: boolean;
}

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const dataHome = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith("/") ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(dataHome, "fleet-mcp", "fleet.db");
}

/** $XDG_CONFIG_HOME/fleet-mcp (else ~/.config/fleet-mcp). */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), ".config");
  return join(configHome, "fleet-mcp");
}

export const DEFAULT_CONFIG_NAMES = ["fleet.config.yaml", "fleet.config.yml", "fleet.config.json"] as const;

/** The config file in the user's config directory, if there is one. */
export function findDefaultConfig(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = defaultConfigDir(env);
  for (const name of DEFAULT_CONFIG_NAMES) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

export function loadConfig(opts: LoadConfigOptions = {}): FleetConfig {
  const raw = opts.env ?? process.env;
  // An empty variable (FLEET_DB=) means unset, as it does for most tools.
  const env = (name: string): string | undefined => (raw[name] ? raw[name] : undefined);
  const configPath = opts.configPath || env("FLEET_CONFIG") || findDefaultConfig(raw);
  const file = opts.fileContent !== undefined ? validateConfigFile(opts.fileContent, configPath ?? "(config)") : configPath ? readConfigFile(configPath) : {};
  // Inline bearer tokens are the one secret a file may hold, and only a file no one else can read.
  if (configPath && opts.fileContent === undefined && file.http?.tokens.some((t) => t.token !== undefined)) assertPrivate(configPath);

  const levelRaw = env("FLEET_LOG_LEVEL") ?? file.log_level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(levelRaw)) {
    throw new ConfigError(`FLEET_LOG_LEVEL=${JSON.stringify(levelRaw)} is not a log level; use one of ${LOG_LEVELS.join(", ")}.`);
  }

  const sources = file.sources ?? [LocalSourceConfigSchema.parse({ kind: "local" }), ...proxmoxFromEnv(env)];
  const dbRaw = opts.db || env("FLEET_DB") || file.db || defaultDbPath(raw);

  const secrets = new Map<string, SourceSecrets>();
  sources.forEach((src, i) => {
    if (src.kind === "local") return;
    const need = (name: string | undefined, field: string): string | undefined => {
      if (!name) return undefined;
      const v = env(name);
      if (v === undefined)
        throw new ConfigError(`sources[${i}] (${src.id}).${field} names ${name}, but that environment variable is not set. Set it, or remove ${field}.`);
      return v;
    };
    const sshSecrets = (auth: z.infer<typeof SshAuthConfigSchema>, field: string): SourceSecrets => {
      const pw = need(auth.password_env, `${field}.password_env`);
      const pp = need(auth.passphrase_env, `${field}.passphrase_env`);
      const agentSocket = auth.agent ? env("SSH_AUTH_SOCK") : undefined;
      return { ...(pw !== undefined ? { password: pw } : {}), ...(pp !== undefined ? { passphrase: pp } : {}), ...(agentSocket ? { agentSocket } : {}) };
    };
    if (src.kind === "proxmox") {
      const password = need(src.password_env, "password_env");
      const tokenSecret = need(src.token_secret_env, "token_secret_env");
      secrets.set(src.id, { ...(password !== undefined ? { password } : {}), ...(tokenSecret !== undefined ? { tokenSecret } : {}) });
      if (src.cli_fallback) secrets.set(cliSourceId(src.id), sshSecrets(src.cli_fallback.auth, "cli_fallback.auth"));
      if (src.guests) {
        const gp = need(src.guests.auth.password_env, "guests.auth.password_env");
        const gk = need(src.guests.auth.passphrase_env, "guests.auth.passphrase_env");
        const agentSocket = src.guests.auth.agent ? env("SSH_AUTH_SOCK") : undefined;
        secrets.set(guestSourceId(src.id), {
          ...(gp !== undefined ? { password: gp } : {}),
          ...(gk !== undefined ? { passphrase: gk } : {}),
          ...(agentSocket ? { agentSocket } : {}),
        });
      }
      return;
    }
    if (src.kind === "proxmox-cli") {
      secrets.set(src.id, sshSecrets(src.auth, "auth"));
      return;
    }
    const password = need(src.auth.password_env, "auth.password_env");
    const passphrase = need(src.auth.passphrase_env, "auth.passphrase_env");
    const agentSocket = src.auth.agent ? env("SSH_AUTH_SOCK") : undefined;
    secrets.set(src.id, {
      ...(password !== undefined ? { password } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
      ...(agentSocket ? { agentSocket } : {}),
    });
  });
  const http = httpConfig(file.http, env);
  const secretValues = [
    ...[...secrets.values()].flatMap((s) => [s.password, s.passphrase, s.tokenSecret].filter((v): v is string => v !== undefined)),
    ...http.tokens.map((t) => t.token),
  ];

  /** An interval from its variable when set, else the file's key, else the default; errors name whichever was used. */
  const interval = (name: string, key: "discovery_interval" | "health_check_interval", dflt: number) => {
    const fromEnv = env(name);
    return fromEnv !== undefined ? intervalMs(fromEnv, name) : intervalMs(file.schedule?.[key] ?? dflt, `schedule.${key}`);
  };
  return {
    dbPath: dbRaw === ":memory:" ? dbRaw : resolve(dbRaw),
    logLevel: levelRaw as LogLevel,
    logPretty: opts.stderrIsTty ?? Boolean(process.stderr.isTTY),
    sources,
    configFile: configPath ? resolve(configPath) : null,
    limits: {
      maxResultBytes: file.limits?.max_result_bytes ?? 100 * 1024,
      discoveryTimeoutMs: file.limits?.discovery_timeout_ms ?? 10 * 60 * 1000,
      maxConcurrentProbes: intEnv(env, "FLEET_MAX_CONCURRENT_PROBES", 1, 1024) ?? file.limits?.max_concurrent_probes ?? 32,
      maxFleetSize: intEnv(env, "FLEET_MAX_FLEET_SIZE", 1, 10_000_000) ?? file.limits?.max_fleet_size ?? null,
    },
    schedule: {
      discoveryIntervalMs: interval("FLEET_DISCOVERY_INTERVAL", "discovery_interval", 300),
      healthCheckIntervalMs: interval("FLEET_HEALTH_CHECK_INTERVAL", "health_check_interval", 60),
      jitter: file.schedule?.jitter ?? 0.1,
    },
    http,
    lifecycle: {
      staleAfterMs: (file.lifecycle?.stale_after_hours ?? 24) * 3600_000,
      retireAfterMs: file.lifecycle?.retire_after_days ? file.lifecycle.retire_after_days * 86400_000 : null,
    },
    roles: file.roles ?? [],
    health: file.health ?? HealthThresholdsSchema.parse({}),
    snapshots: snapshotPolicy(file.snapshots, dbRaw === ":memory:" ? null : resolve(dbRaw), raw.HOME || homedir()),
    prometheus: prometheusConfig(file.prometheus, raw.HOME || homedir()),
    tools: toolsConfig(file.tools, env("FLEET_TOOL_PRESET")),
    secrets,
    secretValues,
    autoRegister: parseBool(env("FLEET_AUTO_REGISTER"), "FLEET_AUTO_REGISTER") ?? false,
    home: raw.HOME || homedir(),
  };
}

/**
 * The environment names Proxmox users already have, for a single cluster when
 * no config file lists sources: PROXMOX_HOST with PROXMOX_TOKEN_ID +
 * PROXMOX_TOKEN_SECRET, or PROXMOX_USERNAME + PROXMOX_PASSWORD.
 */
function proxmoxFromEnv(env: (name: string) => string | undefined): SourceConfig[] {
  const host = env("PROXMOX_HOST");
  if (!host) return [];
  const m = /^([^:\[\]]+|\[[^\]]+\])(?::(\d+))?$/.exec(host);
  const raw = {
    kind: "proxmox",
    id: "proxmox",
    host: m ? m[1]!.replace(/^\[|\]$/g, "") : host,
    ...(m?.[2] ? { port: Number(m[2]) } : {}),
    ...(env("PROXMOX_TOKEN_ID")
      ? { token_id: env("PROXMOX_TOKEN_ID"), token_secret_env: "PROXMOX_TOKEN_SECRET" }
      : { username: env("PROXMOX_USERNAME") ?? "root@pam", password_env: "PROXMOX_PASSWORD" }),
    ...(env("PROXMOX_CA_FILE") ? { ca_file: env("PROXMOX_CA_FILE") } : {}),
    ...(env("PROXMOX_FINGERPRINT") ? { fingerprint: env("PROXMOX_FINGERPRINT") } : {}),
    ...(parseBool(env("PROXMOX_INSECURE"), "PROXMOX_INSECURE") ? { insecure: true } : {}),
  };
  const parsed = ProxmoxSourceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`PROXMOX_* environment: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(source)"}: ${i.message}`).join("; ")}`);
  }
  return [parsed.data];
}

function snapshotPolicy(raw: z.input<typeof SnapshotPolicySchema> | undefined, dbPath: string | null, home: string): FleetConfig["snapshots"] {
  const p = SnapshotPolicySchema.parse(raw ?? {});
  const expand = (path: string) => (path === "~" || path.startsWith("~/") ? join(home, path.slice(1)) : resolve(path));
  const archiveDir = p.archive_dir ? expand(p.archive_dir) : join(dbPath ? dirname(dbPath) : join(dirname(defaultDbPath()), "memory"), "snapshot-archive");
  return { auto: p.auto, retentionMs: p.retention_days === null ? null : p.retention_days * 86400_000, minKeep: p.min_keep, archiveDir, onExpire: p.on_expire };
}

function prometheusConfig(raw: z.input<typeof PrometheusConfigSchema> | undefined, home: string): FleetConfig["prometheus"] {
  const p = PrometheusConfigSchema.parse(raw ?? {});
  const path = p.file_sd_path ? (p.file_sd_path.startsWith("~/") ? join(home, p.file_sd_path.slice(2)) : resolve(p.file_sd_path)) : null;
  return { staticLabels: p.static_labels, fileSdPath: path, defaultPort: p.default_port, writeAfterDiscovery: p.write_after_discovery };
}

/** The id under which a Proxmox source's CLI fallback (and its SSH secrets) is recorded. */
export function cliSourceId(proxmoxSourceId: string): string {
  return `${proxmoxSourceId}-cli`;
}

/** The id under which a Proxmox source's guest probes (and their secrets) are recorded. */
export function guestSourceId(proxmoxSourceId: string): string {
  return `${proxmoxSourceId}-guests`;
}

function toolsConfig(file: z.infer<typeof ToolsConfigSchema> | undefined, envPreset: string | undefined): FleetConfig["tools"] {
  if (envPreset !== undefined && !(TOOL_PRESETS as readonly string[]).includes(envPreset)) {
    throw new ConfigError(`FLEET_TOOL_PRESET=${JSON.stringify(envPreset)} is not a preset; use one of ${TOOL_PRESETS.join(", ")}.`);
  }
  return { preset: (envPreset as ToolPreset | undefined) ?? file?.preset ?? "readonly", allow: file?.allow ?? [], deny: file?.deny ?? [] };
}

/** "300", 300, "90s", "5m", "1h", "0", "off" -> milliseconds (0 = off). */
export function intervalMs(v: string | number, name: string): number {
  if (typeof v === "number") return v * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/i.exec(v);
  if (/^\s*(off|never|disabled)\s*$/i.test(v)) return 0;
  const seconds = m ? Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(m[2]?.toLowerCase() ?? "s") as "s" | "m" | "h"] : NaN;
  if (!Number.isFinite(seconds) || seconds > 7 * 86400 || (seconds > 0 && seconds < 5)) {
    throw new ConfigError(
      `${name}=${JSON.stringify(v)} is not an interval; use seconds (e.g. 300), a unit (90s, 5m, 1h; at least 5s, at most 7 days) or 0 to turn it off.`,
    );
  }
  return Math.round(seconds * 1000);
}

function intEnv(env: (name: string) => string | undefined, name: string, min: number, max: number): number | undefined {
  const v = env(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new ConfigError(`${name}=${JSON.stringify(v)} must be a whole number from ${min} to ${max}.`);
  return n;
}

/** A bearer token from the environment must be as long as the schema asks of one in the file. */
function longToken(token: string, what: string): string {
  if (token.length < 16) throw new ConfigError(`${what} is shorter than 16 characters; use a long random token, e.g. \`openssl rand -hex 32\`.`);
  return token;
}

function httpConfig(raw: z.input<typeof HttpConfigSchema> | undefined, env: (name: string) => string | undefined): FleetConfig["http"] {
  const h = HttpConfigSchema.parse(raw ?? {});
  const tokens = h.tokens.map((t, i) => {
    if (t.token !== undefined) return { name: t.name, token: t.token };
    const v = env(t.token_env!);
    if (v === undefined)
      throw new ConfigError(
        `http.tokens[${i}] (${t.name}).token_env names ${t.token_env}, but that environment variable is not set. Set it, or remove the token.`,
      );
    return { name: t.name, token: longToken(v, `${t.token_env} (http token ${t.name})`) };
  });
  const fromEnv = env("FLEET_HTTP_TOKEN");
  if (fromEnv !== undefined) {
    const token = longToken(fromEnv, "FLEET_HTTP_TOKEN");
    if (!tokens.some((t) => t.name === "env")) tokens.push({ name: "env", token });
  }
  return {
    host: h.host,
    port: h.port,
    tokens,
    allowedOrigins: h.allowed_origins,
    allowedHosts: h.allowed_hosts,
    httpSd: h.http_sd,
    metrics: h.metrics,
    metricsPublic: h.metrics_public,
  };
}

/** A config file holding a secret must not be readable by group or others. */
function assertPrivate(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return;
  }
  if (mode & 0o044) {
    throw new ConfigError(
      `Config file ${path} holds a bearer token (http.tokens[].token) but is readable by other users (mode ${mode.toString(8).padStart(4, "0")}). Run \`chmod 600 ${path}\`, or move the token to an environment variable and name it in token_env.`,
    );
  }
}

/** YAML for .yaml/.yml, JSON for .json (anything else: JSON if it parses, else YAML). */
export function configFormat(path: string): "yaml" | "json" | "auto" {
  const ext = extname(path).toLowerCase();
  return ext === ".yaml" || ext === ".yml" ? "yaml" : ext === ".json" ? "json" : "auto";
}

/** Parses a config file's text; throws ConfigError naming the file and the line. */
export function parseConfigText(text: string, path: string): unknown {
  const format = configFormat(path);
  if (format !== "yaml") {
    try {
      return JSON.parse(text);
    } catch (err) {
      if (format === "json") throw new ConfigError(`Config file ${path} is not valid JSON: ${(err as Error).message}`);
    }
  }
  try {
    // Plain data only: no custom tags, no merge keys, no aliases expanding into huge documents.
    return parseYaml(text, { schema: "core", merge: false, maxAliasCount: 0, prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`Config file ${path} is not valid ${format === "yaml" ? "YAML" : "JSON or YAML"}: ${(err as Error).message}`);
  }
}

/** The text of a config file in its own format (YAML or JSON by extension). */
export function serializeConfig(value: unknown, path: string): string {
  return configFormat(path) === "yaml" ? stringifyYaml(value, { lineWidth: 0 }) : `${JSON.stringify(value, null, 2)}\n`;
}

function parseBool(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(v)} is not a boolean; use true or false.`);
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
  return validateConfigFile(parseConfigText(text, path) ?? {}, path);
}

/** Every key name anywhere in the config schema, for "did you mean" hints. */
let knownKeys: Set<string> | null = null;
function allKeys(): Set<string> {
  if (knownKeys) return knownKeys;
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (schema: unknown) => {
    if (!schema || typeof schema !== "object" || seen.has(schema)) return;
    seen.add(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    if (def.type === "object") {
      for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
        keys.add(k);
        walk(v);
      }
    }
    for (const field of ["innerType", "element", "in", "out", "valueType"]) walk(def[field]);
    if (Array.isArray(def.options)) def.options.forEach(walk);
  };
  walk(ConfigFileSchema);
  knownKeys = keys;
  return keys;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** "did you mean discovery_interval?" for a misspelt key, or "" when nothing is close. */
export function suggestKey(key: string): string {
  let best: { k: string; d: number } | null = null;
  for (const k of allKeys()) {
    const d = editDistance(key.toLowerCase(), k);
    if (d <= Math.max(1, Math.floor(k.length / 4)) && (!best || d < best.d)) best = { k, d };
  }
  return best ? ` (did you mean "${best.k}"?)` : "";
}

export function validateConfigFile(raw: unknown, path: string): ConfigFile {
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const where = i.path.length ? i.path.join(".") : "(root)";
      if (i.code === "unrecognized_keys") {
        const keys = (i as { keys: string[] }).keys;
        return `  - ${where}: unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"${suggestKey(k)}`).join(", ")}; remove ${keys.length > 1 ? "them" : "it"} (docs/configuration.md lists every key)`;
      }
      return `  - ${where}: ${i.message}`;
    });
    throw new ConfigError(`Config file ${path} is invalid:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
