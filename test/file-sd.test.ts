// The Prometheus file_sd file the server keeps current after each discovery run
// (src/app/file-sd.ts, on app.events run_finished), and `fleet-mcp export
// prometheus`. Discovery runs through the real service via run_discovery over a
// real MCP client; the CLI runs in-process through main() and once as the built
// binary. A real Prometheus reading the file: test/prometheus-real.test.ts.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fileSdWriteFix } from "../src/app/file-sd.js";
import { main } from "../src/cli/main.js";
import { openDb } from "../src/db/open.js";
import { fleetFactory, type HostSpec } from "./support/fleet.js";
import { callOk, startHarness, type Harness } from "./support/harness.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli.js");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let h: Harness | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleet-filesd-"));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const ROLES = [
  { role: "production", name: "web-*" },
  { role: "lab", kind: "lxc" },
];

function config(prometheus: Record<string, unknown>) {
  return { roles: ROLES, prometheus: { static_labels: { env: "test" }, ...prometheus } };
}

async function start(prometheus: Record<string, unknown>, fleet: () => HostSpec[], db?: ReturnType<typeof openDb>) {
  h = await startHarness({ configJson: config(prometheus), sourceFactory: fleetFactory({ local: fleet }), ...(db ? { db } : {}) });
  return h;
}

async function discover(): Promise<Json> {
  return callOk(h!, "run_discovery", {});
}

async function toolGroups(): Promise<Json[]> {
  return (await callOk(h!, "export_prometheus_targets", { limit: 200 })).groups;
}

function logged(msg: string): Json[] {
  return h!.logs.map((l) => JSON.parse(l)).filter((l) => l.msg.startsWith(msg));
}

const WEB: HostSpec[] = [
  { name: "web-1", address: "10.0.0.11" },
  { name: "web-2", address: "10.0.0.12", facts: { "os.id": "ubuntu" } },
];

