// The config file as something an agent can read and change: a masked view of
// the effective configuration, and updates that are validated by the same
// schemas and loader as the file at start-up, written atomically, then swapped
// into the running app. Secrets never pass through here: the file only names
// environment variables, and the view shows names, never values.
import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ConfigError, ConfigFileSchema, parseConfigText, serializeConfig, type FleetConfig, type HealthThresholds, type RoleRule } from "../config.js";
import { writeFileAtomic } from "../inventory/files.js";
import type { AppContext } from "./context.js";

export class ConfigUpdateError extends Error {
  override name = "ConfigUpdateError";
}

export interface SourceView {
  id: string;
  kind: string;
  /** The source's settings with defaults applied, without the *_env fields (listed in env_vars). */
  settings: Record<string, unknown>;
  /** Environment variables the source reads its secrets from: names only. */
  env_vars: Array<{ setting: string; name: string }>;
}

export interface ConfigView {
  config_file: string | null;
  db_path: string;
  log_level: string;
  sources: SourceView[];
  lifecycle: { stale_after_hours: number; retire_after_days: number | null };
  roles: RoleRule[];
  health: HealthThresholds;
  snapshots: { auto: boolean; retention_days: number | null; min_keep: number; archive_dir: string; on_expire: string };
  limits: { max_result_bytes: number; discovery_timeout_ms: number; max_concurrent_probes: number; max_fleet_size: number | null };
  schedule: { discovery_interval_s: number; health_check_interval_s: number; jitter: number };
  /** Token names only. */
  http: {
    host: string;
    port: number;
    tokens: string[];
    allowed_origins: string[];
    allowed_hosts: string[];
    http_sd: boolean;
    metrics: boolean;
    metrics_public: boolean;
  };
  prometheus: { static_labels: Record<string, string>; file_sd_path: string | null; default_port: number; write_after_discovery: boolean };
  auto_register: boolean;
}

// Inline secrets are refused by the schemas; dropped here too so no future field can leak through the view.
const INLINE_SECRET_KEYS = new Set(["password", "passphrase", "private_key", "token_secret"]);

function splitSettings(value: unknown, prefix: string, envVars: SourceView["env_vars"]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => splitSettings(v, `${prefix}[${i}]`, envVars));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || INLINE_SECRET_KEYS.has(k)) continue;
      const path = prefix ? `${prefix}.${k}` : k;
      if (k.endsWith("_env") && typeof v === "string") envVars.push({ setting: path, name: v });
      else out[k] = splitSettings(v, path, envVars);
    }
    return out;
  }
  return value;
}

/** The effective configuration, safe to show: env-var names, never secret values. */
export function configView(config: FleetConfig): ConfigView {
  return {
    config_file: config.configFile,
    db_path: config.dbPath,
    log_level: config.logLevel,
    sources: config.sources.map((s) => {
      const env_vars: SourceView["env_vars"] = [];
      const { id, kind, ...rest } = s;
      return { id, kind, settings: splitSettings(rest, "", env_vars) as Record<string, unknown>, env_vars };
    }),
    lifecycle: {
      stale_after_hours: config.lifecycle.staleAfterMs / 3600_000,
      retire_after_days: config.lifecycle.retireAfterMs === null ? null : config.lifecycle.retireAfterMs / 86400_000,
    },
    roles: config.roles,
    health: config.health,
    snapshots: {
      auto: config.snapshots.auto,
      retention_days: config.snapshots.retentionMs === null ? null : config.snapshots.retentionMs / 86400_000,
      min_keep: config.snapshots.minKeep,
      archive_dir: config.snapshots.archiveDir,
      on_expire: config.snapshots.onExpire,
    },
    limits: {
      max_result_bytes: config.limits.maxResultBytes,
      discovery_timeout_ms: config.limits.discoveryTimeoutMs,
      max_concurrent_probes: config.limits.maxConcurrentProbes,
      max_fleet_size: config.limits.maxFleetSize,
    },
    schedule: {
      discovery_interval_s: config.schedule.discoveryIntervalMs / 1000,
      health_check_interval_s: config.schedule.healthCheckIntervalMs / 1000,
      jitter: config.schedule.jitter,
    },
    http: {
      host: config.http.host,
      port: config.http.port,
      tokens: config.http.tokens.map((t) => t.name),
      allowed_origins: config.http.allowedOrigins,
      allowed_hosts: config.http.allowedHosts,
      http_sd: config.http.httpSd,
      metrics: config.http.metrics,
      metrics_public: config.http.metricsPublic,
    },
    prometheus: {
      static_labels: config.prometheus.staticLabels,
      file_sd_path: config.prometheus.fileSdPath,
      default_port: config.prometheus.defaultPort,
      write_after_discovery: config.prometheus.writeAfterDiscovery,
    },
    auto_register: config.autoRegister,
  };
}

