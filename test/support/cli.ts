// Runs the built CLI (dist/cli.js) as a child process, isolated from the user's
// environment and files: its own HOME and XDG directories, no FLEET_* variables
// from the test process, logs at warn. Builds dist/ first when it is missing.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "dist", "cli.js");
export const RUN_TIMEOUT_MS = 60_000;

/** Builds dist/ when the CLI or its migrations are missing. */
export function ensureBuilt(): void {
  if (existsSync(CLI) && existsSync(join(ROOT, "dist", "db", "migrations", "meta", "_journal.json"))) return;
  const r = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8", timeout: 300_000, stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status ?? r.signal ?? r.error?.message}):\n${r.stdout}\n${r.stderr}`);
}

export interface CliResult {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Working directory of the child. */
  cwd: string;
  /** A directory for HOME (home/), XDG_DATA_HOME (xdg/) and XDG_CONFIG_HOME (config/); created when missing. */
  home: string;
  /** Extra environment (after the isolating defaults). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs `node dist/cli.js ...args`; never rejects on a non-zero exit. */
export function runCli(args: string[], opts: RunOptions): Promise<CliResult> {
  mkdirSync(opts.home, { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("FLEET_") && !k.startsWith("XDG_") && !k.startsWith("PROXMOX_") && k !== "HOME" && k !== "NO_COLOR") env[k] = v;
  }
  Object.assign(
    env,
    {
      HOME: join(opts.home, "home"),
      XDG_DATA_HOME: join(opts.home, "xdg"),
      XDG_CONFIG_HOME: join(opts.home, "config"),
      FLEET_LOG_LEVEL: "warn",
    },
    opts.env,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? RUN_TIMEOUT_MS);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ args, code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The whole run, for assertion messages. */
export function show(r: CliResult): string {
  return `\n$ fleet-mcp ${r.args.join(" ")}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.timedOut ? " TIMED OUT" : ""}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
