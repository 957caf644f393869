// export_prometheus_targets through the MCP client: the file_sd/http_sd JSON
// shape (checked by a schema that also accepts Prometheus' own published
// example), grouping, labels, skipped targets, the lifecycle filter, paging, and
// the atomic write to the configured file_sd_path.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, loadConfig } from "../src/config.js";
import { fleetFactory, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");
const FIXTURES = join(import.meta.dirname, "fixtures");

// The JSON form of file_sd and http_sd (prometheus docs/configuration/configuration.md <file_sd_config>, docs/http_sd.md).
const TargetGroups = z.array(
  z
    .object({
      targets: z.array(z.string().regex(/^(\[[0-9a-fA-F:.%\w]+\]|[^:\s\[\]]+):\d{1,5}$/)),
      labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string().min(1)),
    })
    .strict(),
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let h: Harness | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-prom-"));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const FLEET: HostSpec[] = [
  { name: "web-1", address: "10.0.0.11" },
  { name: "web-2", address: "10.0.0.12" },
  { name: "db-1", address: "10.0.0.21", facts: { "os.id": "ubuntu", "os.version_id": "24.04" } },
  { name: "v6-host", address: "fd00::7" },
  { name: "pve-1", kind: "proxmox_node", identity: ["pve:node:pve-1"], address: "10.0.0.2" },
  { name: "ct-app", kind: "lxc", identity: ["pve:ct:101"], parentIdentity: "pve:node:pve-1", address: "10.0.0.101" },
  { name: "ct-noaddr", kind: "lxc", identity: ["pve:ct:102"], parentIdentity: "pve:node:pve-1", address: null },
  { name: "down-1", address: "10.0.0.99", status: "unreachable", error: "connect ETIMEDOUT" },
];

async function start(prometheus?: Record<string, unknown>, fleet: HostSpec[] = FLEET) {
  const configJson = {
    roles: [
      { role: "production", name: "web-*" },
      { role: "production", name: "db-*" },
      { role: "lab", kind: "lxc" },
    ],
    ...(prometheus ? { prometheus } : {}),
  };
  h = await startHarness({ configJson, sourceFactory: fleetFactory({ local: () => fleet }), now: () => T0 });
  const run = await h.client.callTool({ name: "run_discovery", arguments: {} });
  expect(run.isError).toBeFalsy();
}

async function call(args: Record<string, unknown> = {}): Promise<Json> {
  const res = await h!.client.callTool({ name: "export_prometheus_targets", arguments: args });
  if (res.isError) throw new Error(`export_prometheus_targets failed: ${text(res)}`);
  return res.structuredContent;
}

async function refused(args: Record<string, unknown>): Promise<string> {
  const res = await h!.client.callTool({ name: "export_prometheus_targets", arguments: args });
  expect(res.isError).toBe(true);
  expect(lastAudit(h!.app)).toMatchObject({ tool: "export_prometheus_targets", outcome: "tool_error" });
  return text(res);
}

