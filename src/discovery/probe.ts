// The machine probe: one POSIX sh script, run in one exec (locally or over SSH),
// that prints every section between markers carrying a per-run random nonce, each
// with its own exit status and stderr. A failing or hanging section does not
// spoil the others, and remote output cannot forge a marker it cannot guess.
// It runs under bash, dash and BusyBox ash, and falls back where tools are
// missing or old (no `ip -j`, no `ss`, systemd < 246, docker < 23).
import { createHash, randomBytes } from "node:crypto";
import {
  applySshdDefaults,
  applyUnitFileStates,
  classifyDockerError,
  DOCKER_INSPECT_FORMAT,
  FIREWALL_TOOLS,
  isMissingPackageCache,
  isPseudoFilesystem,
  isSystemdNotBooted,
  mergeDockerInspect,
  packageManagerError,
  parseComposeLs,
  parseCpuinfo,
  parseDf,
  parseDockerInspect,
  parseDockerPs,
  parseIpJson,
  parseIpText,
  parseLoadavg,
  parseLscpuJson,
  parseMeminfo,
  parseNetstat,
  parseAptGetSimulate,
  parseAptListUpgradable,
  parseApkVersion,
  parseDnfCheckUpdate,
  parseFirewallSection,
  parseOsRelease,
  parseProcNetTcp,
  parseProcUptime,
  parseSs,
  parseSshdConfig,
  parseSshdT,
  parseSystemctlJson,
  parseSystemctlText,
  parseSystemctlUnitFilesJson,
  parseSystemctlUnitFilesText,
  parseUname,
  splitSshdConfigDump,
  type DockerInspectObs,
  type PackageManager,
  type SshdSettings,
  type UnitFileObs,
} from "./parsers/index.js";
import { RunnerError, type CommandRunner } from "./runner.js";
import type { FactValue, HostStatus, SectionResult, TargetObservation } from "./types.js";

export const PROBE_SECTIONS = [
  "hostname",
  "machine_id",
  "host_keys",
  "os",
  "kernel",
  "uptime",
  "cpu_count",
  "cpu",
  "load",
  "memory",
  "filesystems",
  "addresses",
  "ports",
  "systemd",
  "docker",
  "compose",
  "firewall",
  "sshd",
  "updates",
] as const;
export type ProbeSection = (typeof PROBE_SECTIONS)[number];

/** Seconds a single risky command (df on a hung NFS mount, docker on a stuck daemon) may take. */
const SECTION_TIMEOUT_S = 10;

/** Exit status of a command stopped by `timeout`: 124 (GNU), 143 (BusyBox sends TERM), 137 (KILL after -k). */
function isTimeoutExit(code: number | null): boolean {
  return code === 124 || code === 143 || code === 137;
}

export function newNonce(): string {
  return randomBytes(12).toString("hex");
}

/**
 * What every fleet-mcp shell script starts with: a C locale, no pagers or
 * colours, sbin on PATH, the marker M, a private temp file T for stderr, TO
 * (a per-command `timeout` prefix, empty where there is none) and have().
 * Works under bash, dash and BusyBox ash.
 */
export function scriptPrelude(nonce: string, timeoutS: number): string {
  return `LC_ALL=C; LANG=C; export LC_ALL LANG
SYSTEMD_COLORS=0; SYSTEMD_PAGER=cat; PAGER=cat; export SYSTEMD_COLORS SYSTEMD_PAGER PAGER
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/usr/bin:/bin"; export PATH
M='@@fleet-${nonce}@@'
# Stderr goes to a private temp file; without one (read-only /tmp, no mktemp)
# it is dropped rather than written to a guessable path.
T=$(mktemp 2>/dev/null) || T=""
[ -n "$T" ] && { : >"$T"; } 2>/dev/null || T=/dev/null
[ "$T" != /dev/null ] && trap 'rm -f "$T"' EXIT
# GNU timeout moves its child to a new process group unless --foreground, which
# would let a hung command outlive the script's deadline; -k kills what ignores TERM.
TO=""
if timeout --foreground -k 2 ${timeoutS} true >/dev/null 2>&1; then TO="timeout --foreground -k 2 ${timeoutS}"
elif timeout ${timeoutS} true >/dev/null 2>&1; then TO="timeout ${timeoutS}"; fi
have() { command -v "$1" >/dev/null 2>&1; }`;
}

