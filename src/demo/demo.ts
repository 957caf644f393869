// `fleet-mcp demo`: the simulated fleet of ./fleet.ts served on 127.0.0.1 (a
// pveproxy over HTTPS, SSH servers answering the probe), and an application
// configured against it the way a user would configure a real fleet: a config
// file naming environment variables for the secrets, the TLS certificate pinned
// by fingerprint, host keys trusted on first use. Everything lives in one fresh
// temporary directory (database, config file, known_hosts, HOME) that close()
// deletes. The user's FLEET_DB, --db, FLEET_CONFIG and config directory are
// never read: the configuration is loaded with the demo's own environment only.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type AppContext } from "../app/context.js";
import type { DiscoveryProgress, RunReport } from "../app/discovery-service.js";
import { loadConfig, type FleetConfig } from "../config.js";
import { closeDb } from "../db/open.js";
import { computeHealth, type HealthSummary } from "../inventory/health.js";
import { getOverview } from "../inventory/queries.js";
import type { LogLevel } from "../log.js";
import { startPveSim, type PveSim } from "../sim/pve-sim.js";
import { startSimHost, type SimHost } from "../sim/ssh-sim.js";
import { DEMO_ROLES, DEMO_SSH_GUEST, DEMO_SSH_MACHINES, demoCluster, type DemoGeneration, type DemoSshMachine } from "./fleet.js";

/** The environment variables of the demo's in-process configuration (never the process's own). */
export const DEMO_ENV = { sshPassword: "FLEET_DEMO_SSH_PASSWORD", pveTokenSecret: "FLEET_DEMO_PVE_TOKEN_SECRET" } as const;
export const DEMO_SOURCE_IDS = { proxmox: "demo-pve", ssh: "demo-ssh" } as const;
const SSH_USER = "demo";
const PVE_TOKEN_ID = "fleet-demo@pve!demo";

export interface StartDemoOptions {
  /** One line per start-up step, for a person watching. */
  onStep?: (message: string) => void;
  /** The first discovery's progress. */
  onDiscoveryProgress?: (p: DiscoveryProgress) => void;
  /** Default "warn": the demo's own logs are not the point. */
  logLevel?: LogLevel;
  /** stderr is a terminal (readable log lines instead of JSON). */
  stderrIsTty?: boolean;
  /** Bearer tokens for `fleet-mcp demo --http` (name → value, at least 16 characters); they stay in memory. */
  httpTokens?: Record<string, string>;
  /** Where the temporary directory is made (default the OS temp dir). */
  tmpRoot?: string;
}

export interface DemoSummary {
  targets: number;
  byKind: Record<string, number>;
  services: { total: number; failed: number };
  containers: number;
  /** The run's status and the hosts it could not fully probe (none, normally). */
  run: { status: string; problems: string[] };
  health: Pick<HealthSummary, "distribution" | "worst">;
}

export interface Demo {
  app: AppContext;
  /** The temporary directory holding the database, config and known_hosts; deleted by close(). */
  dir: string;
  dbPath: string;
  configPath: string;
  summary: DemoSummary;
  /** What the first discovery reported. */
  firstRun: RunReport;
  /** Stops the simulators, closes the database and deletes the directory. Idempotent. */
  close(): Promise<void>;
}

interface RunningMachine {
  machine: DemoSshMachine;
  sim: SimHost;
}

