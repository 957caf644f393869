// The application: config, database, logger, clock and the discovery service,
// assembled once and shared by the MCP tools, the CLI and (later) the scheduler.
import { loadConfig, type FleetConfig } from "../config.js";
import { openDb, type Db } from "../db/open.js";
import { markInterruptedRuns } from "../inventory/store.js";
import { createLogger, type Logger } from "../log.js";
import { secretValueRedactor, type Redactor } from "../redact.js";
import { DiscoveryService } from "./discovery-service.js";
import { AppEvents } from "./events.js";
import { watchFileSd } from "./file-sd.js";
import { isRunAlive, RUN_GRACE_MS } from "./liveness.js";
import type { Scheduler } from "./scheduler.js";
import { createSource, type SourceFactory } from "./sources.js";

export interface AppContext {
  config: FleetConfig;
  db: Db;
  log: Logger;
  now: () => Date;
  redact: Redactor;
  discovery: DiscoveryService;
  /** run_finished and tool_call notifications (metrics, file_sd, scheduler). */
  events: AppEvents;
  /** The periodic discovery and health check of a long-running server (set by `serve`); null in one-shot commands and tests. */
  scheduler: Scheduler | null;
  /** A FleetConfig from a config file's content (not yet written), with the flags and environment this process started with. Throws ConfigError. */
  reloadConfig(fileContent: unknown): FleetConfig;
  /** Swaps the running config (update_discovery_config): the next discovery run, tool call and redaction use it. */
  applyConfig(next: FleetConfig): void;
}

export interface CreateAppOptions {
  config: FleetConfig;
  db?: Db;
  log?: Logger;
  now?: () => Date;
  sourceFactory?: SourceFactory;
  reloadConfig?: (fileContent: unknown) => FleetConfig;
}

export function createApp(opts: CreateAppOptions): AppContext {
  const { config } = opts;
  // Indirect so that secrets named by a config update are redacted too, by the logger as well.
  let redactCurrent = secretValueRedactor(config.secretValues);
  let secretValues = config.secretValues;
  const redact: Redactor = (text) => redactCurrent(text);
  const log = opts.log ?? createLogger({ level: config.logLevel, pretty: config.logPretty, redact });
  const now = opts.now ?? (() => new Date());
  const db = opts.db ?? openDb(config.dbPath);
  const maxAge = config.limits.discoveryTimeoutMs + RUN_GRACE_MS;
  const interrupted = markInterruptedRuns(db, (run) => isRunAlive(run, maxAge, now()), now());
  if (interrupted.length > 0) log.warn("marked discovery runs interrupted: their process stopped before finishing", { run_ids: interrupted });
  const events = new AppEvents(log);
  const discovery = new DiscoveryService({ db, log, now, config, events, sourceFactory: opts.sourceFactory ?? createSource });
  const app: AppContext = {
    config,
    db,
    log,
    now,
    redact,
    discovery,
    events,
    scheduler: null,
    reloadConfig:
      opts.reloadConfig ??
      ((fileContent) => loadConfig({ configPath: app.config.configFile ?? undefined, db: app.config.dbPath, fileContent, stderrIsTty: app.config.logPretty })),
    applyConfig(next) {
      // Old secrets may still sit in events and logs: keep redacting them.
      secretValues = [...new Set([...secretValues, ...next.secretValues])];
      redactCurrent = secretValueRedactor(secretValues);
      app.config = next;
      discovery.setConfig(next);
    },
  };
  watchFileSd({ config: () => app.config, db, log, events });
  return app;
}
