// get_discovery_config and update_discovery_config through the MCP client,
// against a real config file on disk: secrets stay env-var names (their values
// never appear anywhere), a bad change is refused with the key and the fix and
// leaves the file alone, a good one is written atomically (mode kept), reads back
// through loadConfig, and is used by the next run_discovery without a restart.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.js";
import { fleetFactory, type HostSpec } from "./support/fleet.js";
import { auditRows, lastAudit, startHarness, text, type Harness } from "./support/harness.js";

const SECRET = "s3cr3t-Hunter2-value";
const T0 = new Date("2026-11-23T10:00:00.000Z");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let h: Harness | undefined;
let dir: string;
let file: string;
const outputs: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-cfgtools-"));
  file = join(dir, "fleet.config.json");
  outputs.length = 0;
  // The running server re-reads secrets from its environment (process.env) when a change names one.
  vi.stubEnv("FLEET_TEST_PW", SECRET);
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const FLEETS: Record<string, () => HostSpec[]> = {
  alpha: () => [{ name: "a-1", address: "10.0.1.1" }],
  lab: () => [{ name: "lab-1", address: "10.0.2.1" }],
  beta: () => [
    { name: "b-1", address: "10.0.3.1" },
    { name: "b-2", address: "10.0.3.2" },
  ],
};

const INITIAL = {
  sources: [
    { kind: "local", id: "alpha" },
    { kind: "ssh", id: "lab", hosts: [{ address: "10.0.2.1", name: "lab-1" }], auth: { agent: false, password_env: "FLEET_TEST_PW" } },
  ],
  roles: [{ role: "lab", name: "lab-*" }],
  limits: { discovery_timeout_ms: 60000 },
};

async function start(content: unknown = INITIAL, mode = 0o640) {
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
  chmodSync(file, mode);
  h = await startHarness({
    configJson: content,
    env: { FLEET_TEST_PW: SECRET },
    sourceFactory: fleetFactory(FLEETS),
    config: { configFile: file },
    now: () => T0,
  });
}

async function raw(name: string, args: Record<string, unknown> = {}) {
  const res = await h!.client.callTool({ name, arguments: args });
  outputs.push(JSON.stringify(res));
  return res;
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<Json> {
  const res = await raw(name, args);
  if (res.isError) throw new Error(`${name} failed: ${text(res)}`);
  return res.structuredContent;
}

async function refused(args: Record<string, unknown>): Promise<string> {
  const before = readFileSync(file, "utf8");
  const res = await raw("update_discovery_config", args);
  expect(res.isError).toBe(true);
  expect(lastAudit(h!.app)).toMatchObject({ tool: "update_discovery_config", outcome: "tool_error" });
  expect(readFileSync(file, "utf8")).toBe(before);
  return text(res);
}

function noSecretAnywhere() {
  const everything = [...outputs, ...h!.logs, JSON.stringify(auditRows(h!.app)), readFileSync(file, "utf8")].join("\n");
  expect(everything).not.toContain(SECRET);
}

describe("get_discovery_config", () => {
  it("shows sources with defaults, env-var names, roles, policies and paths, never a secret value", async () => {
    await start();
    const c = await call("get_discovery_config");
    expect(c.config_file).toBe(file);
    expect(c.db_path).toBe(":memory:");
    expect(c.sources.map((s: Json) => [s.id, s.kind])).toEqual([
      ["alpha", "local"],
      ["lab", "ssh"],
    ]);
    const lab = c.sources[1];
    expect(lab.env_vars).toEqual([{ setting: "auth.password_env", name: "FLEET_TEST_PW" }]);
    expect(lab.settings).toMatchObject({ user: "root", port: 22, host_key_policy: "tofu", hosts: [{ address: "10.0.2.1", name: "lab-1" }] });
    expect(lab.settings.auth).toEqual({ agent: false });
    expect(c.roles).toEqual([{ role: "lab", name: "lab-*" }]);
    expect(c.health).toMatchObject({ filesystem_warning_pct: 80, filesystem_critical_pct: 90 });
    expect(c.lifecycle).toEqual({ stale_after_hours: 24, retire_after_days: null });
    expect(c.snapshots).toMatchObject({ auto: false, retention_days: null, min_keep: 10, on_expire: "archive" });
    expect(c.limits.discovery_timeout_ms).toBe(60000);
    expect(c.prometheus).toEqual({ static_labels: {}, file_sd_path: null, default_port: 9100 });
    // The secret is loaded (the source could use it) but never shown.
    expect(h!.app.config.secrets.get("lab")?.password).toBe(SECRET);
    noSecretAnywhere();
  });

  it("says when the server runs without a config file", async () => {
    h = await startHarness({ now: () => T0 });
    const c = await call("get_discovery_config");
    expect(c.config_file).toBeNull();
    expect(c.sources.map((s: Json) => s.id)).toEqual(["local"]);
    const res = await raw("update_discovery_config", { health: { memory_warning_pct: 85 } });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/started without a config file.*--config .*FLEET_CONFIG/);
  });
});