export function buildProbeScript(nonce: string): string {
  return `# fleet-mcp probe v1
${scriptPrelude(nonce, SECTION_TIMEOUT_S)}
sec() {
  n=$1; shift
  printf '\\n%s BEGIN %s\\n' "$M" "$n"
  "$@" 2>"$T" </dev/null
  rc=$?
  printf '\\n%s END %s %s\\n' "$M" "$n" "$rc"
  if [ -s "$T" ]; then
    printf '%s STDERR %s\\n' "$M" "$n"
    head -c 2048 "$T"
    printf '\\n%s ENDERR %s\\n' "$M" "$n"
  fi
}
s_hostname() { uname -n; }
s_machine_id() { cat /etc/machine-id 2>/dev/null || cat /var/lib/dbus/machine-id; }
s_host_keys() { for f in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub; do [ -r "$f" ] && cat "$f"; done; return 0; }
s_os() { cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release; }
s_kernel() { uname -s -r -m; }
s_uptime() { cat /proc/uptime; }
s_cpu_count() { getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || grep -c '^processor' /proc/cpuinfo; }
s_cpu() { if have lscpu && lscpu -J 2>/dev/null; then return 0; fi; cat /proc/cpuinfo; }
s_load() { cat /proc/loadavg; }
s_memory() { cat /proc/meminfo; }
s_filesystems() { $TO df -PkT; }
s_addresses() { if ip -j addr 2>/dev/null; then return 0; fi; ip addr; }
s_ports() {
  if have ss; then echo '#ss'; ss -Htulnp 2>/dev/null || ss -tulnp; return; fi
  if have netstat; then echo '#netstat'; netstat -tulnp 2>/dev/null || netstat -tuln; return; fi
  echo '#proc'
  for f in tcp tcp6 udp udp6; do [ -r /proc/net/$f ] && { echo "#proc $f"; cat /proc/net/$f; }; done
  return 0
}
# The units (list-units), then after "#@unit-files <json|text> <rc>" whether each
# is enabled (list-unit-files). The section's status is list-units'; a failing
# list-unit-files only costs the enabled states.
s_systemd() {
  if [ ! -d /run/systemd/system ]; then echo '#not-running'; return 0; fi
  if ! have systemctl; then echo '#no-systemctl'; return 0; fi
  out=$($TO systemctl list-units --type=service --all --output=json --no-pager 2>/dev/null)
  case "$out" in
    \\[*)
      echo '#json'; printf '%s\\n' "$out"
      out=$($TO systemctl list-unit-files --type=service --output=json --no-pager 2>/dev/null); rc=$?
      case "$out" in \\[*) printf '#@unit-files json %s\\n%s\\n' "$rc" "$out"; return 0 ;; esac ;;
    *)
      echo '#text'
      $TO systemctl list-units --type=service --all --no-legend --plain --no-pager --full || return $? ;;
  esac
  out=$($TO systemctl list-unit-files --type=service --no-legend --plain --no-pager); rc=$?
  printf '#@unit-files text %s\\n%s\\n' "$rc" "$out"
  return 0
}
# docker ps, then after "#@inspect <rc>" (or "#@inspect none": nothing to inspect)
# one line per container of DOCKER_INSPECT_FORMAT. The ids come from the ps output
# itself (hex, so safe unquoted), so both see the same containers, and inspect is
# never called without arguments. The section's status is docker ps'; a failing
# inspect only costs the extra fields.
s_docker() {
  if ! have docker; then echo '#not-installed'; return 0; fi
  v=$(docker --version 2>/dev/null | sed -n 's/^Docker version \\([0-9][0-9]*\\).*/\\1/p')
  # --format json exists since docker CLI 23; older clients print the word "json".
  if [ -n "$v" ] && [ "$v" -ge 23 ]; then out=$($TO docker ps --all --no-trunc --format json)
  else out=$($TO docker ps --all --no-trunc --format '{{json .}}'); fi
  rc=$?
  [ -n "$out" ] && printf '%s\\n' "$out"
  [ "$rc" -eq 0 ] || return "$rc"
  ids=$(printf '%s\\n' "$out" | sed -n 's/.*"ID":"\\([0-9a-f][0-9a-f]*\\)".*/\\1/p')
  if [ -z "$ids" ]; then echo '#@inspect none'; return 0; fi
  out=$($TO docker inspect --type container --format '${DOCKER_INSPECT_FORMAT}' $ids); rc=$?
  printf '#@inspect %s\\n%s\\n' "$rc" "$out"
  return 0
}
s_compose() {
  if ! have docker; then echo '#not-installed'; return 0; fi
  $TO docker compose ls --all --format json
}
# Each firewall tool: <tool>=not_installed | <tool>=ok + counts | <tool>=failed <rc> <first line>
# (parseFirewallSection). nft and iptables are counted here, not shipped: a
# Kubernetes node's ruleset runs to megabytes. The counting rules are those of
# parseNftRuleset and parseIptablesS.
fw_failed() { printf '%s=failed %s %s\\n' "$1" "$2" "$(printf '%s\\n' "$3" | grep -v '^[[:space:]]*$' | head -n 1)"; }
s_firewall() {
  if have nft; then
    out=$($TO nft list ruleset 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then
      echo nft=ok
      printf '%s\\n' "$out" | awk '{ sub(/^[ \\t]+/, ""); sub(/[ \\t]+$/, "") }
        $0 == "" || /^#/ { next }
        /^table / { t++ }
        /^chain / && /[{]$/ { c++; inchain = 1; next }
        !inchain { next }
        $0 == "}" { inchain = 0; next }
        /^(type|policy|comment|devices) / { if ($0 ~ /policy drop/) d++; next }
        { r++ }
        END { printf "nft_tables=%d\\nnft_chains=%d\\nnft_rules=%d\\nnft_drop_policies=%d\\n", t, c, r, d }'
    else fw_failed nft "$rc" "$out"; fi
  else echo nft=not_installed; fi
  if have iptables; then
    out=$($TO iptables -S 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then
      echo iptables=ok
      printf 'iptables_rules=%s\\n' "$(printf '%s\\n' "$out" | grep -c -v -E -e '^-P (INPUT|FORWARD|OUTPUT) ACCEPT$' -e '^#' -e '^$')"
    else fw_failed iptables "$rc" "$out"; fi
  else echo iptables=not_installed; fi
  if have ufw; then
    out=$($TO ufw status 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then echo ufw=ok; printf '%s\\n' "$out" | sed -n 's/^Status: */ufw_status=/p' | head -n 1
    else fw_failed ufw "$rc" "$out"; fi
    # ufw status needs root; ufw.conf (world-readable) says whether it starts at boot.
    if [ -r /etc/ufw/ufw.conf ]; then sed -n 's/^ENABLED=/ufw_config=/p' /etc/ufw/ufw.conf | head -n 1; fi
  else echo ufw=not_installed; fi
  if have firewall-cmd; then
    out=$($TO firewall-cmd --state 2>&1); rc=$?
    # "running" exits 0, "not running" 252.
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 252 ]; then echo firewalld=ok; printf 'firewalld_state=%s\\n' "$(printf '%s\\n' "$out" | head -n 1)"
    else
      fw_failed firewalld "$rc" "$out"
      if [ -d /run/systemd/system ] && have systemctl; then printf 'firewalld_unit=%s\\n' "$($TO systemctl is-active firewalld 2>/dev/null)"; fi
    fi
  else echo firewalld=not_installed; fi
  return 0
}
# sshd -T prints the effective configuration but usually needs root (host keys,
# /run/sshd); its stderr stays in the section's stderr and explains a fallback
# to the config files, each after "#@file <path>" (parseSshdConfig). An absolute
# path: newer sshd refuses to start from a relative one.
s_sshd() {
  if ! have sshd; then echo '#not-installed'; return 0; fi
  out=$($TO "$(command -v sshd)" -T)
  if [ $? -eq 0 ] && [ -n "$out" ]; then echo '#sshd-T'; printf '%s\\n' "$out"; return 0; fi
  echo '#config'
  for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do
    [ -e "$f" ] || continue
    if [ -r "$f" ]; then echo "#@file $f"; cat "$f"; echo; else echo "#@unreadable $f"; fi
  done
  return 0
}
# Pending updates from local metadata only, never the network, as any user.
# apt: "apt list --upgradable" (what "apt update" reports as upgradable, kept-back
# packages included; ~0.2 s where "apt-get -s upgrade" spends seconds in the
# solver on a host with many updates). Its script warning is switched off; apt
# before 1.0 has no "apt", so "apt-get -s upgrade" (no root needed; NoLocking so
# a running dpkg does not block it) with only its Inst lines kept. Without
# downloaded package lists both would report 0, so say so instead.
# dnf/yum: -C (cache only) check-update exits 100 when updates are pending.
# apk: "version -l '<'" compares against the locally stored index.
s_updates() {
  if have apt-get; then
    if ! ls /var/lib/apt/lists/ 2>/dev/null | grep -q '_Packages'; then echo '#apt no-lists'; return 0; fi
    if have apt; then echo '#apt list'; $TO apt -qq -o Apt::Cmd::Disable-Script-Warning=true list --upgradable; return; fi
    echo '#apt-get'
    out=$($TO apt-get -s -o Debug::NoLocking=1 upgrade); rc=$?
    printf '%s\\n' "$out" | grep '^Inst '
    return $rc
  fi
  if have dnf; then echo '#dnf'; $TO dnf -C -q check-update; return; fi
  if have yum; then echo '#yum'; $TO yum -C -q check-update; return; fi
  if have apk; then echo '#apk'; $TO apk -q version -l '<'; return; fi
  echo '#none'
  return 0
}
${PROBE_SECTIONS.map((s) => `sec ${s} s_${s}`).join("\n")}
printf '\\n%s DONE\\n' "$M"
`;
}

