// `fleet-mcp demo`, as a newcomer runs it: the built CLI spawned with HOME, the
// XDG dirs and TMPDIR pointed at a scratch directory and FLEET_DB/FLEET_CONFIG
// pointed at paths that must never be created. Over stdio (the SDK's client, as
// Claude Desktop starts it) every tool answers about a simulated fleet that says
// it is a demo; at a terminal (here a pipe) it prints the client config and stops
// on SIGINT. Either way the temporary directory is gone afterwards.
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let scratch: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(() => {
  if (!existsSync(join(root, "dist", "cli", "commands", "demo.js")) || !existsSync(join(root, "dist", "sim", "data"))) {
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
  }
  scratch = mkdtempSync(join(tmpdir(), "fleet-demo-test-"));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A user's environment of its own: the demo's temp dir lands in <home>/tmp; FLEET_DB and FLEET_CONFIG point where nothing may appear. */
function userEnv(name: string) {
  const home = join(scratch, name);
  const tmp = join(home, "tmp");
  mkdirSync(tmp, { recursive: true });
  const userDb = join(home, "real", "fleet.db");
  const userConfig = join(home, "real", "fleet.config.json");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    TMPDIR: tmp,
    FLEET_DB: userDb,
    FLEET_CONFIG: userConfig,
  };
  return { home, tmp, userDb, env };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<S> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as S;
}

/** Waits (bounded) until the process has exited; returns its exit code. */
async function exited(pid: number, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} still running after ${ms} ms`);
}

/** Reads a child's stdout until `done` matches the text so far (bounded). */
function readUntil(child: ChildProcessWithoutNullStreams, done: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    let stderr = "";
    const t = setTimeout(() => reject(new Error(`no ${done} on stdout within ${ms} ms; stdout:\n${text}\nstderr:\n${stderr}`)), ms);
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    child.stdout.on("data", (b: Buffer) => {
      text += b.toString("utf8");
      if (done.test(text)) {
        clearTimeout(t);
        resolve(text);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code} before ${done}; stdout:\n${text}\nstderr:\n${stderr}`));
    });
  });
}

function exitCode(child: ChildProcessWithoutNullStreams, ms = 15_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
    child.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** The demo directories fleet-mcp made under a TMPDIR. */
const demoDirs = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith("fleet-mcp-demo-"));

describe("the simulators' data ships with the package", () => {
  it("src/sim/data holds byte-identical copies of captures in test/fixtures, each with its .src", () => {
    const data = join(root, "src", "sim", "data");
    const files = readdirSync(data);
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      expect(readFileSync(join(data, f)).equals(readFileSync(join(root, "test", "fixtures", f))), f).toBe(true);
      if (!f.endsWith(".src")) expect(files, `${f} without its .src`).toContain(`${f}.src`);
    }
    // The build copied them next to the compiled simulators.
    expect(readdirSync(join(root, "dist", "sim", "data")).sort()).toEqual([...files].sort());
  });
});

