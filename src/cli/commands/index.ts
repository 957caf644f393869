// Every CLI command, in the order `fleet-mcp --help` lists them. Add a command by
// writing commands/<name>.ts and listing it here.
import type { Command } from "../command.js";
import { auditCommand } from "./audit.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { diffCommand } from "./diff.js";
import { discoverCommand } from "./discover.js";
import { doctorCommand } from "./doctor.js";
import { eventsCommand } from "./events.js";
import { exportCommand } from "./export.js";
import { healthCommand } from "./health.js";
import { importCommand } from "./import.js";
import { overviewCommand } from "./overview.js";
import { reportCommand } from "./report.js";
import { searchCommand } from "./search.js";
import { serveCommand } from "./serve.js";
import { snapshotCommand } from "./snapshot.js";
import { targetCommand } from "./target.js";
import { targetsCommand } from "./targets.js";

export const COMMANDS: Command[] = [
  serveCommand,
  discoverCommand,
  overviewCommand,
  targetsCommand,
  targetCommand,
  searchCommand,
  healthCommand,
  eventsCommand,
  reportCommand,
  snapshotCommand,
  diffCommand,
  doctorCommand,
  configCommand,
  exportCommand,
  importCommand,
  auditCommand,
  demoCommand,
];
