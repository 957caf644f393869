// The npm package as a user gets it: `npm pack`, installed from the tarball into a
// fresh project (offline, from npm's cache), then run through `npx fleet-mcp` —
// help, config check, a discovery and an MCP session over stdio. The native
// better-sqlite3 addon is copied from this checkout instead of compiled again
// (same Node, same machine); everything else is what the tarball carries.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let work = "";
let project = "";
let files: string[] = [];

function npmEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
  for (const k of Object.keys(env)) if (k.startsWith("FLEET_")) delete env[k];
  // npm's cache stays the user's (it is where the offline install reads the dependencies from).
  env.npm_config_cache = execFileSync("npm", ["config", "get", "cache"], { cwd: ROOT, encoding: "utf8" }).trim();
  return env;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "fleet-pack-"));
  const home = join(work, "home");
  mkdirSync(home);
  if (!existsSync(join(ROOT, "dist", "cli.js"))) execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: ROOT, encoding: "utf8", env: npmEnv(home) }),
  ) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  files = packed[0]!.files.map((f) => f.path);
  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-project", version: "1.0.0", private: true }));
  // --ignore-scripts: better-sqlite3 would compile for minutes; its addon is copied below instead.
  execFileSync("npm", ["install", "--offline", "--ignore-scripts", join(work, packed[0]!.filename)], {
    cwd: project,
    env: npmEnv(home),
    stdio: "pipe",
    timeout: 240_000,
  });
  cpSync(join(ROOT, "node_modules", "better-sqlite3", "build"), join(project, "node_modules", "better-sqlite3", "build"), { recursive: true });
}, 300_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function npx(args: string[], env: Record<string, string> = {}) {
  const home = join(work, "home");
  return spawnSync("npx", ["--offline", "fleet-mcp", ...args], {
    cwd: project,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...npmEnv(home), FLEET_LOG_LEVEL: "warn", ...env },
  });
}

describe("the npm package", () => {
  it("carries the built CLI, migrations, README, LICENSE and mcp.json, and no sources or tests", () => {
    for (const f of ["dist/cli.js", "dist/index.js", "README.md", "LICENSE", "mcp.json", "package.json"]) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith("dist/db/migrations/") && f.endsWith(".sql"))).toBe(true);
    expect(files.filter((f) => /^(src|test|bench|scripts)\//.test(f))).toEqual([]);
    expect(readFileSync(join(project, "node_modules", "fleet-mcp", "dist", "cli.js"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("`npx fleet-mcp --version` and `--help` work from the installed package", () => {
    const version = npx(["--version"]);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    const help = npx(["--help"]);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain("fleet-mcp <command> --help");
  });

  it("`npx fleet-mcp discover` discovers this machine into the database it is given", () => {
    const db = join(work, "fleet.db");
    const r = npx(["discover", "--json", "--db", db]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "ok", targetsSeen: 1 });
    expect(existsSync(db)).toBe(true);
  });

  it("an MCP client starts it with `npx fleet-mcp` (the README's client config) and calls a tool", { timeout: 60_000 }, async () => {
    const home = join(work, "home");
    const transport = new StdioClientTransport({
      command: "npx",
      args: ["--offline", "fleet-mcp"],
      cwd: project,
      env: { ...(npmEnv(home) as Record<string, string>), FLEET_DB: join(work, "mcp.db"), FLEET_LOG_LEVEL: "warn", FLEET_DISCOVERY_INTERVAL: "0" },
      stderr: "pipe",
    });
    const client = new Client({ name: "package-test", version: "1.0.0" });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe("fleet-mcp");
      const res = await client.callTool({ name: "get_fleet_overview", arguments: {} });
      expect(res.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });
});