describe("file_sd after discovery", () => {
  it("writes the export's groups after a run, only when they changed, replacing the file by rename", async () => {
    const path = join(dir, "fleet.json");
    let fleet = WEB;
    await start({ file_sd_path: path }, () => fleet);
    expect(existsSync(path)).toBe(false);
    await discover();
    const first = readFileSync(path, "utf8");
    expect(JSON.parse(first)).toEqual(await toolGroups());
    expect(JSON.parse(first).map((g: Json) => g.labels)).toEqual([
      { env: "test", fleet_role: "production", fleet_kind: "host", fleet_name: "web-1", fleet_node: "web-1", fleet_os: "debian" },
      { env: "test", fleet_role: "production", fleet_kind: "host", fleet_name: "web-2", fleet_node: "web-2", fleet_os: "ubuntu" },
    ]);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(logged("prometheus file_sd written")).toEqual([expect.objectContaining({ level: "info", path, targets: 2, groups: 2 })]);

    // Same fleet: the file is not touched, so Prometheus has nothing to reload.
    chmodSync(path, 0o640);
    const before = statSync(path);
    await discover();
    expect(statSync(path).ino).toBe(before.ino);
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
    expect(logged("prometheus file_sd written")).toHaveLength(1);
    expect(logged("prometheus file_sd unchanged")).toHaveLength(1);

    // A new target: a new file renamed over the old one, with the old one's mode, and no temp file left.
    fleet = [...WEB, { name: "ct-app", kind: "lxc", identity: ["pve:ct:101"], address: "10.0.0.101" }];
    await discover();
    const after = statSync(path);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["fleet.json"]);
    const groups = JSON.parse(readFileSync(path, "utf8"));
    expect(groups).toEqual(await toolGroups());
    // Ordered by role: lab before production.
    expect(groups.map((g: Json) => [g.labels.fleet_role, g.targets[0]])).toEqual([
      ["lab", "10.0.0.101:9100"],
      ["production", "10.0.0.11:9100"],
      ["production", "10.0.0.12:9100"],
    ]);
    expect(logged("prometheus file_sd written").at(-1)).toMatchObject({ path, targets: 3 });
  });

  it("leaves the file alone after a failed run", async () => {
    const path = join(dir, "fleet.json");
    let fleet: HostSpec[] = WEB;
    await start({ file_sd_path: path }, () => fleet);
    await discover();
    const written = readFileSync(path, "utf8");
    fleet = WEB.map((s) => ({ ...s, status: "unreachable", error: "connect ETIMEDOUT" }));
    const run = await discover();
    expect(run.status).toBe("failed");
    // The inventory no longer has them active, but the file keeps the last good list.
    expect(await toolGroups()).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe(written);
    expect(logged("prometheus file_sd left as it was")).toEqual([expect.objectContaining({ path })]);
  });

  it("writes nothing with write_after_discovery false, and follows a live config change", async () => {
    const path = join(dir, "fleet.json");
    await start({ file_sd_path: path, write_after_discovery: false }, () => WEB);
    await discover();
    expect(existsSync(path)).toBe(false);
    const other = join(dir, "other.json");
    const cfg = h!.app.config;
    h!.app.applyConfig({ ...cfg, prometheus: { ...cfg.prometheus, fileSdPath: other, writeAfterDiscovery: true, staticLabels: { env: "prod" } } });
    await discover();
    expect(existsSync(path)).toBe(false);
    expect(JSON.parse(readFileSync(other, "utf8")).map((g: Json) => g.labels.env)).toEqual(["prod", "prod"]);
  });

  it("a missing directory or a symlink is a warning with the fix, never a failed run", async () => {
    const missing = join(dir, "sd", "fleet.json");
    await start({ file_sd_path: missing }, () => WEB);
    const run = await discover();
    expect(run.status).toBe("ok");
    expect(logged("prometheus file_sd not written")).toEqual([
      expect.objectContaining({
        level: "warn",
        path: missing,
        msg: expect.stringContaining(`The directory of prometheus.file_sd_path (${join(dir, "sd")}) does not exist. Create it`),
      }),
    ]);
    // Created later, the next run writes it.
    mkdirSync(join(dir, "sd"));
    await discover();
    expect(JSON.parse(readFileSync(missing, "utf8"))).toHaveLength(2);
    await h!.close();
    h = undefined;

    const real = join(dir, "real.json");
    writeFileSync(real, "[]\n");
    symlinkSync(real, join(dir, "link.json"));
    await start({ file_sd_path: join(dir, "link.json") }, () => WEB);
    expect((await discover()).status).toBe("ok");
    expect(logged("prometheus file_sd not written")[0].msg).toMatch(/not a regular file/);
    expect(readFileSync(real, "utf8")).toBe("[]\n");
  });

  it("a directory it may not write in is a warning that says whose access to fix", async () => {
    const err = Object.assign(new Error("EACCES: permission denied, open '/etc/prometheus/file_sd/.fleet.json.tmp'"), { code: "EACCES" });
    expect(fileSdWriteFix("/etc/prometheus/file_sd/fleet.json", err)).toMatch(
      /may not write in \/etc\/prometheus\/file_sd \(EACCES\).*Give its user write access to that directory.*or change file_sd_path in the config file/,
    );
    // root writes anywhere: the real refusal needs an unprivileged user.
    if (process.getuid?.() === 0) return;
    mkdirSync(join(dir, "ro"));
    chmodSync(join(dir, "ro"), 0o555);
    await start({ file_sd_path: join(dir, "ro", "fleet.json") }, () => WEB);
    expect((await discover()).status).toBe("ok");
    expect(logged("prometheus file_sd not written")[0].msg).toMatch(/may not write in .*\(EACCES\)/);
  });
});

