// `fleet-mcp [command] [options]`: finds the command, parses its options strictly
// (global ones always allowed), runs it and turns errors into exit codes. With no
// command it serves MCP on stdio, which is what MCP clients start.
import { parseArgs } from "node:util";
import { ConfigError } from "../config.js";
import { VERSION } from "../version.js";
import { EXIT, GLOBAL_HELP, GLOBAL_OPTIONS, UsageError, configLoader, type Command, type OptionSpecs, type OptionValues } from "./command.js";
import { COMMANDS as LISTED } from "./commands/index.js";
import { helpCommand } from "./commands/help.js";
import { createOutput, type Output } from "./output.js";

const COMMANDS: Command[] = [
  ...LISTED,
  helpCommand({
    top: () => topUsage(),
    of: (name) => {
      const c = findCommand(name);
      return c ? commandHelp(c) : null;
    },
  }),
];

export function topUsage(): string {
  const visible = COMMANDS.filter((c) => !c.hidden);
  const w = Math.max(...visible.map((c) => c.name.length));
  return `fleet-mcp ${VERSION} — a live, audited inventory of your machines for AI agents (MCP)

Usage:
  fleet-mcp [serve]                  Run the MCP server on stdio (what MCP clients start)
  fleet-mcp <command> [options]
  fleet-mcp <command> --help         Options and examples of one command

Commands:
${visible.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

${GLOBAL_HELP}

Environment: FLEET_CONFIG, FLEET_DB, FLEET_LOG_LEVEL (debug|info|warn|error|silent),
FLEET_DISCOVERY_INTERVAL, FLEET_HEALTH_CHECK_INTERVAL, FLEET_MAX_CONCURRENT_PROBES,
FLEET_MAX_FLEET_SIZE, FLEET_AUTO_REGISTER, FLEET_TOOL_PRESET, FLEET_HTTP_TOKEN, PROXMOX_*.
Exit codes: 0 ok; 1 the command ran and found a problem (failed discovery, broken audit chain,
refused import, health issues with --fail-on, critical changes with diff --fail-on-critical,
a failed doctor check, an error from the tool, e.g. no such target); 2 bad usage or configuration
(unknown command or option, invalid config, missing database); 130 interrupted.`;
}

export function commandHelp(c: Command): string {
  // Every command's help states its exit codes; the general ones when it has none of its own.
  const exit = /^Exit\b/m.test(c.help) ? "" : "\nExit: 0 ok, 1 the command ran and found a problem, 2 bad usage or configuration, 130 interrupted.\n";
  return `Usage: ${c.usage}\n\n${c.summary}\n${c.help ? `\n${c.help.trimEnd()}\n` : ""}${exit}\n${GLOBAL_HELP}`;
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The first positional, found with every command's options known (so `--db X serve` works). */
function commandName(argv: string[]): string | undefined {
  const all: OptionSpecs = { ...GLOBAL_OPTIONS };
  for (const c of COMMANDS) Object.assign(all, c.options ?? {});
  try {
    const { positionals } = parseArgs({ args: argv, options: all, allowPositionals: true, strict: false });
    return positionals[0];
  } catch {
    return argv.find((a) => !a.startsWith("-"));
  }
}

export async function main(
  argv: string[],
  io: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const name = commandName(argv);
  const command = findCommand(name ?? "serve");
  const early = createOutput({
    json: false,
    noColor: true,
    ...(io.stdout ? { stdout: io.stdout as never } : {}),
    ...(io.stderr ? { stderr: io.stderr as never } : {}),
  });
  if (!command) {
    const near = COMMANDS.filter((c) => !c.hidden && (c.name.startsWith(name!.slice(0, 2)) || name!.startsWith(c.name))).map((c) => c.name);
    early.error(`unknown command ${JSON.stringify(name)}${near.length ? `; did you mean ${near.join(" or ")}?` : ""}\n\n${topUsage()}`);
    return EXIT.USAGE;
  }
  let values: OptionValues;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...(command.options ?? {}) }, allowPositionals: true, strict: true }));
  } catch (err) {
    early.error(`${(err as Error).message}\n\n${name ? commandHelp(command) : topUsage()}`);
    return EXIT.USAGE;
  }
  if (values.version) {
    early.print(VERSION);
    return EXIT.OK;
  }
  if (values.help) {
    early.print(name ? commandHelp(command) : topUsage());
    return EXIT.OK;
  }
  const out: Output = createOutput({
    json: values.json === true,
    noColor: values["no-color"] === true,
    ...(io.stdout ? { stdout: io.stdout as never } : {}),
    ...(io.stderr ? { stderr: io.stderr as never } : {}),
    ...(io.env ? { env: io.env } : {}),
  });
  const args = name ? positionals.slice(1) : positionals;
  try {
    return await command.run({ values, args, out, config: configLoader(values) });
  } catch (err) {
    if (err instanceof ConfigError) {
      out.error(err.message);
      return EXIT.USAGE;
    }
    if (err instanceof UsageError) {
      out.error(`${err.message}\n\nUsage: ${command.usage}\n(fleet-mcp ${command.name} --help for more)`);
      return EXIT.USAGE;
    }
    throw err;
  }
}
