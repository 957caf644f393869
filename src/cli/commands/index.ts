// Every CLI command, in the order `fleet-mcp --help` lists them. Add a command by
// writing commands/<name>.ts and listing it here.
import type { Command } from "../command.js";
import { auditCommand } from "./audit.js";
import { discoverCommand } from "./discover.js";
import { exportCommand } from "./export.js";
import { importCommand } from "./import.js";
import { serveCommand } from "./serve.js";

export const COMMANDS: Command[] = [serveCommand, discoverCommand, exportCommand, importCommand, auditCommand];
