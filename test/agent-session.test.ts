// A scripted agent session, end to end: the built server spawned over stdio (as
// Claude Desktop starts it) against simulated SSH hosts and a simulated Proxmox
// VE cluster on 127.0.0.1. The agent discovers, reads the overview, searches,
// snapshots; the fleet changes (a service stops, a container is added, an image
// changes, a guest is removed, a port opens); it discovers again, and
// compare_snapshots must report each change and nothing else. The audit log holds
// every call and verifies.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterFromFixtures, startPveSim, type PveSim } from "./support/pve-sim.js";
import { debianHost, debianUnitFiles, fixture, inspectOf, type CannedHost } from "./support/scripted-runner.js";
import { machineIdFor, startSimHost, type SimHost } from "./support/ssh-sim.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");
const SSH_PASSWORD = "agent-session-ssh-pw";
const TOKEN_ID = "root@pam!fleet";
const TOKEN_SECRET = "0c7d6e02-2c3f-4d8e-9a51-6f1b2c3d4e5f";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let dir: string;
let pve: PveSim | undefined;
const hosts: SimHost[] = [];

beforeAll(() => {
  if (!existsSync(cli)) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" });
  dir = mkdtempSync(join(tmpdir(), "fleet-agent-"));
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  await pve?.close();
  rmSync(dir, { recursive: true, force: true });
});

const unit = (name: string, active: string, sub: string, description: string) => ({ unit: name, load: "loaded", active, sub, description });

/** The canned sections that differ between the two discoveries; the rest comes from the host's defaults. */
function webSections(changed: boolean): Partial<CannedHost> {
  const ps = fixture("docker-ps-all-no-trunc.jsonl").trimEnd();
  const extra = JSON.stringify({
    Command: '"/entrypoint.sh"',
    CreatedAt: "2026-11-23 09:00:00 +0000 UTC",
    ID: "f".repeat(64),
    Image: "ghcr.io/acme/metrics:2.0",
    Labels: "",
    LocalVolumes: "0",
    Mounts: "",
    Names: "metrics",
    Networks: "bridge",
    Ports: "",
    RunningFor: "1 minute ago",
    Size: "0B",
    State: "running",
    Status: "Up 1 minute",
  });
  // A changed image: the first container of the capture, re-tagged.
  const psLines = changed ? ps.replace(/"Image":"postgres:16"/, '"Image":"postgres:17"') + `\n${extra}` : ps;
  return {
    systemd: {
      body:
        "#json\n" +
        JSON.stringify([
          unit("ssh.service", "active", "running", "OpenBSD Secure Shell server"),
          changed
            ? unit("nginx.service", "inactive", "dead", "A high performance web server")
            : unit("nginx.service", "active", "running", "A high performance web server"),
          unit("backup.service", "active", "exited", "Nightly backup"),
        ]) +
        `\n#@unit-files json 0\n${debianUnitFiles()}`,
    },
    docker: { body: `${psLines}\n#@inspect 0\n${inspectOf(ps)}` },
    ports: {
      body: `#ss\n${fixture("ss-Htlnp.txt").trimEnd()}${changed ? '\ntcp   LISTEN 0      4096         0.0.0.0:8443       0.0.0.0:*    users:(("caddy",pid=4242,fd=7))' : ""}\n`,
    },
  };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<S> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as S;
}

