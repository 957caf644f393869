// End to end: the built server spawned over stdio with the SDK's client
// transport, exactly as an MCP client starts it. Checks the local machine's real
// facts, that stdout carried protocol messages only, and that every call (good,
// rejected, unknown) is in an audit log that verifies.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, hostname, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");
let dir: string;

beforeAll(() => {
  if (!existsSync(cli)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
  dir = mkdtempSync(join(tmpdir(), "fleet-e2e-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("stdio server, end to end", () => {
  it("discovers this machine with its real hostname, memory and CPU count; stdout is protocol only", async () => {
    const db = join(dir, "fleet.db");
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [cli],
      cwd: dir,
      // The test's own run_discovery must not meet the scheduler's first run (test/scheduler.test.ts covers that).
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, FLEET_DB: db, FLEET_LOG_LEVEL: "info", FLEET_DISCOVERY_INTERVAL: "0" },
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const client = new Client({ name: "e2e-client", version: "1.2.3" });
    const protocolErrors: Error[] = [];
    client.onerror = (e) => protocolErrors.push(e);
    await client.connect(transport);

    expect(client.getServerVersion()?.name).toBe("fleet-mcp");
    expect(client.getInstructions()).toContain("get_fleet_overview");
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("run_discovery");

    const run = await client.callTool({ name: "run_discovery", arguments: {} });
    expect(run.isError).toBeFalsy();
    expect(run.structuredContent).toMatchObject({ targets_seen: 1, sources: [{ id: "local", kind: "local" }] });
    expect(["ok", "partial"]).toContain((run.structuredContent as S).status);

    const ov = (await client.callTool({ name: "get_fleet_overview", arguments: {} })).structuredContent as S;
    expect(ov.targets.total).toBe(1);
    expect(ov.totals.memory_bytes).toBe(totalmem());
    expect(ov.totals.cpu_count).toBe(cpus().length);

    const t = (await client.callTool({ name: "get_target", arguments: { target: hostname() } })).structuredContent as S;
    expect(t.target).toMatchObject({ name: hostname(), kind: "host", lifecycle: "active", memory_total_bytes: totalmem(), cpu_count: cpus().length });
    expect(t.facts.find((f: S) => f.key === "hostname")).toMatchObject({ value: hostname(), source: "local" });

    expect((await client.callTool({ name: "no_such_tool", arguments: {} })).isError).toBe(true);
    expect((await client.callTool({ name: "get_target", arguments: { target: "" } })).isError).toBe(true);
    const audit = (await client.callTool({ name: "query_audit_log", arguments: {} })).structuredContent as S;
    expect(audit.entries.map((e: S) => [e.tool, e.outcome])).toEqual([
      ["get_target", "rejected"],
      ["no_such_tool", "unknown_tool"],
      ["get_target", "ok"],
      ["get_fleet_overview", "ok"],
      ["run_discovery", "ok"],
    ]);
    expect(audit.entries[0].client).toEqual({ name: "e2e-client", version: "1.2.3" });

    await client.close();
    expect(protocolErrors).toEqual([]);
    // The ready line and the logs went to stderr, as JSON lines carrying correlation ids.
    expect(stderr).toMatch(/"msg":"fleet-mcp \S+ ready on stdio"/);
    expect(stderr).toMatch(/"msg":"discovery finished","cid":"[0-9a-f-]{36}"/);

    const verify = execFileSync(process.execPath, [cli, "audit", "verify", "--db", db], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir } });
    expect(verify).toContain("audit log OK: 6 row(s)");
  });

  it("writes nothing but JSON-RPC to stdout, even while logging at debug level", async () => {
    const child = spawn(process.execPath, [cli], {
      env: { PATH: process.env.PATH ?? "", HOME: dir, FLEET_DB: join(dir, "raw.db"), FLEET_LOG_LEVEL: "debug" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
    const answered = new Promise<void>((resolve) =>
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString("utf8");
        if (out.includes('"id":2')) resolve();
      }),
    );
    const send = (msg: object) => child.stdin.write(`${JSON.stringify(msg)}\n`);
    send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
    });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "run_discovery", arguments: {} } });
    await answered;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdin.end();
    expect(await exited).toBe(0);
    const lines = out.split("\n").filter((l) => l !== "");
    expect(lines.length).toBe(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: "2.0" });
    expect(JSON.parse(lines[1]!).result.structuredContent.targets_seen).toBe(1);
    expect(err).toContain('"level":"debug"');
  });
});
