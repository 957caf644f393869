// A CommandRunner that answers the real probe script with canned section
// outputs (built from the captured fixtures), in the probe's own framing: the
// nonce is read from the script it is given, exactly as a shell would see it.
import { readFileSync } from "node:fs";
import { RunnerError, type CommandRunner, type RunOptions, type RunResult } from "../../src/discovery/runner.js";

export interface CannedSection {
  body: string;
  rc?: number;
  stderr?: string;
}

export type CannedHost = Record<string, CannedSection>;

export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
}

export function renderProbeOutput(nonce: string, host: CannedHost, opts: { done?: boolean } = {}): string {
  const M = `@@fleet-${nonce}@@`;
  let out = "";
  for (const [name, s] of Object.entries(host)) {
    out += `\n${M} BEGIN ${name}\n${s.body}\n${M} END ${name} ${s.rc ?? 0}\n`;
    if (s.stderr) out += `${M} STDERR ${name}\n${s.stderr}\n${M} ENDERR ${name}\n`;
  }
  if (opts.done !== false) out += `\n${M} DONE\n`;
  return out;
}

export type RunnerBehaviour =
  { kind: "answer"; host: CannedHost; delayMs?: number } | { kind: "throw"; code: RunnerError["code"]; message: string } | { kind: "hang" };

/** Answers each run according to `behave()`, which the test may change between runs. */
export class ScriptedRunner implements CommandRunner {
  readonly where = "scripted";
  calls = 0;
  constructor(public behave: () => RunnerBehaviour) {}

  async run(_command: string, opts: RunOptions): Promise<RunResult> {
    this.calls++;
    const b = this.behave();
    const nonce = /M='@@fleet-([0-9a-f]+)@@'/.exec(opts.stdin ?? "")?.[1];
    if (!nonce) throw new Error("ScriptedRunner: no probe nonce in the script");
    if (b.kind === "throw") throw new RunnerError(b.code, b.message);
    const started = performance.now();
    const wait = b.kind === "hang" ? opts.timeoutMs : (b.delayMs ?? 0);
    const aborted = await new Promise<boolean>((resolve) => {
      if (opts.signal?.aborted) return resolve(true);
      const t = setTimeout(() => resolve(false), wait);
      opts.signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(t);
          resolve(true);
        },
        { once: true },
      );
    });
    const base = { stderr: "", truncated: false, durationMs: performance.now() - started };
    if (aborted) return { ...base, stdout: "", exitCode: null, timedOut: false, aborted: true };
    if (b.kind === "hang") return { ...base, stdout: "", exitCode: null, timedOut: true, aborted: false };
    return { ...base, stdout: renderProbeOutput(nonce, b.host), exitCode: 0, timedOut: false, aborted: false };
  }
}

/**
 * `systemctl list-unit-files --type=service --output=json` of a Debian 12 host:
 * the systemd 252 capture plus the unit files of the canned services (ssh and
 * nginx enabled, ssh's sshd alias, backup started by a timer, so static), sorted
 * as systemctl sorts them.
 */
export function debianUnitFiles(): string {
  const rows = JSON.parse(fixture("systemctl-list-unit-files.json")) as Array<{ unit_file: string; state: string; preset: string | null }>;
  rows.push(
    { unit_file: "ssh.service", state: "enabled", preset: "enabled" },
    { unit_file: "sshd.service", state: "alias", preset: null },
    { unit_file: "nginx.service", state: "enabled", preset: "enabled" },
    { unit_file: "backup.service", state: "static", preset: null },
  );
  return JSON.stringify(rows.sort((a, b) => (a.unit_file < b.unit_file ? -1 : a.unit_file > b.unit_file ? 1 : 0)));
}

/** The probe's `docker inspect` lines (real CLI output, see the fixture's .src) for the containers of a `docker ps` output. */
export function inspectOf(psJsonl: string): string {
  const ids = psJsonl
    .split("\n")
    .map((l) => /"ID":"([0-9a-f]+)"/.exec(l)?.[1])
    .filter((id): id is string => id !== undefined);
  return fixture("docker-inspect-fleet-template.txt")
    .split("\n")
    .filter((l) => ids.some((id) => l.includes(`"id":"${id}`)))
    .join("\n");
}

/** A Debian 12 host with systemd, docker and compose, from the captures. */
export function debianHost(overrides: Partial<CannedHost> = {}): CannedHost {
  return {
    hostname: { body: "web-1" },
    machine_id: { body: "0123456789abcdef0123456789abcdef" },
    host_keys: { body: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdTq2ObQmRBIEN5Z8P5ZQbmDpvYJ4fyEE0q4mLhkTRs root@web-1" },
    os: { body: fixture("os-release-debian12.txt") },
    kernel: { body: "Linux 6.1.0-13-amd64 x86_64" },
    uptime: { body: fixture("proc-uptime.txt") },
    cpu_count: { body: "4" },
    cpu: { body: fixture("lscpu-J.json") },
    load: { body: fixture("proc-loadavg.txt") },
    memory: { body: fixture("proc-meminfo.txt") },
    filesystems: { body: fixture("df-PkT.txt") },
    addresses: { body: fixture("ip-j-addr.json") },
    ports: { body: `#ss\n${fixture("ss-Htlnp.txt")}` },
    systemd: {
      body:
        "#json\n" +
        JSON.stringify([
          { unit: "ssh.service", load: "loaded", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
          { unit: "nginx.service", load: "loaded", active: "active", sub: "running", description: "A high performance web server" },
          { unit: "backup.service", load: "loaded", active: "failed", sub: "failed", description: "Nightly backup" },
        ]) +
        `\n#@unit-files json 0\n${debianUnitFiles()}`,
    },
    docker: { body: `${fixture("docker-ps-all-no-trunc.jsonl").trimEnd()}\n#@inspect 0\n${inspectOf(fixture("docker-ps-all-no-trunc.jsonl"))}` },
    compose: { body: fixture("docker-compose-ls.json") },
    firewall: { body: "nft=not_installed\niptables=not_installed\nufw=ok\nufw_status=Status: active\nfirewalld=not_installed" },
    sshd: { body: "#sshd-T\nport 22\npermitrootlogin without-password\npubkeyauthentication yes\npasswordauthentication no" },
    updates: { body: "#apt list" },
    ...overrides,
  };
}