describe("a scripted agent session over stdio", () => {
  it("discovers, searches, snapshots, sees exactly what changed, and leaves an audit log that verifies", async () => {
    // Three SSH hosts; web-1 is production by a role rule.
    for (const name of ["web-1", "db-1", "app-1"]) hosts.push(await startSimHost({ name }));
    const web = hosts[0]!;
    // The host as the sim serves it by name (its own hostname, machine-id and host key), with the sections under test.
    const setWeb = (changed: boolean) =>
      web.setHost(
        debianHost({
          hostname: { body: "web-1" },
          machine_id: { body: machineIdFor("web-1") },
          host_keys: { body: `${web.publicKey} root@web-1` },
          ...webSections(changed),
        }),
      );
    setWeb(false);

    const cluster = clusterFromFixtures("8.4");
    pve = await startPveSim({ version: "8.4", ...cluster, tokens: { [TOKEN_ID]: { secret: TOKEN_SECRET } } });
    const guestGone = cluster.guests[cluster.guests.length - 1]!;

    const config = join(dir, "fleet.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        sources: [
          {
            kind: "ssh",
            id: "lab",
            hosts: hosts.map((h, i) => ({ address: h.address, port: h.port, name: ["web-1", "db-1", "app-1"][i] })),
            auth: { agent: false, password_env: "FLEET_SSH_PASSWORD" },
            timeout_ms: 5000,
          },
          {
            kind: "proxmox",
            id: "pve",
            host: pve.host,
            port: pve.port,
            token_id: TOKEN_ID,
            token_secret_env: "PVE_TOKEN_SECRET",
            fingerprint: pve.fingerprint,
          },
        ],
        roles: [{ role: "production", name: "web-*" }],
      }),
    );
    const db = join(dir, "fleet.db");
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      FLEET_DB: db,
      FLEET_CONFIG: config,
      FLEET_SSH_PASSWORD: "pw",
      PVE_TOKEN_SECRET: TOKEN_SECRET,
      // The agent drives every run here; the scheduler (test/scheduler.test.ts) stays out of the script.
      FLEET_DISCOVERY_INTERVAL: "0",
    };
    const transport = new StdioClientTransport({ command: process.execPath, args: [cli], cwd: dir, env, stderr: "pipe" });
    let stderr = "";
    transport.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const client = new Client({ name: "scripted-agent", version: "1.0.0" });
    const protocolErrors: Error[] = [];
    client.onerror = (e) => protocolErrors.push(e);
    await client.connect(transport);

    // 1. Discover and look around.
    const first = await call(client, "run_discovery");
    expect(first.sources.map((s: S) => [s.id, s.status])).toEqual([
      ["lab", "ok"],
      ["pve", "ok"],
    ]);
    const overview = await call(client, "get_fleet_overview");
    expect(overview.targets.by_kind).toMatchObject({ host: 3, proxmox_node: 3 });
    const nginx = await call(client, "search_fleet", { query: "nginx" });
    expect(nginx.matches.some((m: S) => m.target.name === "web-1")).toBe(true);
    const prod = await call(client, "list_targets", { role: "production" });
    expect(prod.items.map((t: S) => t.name)).toEqual(["web-1"]);
    const snap = await call(client, "create_snapshot", { name: "before-change" });

    // 2. The fleet changes.
    setWeb(true);
    pve.set({ guests: cluster.guests.filter((g) => g !== guestGone) });

    // 3. Discover again and compare.
    await call(client, "run_discovery");
    // The security report names the new port on the production host (new since the last snapshot).
    const report = await call(client, "generate_fleet_report", { kind: "security", format: "markdown" });
    const newPorts = report.data.security.listening_ports.ports.items.filter((p: S) => p.new);
    expect(newPorts.map((p: S) => [p.name, p.port, p.role])).toEqual([["web-1", 8443, "production"]]);
    expect(report.markdown).toContain("8443");

    await call(client, "create_snapshot", { name: "after-change" });
    const diff = await call(client, "compare_snapshots", { a: String(snap.id), b: "latest", limit: 200 });
    const changes = diff.changes.map((c: S) => `${c.change}:${c.type}:${c.target_name}${c.type === "target" ? "" : `:${c.entity}`}`).sort();
    expect(changes).toEqual(
      [
        "modified:service:web-1:nginx.service",
        "created:container:web-1:metrics",
        "modified:container:web-1:homelab-db-1",
        "created:port:web-1:tcp 0.0.0.0:8443",
        // The removed guest: no source lists it any more, so it is no longer active.
        `modified:target:${guestGone.name}`,
      ].sort(),
    );
    const gone = diff.changes.find((c: S) => c.type === "target");
    expect(gone.fields).toEqual([{ field: "lifecycle", before: "active", after: "stale" }]);
    const image = diff.changes.find((c: S) => c.type === "container" && c.change === "modified");
    expect(image.fields).toContainEqual({ field: "image", before: "postgres:16", after: "postgres:17" });
    expect(diff.critical.items.map((c: S) => [c.kind, c.target_name])).toEqual([["new_port_on_production", "web-1"]]);

    // The change log says the same.
    const events = await call(client, "get_change_events", { target: "web-1", limit: 50 });
    expect(events.events.map((e: S) => e.type).sort()).toEqual(
      ["container_added", "container_image_changed", "port_opened", "role_changed", "service_stopped", "target_added"].sort(),
    );

    // Every call so far is in the audit log, in order, with this client's name.
    const audit = await call(client, "query_audit_log", { limit: 50 });
    expect(audit.entries.map((e: S) => e.tool).reverse()).toEqual([
      "run_discovery",
      "get_fleet_overview",
      "search_fleet",
      "list_targets",
      "create_snapshot",
      "run_discovery",
      "generate_fleet_report",
      "create_snapshot",
      "compare_snapshots",
      "get_change_events",
    ]);
    expect(audit.entries.every((e: S) => e.outcome === "ok" && e.client.name === "scripted-agent")).toBe(true);

    await client.close();
    expect(protocolErrors).toEqual([]);
    expect(stderr).not.toContain(TOKEN_SECRET);

    // Every call is in the audit log, and the chain verifies.
    const verify = execFileSync(process.execPath, [cli, "audit", "verify", "--db", db], { encoding: "utf8", env: { PATH: env.PATH, HOME: dir } });
    expect(verify).toMatch(/ok/i);
  });
});