export interface RawSection {
  body: string;
  exitCode: number | null;
  stderr: string;
}

/** Splits probe stdout into sections. Sections cut off (timeout, truncation) have exitCode null. */
export function splitProbeOutput(stdout: string, nonce: string): { sections: Map<string, RawSection>; complete: boolean } {
  const M = `@@fleet-${nonce}@@`;
  const sections = new Map<string, RawSection>();
  let complete = false;
  let current: { name: string; lines: string[] } | null = null;
  let errOf: { name: string; lines: string[] } | null = null;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(M)) {
      const [verb, name, rc] = line.slice(M.length).trim().split(" ");
      if (verb === "BEGIN" && name) {
        current = { name, lines: [] };
        sections.set(name, { body: "", exitCode: null, stderr: "" });
      } else if (verb === "END" && name && current?.name === name) {
        // sec() prints a newline before END so the marker starts a line; drop it.
        if (current.lines.length && current.lines[current.lines.length - 1] === "") current.lines.pop();
        const code = Number(rc);
        sections.set(name, { body: current.lines.join("\n"), exitCode: Number.isInteger(code) ? code : null, stderr: "" });
        current = null;
      } else if (verb === "STDERR" && name) {
        errOf = { name, lines: [] };
      } else if (verb === "ENDERR" && name && errOf?.name === name) {
        if (errOf.lines.length && errOf.lines[errOf.lines.length - 1] === "") errOf.lines.pop();
        const s = sections.get(name);
        if (s) s.stderr = errOf.lines.join("\n");
        errOf = null;
      } else if (verb === "DONE") {
        complete = true;
      }
      continue;
    }
    if (errOf) errOf.lines.push(line);
    else if (current) current.lines.push(line);
  }
  if (current) sections.set(current.name, { body: current.lines.join("\n"), exitCode: null, stderr: "" });
  return { sections, complete };
}

