// Parses what the probe's `firewall`, `sshd` and `updates` sections print, and
// the raw outputs those sections summarise:
//   firewall  `nft list ruleset` (nft(8), "LIST RULESET"), `iptables -S`
//             (iptables(8), --list-rules: `-P CHAIN POLICY`, `-N CHAIN`, `-A ...`),
//             `ufw status` (first line "Status: active" / "Status: inactive"),
//             `firewall-cmd --state` ("running", exit 0 / "not running", exit 252),
//             `systemctl is-active firewalld`, and ENABLED= in /etc/ufw/ufw.conf.
//   sshd      `sshd -T` (sshd(8): the effective global configuration as
//             lower-case "keyword value" lines) or sshd_config(5) files.
//   updates   `apt list --upgradable` ("name/suites version arch [upgradable
//             from: old]"), `apt-get -s upgrade` ("Inst pkg [old] (new origin [arch])"),
//             `dnf|yum -C -q check-update` ("name.arch  version  repo", exit 100
//             when updates are pending, lines wrap after long names),
//             `apk -q version -l '<'` (one package name per line; without -q,
//             "pkg-ver < newver" under an "Installed: Available:" header).
// Format sources: the man pages named above, apk-tools' app_version.c, and
// captures from Debian 12 (sshd -T, apt list, apt-get -s) on the machine these
// tests run on. The probe counts nft and iptables rules in the shell, because a
// Kubernetes node's ruleset runs to megabytes; the raw parsers below define the
// same counting rules, and test/probe-security.test.ts runs the real script
// against stub tools to check that the shell and these functions agree. The
// section's own key=value format is documented at parseFirewallSection.
// Everything here is pure and never throws on odd input.

function lines(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/\r$/, ""));
}

// ---------------------------------------------------------------------------
// Firewall

export type FirewallTool = "nftables" | "iptables" | "ufw" | "firewalld";
export const FIREWALL_TOOLS: readonly FirewallTool[] = ["nftables", "iptables", "ufw", "firewalld"];

/**
 * A tool's state. "active"/"running" count as an active firewall; "inactive",
 * "not_running" and "not_installed" as none; every other value leaves it undetermined.
 * "enabled_in_config"/"disabled_in_config": `ufw status` needs root, but
 * /etc/ufw/ufw.conf says whether ufw is started at boot.
 */
export type FirewallToolState =
  | "active"
  | "inactive"
  | "running"
  | "not_running"
  | "not_installed"
  | "permission_denied"
  | "timeout"
  | "error"
  | "unknown"
  | "enabled_in_config"
  | "disabled_in_config";

export interface NftSummary {
  tables: number;
  chains: number;
  /** Rule lines inside chains (not the `type ... hook ...; policy ...;` line). */
  rules: number;
  /** Base chains whose policy is drop: a firewall even without a single rule. */
  dropPolicies: number;
}

/** Counts a `nft list ruleset` listing; the probe's awk program applies the same rules. */
export function parseNftRuleset(text: string): NftSummary {
  const s: NftSummary = { tables: 0, chains: 0, rules: 0, dropPolicies: 0 };
  let inChain = false;
  for (const raw of lines(text)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("table ")) s.tables++;
    if (line.startsWith("chain ") && line.endsWith("{")) {
      s.chains++;
      inChain = true;
      continue;
    }
    if (!inChain) continue;
    if (line === "}") {
      inChain = false;
      continue;
    }
    if (/^(type|policy|comment|devices) /.test(line)) {
      if (line.includes("policy drop")) s.dropPolicies++;
      continue;
    }
    s.rules++;
  }
  return s;
}

export function nftIsActive(s: NftSummary): boolean {
  return s.rules > 0 || s.dropPolicies > 0;
}

const IPTABLES_DEFAULT = /^-P (INPUT|FORWARD|OUTPUT) ACCEPT$/;

/**
 * Counts `iptables -S` lines other than the three default ACCEPT policies (and
 * comments such as iptables-nft's "# Warning: iptables-legacy tables present").
 * `-N` chains and non-ACCEPT policies count: both are configuration someone added.
 */
export function parseIptablesS(text: string): { rules: number } {
  let rules = 0;
  for (const raw of lines(text)) {
    if (raw === "" || raw.startsWith("#") || IPTABLES_DEFAULT.test(raw)) continue;
    rules++;
  }
  return { rules };
}