describe("export_prometheus_targets", () => {
  it("the shape checker accepts Prometheus' published example", () => {
    const example = JSON.parse(readFileSync(join(FIXTURES, "prometheus-http-sd-example.json"), "utf8"));
    expect(TargetGroups.safeParse(example).success).toBe(true);
    expect(readFileSync(join(FIXTURES, "prometheus-file-sd-format.txt"), "utf8")).toContain('"targets": [ "<host>", ... ]');
  });

  it("one group per target with every label, static labels, IPv6 in brackets, addressless targets skipped and counted", async () => {
    await start({ static_labels: { env: "home", dc: "attic" } });
    const out = await call();
    expect(TargetGroups.safeParse(out.groups).success).toBe(true);
    expect(out).toMatchObject({
      format: "file_sd",
      group_by: "none",
      port: 9100,
      group_count: 6,
      target_count: 6,
      skipped_duplicate: 0,
      file: null,
      next_cursor: null,
    });
    // down-1 is not active; ct-noaddr has no address.
    expect(out.skipped_no_address).toBe(1);
    expect(out.skipped_no_address_examples).toEqual(["ct-noaddr"]);
    const byName = Object.fromEntries(out.groups.map((g: Json) => [g.labels.fleet_name, g]));
    expect(Object.keys(byName).sort()).toEqual(["ct-app", "db-1", "pve-1", "v6-host", "web-1", "web-2"]);
    expect(byName["ct-app"]).toEqual({
      targets: ["10.0.0.101:9100"],
      labels: { env: "home", dc: "attic", fleet_role: "lab", fleet_kind: "lxc", fleet_name: "ct-app", fleet_node: "pve-1", fleet_os: "debian" },
    });
    expect(byName["db-1"].labels).toMatchObject({ fleet_role: "production", fleet_kind: "host", fleet_os: "ubuntu" });
    // Not a guest: the machine it runs on is itself.
    expect(byName["db-1"].labels.fleet_node).toBe("db-1");
    expect(byName["v6-host"].targets).toEqual(["[fd00::7]:9100"]);
    expect(byName["v6-host"].labels.fleet_role).toBe("unassigned");
    expect(text(await h!.client.callTool({ name: "export_prometheus_targets", arguments: {} }))).toMatch(
      /6 target\(s\) on port 9100 in 6 group\(s\).*1 target\(s\) without an address skipped/,
    );
  });

  it("groups by role or kind, labelled with only what the group shares", async () => {
    await start();
    const byRole = await call({ group_by: "role", port: 9273 });
    expect(byRole.groups).toEqual([
      { targets: ["10.0.0.101:9273"], labels: { fleet_role: "lab" } },
      { targets: ["10.0.0.21:9273", "10.0.0.11:9273", "10.0.0.12:9273"], labels: { fleet_role: "production" } },
      { targets: ["10.0.0.2:9273", "[fd00::7]:9273"], labels: { fleet_role: "unassigned" } },
    ]);
    const byKind = await call({ group_by: "kind" });
    expect(byKind.groups.map((g: Json) => [g.labels.fleet_kind, g.targets.length])).toEqual([
      ["host", 4],
      ["lxc", 1],
      ["proxmox_node", 1],
    ]);
    expect(TargetGroups.safeParse(byKind.groups).success).toBe(true);
  });

  it("scrapes an address once when two targets share it", async () => {
    await start(undefined, [
      { name: "web-1", address: "10.0.0.11" },
      { name: "web-1-alias", identity: ["machine-id:other"], address: "10.0.0.11" },
    ]);
    const out = await call();
    expect(out.groups.map((g: Json) => [g.labels.fleet_name, g.targets])).toEqual([["web-1", ["10.0.0.11:9100"]]]);
    expect(out).toMatchObject({ target_count: 1, skipped_duplicate: 1 });
  });

  it("filters by lifecycle and pages through groups without gaps or repeats", async () => {
    await start({ default_port: 9182 });
    // A target never reached is "discovered"; one reached before and now down is "unreachable".
    const down = await call({ lifecycle: ["discovered", "unreachable"] });
    expect(down.groups).toEqual([
      { targets: ["10.0.0.99:9182"], labels: { fleet_role: "unassigned", fleet_kind: "host", fleet_name: "down-1", fleet_node: "down-1" } },
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Json = await call({ limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.groups.flatMap((g: Json) => g.targets));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(await refused({ cursor: "garbage" })).toMatch(/Invalid cursor/);
  });

  it("writes the whole list atomically to the configured file_sd_path, keeping the file's mode", async () => {
    const path = join(dir, "sd", "fleet.json");
    mkdirSync(join(dir, "sd"));
    writeFileSync(path, "[]\n");
    chmodSync(path, 0o640);
    await start({ file_sd_path: path, static_labels: { env: "home" } });
    const out = await call({ write_file: true, limit: 1 });
    expect(out.groups).toHaveLength(1);
    const written = JSON.parse(readFileSync(path, "utf8"));
    expect(TargetGroups.safeParse(written).success).toBe(true);
    expect(written).toHaveLength(6);
    expect(written.every((g: Json) => g.labels.env === "home")).toBe(true);
    expect(out.file).toEqual({ path, bytes: statSync(path).size, groups: 6 });
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(dir, "sd"))).toEqual(["fleet.json"]);
    expect(lastAudit(h!.app)).toMatchObject({ tool: "export_prometheus_targets", outcome: "ok" });

    expect(await refused({ write_file: true, format: "http_sd" })).toMatch(/write_file needs format file_sd/);
    // http_sd is the same JSON, returned inline.
    const http = await call({ format: "http_sd" });
    expect(http.groups).toEqual(written.slice(0, 25));
  });

  it("refuses to write without a configured path, into a missing directory, or over a symlink", async () => {
    await start();
    expect(await refused({ write_file: true })).toMatch(/No file_sd path is configured.*"prometheus": \{"file_sd_path"/);
    await h!.close();

    h = undefined;
    await start({ file_sd_path: join(dir, "missing", "fleet.json") });
    expect(await refused({ write_file: true })).toMatch(/does not exist/);
    await h!.close();

    h = undefined;
    const real = join(dir, "real.json");
    writeFileSync(real, "[]");
    symlinkSync(real, join(dir, "link.json"));
    await start({ file_sd_path: join(dir, "link.json") });
    expect(await refused({ write_file: true })).toMatch(/not a regular file/);
    expect(readFileSync(real, "utf8")).toBe("[]");
  });

  it("config: label names must be Prometheus label names, not reserved, and the path absolute .json", () => {
    const load = (prometheus: unknown) => {
      const path = join(dir, "c.json");
      writeFileSync(path, JSON.stringify({ prometheus }));
      return () => loadConfig({ configPath: path, env: {}, db: ":memory:", stderrIsTty: false });
    };
    expect(load({ static_labels: { "bad-name": "x" } })).toThrow(ConfigError);
    expect(load({ static_labels: { "bad-name": "x" } })).toThrow(/prometheus\.static_labels\.bad-name: a Prometheus label name/);
    expect(load({ static_labels: { __meta_x: "x" } })).toThrow(/reserved by Prometheus/);
    expect(load({ static_labels: { fleet_role: "x" } })).toThrow(/'fleet_'/);
    expect(load({ static_labels: { env: "" } })).toThrow(/prometheus\.static_labels\.env/);
    expect(load({ file_sd_path: "relative/fleet.json" })).toThrow(/prometheus\.file_sd_path: an absolute path/);
    expect(load({ file_sd_path: "/x/fleet.yml" })).toThrow(/ending in \.json/);
    expect(load({ default_port: 0 })).toThrow(/prometheus\.default_port/);
    const ok = load({ static_labels: { env: "home" }, file_sd_path: "~/sd/fleet.json" })();
    expect(ok.prometheus).toEqual({ staticLabels: { env: "home" }, fileSdPath: join(ok.home, "sd/fleet.json"), defaultPort: 9100, writeAfterDiscovery: true });
  });
});
