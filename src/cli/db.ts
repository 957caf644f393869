// Commands that read an existing inventory: the database must exist (a typo in
// --db must not create an empty one and report on nothing).
import { existsSync } from "node:fs";
import { createApp, type AppContext } from "../app/context.js";
import type { FleetConfig } from "../config.js";
import { closeDb, openDb, type Db } from "../db/open.js";
import { UsageError } from "./command.js";

export function requireDbPath(config: FleetConfig): string {
  if (config.dbPath !== ":memory:" && !existsSync(config.dbPath)) {
    throw new UsageError(`no database at ${config.dbPath}; pass the right --db or FLEET_DB, or run \`fleet-mcp discover\` first.`);
  }
  return config.dbPath;
}

/** Opens the existing inventory, runs fn, closes it. */
export async function withDb<T>(config: FleetConfig, fn: (db: Db) => Promise<T> | T): Promise<T> {
  const db = openDb(requireDbPath(config));
  try {
    return await fn(db);
  } finally {
    closeDb(db);
  }
}

/** The whole application over the existing inventory (for commands that reuse the tools' logic). */
export async function withApp<T>(config: FleetConfig, fn: (app: AppContext) => Promise<T> | T, opts: { create?: boolean } = {}): Promise<T> {
  if (!opts.create) requireDbPath(config);
  const app = createApp({ config });
  try {
    return await fn(app);
  } finally {
    closeDb(app.db);
  }
}