export interface ProbeInterpretation {
  /** Identity keys, strongest first: machine-id, then each SSH host key's fingerprint. */
  identity: string[];
  name: string;
  facts: Record<string, FactValue>;
  sections: Record<string, SectionResult>;
  services?: TargetObservation["services"];
  containers?: TargetObservation["containers"];
  stacks?: TargetObservation["stacks"];
  interfaces?: TargetObservation["interfaces"];
  ports?: TargetObservation["ports"];
  filesystems?: TargetObservation["filesystems"];
}

/** OpenSSH's fingerprint form: SHA256 of the key blob, unpadded base64. */
export function sshKeyFingerprint(base64Blob: string): string {
  return `SHA256:${createHash("sha256").update(Buffer.from(base64Blob, "base64")).digest("base64").replace(/=+$/, "")}`;
}

function firstLine(s: string, max = 300): string {
  const line = s.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.trim().slice(0, max);
}

/**
 * Splits a section body at the first line starting with `marker` (a second
 * command's output that the script appends, e.g. "#@inspect 0"): what came
 * before, the rest of the marker line (null without one), and what follows.
 */
function splitAtMarker(body: string, marker: string): { head: string; tag: string | null; tail: string } {
  const lines = body.split("\n");
  const i = lines.findIndex((l) => l === marker || l.startsWith(`${marker} `));
  if (i < 0) return { head: body, tag: null, tail: "" };
  return { head: lines.slice(0, i).join("\n"), tag: lines[i]!.slice(marker.length).trim(), tail: lines.slice(i + 1).join("\n") };
}