export interface ConfigDiffEntry {
  /** e.g. sources[web].settings.hosts, health.memory_warning_pct, roles[0] */
  path: string;
  /** null when the setting did not exist before (or does not after). */
  before: unknown;
  after: unknown;
}

/** Leaf-level differences; a subtree present on one side only is one entry. Sources are keyed by id, not position. */
export function diffViews(before: ConfigView, after: ConfigView): ConfigDiffEntry[] {
  const out: ConfigDiffEntry[] = [];
  const keyed = (v: ConfigView) => ({ ...v, sources: Object.fromEntries(v.sources.map(({ id, ...s }) => [id, s])) });
  const walk = (a: unknown, b: unknown, path: string) => {
    if (isDeepStrictEqual(a, b)) return;
    const bothObjects = a !== null && b !== null && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b);
    if (!bothObjects) {
      out.push({ path, before: a === undefined ? null : a, after: b === undefined ? null : b });
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])]) {
      walk(ao[k], bo[k], path === "sources" ? `sources[${k}]` : path ? `${path}.${k}` : k);
    }
  };
  walk(keyed(before), keyed(after), "");
  return out;
}

export interface ConfigChanges {
  /** Source objects as in the file's `sources`: replaces the source with the same id (id defaults to the kind), else appended. */
  upsertSources?: Array<Record<string, unknown>>;
  /** Ids of sources to remove (applied before upsertSources). */
  removeSources?: string[];
  /** Replaces the role rules. */
  roles?: Array<Record<string, unknown>>;
  /** Merged into the file's section; a null value removes the key (back to its default). */
  health?: Record<string, unknown>;
  snapshots?: Record<string, unknown>;
  lifecycle?: Record<string, unknown>;
}

export interface ConfigUpdateResult {
  configFile: string;
  written: boolean;
  changes: ConfigDiffEntry[];
  before: ConfigView;
  after: ConfigView;
}

const WITHOUT_FILE =
  "The server was started without a config file, so there is nowhere to keep changes. Create ~/.config/fleet-mcp/fleet.config.yaml (an empty file is a valid start; JSON works too) or pass --config /path/to/fleet.config.yaml (or FLEET_CONFIG), restart the server, then call update_discovery_config again.";