/** Collects what the CLI writes to a stream. */
function sink(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString("utf8") });
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(args, { stdout, stderr, env: {} });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe("fleet-mcp export prometheus", () => {
  let db: string;
  let cfgPath: string;
  let sdPath: string;
  let groups: Json[];

  beforeEach(async () => {
    db = join(dir, "fleet.db");
    sdPath = join(dir, "sd.json");
    cfgPath = join(dir, "fleet.config.json");
    const prometheus = { file_sd_path: sdPath, write_after_discovery: false, default_port: 9273 };
    writeFileSync(cfgPath, JSON.stringify(config(prometheus)));
    await start(prometheus, () => [...WEB, { name: "ct-app", kind: "lxc", identity: ["pve:ct:101"], address: "fd00::65" }], openDb(db));
    await discover();
    groups = await toolGroups();
    await h!.close();
    h = undefined;
  });

  const base = () => ["--db", db, "--config", cfgPath];

  it("prints the tool's groups as JSON on stdout, the count on stderr", async () => {
    const r = await cli(["export", "prometheus", ...base()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(groups);
    expect(groups.map((g: Json) => g.targets[0])).toEqual(["[fd00::65]:9273", "10.0.0.11:9273", "10.0.0.12:9273"]);
    expect(r.stderr).toBe("3 target(s) in 3 group(s) on port 9273\n");
    const http = await cli(["export", "prometheus", "--format", "http_sd", ...base()]);
    expect(http.stdout).toBe(r.stdout);
  });

  it("--out replaces the file atomically, keeping its mode, and leaves an identical file alone", async () => {
    const out = join(dir, "out.json");
    writeFileSync(out, "stale\n");
    chmodSync(out, 0o640);
    const r = await cli(["export", "prometheus", "--out", out, ...base()]);
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toBe(`3 target(s) in 3 group(s) on port 9273: written to ${out}\n`);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(groups);
    const st = statSync(out);
    expect(st.mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const again = await cli(["export", "prometheus", "--out", out, ...base()]);
    expect(again.stderr).toMatch(/: unchanged in /);
    expect(statSync(out).ino).toBe(st.ino);

    const fresh = join(dir, "fresh.json");
    expect((await cli(["export", "prometheus", "--out", fresh, ...base()])).code).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o644);
  });

  it("--write writes the configured file_sd_path", async () => {
    const r = await cli(["export", "prometheus", "--write", ...base()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(sdPath, "utf8"))).toEqual(groups);
    expect(r.stderr).toContain(`written to ${sdPath}`);
  });

  it("refuses bad usage (exit 2) and a file it cannot write (exit 1), and the inventory export keeps working", async () => {
    const usage = async (args: string[], why: RegExp) => {
      const r = await cli([...args, ...base()]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(why);
    };
    await usage(["export", "prometheus", "--format", "yaml"], /--format must be file_sd or http_sd/);
    await usage(["export", "prometheus", "--out", join(dir, "x.json"), "--write"], /give one of them/);
    await usage(["export", "prometheus", "--write", "--format", "http_sd"], /--write needs --format file_sd/);
    await usage(["export", "prometheus", "extra"], /takes no arguments/);
    await usage(["export", "--format", "http_sd"], /options of `fleet-mcp export prometheus`/);
    const noPath = join(dir, "empty.config.json");
    writeFileSync(noPath, "{}");
    const r = await cli(["export", "prometheus", "--write", "--db", db, "--config", noPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no prometheus.file_sd_path is configured/);

    const missing = await cli(["export", "prometheus", "--out", join(dir, "nope", "x.json"), ...base()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/The directory of --out \(.*nope\) does not exist\. Create it, or pass another --out/);

    const inv = await cli(["export", ...base()]);
    expect(inv.code).toBe(0);
    expect(JSON.parse(inv.stdout).format).toBe("fleet-mcp-inventory");
    const help = await cli(["export", "--help"]);
    expect(help.stdout).toMatch(
      /^Usage: fleet-mcp export \[--out FILE\]\n {7}fleet-mcp export prometheus \[--format file_sd\|http_sd\] \[--out FILE \| --write\]/,
    );
  });
});

describe("the built binary", () => {
  beforeAll(() => {
    if (!existsSync(CLI)) execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
  }, 300_000);

  it("writes only the JSON to stdout", async () => {
    const db = join(dir, "fleet.db");
    await start({}, () => WEB, openDb(db));
    await discover();
    const groups = await toolGroups();
    await h!.close();
    h = undefined;
    const cfg = join(dir, "c.json");
    writeFileSync(cfg, JSON.stringify(config({})));
    const stdout = execFileSync(process.execPath, [CLI, "export", "prometheus", "--db", db, "--config", cfg], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(JSON.parse(stdout)).toEqual(groups);
  });
});
