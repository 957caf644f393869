// The config file and the environment, through the real loadConfig (and the built
// CLI where the user meets it): YAML and JSON, the default file in the user's
// config directory, FLEET_* overrides with clear errors, unknown keys with a
// "did you mean", and a file that holds a bearer token refused while other users
// can read it. update_discovery_config keeps a YAML file YAML.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configView, updateConfigFile } from "../src/app/config-store.js";
import { createApp } from "../src/app/context.js";
import { ConfigError, findDefaultConfig, intervalMs, loadConfig } from "../src/config.js";
import { closeDb } from "../src/db/open.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const TOKEN = "tok-0123456789abcdef-SECRET";

let work = "";
let seq = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "fleet-config-file-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
function dir(): string {
  const d = join(work, String(++seq));
  mkdirSync(d, { recursive: true });
  return d;
}
function write(path: string, text: string, mode = 0o600): string {
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}
const load = (configPath: string | undefined, env: Record<string, string> = {}) =>
  loadConfig({ ...(configPath ? { configPath } : {}), env: { HOME: join(work, "nohome"), ...env }, db: ":memory:", stderrIsTty: false });

const YAML_CONFIG = `# a commented YAML config
sources:
  - kind: local
  - kind: ssh
    id: lab
    hosts:
      - address: 10.0.0.5
        name: lab-1
    auth: { agent: false, password_env: LAB_PW }
schedule:
  discovery_interval: 10m
  health_check_interval: 30
limits:
  max_fleet_size: 500
`;

