import { EXIT, UsageError, type Command } from "../command.js";

/** `fleet-mcp help [command]`; main.ts supplies the texts (it owns the command list). */
export function helpCommand(texts: { top(): string; of(name: string): string | null }): Command {
  return {
    name: "help",
    summary: "Show help for fleet-mcp or one command",
    usage: "fleet-mcp help [COMMAND]",
    help: "",
    async run(ctx) {
      if (ctx.args.length === 0) {
        ctx.out.print(texts.top());
        return EXIT.OK;
      }
      const text = texts.of(ctx.args[0]!);
      if (text === null) throw new UsageError(`no command ${JSON.stringify(ctx.args[0])}; \`fleet-mcp help\` lists them`);
      ctx.out.print(text);
      return EXIT.OK;
    },
  };
}