function merge(base: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = base && typeof base === "object" && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Issue paths in the file's terms, with the source id, so the caller can find the setting. */
function issuePath(path: readonly PropertyKey[], file: Record<string, unknown>): string {
  if (path.length === 0) return "(root)";
  let out = "";
  path.forEach((p, i) => {
    if (typeof p === "number") {
      out += `[${p}]`;
      if (i === 1 && path[0] === "sources") {
        const src = (file.sources as Array<Record<string, unknown>>)[p];
        const id = src && typeof src === "object" ? (src.id ?? src.kind) : undefined;
        if (typeof id === "string") out += ` (id "${id}")`;
      }
    } else out += out ? `.${String(p)}` : String(p);
  });
  return out;
}

function assertWritable(path: string): void {
  try {
    accessSync(path, constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigUpdateError(
      `The config file ${path} (or its directory, where the new version is written first) is not writable (${code}). Give this server's user write access to both, or restart it with a config file it may write.`,
    );
  }
}

/**
 * Applies `changes` to the config file: validated by ConfigFileSchema and by the
 * same loader as at start-up (so env vars named by new sources must be set),
 * written atomically unless `dryRun`, then swapped into the running app.
 */
export function updateConfigFile(app: AppContext, changes: ConfigChanges, opts: { dryRun: boolean }): ConfigUpdateResult {
  const path = app.config.configFile;
  if (!path) throw new ConfigUpdateError(WITHOUT_FILE);
  let raw: unknown;
  try {
    raw = parseConfigText(readFileSync(path, "utf8"), path) ?? {};
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigUpdateError(`${err.message} Fix the file, then call again.`);
    throw new ConfigUpdateError(
      `Cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Fix or restore the file, then call again.`,
    );
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new ConfigUpdateError(`The config file ${path} is not a mapping of settings. Fix the file, then call again.`);
  const current = raw as Record<string, unknown>;
  const next: Record<string, unknown> = { ...current };

  if (changes.removeSources?.length || changes.upsertSources?.length) {
    // A file without `sources` runs the defaults (local, PROXMOX_*): they become explicit so an added source does not silently replace them.
    let sources = (Array.isArray(current.sources) ? current.sources : app.config.sources) as Array<Record<string, unknown>>;
    const idOf = (s: Record<string, unknown>) => (typeof s.id === "string" ? s.id : String(s.kind));
    for (const id of changes.removeSources ?? []) {
      if (!sources.some((s) => idOf(s) === id)) {
        throw new ConfigUpdateError(`remove_sources: there is no source "${id}". Configured sources: ${sources.map(idOf).join(", ")}. Nothing was written.`);
      }
      sources = sources.filter((s) => idOf(s) !== id);
    }
    for (const src of changes.upsertSources ?? []) {
      const i = sources.findIndex((s) => idOf(s) === idOf(src));
      sources = i >= 0 ? sources.map((s, j) => (j === i ? src : s)) : [...sources, src];
    }
    if (sources.length === 0) {
      throw new ConfigUpdateError(
        'This change removes every source; at least one must stay. Add a source in upsert_sources (e.g. {"kind":"local"}). Nothing was written.',
      );
    }
    next.sources = sources;
  }
  if (changes.roles) next.roles = changes.roles;
  // Where the server writes files is the file owner's choice, never a caller's: a
  // tool call must not point snapshot archives at another directory (or the default).
  if (changes.snapshots && Object.hasOwn(changes.snapshots, "archive_dir")) {
    const file = current.snapshots && typeof current.snapshots === "object" ? (current.snapshots as Record<string, unknown>) : {};
    if ((changes.snapshots.archive_dir ?? undefined) !== file.archive_dir) {
      throw new ConfigUpdateError(
        `snapshots.archive_dir is where this server writes files, so only the config file sets it: edit ${path} and restart the server, or call again without archive_dir. Nothing was written.`,
      );
    }
  }
  for (const key of ["health", "snapshots", "lifecycle"] as const) {
    const patch = changes[key];
    if (!patch) continue;
    const merged = merge(current[key], patch);
    if (Object.keys(merged).length === 0) delete next[key];
    else next[key] = merged;
  }

  const parsed = ConfigFileSchema.safeParse(next);
  if (!parsed.success) {
    // Bounded: an issue may quote a key of any length the caller sent (e.g. an unrecognised one).
    const lines = parsed.error.issues.slice(0, 8).map((i) => {
      const line = `${issuePath(i.path, next)}: ${i.message}`;
      return line.length > 300 ? `${line.slice(0, 300)}…` : line;
    });
    if (parsed.error.issues.length > 8) lines.push(`and ${parsed.error.issues.length - 8} more`);
    throw new ConfigUpdateError(
      `The change is invalid, nothing was written: ${lines.join("; ")}. Fix these settings and call again (get_discovery_config shows the current ones; docs/configuration.md lists every key).`,
    );
  }
  let loaded: FleetConfig;
  try {
    loaded = app.reloadConfig(next);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigUpdateError(`${err.message} Nothing was written.`);
    throw err;
  }
  // Only what an agent may change goes live; db, limits, logging and the tool list keep their start-up values.
  const applied: FleetConfig = {
    ...app.config,
    sources: loaded.sources,
    secrets: loaded.secrets,
    secretValues: loaded.secretValues,
    roles: loaded.roles,
    health: loaded.health,
    snapshots: loaded.snapshots,
    lifecycle: loaded.lifecycle,
  };
  const before = configView(app.config);
  const after = configView(applied);
  const changed = !isDeepStrictEqual(next, current);
  if (!opts.dryRun) {
    if (changed) {
      assertWritable(path);
      writeFileAtomic(path, serializeConfig(next, path), 0o600);
    }
    app.applyConfig(applied);
  }
  return { configFile: path, written: !opts.dryRun && changed, changes: diffViews(before, after), before, after };
}