/** Turns raw sections into facts and collections; never throws on odd output. */
export function interpretProbe(raw: Map<string, RawSection>): ProbeInterpretation {
  const sections: Record<string, SectionResult> = {};
  const facts: Record<string, FactValue> = {};
  const out: ProbeInterpretation = { identity: [], name: "", facts, sections };
  const hostKeyFingerprints: string[] = [];

  // Runs `parse` on a section that exited 0; records failure otherwise. `parse`
  // may return a SectionResult override (e.g. "unavailable") instead of void.
  const take = (name: ProbeSection, parse: (body: string, sec: RawSection) => void | Omit<SectionResult, "exitCode">) => {
    const sec = raw.get(name);
    if (!sec) {
      sections[name] = { status: "failed", exitCode: null, reason: "missing", detail: "the probe stopped before this section" };
      return;
    }
    if (sec.exitCode === null) {
      sections[name] = { status: "failed", exitCode: null, reason: "cut_off", detail: "the section did not finish (deadline or output cap)" };
      return;
    }
    // A section that fails sets no fact: what the inventory knew from earlier probes stays (a locked apt must not wipe a known update count).
    const keysBefore = new Set(Object.keys(facts));
    const forgetOwnFacts = () => {
      for (const k of Object.keys(facts)) if (!keysBefore.has(k)) delete facts[k];
    };
    try {
      const override = parse(sec.body, sec);
      sections[name] = override ? { ...override, exitCode: sec.exitCode } : { status: "ok", exitCode: sec.exitCode };
      if (override?.status === "failed") forgetOwnFacts();
    } catch (err) {
      forgetOwnFacts();
      sections[name] = {
        status: "failed",
        exitCode: sec.exitCode,
        reason: isTimeoutExit(sec.exitCode) ? "timeout" : sec.exitCode === 0 ? "parse_error" : "exit_status",
        detail: firstLine(sec.exitCode === 0 ? (err as Error).message : sec.stderr || (err as Error).message),
      };
    }
  };
  const requireZero = (sec: RawSection) => {
    if (sec.exitCode !== 0) throw new Error(firstLine(sec.stderr) || `exit status ${sec.exitCode}`);
  };

  take("hostname", (body, sec) => {
    requireZero(sec);
    const h = body.trim();
    if (!h) throw new Error("empty hostname");
    // Linux caps the node name at 64 bytes, DNS a name at 253 characters: a longer one
    // is no hostname, and as the target's name it would make every listing too large.
    if (h.length > 253) throw new Error(`a hostname of ${h.length} characters (over 253) is not used: the target keeps its configured name or address`);
    facts.hostname = h;
    out.name = h;
  });
  take("machine_id", (body, sec) => {
    requireZero(sec);
    const id = body.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error("no valid /etc/machine-id");
    facts.machine_id = id;
  });
  take("host_keys", (body) => {
    const keys = body
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((p) => p.length >= 2 && /^(ssh-|ecdsa-)/.test(p[0]!))
      .map((p) => `${p[0]} ${p[1]}`);
    facts["ssh.host_key_types"] = keys.map((k) => k.split(" ")[0]).join(",") || null;
    hostKeyFingerprints.push(...keys.map((k) => sshKeyFingerprint(k.split(" ")[1]!)));
  });
  take("os", (body, sec) => {
    requireZero(sec);
    const os = parseOsRelease(body);
    facts["os.id"] = os.id;
    facts["os.id_like"] = os.idLike.join(" ") || null;
    facts["os.version_id"] = os.versionId;
    facts["os.pretty_name"] = os.prettyName ?? os.name;
    facts["os.codename"] = os.versionCodename;
  });
  take("kernel", (body, sec) => {
    requireZero(sec);
    const u = parseUname(body);
    facts["kernel.name"] = u.sysname;
    facts["kernel.release"] = u.release;
    facts.arch = u.machine;
  });
  take("uptime", (body, sec) => {
    requireZero(sec);
    const up = parseProcUptime(body);
    if (up === null) throw new Error("unreadable /proc/uptime");
    facts.uptime_seconds = up;
  });
  take("cpu_count", (body, sec) => {
    requireZero(sec);
    const n = Number.parseInt(body.trim(), 10);
    if (!Number.isInteger(n) || n <= 0) throw new Error("no CPU count");
    facts["cpu.count"] = n;
  });
  take("cpu", (body, sec) => {
    requireZero(sec);
    if (body.trimStart().startsWith("{")) {
      const l = parseLscpuJson(body);
      facts["cpu.model"] = l.model;
      facts["cpu.sockets"] = l.sockets;
      facts["cpu.cores_per_socket"] = l.coresPerSocket;
      facts["cpu.threads_per_core"] = l.threadsPerCore;
    } else {
      facts["cpu.model"] = parseCpuinfo(body).model;
    }
  });
  take("load", (body, sec) => {
    requireZero(sec);
    const l = parseLoadavg(body);
    if (!l) throw new Error("unreadable /proc/loadavg");
    facts["load.1m"] = l.load1;
    facts["load.5m"] = l.load5;
    facts["load.15m"] = l.load15;
  });
  take("memory", (body, sec) => {
    requireZero(sec);
    const m = parseMeminfo(body);
    if (m.memTotalBytes === null) throw new Error("no MemTotal in /proc/meminfo");
    facts["memory.total_bytes"] = m.memTotalBytes;
    facts["memory.available_bytes"] = m.memAvailableBytes;
    facts["swap.total_bytes"] = m.swapTotalBytes;
    facts["swap.free_bytes"] = m.swapFreeBytes;
  });
  take("filesystems", (body, sec) => {
    // df exits 1 when one mount is unreadable but still prints the others.
    const fs = parseDf(body);
    // Only exit 1 (some mount unreadable) still means a complete list; a df cut off by
    // its timeout printed part of the mounts and must not replace what we knew.
    if (fs.length === 0 || sec.exitCode !== 1) requireZero(sec);
    out.filesystems = fs;
    const real = new Map<string, (typeof fs)[number]>();
    for (const f of fs) if (!isPseudoFilesystem(f.fstype) && !real.has(f.source)) real.set(f.source, f);
    facts["disk.total_bytes"] = [...real.values()].reduce((a, f) => a + f.sizeBytes, 0);
    facts["disk.used_bytes"] = [...real.values()].reduce((a, f) => a + f.usedBytes, 0);
    if (sec.exitCode !== 0) return { status: "ok", reason: "some_mounts_unreadable", detail: firstLine(sec.stderr) };
  });
  take("addresses", (body, sec) => {
    requireZero(sec);
    out.interfaces = body.trimStart().startsWith("[") ? parseIpJson(body) : parseIpText(body);
  });
  take("ports", (body, sec) => {
    requireZero(sec);
    const nl = body.indexOf("\n");
    const tag = (nl < 0 ? body : body.slice(0, nl)).trim();
    const rest = nl < 0 ? "" : body.slice(nl + 1);
    if (tag === "#ss") out.ports = parseSs(rest);
    else if (tag === "#netstat") out.ports = parseNetstat(rest);
    else if (tag === "#proc") {
      out.ports = [];
      for (const block of rest.split(/^#proc /m).filter((b) => b.trim())) {
        const file = block.slice(0, block.indexOf("\n")).trim();
        const text = block.slice(block.indexOf("\n") + 1);
        const proto = file.startsWith("udp") ? "udp" : "tcp";
        out.ports.push(...parseProcNetTcp(text, proto, file.endsWith("6") ? "inet6" : "inet"));
      }
      return { status: "ok", reason: "proc_net", detail: "no ss or netstat: read /proc/net, without process names" };
    } else throw new Error("unknown ports format");
  });
  take("systemd", (body, sec) => {
    const nl = body.indexOf("\n");
    const tag = (nl < 0 ? body : body.slice(0, nl)).trim();
    const rest = nl < 0 ? "" : body.slice(nl + 1);
    if (tag === "#not-running" || isSystemdNotBooted(sec.stderr)) {
      facts["systemd.status"] = "not_running";
      return { status: "unavailable", reason: "systemd_not_running", detail: "systemd is not PID 1 on this machine" };
    }
    if (tag === "#no-systemctl") {
      facts["systemd.status"] = "no_systemctl";
      return { status: "unavailable", reason: "no_systemctl" };
    }
    requireZero(sec);
    const units = splitAtMarker(rest, "#@unit-files");
    const listed = tag === "#json" ? parseSystemctlJson(units.head) : parseSystemctlText(units.head);
    facts["systemd.status"] = "running";
    // list-unit-files only adds `enabled`: when it fails the services stay, with enabled null.
    let files: UnitFileObs[] | null = null;
    let problem: string | null = null;
    if (units.tag === null) problem = "no systemctl list-unit-files output";
    else {
      const [mode, rcText] = units.tag.split(" ");
      const rc = Number(rcText);
      if (rc !== 0) {
        problem = isTimeoutExit(rc)
          ? `systemctl list-unit-files timed out after ${SECTION_TIMEOUT_S} s`
          : firstLine(sec.stderr) || `systemctl list-unit-files exited ${rcText ?? "?"}`;
      } else {
        try {
          files = mode === "json" ? parseSystemctlUnitFilesJson(units.tail) : parseSystemctlUnitFilesText(units.tail);
        } catch (err) {
          problem = (err as Error).message;
        }
      }
    }
    out.services = applyUnitFileStates(listed, files);
    if (problem !== null) return { status: "ok", reason: "unit_files_failed", detail: firstLine(problem) };
  });
  take("docker", (body, sec) => {
    if (body.trim() === "#not-installed") {
      facts["docker.status"] = "not_installed";
      return { status: "unavailable", reason: "not_installed" };
    }
    if (sec.exitCode !== 0) {
      const kind = isTimeoutExit(sec.exitCode) ? "timeout" : classifyDockerError(sec.stderr);
      facts["docker.status"] = kind;
      if (kind === "daemon_unreachable" || kind === "permission_denied" || kind === "not_installed") {
        return { status: "unavailable", reason: kind, detail: firstLine(sec.stderr) };
      }
      throw new Error(firstLine(sec.stderr) || `docker ps exited ${sec.exitCode}`);
    }
    const ps = splitAtMarker(body, "#@inspect");
    const listed = parseDockerPs(ps.head);
    facts["docker.status"] = "ok";
    // docker inspect only adds fields: when it fails the containers stay, with those fields null.
    let rows: DockerInspectObs[] = [];
    let why: string | null = null;
    if (ps.tag === null || ps.tag === "none") {
      if (listed.length > 0) why = ps.tag === null ? "no docker inspect output" : "no container ids found in the docker ps output";
    } else {
      const rc = Number(ps.tag);
      try {
        rows = parseDockerInspect(ps.tail);
      } catch (err) {
        why = (err as Error).message;
      }
      // Exit 1 with the others printed: a container was removed after docker ps.
      if (rc !== 0)
        why = isTimeoutExit(rc) ? `docker inspect timed out after ${SECTION_TIMEOUT_S} s` : firstLine(sec.stderr) || `docker inspect exited ${ps.tag}`;
    }
    const merged = mergeDockerInspect(listed, rows);
    out.containers = merged.containers;
    const missed = listed.length - merged.inspected;
    if (missed > 0 || why !== null) {
      return {
        status: "ok",
        reason: merged.inspected === 0 && listed.length > 0 ? "inspect_failed" : "inspect_partial",
        detail: firstLine(`${missed} of ${listed.length} containers without inspect data${why ? `: ${why}` : ""}`),
      };
    }
  });
  take("compose", (body, sec) => {
    if (body.trim() === "#not-installed") return { status: "unavailable", reason: "not_installed" };
    if (sec.exitCode !== 0) {
      const err = sec.stderr;
      if (/unknown command|is not a docker command|unknown shorthand flag|unknown flag/i.test(err)) {
        facts["compose.status"] = "plugin_missing";
        return { status: "unavailable", reason: "compose_plugin_missing", detail: firstLine(err) };
      }
      const kind = classifyDockerError(err);
      if (kind === "daemon_unreachable" || kind === "permission_denied") {
        facts["compose.status"] = kind;
        return { status: "unavailable", reason: kind, detail: firstLine(err) };
      }
      throw new Error(firstLine(err) || `docker compose ls exited ${sec.exitCode}`);
    }
    out.stacks = parseComposeLs(body);
    facts["compose.status"] = "ok";
  });

  take("firewall", (body, sec) => {
    requireZero(sec); // s_firewall always returns 0: anything else means the shell broke
    const fw = parseFirewallSection(body);
    if (!fw.recognised) throw new Error("no firewall lines in the output");
    facts["firewall.active"] = fw.active;
    facts["firewall.backends"] = fw.backends.join(",") || null;
    for (const tool of FIREWALL_TOOLS) facts[`firewall.${tool}`] = fw.tools[tool];
    facts["firewall.nftables_rules"] = fw.nftRules;
    facts["firewall.iptables_rules"] = fw.iptablesRules;
    const problems = FIREWALL_TOOLS.filter((t) => fw.errors[t]).map((t) => `${t}: ${fw.errors[t]}`);
    if (fw.active === null) {
      const denied = FIREWALL_TOOLS.some(
        (t) => fw.tools[t] === "permission_denied" || fw.tools[t] === "enabled_in_config" || fw.tools[t] === "disabled_in_config",
      );
      return { status: "unavailable", reason: denied ? "permission_denied" : "undetermined", detail: firstLine(problems.join("; ") || "no tool could tell") };
    }
    // Nothing to ask: no tool installed. Rules loaded by other programs through
    // netlink (e.g. Tailscale's nftables mode) cannot be seen without nft.
    if (FIREWALL_TOOLS.every((t) => fw.tools[t] === "not_installed")) return { status: "ok", reason: "no_firewall_tools" };
    if (problems.length > 0) return { status: "ok", reason: "some_tools_failed", detail: firstLine(problems.join("; ")) };
  });
  take("sshd", (body, sec) => {
    requireZero(sec); // s_sshd always returns 0
    const nl = body.indexOf("\n");
    const tag = (nl < 0 ? body : body.slice(0, nl)).trim();
    const rest = nl < 0 ? "" : body.slice(nl + 1);
    const record = (s: SshdSettings | null, source: string | null) => {
      facts["sshd.permit_root_login"] = s?.permitRootLogin ?? null;
      facts["sshd.password_authentication"] = s?.passwordAuthentication ?? null;
      facts["sshd.pubkey_authentication"] = s?.pubkeyAuthentication ?? null;
      facts["sshd.port"] = s?.port ?? null;
      facts["sshd.source"] = source;
    };
    if (tag === "#not-installed") {
      record(null, null);
      return { status: "unavailable", reason: "not_installed" };
    }
    if (tag === "#sshd-T") {
      record(parseSshdT(rest), "sshd -T");
      return;
    }
    if (tag !== "#config") throw new Error("unknown sshd format");
    const { files, unreadable } = splitSshdConfigDump(rest);
    const why = firstLine(sec.stderr);
    if (files[0]?.path !== "/etc/ssh/sshd_config") {
      record(null, null);
      const cannot = unreadable.includes("/etc/ssh/sshd_config");
      return {
        status: "unavailable",
        reason: cannot ? "permission_denied" : "no_config",
        detail: firstLine(`${cannot ? "cannot read" : "no"} /etc/ssh/sshd_config${why ? `; sshd -T: ${why}` : ""}`),
      };
    }
    const parsed = parseSshdConfig(files);
    // OpenSSH's defaults fill what the files leave unset; `sshd -T` needs none
    // (it prints effective values), so they are applied to this source only.
    record(applySshdDefaults(parsed), "config");
    const notes = [
      why ? `sshd -T: ${why}` : "",
      unreadable.length ? `unreadable: ${unreadable.join(" ")}` : "",
      parsed.includesNotFollowed.length ? `Include not followed: ${parsed.includesNotFollowed.join(" ")}` : "",
    ].filter(Boolean);
    return { status: "ok", reason: "config_files", ...(notes.length ? { detail: firstLine(notes.join("; ")) } : {}) };
  });
  take("updates", (body, sec) => {
    const nl = body.indexOf("\n");
    const tag = (nl < 0 ? body : body.slice(0, nl)).trim();
    const rest = nl < 0 ? "" : body.slice(nl + 1);
    const manager =
      ({ "#apt list": "apt", "#apt-get": "apt", "#apt no-lists": "apt", "#dnf": "dnf", "#yum": "yum", "#apk": "apk" } as Record<string, PackageManager>)[tag] ??
      null;
    facts["updates.manager"] = manager;
    facts["updates.pending"] = null;
    facts["updates.security_pending"] = null;
    if (tag === "#none") return { status: "unavailable", reason: "no_package_manager" };
    if (manager === null) throw new Error("unknown updates format");
    if (tag === "#apt no-lists") {
      return { status: "unavailable", reason: "no_cache", detail: "no package lists in /var/lib/apt/lists (apt-get update never ran, or they were removed)" };
    }
    // A manager that cannot read its local metadata is "unavailable: no_cache"
    // (nothing is broken, the probe just will not fetch it); any other error fails
    // the section with the manager's own first error line.
    const noCache = isMissingPackageCache(sec.stderr);
    // take() would report stderr's first line, often an apt "W:" warning; name the error itself.
    const managerFailed = (fallback: string): Omit<SectionResult, "exitCode"> => ({
      status: "failed",
      reason: isTimeoutExit(sec.exitCode) ? "timeout" : "exit_status",
      detail: firstLine(packageManagerError(sec.stderr) || fallback),
    });
    if (manager === "apt") {
      if (sec.exitCode !== 0) return managerFailed(`${tag.slice(1)} exited ${sec.exitCode}`);
      const apt = tag === "#apt list" ? parseAptListUpgradable(rest) : parseAptGetSimulate(rest);
      facts["updates.pending"] = apt.pending;
      facts["updates.security_pending"] = apt.security;
      return;
    }
    if (manager === "dnf" || manager === "yum") {
      // check-update: 100 = updates pending, 0 = none, anything else an error.
      if (sec.exitCode !== 0 && sec.exitCode !== 100) {
        if (noCache) return { status: "unavailable", reason: "no_cache", detail: packageManagerError(sec.stderr) };
        return managerFailed(`${manager} check-update exited ${sec.exitCode}`);
      }
      facts["updates.pending"] = parseDnfCheckUpdate(rest).pending;
      return;
    }
    // apk warns about a missing index and still exits 0, so check stderr first.
    if (sec.exitCode !== 0 && !noCache) return managerFailed(`apk version exited ${sec.exitCode}`);
    const apk = parseApkVersion(rest);
    if (noCache && apk.pending === 0) return { status: "unavailable", reason: "no_cache", detail: packageManagerError(sec.stderr) };
    facts["updates.pending"] = apk.pending;
    if (noCache) return { status: "ok", reason: "partial_index", detail: packageManagerError(sec.stderr) };
  });

  if (typeof facts.machine_id === "string") out.identity.push(`machine-id:${facts.machine_id}`);
  out.identity.push(...hostKeyFingerprints.map((f) => `ssh-hostkey:${f}`));
  return out;
}

/** The collections a probe observed, for a TargetObservation: sections that failed stay undefined (kept as known). */
export function observedCollections(
  p: ProbeInterpretation,
): Pick<TargetObservation, "services" | "containers" | "stacks" | "interfaces" | "ports" | "filesystems"> {
  return {
    ...(p.services ? { services: p.services } : {}),
    ...(p.containers ? { containers: p.containers } : {}),
    ...(p.stacks ? { stacks: p.stacks } : {}),
    ...(p.interfaces ? { interfaces: p.interfaces } : {}),
    ...(p.ports ? { ports: p.ports } : {}),
    ...(p.filesystems ? { filesystems: p.filesystems } : {}),
  };
}

export interface ProbeOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  maxBytes: number;
  /** Prepended to `sh -s`, e.g. "sudo -n" (non-interactive only). */
  wrap?: string;
}