/** Starts the simulated fleet and an application configured against it, and runs the first discovery. */
export async function startDemo(opts: StartDemoOptions = {}): Promise<Demo> {
  const progress = opts.onStep ?? (() => {});
  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), "fleet-mcp-demo-"));
  let pve: PveSim | undefined;
  const machines: RunningMachine[] = [];
  let app: AppContext | undefined;
  let closed = false;

  // Last resort when the process ends without close() (an uncaught error, process.exit): the directory still goes.
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", onExit);
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      if (app) closeDb(app.db);
    } finally {
      await Promise.allSettled([pve?.close(), ...machines.map((m) => m.sim.close())]);
      rmSync(dir, { recursive: true, force: true });
      process.removeListener("exit", onExit);
    }
  };

  try {
    // Fresh secrets every run; they reach the application only through its in-process environment.
    const sshPassword = randomBytes(24).toString("base64url");
    const pveTokenSecret = randomUUID();
    const now = new Date();

    progress("starting the simulated Proxmox VE cluster (HTTPS on 127.0.0.1)");
    pve = await startPveSim({ ...demoCluster(1), tokens: { [PVE_TOKEN_ID]: { secret: pveTokenSecret } }, authFailDelayMs: 0 });

    progress(`starting ${DEMO_SSH_MACHINES.length} simulated SSH hosts (127.0.0.1)`);
    for (const machine of DEMO_SSH_MACHINES) {
      const sim = await startSimHost({ name: machine.name, bind: "127.0.0.1", users: { [SSH_USER]: { password: sshPassword } } });
      machines.push({ machine, sim });
      sim.setHost(machine.canned(1, sim.publicKey, now));
    }

    const dbPath = join(dir, "fleet-demo.db");
    const configPath = join(dir, "fleet.config.json");
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, "", { mode: 0o600 });
    const guest = machines.find((m) => m.machine.proxmoxGuest)!;
    const sshProbe = {
      user: SSH_USER,
      auth: { agent: false, password_env: DEMO_ENV.sshPassword },
      host_key_policy: "tofu",
      known_hosts_file: knownHosts,
      timeout_ms: 15_000,
    };
    const file = {
      log_level: opts.logLevel ?? "warn",
      sources: [
        {
          kind: "proxmox",
          id: DEMO_SOURCE_IDS.proxmox,
          host: pve.host,
          port: pve.port,
          token_id: PVE_TOKEN_ID,
          token_secret_env: DEMO_ENV.pveTokenSecret,
          fingerprint: pve.fingerprint,
          guests: { ...sshProbe, addresses: { [String(DEMO_SSH_GUEST.vmid)]: guest.sim.address }, port: guest.sim.port },
        },
        {
          kind: "ssh",
          id: DEMO_SOURCE_IDS.ssh,
          hosts: machines
            .filter((m) => !m.machine.proxmoxGuest)
            .map((m) => ({ address: m.sim.address, port: m.sim.port, name: m.machine.name, tags: m.machine.tags })),
          ...sshProbe,
        },
      ],
      roles: DEMO_ROLES,
      tools: { preset: "full" },
      ...(opts.httpTokens
        ? { http: { host: "127.0.0.1", port: 0, tokens: Object.keys(opts.httpTokens).map((name) => ({ name, token_env: httpTokenEnv(name) })) } }
        : {}),
    };
    writeFileSync(configPath, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });

    const env: NodeJS.ProcessEnv = {
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_DATA_HOME: join(dir, "data"),
      [DEMO_ENV.sshPassword]: sshPassword,
      [DEMO_ENV.pveTokenSecret]: pveTokenSecret,
      ...Object.fromEntries(Object.entries(opts.httpTokens ?? {}).map(([name, token]) => [httpTokenEnv(name), token])),
    };
    const load = (fileContent?: unknown): FleetConfig =>
      loadConfig({ env, configPath, db: dbPath, stderrIsTty: opts.stderrIsTty ?? false, ...(fileContent !== undefined ? { fileContent } : {}) });
    app = createApp({ config: load(), reloadConfig: (content) => load(content) });

    progress("running the first discovery");
    const firstRun = await app.discovery.run({ trigger: "cli", ...(opts.onDiscoveryProgress ? { onProgress: opts.onDiscoveryProgress } : {}) });

    // The fleet changes once, so that the next discovery has something to report.
    evolve(2, pve, machines, now);

    const o = getOverview(app.db);
    const health = computeHealth(app.db, app.config.health, { now: app.now(), staleAfterMs: app.config.lifecycle.staleAfterMs });
    const summary: DemoSummary = {
      targets: o.targets.total,
      byKind: o.targets.byKind,
      services: { total: o.services.total, failed: o.services.failed },
      containers: o.containers.total,
      run: { status: firstRun.status, problems: firstRun.problems.map((p) => `${p.name}: ${p.status}${p.error ? ` (${p.error})` : ""}`) },
      health: { distribution: health.distribution, worst: health.worst },
    };
    return { app, dir, dbPath, configPath, summary, firstRun, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function evolve(gen: DemoGeneration, pve: PveSim, machines: RunningMachine[], now: Date): void {
  pve.set(demoCluster(gen));
  for (const m of machines) m.sim.setHost(m.machine.canned(gen, m.sim.publicKey, now));
}

function httpTokenEnv(name: string): string {
  return `FLEET_DEMO_HTTP_TOKEN_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** The MCP client configuration for the demo over stdio (Claude Desktop, Cursor, VS Code, …). */
export function demoClientConfig(): { mcpServers: Record<string, { command: string; args: string[] }> } {
  return { mcpServers: { "fleet-demo": { command: "npx", args: ["-y", "fleet-mcp", "demo", "--stdio"] } } };
}

/** The Claude Code command that adds the demo server. */
export const DEMO_CLAUDE_CODE_COMMAND = "claude mcp add fleet-demo -- npx -y fleet-mcp demo --stdio";