/** "active" / "inactive" from `ufw status` (LC_ALL=C), null when there is no Status line. */
export function parseUfwStatus(text: string): "active" | "inactive" | null {
  for (const raw of lines(text)) {
    const m = /^Status:\s*(\S+)/.exec(raw.trim());
    if (m) return ufwWord(m[1]!);
  }
  return null;
}

function ufwWord(word: string): "active" | "inactive" | null {
  const w = word.trim().toLowerCase();
  return w === "active" ? "active" : w === "inactive" ? "inactive" : null;
}

/** `firewall-cmd --state`: "running" or "not running" (also `systemctl is-active firewalld`). */
export function parseFirewallCmdState(text: string): "running" | "not_running" | null {
  const first =
    lines(text)
      .find((l) => l.trim() !== "")
      ?.trim()
      .toLowerCase() ?? "";
  if (first === "running" || first === "active") return "running";
  if (first === "not running" || first === "inactive" || first === "failed") return "not_running";
  return null;
}

/** Classifies a firewall tool's failure from its exit status and first output line. */
export function classifyFirewallError(exitCode: number | null, message: string): "permission_denied" | "timeout" | "error" {
  if (exitCode === 124) return "timeout";
  if (/permission denied|operation not permitted|must be root|need to be root|not authorized|authorization failed|access denied|are you root/i.test(message)) {
    return "permission_denied";
  }
  return "error";
}

/**
 * The probe's firewall section, one `key=value` per line (unknown keys ignored):
 *   <tool>=not_installed | <tool>=ok | <tool>=failed <exit status> <first output line>
 *     for tool in nft, iptables, ufw, firewalld
 *   nft_tables=N  nft_chains=N  nft_rules=N  nft_drop_policies=N   after nft=ok
 *   iptables_rules=N                                               after iptables=ok
 *   ufw_status=<word after "Status: ">                             after ufw=ok
 *   ufw_config=<ENABLED= value in /etc/ufw/ufw.conf>               when readable
 *   firewalld_state=<first line of firewall-cmd --state>           after firewalld=ok
 *   firewalld_unit=<systemctl is-active firewalld>                 when firewall-cmd failed
 */
export interface FirewallReport {
  /** true: some tool shows an active firewall; false: every tool is absent or inactive; null: undetermined. */
  active: boolean | null;
  /** Tools whose state is active/running, in FIREWALL_TOOLS order. */
  backends: FirewallTool[];
  tools: Record<FirewallTool, FirewallToolState>;
  nftRules: number | null;
  iptablesRules: number | null;
  /** Per tool, the first line of a failed command, for the section's detail. */
  errors: Partial<Record<FirewallTool, string>>;
  /** Whether any recognised line was present. */
  recognised: boolean;
}

const TAG_TO_TOOL: Record<string, FirewallTool> = { nft: "nftables", iptables: "iptables", ufw: "ufw", firewalld: "firewalld" };