describe("config file formats", () => {
  it("reads YAML: sources, intervals with units, limits", () => {
    const cfg = load(write(join(dir(), "fleet.config.yaml"), YAML_CONFIG), { LAB_PW: "pw-value" });
    expect(cfg.sources.map((s) => s.id)).toEqual(["local", "lab"]);
    expect(cfg.schedule).toEqual({ discoveryIntervalMs: 600_000, healthCheckIntervalMs: 30_000, jitter: 0.1 });
    expect(cfg.limits.maxFleetSize).toBe(500);
    expect(cfg.secretValues).toContain("pw-value");
  });

  it("reads JSON, and the same settings give the same config", () => {
    const yaml = load(write(join(dir(), "a.yaml"), YAML_CONFIG), { LAB_PW: "x" });
    const json = load(write(join(dir(), "a.json"), JSON.stringify(parseYaml(YAML_CONFIG))), { LAB_PW: "x" });
    expect(configView({ ...json, configFile: null })).toEqual(configView({ ...yaml, configFile: null }));
  });

  it("an empty YAML file is a valid start (local discovery)", () => {
    const cfg = load(write(join(dir(), "empty.yaml"), ""));
    expect(cfg.sources.map((s) => s.kind)).toEqual(["local"]);
    expect(cfg.schedule.discoveryIntervalMs).toBe(300_000);
    expect(cfg.schedule.healthCheckIntervalMs).toBe(60_000);
  });

  it("a YAML syntax error names the file and the line", () => {
    const path = write(join(dir(), "bad.yaml"), "sources:\n  - kind: local\n   id: x\n");
    expect(() => load(path)).toThrow(ConfigError);
    expect(() => load(path)).toThrow(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not valid YAML[\\s\\S]*line 3`));
  });

  it("YAML aliases and custom tags are refused, not expanded", () => {
    const path = write(join(dir(), "alias.yaml"), "a: &x [1, 2]\nb: *x\n");
    expect(() => load(path)).toThrow(/not valid YAML/);
  });

  it("an unknown key is an error that names it and suggests the right one", () => {
    const path = write(join(dir(), "typo.yaml"), "schedule:\n  discovery_intervall: 60\n");
    expect(() => load(path)).toThrow(/schedule: unknown key "discovery_intervall" \(did you mean "discovery_interval"\?\); remove it/);
    const nothingClose = write(join(dir(), "typo2.yaml"), "zzz_qqq: 1\n");
    expect(() => load(nothingClose)).toThrow(/\(root\): unknown key "zzz_qqq"; remove it/);
  });
});

describe("where the config file comes from", () => {
  it("--config wins over FLEET_CONFIG, which wins over the default file", () => {
    const d = dir();
    const a = write(join(d, "a.yaml"), "log_level: debug\n");
    const b = write(join(d, "b.yaml"), "log_level: error\n");
    const xdg = join(d, "xdg");
    mkdirSync(join(xdg, "fleet-mcp"), { recursive: true });
    const def = write(join(xdg, "fleet-mcp", "fleet.config.yaml"), "log_level: warn\n");
    const env = { XDG_CONFIG_HOME: xdg };
    expect(load(undefined, env).configFile).toBe(def);
    expect(load(undefined, env).logLevel).toBe("warn");
    expect(load(undefined, { ...env, FLEET_CONFIG: b }).logLevel).toBe("error");
    expect(load(a, { ...env, FLEET_CONFIG: b }).logLevel).toBe("debug");
  });

  it("the default is ~/.config/fleet-mcp/fleet.config.{yaml,yml,json}, first found; none means zero config", () => {
    const home = dir();
    expect(findDefaultConfig({ HOME: home })).toBeNull();
    expect(load(undefined, { HOME: home }).configFile).toBeNull();
    mkdirSync(join(home, ".config", "fleet-mcp"), { recursive: true });
    const json = write(join(home, ".config", "fleet-mcp", "fleet.config.json"), "{}");
    expect(findDefaultConfig({ HOME: home })).toBe(json);
    const yml = write(join(home, ".config", "fleet-mcp", "fleet.config.yml"), "");
    expect(findDefaultConfig({ HOME: home })).toBe(yml);
  });
});

describe("environment overrides", () => {
  it("FLEET_* override the file", () => {
    const path = write(join(dir(), "f.yaml"), "schedule:\n  discovery_interval: 600\nlimits:\n  max_fleet_size: 10\n  max_concurrent_probes: 4\n");
    const cfg = load(path, {
      FLEET_DISCOVERY_INTERVAL: "2m",
      FLEET_HEALTH_CHECK_INTERVAL: "0",
      FLEET_MAX_FLEET_SIZE: "2000",
      FLEET_MAX_CONCURRENT_PROBES: "64",
      FLEET_AUTO_REGISTER: "yes",
      FLEET_LOG_LEVEL: "error",
    });
    expect(cfg.schedule.discoveryIntervalMs).toBe(120_000);
    expect(cfg.schedule.healthCheckIntervalMs).toBe(0);
    expect(cfg.limits.maxFleetSize).toBe(2000);
    expect(cfg.limits.maxConcurrentProbes).toBe(64);
    expect(cfg.autoRegister).toBe(true);
    expect(cfg.logLevel).toBe("error");
  });

  it.each([
    ["FLEET_DISCOVERY_INTERVAL", "soon", /FLEET_DISCOVERY_INTERVAL="soon" is not an interval; use seconds/],
    ["FLEET_DISCOVERY_INTERVAL", "2s", /at least 5s/],
    ["FLEET_HEALTH_CHECK_INTERVAL", "-5", /FLEET_HEALTH_CHECK_INTERVAL="-5" is not an interval/],
    ["FLEET_MAX_FLEET_SIZE", "many", /FLEET_MAX_FLEET_SIZE="many" must be a whole number from 1/],
    ["FLEET_MAX_FLEET_SIZE", "0", /must be a whole number from 1/],
    ["FLEET_MAX_CONCURRENT_PROBES", "2000", /FLEET_MAX_CONCURRENT_PROBES="2000" must be a whole number from 1 to 1024\./],
    ["FLEET_MAX_CONCURRENT_PROBES", "lots", /FLEET_MAX_CONCURRENT_PROBES="lots" must be a whole number from 1 to 1024\./],
    ["FLEET_AUTO_REGISTER", "maybe", /FLEET_AUTO_REGISTER="maybe" is not a boolean/],
    ["FLEET_HTTP_TOKEN", "short", /FLEET_HTTP_TOKEN is shorter than 16 characters/],
  ])("%s=%s is refused with the fix", (name, value, message) => {
    expect(() => load(undefined, { [name]: value })).toThrow(message);
  });

  it("intervals: seconds, units, off", () => {
    expect(intervalMs(300, "x")).toBe(300_000);
    expect(intervalMs("90s", "x")).toBe(90_000);
    expect(intervalMs("1.5h", "x")).toBe(5_400_000);
    expect(intervalMs("off", "x")).toBe(0);
    expect(() => intervalMs("8d", "x")).toThrow(/at most 7 days/);
  });

  it("FLEET_HTTP_TOKEN becomes the token named env, and is a secret value", () => {
    const cfg = load(undefined, { FLEET_HTTP_TOKEN: TOKEN });
    expect(cfg.http.tokens).toEqual([{ name: "env", token: TOKEN }]);
    expect(cfg.secretValues).toContain(TOKEN);
    expect(JSON.stringify(configView(cfg))).not.toContain(TOKEN);
    expect(configView(cfg).http.tokens).toEqual(["env"]);
  });

  it("PROXMOX_* still make a single-cluster source when the file lists none", () => {
    const cfg = load(undefined, { PROXMOX_HOST: "pve.example:8006", PROXMOX_TOKEN_ID: "root@pam!fleet", PROXMOX_TOKEN_SECRET: "abc-def" });
    expect(cfg.sources.map((s) => s.kind)).toEqual(["local", "proxmox"]);
  });
});

describe("a config file that holds a secret", () => {
  const withToken = `http:\n  tokens:\n    - name: laptop\n      token: ${TOKEN}\n`;

  it("is refused while group or others can read it, with the chmod to run", () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const path = write(join(dir(), "tok.yaml"), withToken, mode);
      expect(() => load(path)).toThrow(new RegExp(`readable by other users \\(mode 0${mode.toString(8)}\\)\\. Run \`chmod 600 `));
    }
  });

  it("is accepted at 0600, and the token is a secret value never shown", () => {
    const cfg = load(write(join(dir(), "tok.yaml"), withToken, 0o600));
    expect(cfg.http.tokens).toEqual([{ name: "laptop", token: TOKEN }]);
    expect(cfg.secretValues).toContain(TOKEN);
    expect(JSON.stringify(configView(cfg))).not.toContain(TOKEN);
  });

  it("a file naming only environment variables may be world-readable", () => {
    const cfg = load(write(join(dir(), "env.yaml"), "http:\n  tokens:\n    - name: ci\n      token_env: CI_TOKEN\n", 0o644), { CI_TOKEN: TOKEN });
    expect(cfg.http.tokens).toEqual([{ name: "ci", token: TOKEN }]);
  });

  it("a token_env that is not set, a short token, or both forms are errors", () => {
    expect(() => load(write(join(dir(), "a.yaml"), "http:\n  tokens:\n    - name: ci\n      token_env: NOPE_TOKEN\n"))).toThrow(
      /http\.tokens\[0\] \(ci\)\.token_env names NOPE_TOKEN, but that environment variable is not set/,
    );
    expect(() => load(write(join(dir(), "b.yaml"), "http:\n  tokens:\n    - name: ci\n      token: short\n"))).toThrow(/at least 16 characters/);
    expect(() => load(write(join(dir(), "c.yaml"), `http:\n  tokens:\n    - name: ci\n      token: ${TOKEN}\n      token_env: X\n`))).toThrow(
      /exactly one of token_env \(preferred\) or token/,
    );
  });

  it("the CLI refuses to start on it (exit 2), without printing the token", () => {
    if (!existsSync(CLI)) throw new Error("dist/cli.js is missing: npm run build");
    const d = dir();
    const path = write(join(d, "fleet.config.yaml"), withToken, 0o644);
    const db = join(d, "fleet.db");
    const r = spawnSync(process.execPath, [CLI, "serve", "--config", path, "--db", db], {
      encoding: "utf8",
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? "", HOME: d },
      input: "",
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain("chmod 600");
    expect(r.stdout).toBe("");
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
    expect(existsSync(db)).toBe(false);
  });
});

describe("update_discovery_config on a YAML file", () => {
  it("writes YAML back (validated, atomic, mode kept) and it reloads to the same config", () => {
    const d = dir();
    const path = write(join(d, "fleet.config.yaml"), "sources:\n  - kind: local\n", 0o600);
    const config = loadConfig({ configPath: path, env: { HOME: d }, db: ":memory:", stderrIsTty: false });
    const app = createApp({
      config,
      reloadConfig: (fileContent) => loadConfig({ configPath: path, env: { HOME: d }, db: ":memory:", fileContent, stderrIsTty: false }),
    });
    try {
      const r = updateConfigFile(app, { health: { memory_warning_pct: 70 } }, { dryRun: false });
      expect(r.written).toBe(true);
      const text = readFileSync(path, "utf8");
      expect(text.trimStart().startsWith("{")).toBe(false);
      expect(parseYaml(text)).toEqual({ sources: [{ kind: "local" }], health: { memory_warning_pct: 70 } });
      expect(load(path).health.memory_warning_pct).toBe(70);
    } finally {
      closeDb(app.db);
    }
  });
});