describe("update_discovery_config", () => {
  it("refuses invalid changes naming the key and the fix, and writes nothing", async () => {
    await start();
    expect(await refused({ upsert_sources: [{ kind: "ssh", id: "bad" }] })).toMatch(/sources\[2\] \(id "bad"\): an ssh source needs `hosts` or `ssh_config`/);
    expect(await refused({ upsert_sources: [{ kind: "ssh", id: "bad", hosts: [{ address: "10.9.9.9" }], auth: { password: "inline" } }] })).toMatch(
      /sources\[2\] \(id "bad"\)\.auth\.password: never put a secret in the config file.*auth\.password_env/,
    );
    expect(await refused({ health: { filesystem_warning_pct: 95 } })).toMatch(/health: filesystem_warning_pct must be below filesystem_critical_pct/);
    expect(await refused({ roles: [{ role: "boss", name: "x" }] })).toMatch(/roles\[0\]\.role:/);
    expect(await refused({ lifecycle: { stale_after_hours: 0 } })).toMatch(/lifecycle\.stale_after_hours:/);
    expect(await refused({ remove_sources: ["nope"] })).toMatch(/no source "nope".*alpha, lab/);
    expect(await refused({ remove_sources: ["alpha", "lab"] })).toMatch(/removes every source/);
    expect(await refused({ upsert_sources: [{ kind: "local", id: "Bad Id" }] })).toMatch(/sources\[2\] \(id "Bad Id"\)\.id: use 1-63 lower-case/);
    // Valid by the schema, but the named variable is not set for this server.
    expect(
      await refused({ upsert_sources: [{ kind: "ssh", id: "beta", hosts: [{ address: "10.0.3.1" }], auth: { password_env: "FLEET_UNSET_PW" } }] }),
    ).toMatch(/sources\[2\] \(beta\)\.auth\.password_env names FLEET_UNSET_PW, but that environment variable is not set.*Nothing was written/);
    expect(await refused({})).toMatch(/No change given/);
    expect(h!.app.config.sources.map((s) => s.id)).toEqual(["alpha", "lab"]);
    noSecretAnywhere();
  });

  it("writes the file atomically (mode kept, other keys kept), reads back through loadConfig, and the next run uses the new source", async () => {
    await start(INITIAL, 0o640);
    const run1 = await call("run_discovery");
    expect(run1.sources.map((s: Json) => s.id).sort()).toEqual(["alpha", "lab"]);

    const out = await call("update_discovery_config", {
      upsert_sources: [
        { kind: "ssh", id: "beta", hosts: [{ address: "10.0.3.1" }, { address: "10.0.3.2" }], auth: { agent: false, password_env: "FLEET_TEST_PW" } },
      ],
      remove_sources: ["alpha"],
      roles: [
        { role: "lab", name: "lab-*" },
        { role: "production", name: "b-*" },
      ],
      health: { memory_warning_pct: 85 },
      snapshots: { auto: true },
    });
    expect(out).toMatchObject({ config_file: file, dry_run: false, written: true });
    const paths = out.changes.map((c: Json) => c.path);
    expect(paths).toEqual(expect.arrayContaining(["sources[alpha]", "sources[beta]", "roles[1]", "health.memory_warning_pct", "snapshots.auto"]));
    expect(out.changes.find((c: Json) => c.path === "sources[alpha]")).toMatchObject({ before: { kind: "local" }, after: null });
    expect(out.changes.find((c: Json) => c.path === "sources[beta]").after.env_vars).toEqual([{ setting: "auth.password_env", name: "FLEET_TEST_PW" }]);
    expect(out.changes.find((c: Json) => c.path === "health.memory_warning_pct")).toEqual({ path: "health.memory_warning_pct", before: 90, after: 85 });
    expect(lastAudit(h!.app)).toMatchObject({ tool: "update_discovery_config", outcome: "ok" });

    // On disk: rewritten in place, mode kept, no temp file left, untouched keys kept.
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["fleet.config.json"]);
    const written = JSON.parse(readFileSync(file, "utf8"));
    expect(written.limits).toEqual({ discovery_timeout_ms: 60000 });
    const reread = loadConfig({ configPath: file, env: { FLEET_TEST_PW: SECRET }, db: ":memory:", stderrIsTty: false });
    expect(reread.sources.map((s) => s.id)).toEqual(["lab", "beta"]);
    expect(reread.health.memory_warning_pct).toBe(85);
    expect(reread.snapshots.auto).toBe(true);
    expect(reread.roles).toEqual([
      { role: "lab", name: "lab-*" },
      { role: "production", name: "b-*" },
    ]);

    // Live: the next run uses lab and beta (not alpha), the new role rule applies, and auto snapshots are on.
    const run2 = await call("run_discovery");
    expect(run2.sources.map((s: Json) => s.id).sort()).toEqual(["beta", "lab"]);
    const targets = await call("list_targets", { detail: "full", limit: 200 });
    const role = Object.fromEntries(targets.items.map((t: Json) => [t.name, t.role]));
    expect(role).toMatchObject({ "b-1": "production", "b-2": "production", "lab-1": "lab" });
    const snaps = await call("list_snapshots");
    expect(snaps.snapshots.map((s: Json) => s.type)).toEqual(["auto"]);
    expect((await call("get_discovery_config")).sources.map((s: Json) => s.id)).toEqual(["lab", "beta"]);
    expect(h!.app.config.secrets.get("beta")?.password).toBe(SECRET);

    // Idempotent: the same change again writes nothing and reports nothing.
    const again = await call("update_discovery_config", {
      upsert_sources: [
        { kind: "ssh", id: "beta", hosts: [{ address: "10.0.3.1" }, { address: "10.0.3.2" }], auth: { agent: false, password_env: "FLEET_TEST_PW" } },
      ],
      health: { memory_warning_pct: 85 },
    });
    expect(again).toMatchObject({ written: false, changes: [] });
    noSecretAnywhere();
  });

  it("dry_run validates and returns the diff without writing or applying", async () => {
    await start();
    const before = readFileSync(file, "utf8");
    const mtime = statSync(file).mtimeMs;
    const out = await call("update_discovery_config", { health: { memory_warning_pct: 70 }, lifecycle: { retire_after_days: 30 }, dry_run: true });
    expect(out).toMatchObject({ dry_run: true, written: false });
    expect(out.changes).toEqual([
      { path: "lifecycle.retire_after_days", before: null, after: 30 },
      { path: "health.memory_warning_pct", before: 90, after: 70 },
    ]);
    expect(readFileSync(file, "utf8")).toBe(before);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(readdirSync(dir)).toEqual(["fleet.config.json"]);
    expect(h!.app.config.health.memory_warning_pct).toBe(90);
    expect((await call("get_discovery_config")).lifecycle.retire_after_days).toBeNull();
    // A dry run of an invalid change is still refused.
    expect(await refused({ health: { memory_warning_pct: 99 }, dry_run: true })).toMatch(/memory_warning_pct must be below memory_critical_pct/);
  });

  it("a null value restores a default; a file without sources keeps the default local source when one is added", async () => {
    await start({ health: { memory_warning_pct: 70 } });
    expect(h!.app.config.sources.map((s) => s.id)).toEqual(["local"]);
    const out = await call("update_discovery_config", {
      health: { memory_warning_pct: null },
      upsert_sources: [{ kind: "ssh", id: "beta", hosts: [{ address: "10.0.3.1" }], auth: { agent: false } }],
    });
    expect(out.changes.find((c: Json) => c.path === "health.memory_warning_pct")).toMatchObject({ before: 70, after: 90 });
    const written = JSON.parse(readFileSync(file, "utf8"));
    expect(written.health).toBeUndefined();
    expect(written.sources.map((s: Json) => s.id)).toEqual(["local", "beta"]);
  });

  it("says what to do when the config file is gone", async () => {
    await start();
    rmSync(file);
    const res = await raw("update_discovery_config", { health: { memory_warning_pct: 85 } });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/Cannot read the config file .*ENOENT.*Fix or restore the file/);
    expect(readdirSync(dir)).toEqual([]);
  });

  // root may write any file: the permission check cannot be shown under root.
  it.skipIf(process.getuid?.() === 0)("refuses a config file it may not write", async () => {
    await start(INITIAL, 0o440);
    expect(await refused({ health: { memory_warning_pct: 85 } })).toMatch(/not writable \(EACCES\)/);
  });
});
