// The application: config, database, logger, clock and the discovery service,
// assembled once and shared by the MCP tools, the CLI and (later) the scheduler.
import type { FleetConfig } from "../config.js";
import { openDb, type Db } from "../db/open.js";
import { markInterruptedRuns } from "../inventory/store.js";
import { createLogger, type Logger } from "../log.js";
import { secretValueRedactor, type Redactor } from "../redact.js";
import { DiscoveryService } from "./discovery-service.js";
import { isRunAlive, RUN_GRACE_MS } from "./liveness.js";
import { createSource, type SourceFactory } from "./sources.js";

export interface AppContext {
  config: FleetConfig;
  db: Db;
  log: Logger;
  now: () => Date;
  redact: Redactor;
  discovery: DiscoveryService;
}

export interface CreateAppOptions {
  config: FleetConfig;
  db?: Db;
  log?: Logger;
  now?: () => Date;
  sourceFactory?: SourceFactory;
}

export function createApp(opts: CreateAppOptions): AppContext {
  const { config } = opts;
  const redact = secretValueRedactor(config.secretValues);
  const log = opts.log ?? createLogger({ level: config.logLevel, pretty: config.logPretty, redact });
  const now = opts.now ?? (() => new Date());
  const db = opts.db ?? openDb(config.dbPath);
  const maxAge = config.limits.discoveryTimeoutMs + RUN_GRACE_MS;
  const interrupted = markInterruptedRuns(db, (run) => isRunAlive(run, maxAge, now()), now());
  if (interrupted.length > 0) log.warn("marked discovery runs interrupted: their process stopped before finishing", { run_ids: interrupted });
  const discovery = new DiscoveryService({ db, log, now, config, sourceFactory: opts.sourceFactory ?? createSource });
  return { config, db, log, now, redact, discovery };
}