function count(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

export function parseFirewallSection(body: string): FirewallReport {
  const kv = new Map<string, string>();
  for (const raw of lines(body)) {
    const eq = raw.indexOf("=");
    if (eq <= 0) continue;
    const key = raw.slice(0, eq).trim();
    if (!kv.has(key)) kv.set(key, raw.slice(eq + 1).trim());
  }
  const tools = { nftables: "unknown", iptables: "unknown", ufw: "unknown", firewalld: "unknown" } as Record<FirewallTool, FirewallToolState>;
  const errors: FirewallReport["errors"] = {};
  let recognised = false;
  let nftRules: number | null = null;
  let iptablesRules: number | null = null;

  for (const [tag, tool] of Object.entries(TAG_TO_TOOL)) {
    const v = kv.get(tag);
    if (v === undefined) continue;
    recognised = true;
    if (v === "not_installed") {
      tools[tool] = "not_installed";
      continue;
    }
    const failed = /^failed\s+(\d+)\s*(.*)$/.exec(v);
    if (failed) {
      const code = Number(failed[1]);
      const message = failed[2] ?? "";
      tools[tool] = classifyFirewallError(code, message);
      if (message) errors[tool] = message;
      if (tool === "ufw") {
        const enabled = (kv.get("ufw_config") ?? "").replace(/["']/g, "").toLowerCase();
        if (enabled === "yes") tools.ufw = "enabled_in_config";
        else if (enabled === "no") tools.ufw = "disabled_in_config";
      }
      if (tool === "firewalld" && kv.has("firewalld_unit")) {
        const unit = parseFirewallCmdState(kv.get("firewalld_unit")!);
        if (unit) tools.firewalld = unit;
      }
      continue;
    }
    if (v !== "ok") continue; // unknown value: stays "unknown"
    switch (tool) {
      case "nftables":
        nftRules = count(kv.get("nft_rules"));
        if (nftRules !== null) {
          const dropPolicies = count(kv.get("nft_drop_policies")) ?? 0;
          const summary = { tables: count(kv.get("nft_tables")) ?? 0, chains: count(kv.get("nft_chains")) ?? 0, rules: nftRules, dropPolicies };
          tools.nftables = nftIsActive(summary) ? "active" : "inactive";
        }
        break;
      case "iptables":
        iptablesRules = count(kv.get("iptables_rules"));
        if (iptablesRules !== null) tools.iptables = iptablesRules > 0 ? "active" : "inactive";
        break;
      case "ufw":
        tools.ufw = ufwWord(kv.get("ufw_status") ?? "") ?? "unknown";
        break;
      case "firewalld":
        tools.firewalld = parseFirewallCmdState(kv.get("firewalld_state") ?? "") ?? "unknown";
        break;
    }
  }

  const backends = FIREWALL_TOOLS.filter((t) => tools[t] === "active" || tools[t] === "running");
  const known = (s: FirewallToolState) => s === "inactive" || s === "not_running" || s === "not_installed";
  const active = backends.length > 0 ? true : recognised && FIREWALL_TOOLS.every((t) => known(tools[t])) ? false : null;
  return { active, backends, tools, nftRules, iptablesRules, errors, recognised };
}

// ---------------------------------------------------------------------------
// sshd

export interface SshdSettings {
  permitRootLogin: string | null;
  passwordAuthentication: boolean | null;
  pubkeyAuthentication: boolean | null;
  /** The first Port (sshd listens on every one). */
  port: number | null;
}

function yesNo(v: string | undefined): boolean | null {
  const w = (v ?? "").toLowerCase();
  return w === "yes" ? true : w === "no" ? false : null;
}

function portOf(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,5}$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? n : null;
}

function settingsFrom(first: Map<string, string>): SshdSettings {
  const root = first.get("permitrootlogin");
  return {
    permitRootLogin: root ? root.toLowerCase() : null,
    passwordAuthentication: yesNo(first.get("passwordauthentication")),
    pubkeyAuthentication: yesNo(first.get("pubkeyauthentication")),
    port: portOf(first.get("port")),
  };
}

/**
 * `sshd -T`: lower-case "keyword value" lines for the global configuration,
 * with OpenSSH's defaults already filled in. Older releases print
 * "permitrootlogin without-password" for prohibit-password; kept as printed.
 */
export function parseSshdT(text: string): SshdSettings {
  const first = new Map<string, string>();
  for (const raw of lines(text)) {
    const m = /^([a-z0-9]+)\s+(.*\S)\s*$/.exec(raw);
    if (m && !first.has(m[1]!)) first.set(m[1]!, m[2]!);
  }
  return settingsFrom(first);
}

export interface SshdConfigFile {
  path: string;
  text: string;
}

export interface SshdConfigResult extends SshdSettings {
  /** Include patterns not followed (anything but the drop-in directory the probe read). */
  includesNotFollowed: string[];
  /** Whether a Match block cut the main file short. */
  matchSeen: boolean;
}

/** The drop-in directory the probe reads alongside the main file. */
export const SSHD_DROPIN_PATTERN = "/etc/ssh/sshd_config.d/*.conf";

/** Keyword and first argument of an sshd_config line ("Key value", "Key=value", "Key = value"). */
function configLine(raw: string): [keyword: string, args: string[]] | null {
  const line = raw.trim();
  if (line === "" || line.startsWith("#")) return null;
  const m = /^([A-Za-z0-9]+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
  if (!m) return null;
  const args: string[] = [];
  for (const tok of m[2]!.match(/"[^"]*"|\S+/g) ?? []) {
    if (tok.startsWith("#")) break; // a word starting with # ends the line (argv_split)
    args.push(tok.replace(/^"(.*)"$/, "$1"));
  }
  return [m[1]!.toLowerCase(), args];
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${re}$`);
}

/**
 * sshd_config(5) files: `files[0]` is /etc/ssh/sshd_config, the rest are the
 * drop-ins the probe read (/etc/ssh/sshd_config.d/*.conf). As in OpenSSH, the
 * first value of a keyword wins, keywords are case-insensitive, and everything
 * after the first `Match` line is conditional: it is ignored here (a later
 * `Match all` that returns to global scope is ignored too). A Match inside an
 * included file ends only that file's contribution, as in OpenSSH, which
 * restores the including file's Match state after an Include.
 *
 * Include is NOT followed in general: the probe cannot read arbitrary paths
 * after the fact. The drop-in directory it did read is spliced in where the main
 * file includes it (Debian and Ubuntu put that Include at the very top, so
 * drop-ins such as 50-cloud-init.conf take precedence); drop-ins the main file
 * never includes are ignored, as sshd ignores them; other Include patterns are
 * reported in includesNotFollowed. Unset keywords stay null: see applySshdDefaults.
 */
export function parseSshdConfig(files: SshdConfigFile[]): SshdConfigResult {
  const first = new Map<string, string>();
  const includesNotFollowed: string[] = [];
  const dropIns = files.slice(1).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const spliced = new Set<string>();
  let matchSeen = false;

  const walk = (file: SshdConfigFile, depth: number): void => {
    for (const raw of lines(file.text)) {
      const parsed = configLine(raw);
      if (!parsed) continue;
      const [key, args] = parsed;
      if (key === "match") {
        if (depth === 0) matchSeen = true;
        return;
      }
      if (key === "include") {
        for (const arg of args) {
          const pattern = arg.startsWith("/") || arg.startsWith("~") ? arg : `/etc/ssh/${arg}`;
          const re = globToRegExp(pattern);
          const hits = dropIns.filter((f) => re.test(f.path));
          // A pattern that can only name files in the directory the probe read is fully known.
          const covered = hits.length > 0 || pattern === SSHD_DROPIN_PATTERN;
          if (!covered) includesNotFollowed.push(arg);
          if (depth > 0) continue; // drop-ins are spliced once, from the main file
          for (const f of hits) {
            if (spliced.has(f.path)) continue;
            spliced.add(f.path);
            walk(f, depth + 1);
          }
        }
        continue;
      }
      if (args.length > 0 && !first.has(key)) first.set(key, args[0]!);
    }
  };
  if (files[0]) walk(files[0], 0);
  return { ...settingsFrom(first), includesNotFollowed, matchSeen };
}

/**
 * OpenSSH's compiled-in defaults (sshd_config(5), OpenSSH >= 7.0): only for
 * values read from config files; `sshd -T` already prints effective values.
 * Distributions may patch them, and releases before 7.0 defaulted
 * PermitRootLogin to yes.
 */
export const SSHD_DEFAULTS: Readonly<SshdSettings> = {
  permitRootLogin: "prohibit-password",
  passwordAuthentication: true,
  pubkeyAuthentication: true,
  port: 22,
};

export function applySshdDefaults(s: SshdSettings): SshdSettings {
  return {
    permitRootLogin: s.permitRootLogin ?? SSHD_DEFAULTS.permitRootLogin,
    passwordAuthentication: s.passwordAuthentication ?? SSHD_DEFAULTS.passwordAuthentication,
    pubkeyAuthentication: s.pubkeyAuthentication ?? SSHD_DEFAULTS.pubkeyAuthentication,
    port: s.port ?? SSHD_DEFAULTS.port,
  };
}

/**
 * The probe's sshd section in config mode: "#@file <path>" starts a readable
 * file's text, "#@unreadable <path>" names a file it could not read.
 */
export function splitSshdConfigDump(text: string): { files: SshdConfigFile[]; unreadable: string[] } {
  const files: SshdConfigFile[] = [];
  const unreadable: string[] = [];
  let current: { path: string; lines: string[] } | null = null;
  const flush = () => {
    if (current) files.push({ path: current.path, text: current.lines.join("\n") });
    current = null;
  };
  for (const raw of lines(text)) {
    if (raw.startsWith("#@file ")) {
      flush();
      current = { path: raw.slice(7).trim(), lines: [] };
    } else if (raw.startsWith("#@unreadable ")) {
      flush();
      unreadable.push(raw.slice(13).trim());
    } else if (current) current.lines.push(raw);
  }
  flush();
  return { files, unreadable };
}

// ---------------------------------------------------------------------------
// Pending updates

export type PackageManager = "apt" | "dnf" | "yum" | "apk";

export interface PendingUpdates {
  pending: number;
  /** Package names, in output order. */
  packages: string[];
}

/**
 * `apt list --upgradable` (-qq drops "Listing..."): one
 * "name/suite[,suite] version arch [upgradable from: old]" line per package
 * with a newer candidate, kept-back ones included. `security` counts those
 * whose suites include a -security one (oldstable-security, jammy-security).
 */
export function parseAptListUpgradable(text: string): PendingUpdates & { security: number } {
  const packages: string[] = [];
  let security = 0;
  for (const raw of lines(text)) {
    const m = /^([^\s/]+)\/(\S+)\s+\S+/.exec(raw);
    if (!m) continue;
    packages.push(m[1]!);
    if (/security/i.test(m[2]!)) security++;
  }
  return { pending: packages.length, packages, security };
}

/**
 * `apt-get -s upgrade`: one "Inst name [installed] (candidate origin [arch])"
 * line per package `apt-get upgrade` would install. Kept-back packages (new
 * dependencies) and phased updates are not counted. `security` counts those
 * whose origin is a -security suite (Debian-Security:12/..., jammy-security).
 */
export function parseAptGetSimulate(text: string): PendingUpdates & { security: number } {
  const packages: string[] = [];
  let security = 0;
  for (const raw of lines(text)) {
    const m = /^Inst (\S+)(.*)$/.exec(raw);
    if (!m) continue;
    packages.push(m[1]!);
    const origin = /\(([^)]*)\)/.exec(m[2]!)?.[1] ?? "";
    if (/security/i.test(origin)) security++;
  }
  return { pending: packages.length, packages, security };
}

/**
 * `dnf|yum -C -q check-update`: "name.arch  version  repo" rows. A long name
 * pushes version and repo onto an indented continuation line, so only rows
 * that start in column 0 with a name.arch word count. The "Obsoleting
 * Packages" block repeats packages already listed and ends the count.
 */
export function parseDnfCheckUpdate(text: string): PendingUpdates {
  const packages: string[] = [];
  for (const raw of lines(text)) {
    if (/^Obsoleting packages/i.test(raw)) break;
    if (/^\s/.test(raw)) continue;
    const m = /^([^\s:]+)\.([A-Za-z0-9_]+)(\s|$)/.exec(raw);
    if (!m) continue;
    if (/^(Last|Loaded|Security|Error|Warning)\b/.test(raw)) continue;
    packages.push(m[1]!);
  }
  return { pending: packages.length, packages };
}

/** `apk -q version -l '<'`: one name per line (without -q: "pkg-ver  < newver [@tag]" rows). */
export function parseApkVersion(text: string): PendingUpdates {
  const packages: string[] = [];
  for (const raw of lines(text)) {
    const line = raw.trim();
    if (line === "" || /^Installed:/.test(line) || /^(WARNING|ERROR):/.test(line)) continue;
    const m = /^(\S+)(?:\s+[<>=?~]+\s+\S+(?:\s+\S+)?)?$/.exec(line);
    if (!m) continue;
    // Verbose rows carry "name-version-rN"; keep the name.
    packages.push(m[1]!.replace(/-\d[^-]*-r\d+$/, ""));
  }
  return { pending: packages.length, packages };
}

/**
 * Whether a package manager's error says its local metadata is missing (the
 * probe never goes to the network, so it cannot fetch it):
 *   dnf  "Error: Cache-only enabled but no cache for 'fedora'"
 *   dnf5 "Cache-only enabled but no cache for repository \"fedora\""
 *   yum  "Error: Cannot retrieve repository metadata (repomd.xml) ..." (with -C)
 *   apk  "WARNING: opening from cache https://...: No such file or directory",
 *        "WARNING: Ignoring https://...: No such file or directory"
 */
export function isMissingPackageCache(stderr: string): boolean {
  return /no cache for|cache-only enabled|cannot retrieve repository metadata|(opening from cache|ignoring) [^\n]*no such file or directory/i.test(stderr);
}

/** The first "E:"/"Error" line of a package manager's stderr, else its first line (apt prints "W:" warnings first). */
export function packageManagerError(stderr: string): string {
  const ls = lines(stderr)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return ls.find((l) => /^(E:|Error)/.test(l)) ?? ls[0] ?? "";
}
