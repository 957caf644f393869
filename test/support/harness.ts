// A real server on a real in-memory database (with the real migrations), and a
// real MCP Client connected over InMemoryTransport.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { createApp, type AppContext } from "../../src/app/context.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSource, type SourceFactory } from "../../src/app/sources.js";
import { loadConfig, type FleetConfig, type SourceConfig } from "../../src/config.js";
import { closeDb, openDb } from "../../src/db/open.js";
import { createLocalSource } from "../../src/discovery/sources/local.js";
import type { CommandRunner } from "../../src/discovery/runner.js";
import { createLogger } from "../../src/log.js";
import { secretValueRedactor } from "../../src/redact.js";
import { buildServer } from "../../src/server.js";
import type { AnyTool } from "../../src/tools/registry.js";

export interface Harness {
  app: AppContext;
  client: Client;
  logs: string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Runner per source id; sources are `local`-kind sources probed through it. */
  runners?: Record<string, CommandRunner>;
  sourceFactory?: SourceFactory;
  config?: Partial<FleetConfig>;
  tools?: readonly AnyTool[];
  now?: () => Date;
  db?: ReturnType<typeof openDb>;
  /** A config file's content, parsed by the real loadConfig (with `env` as the environment). */
  configJson?: unknown;
  env?: Record<string, string>;
  /** Tool preset (default full here, so tests see every tool; the product's default is readonly). */
  preset?: FleetConfig["tools"]["preset"];
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  let base;
  if (opts.configJson !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), "fleet-cfg-"));
    const path = join(dir, "fleet.config.json");
    writeFileSync(path, JSON.stringify(opts.configJson));
    try {
      base = loadConfig({ env: opts.env ?? {}, configPath: path, db: ":memory:", stderrIsTty: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    base = loadConfig({ env: {}, db: ":memory:", stderrIsTty: false });
  }
  const sources: SourceConfig[] = opts.runners
    ? Object.keys(opts.runners).map((id) => ({ kind: "local" as const, id, timeout_ms: 5000, max_output_bytes: 4 * 1024 * 1024 }))
    : base.sources;
  const config: FleetConfig = {
    ...base,
    sources,
    ...opts.config,
    limits: { ...base.limits, ...opts.config?.limits },
    tools: { ...base.tools, preset: opts.preset ?? "full", ...opts.config?.tools },
  };
  const logs: string[] = [];
  const log = createLogger({ level: "debug", pretty: false, write: (l) => logs.push(l), redact: secretValueRedactor(config.secretValues) });
  const sourceFactory: SourceFactory =
    opts.sourceFactory ??
    (opts.configJson !== undefined ? createSource : undefined) ??
    ((cfg) => {
      const runner = opts.runners?.[cfg.id];
      const local = cfg as Extract<SourceConfig, { kind: "local" }>;
      return createLocalSource({ id: local.id, timeoutMs: local.timeout_ms, maxOutputBytes: local.max_output_bytes, ...(runner ? { runner } : {}) });
    });
  const app = createApp({ config, db: opts.db ?? openDb(":memory:"), log, sourceFactory, ...(opts.now ? { now: opts.now } : {}) });
  const { server } = buildServer(app, opts.tools ? { tools: opts.tools } : {});
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  await server.connect(serverT);
  const client = new Client({ name: "fleet-test-client", version: "9.9.9" });
  await client.connect(clientT);
  return {
    app,
    client,
    logs,
    async close() {
      await client.close();
      await server.close();
      closeDb(app.db);
    },
  };
}

export function auditRows(app: AppContext) {
  return app.db.$client.prepare("SELECT * FROM audit_log ORDER BY id").all() as Array<Record<string, unknown>>;
}

export function lastAudit(app: AppContext) {
  const rows = auditRows(app);
  return rows[rows.length - 1]!;
}

export function text(result: object): string {
  const content = (result as { content?: unknown }).content as Array<{ type: string; text?: string }> | undefined;
  return (content ?? []).map((c) => c.text ?? "").join("\n");
}

/** Calls a tool that must succeed and returns its structuredContent; a failure throws with the text and the server's error logs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function callOk(h: Harness, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const res = await h.client.callTool({ name, arguments: args });
  if (res.isError) throw new Error(`${name} failed: ${text(res)}\n${h.logs.filter((l) => l.includes('"error"')).join("\n")}`);
  return res.structuredContent;
}
