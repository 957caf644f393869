#!/usr/bin/env node
// Entry point of the `fleet-mcp` binary. The commands live in src/cli/; with no
// command it serves MCP on stdio (stdout is the protocol's alone; everything
// else goes to stderr).
import { main } from "./cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`fleet-mcp: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