export interface ProbeResult {
  status: HostStatus;
  error?: string;
  interpretation: ProbeInterpretation;
  durationMs: number;
}

/** Runs the probe through any runner: the same script, locally or over SSH. */
export async function probe(runner: CommandRunner, opts: ProbeOptions): Promise<ProbeResult> {
  const nonce = newNonce();
  const started = performance.now();
  const empty: ProbeInterpretation = { identity: [], name: "", facts: {}, sections: {} };
  let res;
  try {
    res = await runner.run(`${opts.wrap ? `${opts.wrap} ` : ""}sh -s`, {
      stdin: buildProbeScript(nonce),
      timeoutMs: opts.timeoutMs,
      maxBytes: opts.maxBytes,
      signal: opts.signal,
    });
  } catch (err) {
    // Once the caller has cancelled, whatever the failure (a retry wrapper rejects with the abort reason), it is a cancel, not a fault of the host.
    const code = opts.signal?.aborted ? "aborted" : err instanceof RunnerError ? err.code : "error";
    const status: HostStatus = code === "aborted" ? "cancelled" : code === "spawn_failed" ? "error" : code;
    return { status, error: (err as Error).message, interpretation: empty, durationMs: performance.now() - started };
  }
  const { sections, complete } = splitProbeOutput(res.stdout, nonce);
  const interpretation = interpretProbe(sections);
  const durationMs = performance.now() - started;
  if (res.aborted) return { status: "cancelled", error: "cancelled", interpretation, durationMs };
  if (res.truncated) return { status: "output_too_large", error: `the probe printed more than ${opts.maxBytes} bytes`, interpretation, durationMs };
  if (res.timedOut) {
    // Sections that finished before the deadline are whole and trustworthy: keep them.
    const finished = Object.entries(interpretation.sections)
      .filter(([, s]) => s.status !== "failed")
      .map(([n]) => n);
    if (finished.length > 0 && interpretation.identity.length > 0) {
      const unfinished = Object.entries(interpretation.sections)
        .filter(([, s]) => s.status === "failed")
        .map(([n]) => n);
      return {
        status: "partial",
        error: `the probe did not finish within ${opts.timeoutMs} ms; unfinished: ${unfinished.join(", ")}`,
        interpretation,
        durationMs,
      };
    }
    return { status: "timeout", error: `the probe did not finish within ${opts.timeoutMs} ms`, interpretation, durationMs };
  }
  if (!complete || sections.size === 0) {
    const why =
      sections.size === 0
        ? `the answer is not the probe's output (no section markers in ${res.stdout.length} characters; exit status ${res.exitCode ?? "none"})`
        : `the probe ended early, after ${sections.size} of ${PROBE_SECTIONS.length} sections (${res.exitCode === null ? "no exit status: the connection closed or the shell was killed" : `exit status ${res.exitCode}`})`;
    return { status: "error", error: firstLine(res.stderr) || why, interpretation, durationMs };
  }
  const failed = Object.entries(interpretation.sections).filter(([, s]) => s.status === "failed");
  if (failed.length > 0) {
    return { status: "partial", error: `sections failed: ${failed.map(([n, s]) => `${n} (${s.reason ?? "error"})`).join(", ")}`, interpretation, durationMs };
  }
  return { status: "ok", interpretation, durationMs };
}
