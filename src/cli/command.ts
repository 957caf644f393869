// The CLI's seam: every command is a Command in commands/index.ts with its own
// options, help text and run(). main.ts parses the global options, finds the
// command, gives it a context and maps errors to exit codes.
import type { ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig, type FleetConfig } from "../config.js";
import type { Output } from "./output.js";

export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;
export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Exit codes, the same for every command (README "Exit codes"). */
export const EXIT = {
  /** Done, nothing wrong found. */
  OK: 0,
  /** The command ran and found a problem: a failed discovery, a broken audit chain, unhealthy targets with --fail-on, a refused import. */
  PROBLEM: 1,
  /** Bad usage or configuration: unknown command or option, invalid config file, missing database. */
  USAGE: 2,
  /** Interrupted by Ctrl-C (SIGINT). */
  INTERRUPTED: 130,
} as const;

/** Bad usage: main prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface CommandContext {
  /** Global options (db, config, json, color) and the command's own. */
  values: OptionValues;
  /** The positionals after the command name. */
  args: string[];
  out: Output;
  /** The effective configuration (--config/--db, FLEET_*); ConfigError means exit 2. Loaded once, on first call. */
  config(): FleetConfig;
}

export interface Command {
  name: string;
  /** One line in `fleet-mcp --help`. */
  summary: string;
  /** e.g. "fleet-mcp targets [--role R] [--json]" */
  usage: string;
  /** The rest of `fleet-mcp <command> --help`: options, examples. */
  help: string;
  /** The command's own options (the global ones are always accepted). */
  options?: OptionSpecs;
  /** Sub-commands this command accepts as its first argument, for the help and for suggestions. */
  subcommands?: string[];
  /** Hidden from the command list (aliases). */
  hidden?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export const GLOBAL_OPTIONS: OptionSpecs = {
  db: { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
};

export const GLOBAL_HELP = `Global options:
  --db PATH        Inventory database (default: $FLEET_DB, else
                   $XDG_DATA_HOME/fleet-mcp/fleet.db, else ~/.local/share/fleet-mcp/fleet.db)
  --config PATH    Config file, YAML or JSON (default: $FLEET_CONFIG, else
                   ~/.config/fleet-mcp/fleet.config.yaml|.yml|.json if present;
                   none = discover this machine)
  --json           Print JSON instead of tables (commands that print results)
  --no-color       No colour (also: NO_COLOR set, or stdout not a terminal)
  -h, --help       Help for fleet-mcp or for one command
  -v, --version    Print the version`;

/** Loads the configuration from the global options, once. */
export function configLoader(values: OptionValues): () => FleetConfig {
  let cached: FleetConfig | undefined;
  return () => {
    if (!cached) {
      cached = loadConfig({
        ...(typeof values.db === "string" ? { db: values.db } : {}),
        ...(typeof values.config === "string" ? { configPath: values.config } : {}),
      });
    }
    return cached;
  };
}

export { ConfigError };