describe("fleet-mcp demo --stdio", () => {
  it("serves a simulated, clearly marked fleet to an MCP client and leaves nothing behind", async () => {
    const u = userEnv("stdio");
    const transport = new StdioClientTransport({ command: process.execPath, args: [cli, "demo", "--stdio"], cwd: u.home, env: u.env, stderr: "pipe" });
    let stderr = "";
    transport.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const client = new Client({ name: "demo-test", version: "1.0.0" });
    const protocolErrors: Error[] = [];
    client.onerror = (e) => protocolErrors.push(e);
    await client.connect(transport);
    const pid = transport.pid!;
    try {
      // Marked as a demo before any tool is called.
      expect(client.getServerVersion()).toMatchObject({ name: "fleet-mcp-demo", title: expect.stringContaining("DEMO") });
      expect(client.getInstructions()).toMatch(/^DEMO: .*SIMULATED/);
      const [dir] = demoDirs(u.tmp);
      expect(dir, `no demo directory in ${u.tmp}; stderr:\n${stderr}`).toBeDefined();
      const demoDir = join(u.tmp, dir!);

      // The first discovery ran at start: the overview is populated right away.
      const overview = await call(client, "get_fleet_overview");
      expect(overview.targets.by_kind).toEqual({ proxmox_node: 3, lxc: 4, vm: 5, host: 5 });
      expect(overview.last_discovery).toMatchObject({ status: "ok" });
      expect(overview.targets.by_os).toMatchObject({ debian: 3, ubuntu: 1, alpine: 1, rocky: 1 });

      const all = await call(client, "list_targets", { limit: 100, detail: "full" });
      expect(all.total).toBe(17);
      for (const t of all.items) {
        expect(t.name, "every target is named demo-*").toMatch(/^demo-/);
        // Proxmox nodes carry no tags in Proxmox; every guest and host carries demo.
        if (t.kind !== "proxmox_node") expect(t.tags, t.name).toContain("demo");
      }
      const names = (kind: string) => all.items.filter((t: S) => t.kind === kind).map((t: S) => t.name);
      expect(names("proxmox_node")).toEqual(["demo-pve1", "demo-pve2", "demo-pve3"]);
      expect(names("host")).toEqual(["demo-backup-1", "demo-build-1", "demo-db-1", "demo-edge-1", "demo-mon-1"]);
      expect(names("vm")).toContain("demo-app-1");
      expect(names("lxc")).toContain("demo-dns-1");
      const tagged = await call(client, "list_targets", { tag: "demo", limit: 100 });
      expect(tagged.total).toBe(14);

      // The guest reached over SSH through the Proxmox guest path: its probe facts merged onto the VM.
      const app = await call(client, "get_target", { target: "demo-app-1" });
      expect(JSON.stringify(app)).toContain("homelab-db-1");

      const found = await call(client, "search_fleet", { query: "postgres" });
      expect(new Set(found.matches.map((m: S) => m.target.name))).toEqual(new Set(["demo-db-1", "demo-app-1"]));

      // Health has something to say: the nearly full disk and the failed unit.
      const health = await call(client, "run_health_check", { limit: 50 });
      const issues = health.issues.items.map((i: S) => `${i.target.name}:${i.code}`);
      expect(issues).toContain("demo-backup-1:filesystem_full");
      expect(issues).toContain("demo-db-1:service_failed");
      const full = health.issues.items.find((i: S) => i.code === "filesystem_full");
      expect(full).toMatchObject({ severity: "critical", message: expect.stringContaining("/srv/backup") });

      const report = await call(client, "generate_fleet_report", { kind: "health", format: "markdown" });
      expect(report.markdown).toContain("demo-backup-1");
      expect(report.markdown).toContain("pg-backup.service");

      // The inventory is the demo's temporary database, not the user's.
      const cfg = await call(client, "get_discovery_config");
      expect(cfg.db_path).toBe(join(demoDir, "fleet-demo.db"));
      expect(cfg.sources.map((s: S) => s.id).sort()).toEqual(["demo-pve", "demo-ssh"]);
      const configText = readFileSync(join(demoDir, "fleet.config.json"), "utf8");
      expect(configText).toContain('"password_env": "FLEET_DEMO_SSH_PASSWORD"');
      expect(configText).toContain('"fingerprint": ');
      expect(configText).not.toMatch(/"insecure": true|"password":|"token_secret":/);

      // The fleet changes once after start: a snapshot, a discovery and a compare show exactly that.
      const snap = await call(client, "create_snapshot", { name: "before" });
      const run = await call(client, "run_discovery");
      expect(run.status).toBe("ok");
      const diff = await call(client, "compare_snapshots", { a: String(snap.id), b: "live", limit: 100 });
      const changes = diff.changes.map((c: S) => `${c.change}:${c.type}:${c.target_name}${c.type === "target" ? "" : `:${c.entity}`}`).sort();
      expect(changes).toEqual(
        ["created:port:demo-edge-1:tcp 0.0.0.0:8443", "modified:container:demo-app-1:homelab-db-1", "modified:interface:demo-staging-1:net0"].sort(),
      );
    } finally {
      await client.close();
    }
    await exited(pid);
    expect(protocolErrors).toEqual([]);
    expect(demoDirs(u.tmp), `stderr:\n${stderr}`).toEqual([]);
    expect(existsSync(u.userDb)).toBe(false);
    expect(existsSync(join(u.home, "real"))).toBe(false);
    // Nothing under the user's data or config dirs either.
    expect(existsSync(join(u.home, ".local"))).toBe(false);
    expect(existsSync(join(u.home, ".config"))).toBe(false);
  });
});

describe("fleet-mcp demo at a terminal", () => {
  it("prints DEMO, a summary and the client config to paste, and cleans up on Ctrl-C", async () => {
    const u = userEnv("terminal");
    const child = spawn(process.execPath, [cli, "demo"], { cwd: u.home, env: u.env, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    const out = await readUntil(child, /Press Ctrl-C to stop\.\n/);
    expect(out).toContain("fleet-mcp DEMO");
    expect(out).toMatch(/Discovered 17 demo targets/);
    expect(out).toMatch(/demo-backup-1 .*\/srv\/backup is \d+% full/);
    expect(out).toContain("claude mcp add fleet-demo -- npx -y fleet-mcp demo --stdio");
    // The JSON block: from a line "{" to the next line "}".
    const lines = out.split("\n");
    const start = lines.indexOf("{");
    const end = lines.indexOf("}", start);
    expect(start).toBeGreaterThan(0);
    expect(JSON.parse(lines.slice(start, end + 1).join("\n"))).toEqual({
      mcpServers: { "fleet-demo": { command: "npx", args: ["-y", "fleet-mcp", "demo", "--stdio"] } },
    });
    const db = /^Demo database: (\S+) /m.exec(out)?.[1];
    expect(db).toBeDefined();
    expect(existsSync(db!)).toBe(true);
    expect(db!.startsWith(u.tmp)).toBe(true);

    child.kill("SIGINT");
    expect(await exitCode(child)).toBe(0);
    expect(existsSync(db!)).toBe(false);
    expect(demoDirs(u.tmp)).toEqual([]);
    expect(existsSync(u.userDb)).toBe(false);
  });

  it("--http serves the demo over Streamable HTTP with a printed bearer token", async () => {
    const u = userEnv("http");
    const child = spawn(process.execPath, [cli, "demo", "--http"], { cwd: u.home, env: u.env, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    const out = await readUntil(child, /Press Ctrl-C to stop\.\n/);
    const lines = out.split("\n");
    const start = lines.indexOf("{");
    const config = JSON.parse(lines.slice(start, lines.indexOf("}", start) + 1).join("\n")) as S;
    const entry = config.mcpServers["fleet-demo"];
    expect(entry).toMatchObject({ type: "http", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/) });
    expect(entry.headers.Authorization).toMatch(/^Bearer [0-9a-f]{64}$/);

    const client = new Client({ name: "demo-http-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(entry.url), { requestInit: { headers: entry.headers } }));
    try {
      expect(client.getServerVersion()?.name).toBe("fleet-mcp-demo");
      const overview = await call(client, "get_fleet_overview");
      expect(overview.targets.total).toBe(17);
    } finally {
      await client.close();
    }
    child.kill("SIGINT");
    expect(await exitCode(child)).toBe(0);
    expect(demoDirs(u.tmp)).toEqual([]);
  });
});
