// Canned machines for the probe: what each probe section prints on a host,
// built from the captured outputs in ./data, and the probe's own framing to
// serve them in (the nonce read from the script, exactly as a shell would see
// it). The SSH simulator answers with these; so does the tests' ScriptedRunner.
import { simData } from "./data.js";

export interface CannedSection {
  body: string;
  rc?: number;
  stderr?: string;
}

export type CannedHost = Record<string, CannedSection>;

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

/**
 * `systemctl list-unit-files --type=service --output=json` of a Debian 12 host:
 * the systemd 252 capture plus the unit files of the canned services (ssh and
 * nginx enabled, ssh's sshd alias, backup started by a timer, so static), sorted
 * as systemctl sorts them.
 */
export function debianUnitFiles(): string {
  const rows = JSON.parse(simData("systemctl-list-unit-files.json")) as Array<{ unit_file: string; state: string; preset: string | null }>;
  rows.push(
    { unit_file: "ssh.service", state: "enabled", preset: "enabled" },
    { unit_file: "sshd.service", state: "alias", preset: null },
    { unit_file: "nginx.service", state: "enabled", preset: "enabled" },
    { unit_file: "backup.service", state: "static", preset: null },
  );
  return JSON.stringify(rows.sort((a, b) => (a.unit_file < b.unit_file ? -1 : a.unit_file > b.unit_file ? 1 : 0)));
}

/** The probe's `docker inspect` lines (real CLI output, see the capture's .src) for the containers of a `docker ps` output. */
export function inspectOf(psJsonl: string): string {
  const ids = psJsonl
    .split("\n")
    .map((l) => /"ID":"([0-9a-f]+)"/.exec(l)?.[1])
    .filter((id): id is string => id !== undefined);
  return simData("docker-inspect-fleet-template.txt")
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
    os: { body: simData("os-release-debian12.txt") },
    kernel: { body: "Linux 6.1.0-13-amd64 x86_64" },
    uptime: { body: simData("proc-uptime.txt") },
    cpu_count: { body: "4" },
    cpu: { body: simData("lscpu-J.json") },
    load: { body: simData("proc-loadavg.txt") },
    memory: { body: simData("proc-meminfo.txt") },
    filesystems: { body: simData("df-PkT.txt") },
    addresses: { body: simData("ip-j-addr.json") },
    ports: { body: `#ss\n${simData("ss-Htlnp.txt")}` },
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
    docker: { body: `${simData("docker-ps-all-no-trunc.jsonl").trimEnd()}\n#@inspect 0\n${inspectOf(simData("docker-ps-all-no-trunc.jsonl"))}` },
    compose: { body: simData("docker-compose-ls.json") },
    firewall: { body: "nft=not_installed\niptables=not_installed\nufw=ok\nufw_status=Status: active\nfirewalld=not_installed" },
    sshd: { body: "#sshd-T\nport 22\npermitrootlogin without-password\npubkeyauthentication yes\npasswordauthentication no" },
    updates: { body: "#apt list" },
    ...overrides,
  };
}
