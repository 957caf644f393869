// Library entry: embed fleet-mcp (tests, other hosts) without the CLI.
export { createApp, type AppContext } from "./app/context.js";
export { loadConfig, type FleetConfig } from "./config.js";
export { openDb, closeDb, type Db } from "./db/open.js";
export { buildServer, INSTRUCTIONS } from "./server.js";
export { verifyAuditChain } from "./inventory/audit.js";
