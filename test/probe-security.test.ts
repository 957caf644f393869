// The probe's firewall, sshd and updates sections: their interpretation from
// canned output, the real script under every shell on this machine, and the
// real script against stub tools, checking that the shell's summaries (nft and
// iptables are counted in the shell) agree with the pure parsers.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  applySshdDefaults,
  parseAptListUpgradable,
  parseIptablesS,
  parseNftRuleset,
  parseSshdConfig,
  parseSshdT,
  parseUfwStatus,
} from "../src/discovery/parsers/index.js";
import { buildProbeScript, interpretProbe, newNonce, probe, splitProbeOutput, type ProbeInterpretation } from "../src/discovery/probe.js";
import { LocalRunner } from "../src/discovery/runners/local.js";
import { debianHost, fixture, renderProbeOutput, ScriptedRunner, type CannedHost, type CannedSection } from "./support/scripted-runner.js";
import { PROBE_SHELLS, which } from "./support/shells.js";

function interpret(host: CannedHost): ProbeInterpretation {
  const nonce = newNonce();
  return interpretProbe(splitProbeOutput(renderProbeOutput(nonce, host), nonce).sections);
}

const SSHD_T = `port 22
addressfamily any
listenaddress [::]:22
listenaddress 0.0.0.0:22
usepam yes
permitrootlogin without-password
pubkeyauthentication yes
passwordauthentication no
kbdinteractiveauthentication no
`;

const ALPINE_SSHD_CONFIG = `#	$OpenBSD: sshd_config,v 1.104 2021/07/02 05:11:21 dtucker Exp $
#Port 22
#PermitRootLogin prohibit-password
#PasswordAuthentication yes
AuthorizedKeysFile	.ssh/authorized_keys
AllowTcpForwarding no
GatewayPorts no
X11Forwarding no
Subsystem	sftp	internal-sftp
Include /etc/ssh/sshd_config.d/*.conf
`;

/** The three sections as a Debian 12 host with ufw enabled, probed as root, prints them. */
const DEBIAN_SECURITY: CannedHost = {
  firewall: {
    body: [
      "nft=ok",
      "nft_tables=2",
      "nft_chains=27",
      "nft_rules=58",
      "nft_drop_policies=3",
      "iptables=ok",
      "iptables_rules=61",
      "ufw=ok",
      "ufw_status=active",
      "ufw_config=yes",
      "firewalld=not_installed",
    ].join("\n"),
  },
  sshd: { body: `#sshd-T\n${SSHD_T}` },
  updates: {
    body: "#apt list\nbash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]\nlibcups2/oldstable,oldstable-security 2.4.2-3+deb12u9 amd64 [upgradable from: 2.4.2-3+deb12u8]",
  },
};

describe("interpreting the security sections", () => {
  it("Debian with ufw active and sshd -T", () => {
    const p = interpret(debianHost(DEBIAN_SECURITY));
    expect(p.sections.firewall).toEqual({ status: "ok", exitCode: 0 });
    expect(p.sections.sshd).toEqual({ status: "ok", exitCode: 0 });
    expect(p.sections.updates).toEqual({ status: "ok", exitCode: 0 });
    expect(p.facts).toMatchObject({
      "firewall.active": true,
      "firewall.backends": "nftables,iptables,ufw",
      "firewall.nftables": "active",
      "firewall.iptables": "active",
      "firewall.ufw": "active",
      "firewall.firewalld": "not_installed",
      "firewall.nftables_rules": 58,
      "firewall.iptables_rules": 61,
      "sshd.permit_root_login": "without-password",
      "sshd.password_authentication": false,
      "sshd.pubkey_authentication": true,
      "sshd.port": 22,
      "sshd.source": "sshd -T",
      "updates.manager": "apt",
      "updates.pending": 2,
      "updates.security_pending": 1,
    });
  });

  it("the whole Debian probe stays ok with the new sections", async () => {
    const res = await probe(new ScriptedRunner(() => ({ kind: "answer", host: debianHost(DEBIAN_SECURITY) })), { timeoutMs: 5000, maxBytes: 1 << 20 });
    expect(res.status, res.error).toBe("ok");
  });

  it("Alpine: no firewall tools, sshd_config only (sshd -T needs root), apk", () => {
    const p = interpret({
      hostname: { body: "alpine-1" },
      os: { body: fixture("os-release-alpine323.txt") },
      firewall: { body: "nft=not_installed\niptables=not_installed\nufw=not_installed\nfirewalld=not_installed" },
      sshd: {
        body: `#config\n#@file /etc/ssh/sshd_config\n${ALPINE_SSHD_CONFIG}\n`,
        stderr: "sshd: no hostkeys available -- exiting.",
      },
      updates: { body: "#apk\nbusybox\nssl_client" },
    });
    expect(p.sections.firewall).toEqual({ status: "ok", exitCode: 0, reason: "no_firewall_tools" });
    expect(p.facts).toMatchObject({
      "firewall.active": false,
      "firewall.backends": null,
      "firewall.nftables": "not_installed",
      "firewall.nftables_rules": null,
    });
    // Nothing set in the file: OpenSSH's defaults, flagged by the source.
    expect(p.facts).toMatchObject({
      "sshd.permit_root_login": "prohibit-password",
      "sshd.password_authentication": true,
      "sshd.pubkey_authentication": true,
      "sshd.port": 22,
      "sshd.source": "config",
    });
    expect(p.sections.sshd).toEqual({ status: "ok", exitCode: 0, reason: "config_files", detail: "sshd -T: sshd: no hostkeys available -- exiting." });
    expect(p.facts).toMatchObject({ "updates.manager": "apk", "updates.pending": 2, "updates.security_pending": null });
    expect(p.sections.updates).toEqual({ status: "ok", exitCode: 0 });
  });

  it("a host without sshd: unavailable, not_installed", () => {
    const p = interpret({ sshd: { body: "#not-installed" } });
    expect(p.sections.sshd).toEqual({ status: "unavailable", exitCode: 0, reason: "not_installed" });
    expect(p.facts).toMatchObject({ "sshd.source": null, "sshd.port": null, "sshd.permit_root_login": null });
  });

  it("a host without a package manager: unavailable, no_package_manager", () => {
    const p = interpret({ updates: { body: "#none" } });
    expect(p.sections.updates).toEqual({ status: "unavailable", exitCode: 0, reason: "no_package_manager" });
    expect(p.facts).toMatchObject({ "updates.manager": null, "updates.pending": null });
  });

  it.each<[string, CannedSection, Record<string, unknown>, Record<string, unknown>]>([
    [
      "dnf: exit 100 means updates are pending",
      { body: "#dnf\n\nkernel.x86_64   6.5.12-300.fc39   updates\nbash.x86_64   5.2.21-1.fc39   updates", rc: 100 },
      { status: "ok", exitCode: 100 },
      { "updates.manager": "dnf", "updates.pending": 2 },
    ],
    ["dnf: exit 0 means none", { body: "#dnf" }, { status: "ok", exitCode: 0 }, { "updates.manager": "dnf", "updates.pending": 0 }],
    [
      "dnf without a cache: unavailable, never a network fetch",
      { body: "#dnf", rc: 1, stderr: "Error: Cache-only enabled but no cache for 'fedora'" },
      { status: "unavailable", reason: "no_cache", detail: "Error: Cache-only enabled but no cache for 'fedora'" },
      { "updates.manager": "dnf", "updates.pending": null },
    ],
    [
      "yum failing otherwise: failed with its error",
      { body: "#yum", rc: 1, stderr: "Loaded plugins: fastestmirror\nError: rpmdb open failed" },
      { status: "failed", reason: "exit_status", exitCode: 1, detail: "Error: rpmdb open failed" },
      // A failed section sets no fact: the inventory keeps the counts it knew (see below).
      {},
    ],
    [
      "apt without package lists: unavailable, no_cache",
      { body: "#apt no-lists" },
      { status: "unavailable", reason: "no_cache" },
      { "updates.manager": "apt", "updates.pending": null },
    ],
    [
      "apt-get erroring: failed with its E: line, not its W: warnings",
      {
        body: "#apt-get",
        rc: 100,
        stderr:
          "W: Unable to read /etc/apt/preferences.d/ - DirectoryExists (13: Permission denied)\nE: The package lists or status file could not be parsed or opened.",
      },
      { status: "failed", reason: "exit_status", detail: "E: The package lists or status file could not be parsed or opened." },
      {},
    ],
    [
      "apt-get -s upgrade, the fallback for apt < 1.0",
      { body: "#apt-get\nInst bash [4.2-2] (4.2-2+deb7u1 Debian-Security:7/oldoldstable [amd64])" },
      { status: "ok", exitCode: 0 },
      { "updates.manager": "apt", "updates.pending": 1, "updates.security_pending": 1 },
    ],
    [
      "apk with no index: unavailable, no_cache",
      { body: "#apk", stderr: "WARNING: opening from cache https://dl-cdn.alpinelinux.org/alpine/v3.19/main: No such file or directory" },
      { status: "unavailable", reason: "no_cache" },
      { "updates.manager": "apk", "updates.pending": null },
    ],
  ])("%s", (_label, updates, section, facts) => {
    const p = interpret({ updates });
    expect(p.sections.updates).toMatchObject(section);
    expect(p.facts).toMatchObject(facts);
    if (section.status === "failed") expect(Object.keys(p.facts).filter((k) => k.startsWith("updates."))).toEqual([]);
  });

  it("not root: firewall undetermined, sshd config unreadable", () => {
    const p = interpret({
      firewall: {
        body: [
          "nft=failed 1 netlink: Error: cache initialization failed: Operation not permitted",
          "iptables=failed 4 iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)",
          "ufw=failed 1 ERROR: You need to be root to run this script",
          "ufw_config=yes",
          "firewalld=not_installed",
        ].join("\n"),
      },
      sshd: { body: "#config\n#@unreadable /etc/ssh/sshd_config", stderr: "sshd: no hostkeys available -- exiting." },
    });
    expect(p.sections.firewall).toMatchObject({
      status: "unavailable",
      reason: "permission_denied",
      detail: expect.stringContaining("Operation not permitted"),
    });
    expect(p.facts).toMatchObject({
      "firewall.active": null,
      "firewall.backends": null,
      "firewall.ufw": "enabled_in_config",
      "firewall.nftables": "permission_denied",
    });
    expect(p.sections.sshd).toMatchObject({ status: "unavailable", reason: "permission_denied" });
    expect(p.facts).toMatchObject({ "sshd.source": null, "sshd.password_authentication": null });
  });

  it("junk or a broken shell fails the section instead of inventing facts", () => {
    const p = interpret({ firewall: { body: "sh: 1: syntax error" }, sshd: { body: "???" }, updates: { body: "" } });
    expect(p.sections.firewall).toMatchObject({ status: "failed", reason: "parse_error" });
    expect(p.sections.sshd).toMatchObject({ status: "failed", reason: "parse_error" });
    expect(p.sections.updates).toMatchObject({ status: "failed", reason: "parse_error" });
    expect(p.facts["firewall.active"]).toBeUndefined();
  });
});

// --- the real script ---------------------------------------------------------

const shells = PROBE_SHELLS;
const NEW_SECTIONS = ["firewall", "sshd", "updates"] as const;
const RUNNER_TIMEOUT_MS = 30_000;

async function runProbe(command: string) {
  const nonce = newNonce();
  const res = await new LocalRunner().run(command, { stdin: buildProbeScript(nonce), timeoutMs: RUNNER_TIMEOUT_MS, maxBytes: 8 * 1024 * 1024 });
  const { sections, complete } = splitProbeOutput(res.stdout, nonce);
  return { res, sections, complete, p: interpretProbe(sections) };
}

describe("the real probe on this machine", () => {
  for (const [label, command] of shells) {
    const available = which(command.split(" ")[0]!) !== null;
    it.skipIf(!available && !process.env.CI)(`${label}: firewall, sshd and updates report, none failed, within the runner's timeout`, async () => {
      const { res, sections, complete, p } = await runProbe(command);
      expect(res.timedOut).toBe(false);
      expect(res.durationMs).toBeLessThan(RUNNER_TIMEOUT_MS);
      expect(complete).toBe(true);
      for (const name of NEW_SECTIONS) {
        expect(sections.has(name), name).toBe(true);
        // Nothing here may fail on this machine (Debian 12 container, root, apt
        // with package lists, no firewall tools, sshd present or not): absent
        // tools are "unavailable" or ok, never "failed".
        expect(p.sections[name]?.status, `${name}: ${JSON.stringify(p.sections[name])}`).not.toBe("failed");
      }
      expect([true, false, null]).toContain(p.facts["firewall.active"]);
      if (which("sshd")) {
        expect(["sshd -T", "config"]).toContain(p.facts["sshd.source"]);
        expect(typeof p.facts["sshd.port"]).toBe("number");
      } else {
        expect(p.sections.sshd).toMatchObject({ status: "unavailable", reason: "not_installed" });
      }
      if (which("apt-get")) {
        expect(p.facts["updates.manager"]).toBe("apt");
        if (p.sections.updates?.status === "ok") expect(typeof p.facts["updates.pending"]).toBe("number");
      }
    });
  }
});

// --- the real script against stub tools --------------------------------------

const NFT_SAMPLE = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22, 443 } accept
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
	}
}
table ip nat {
	set blocked {
		type ipv4_addr
		elements = { 10.0.0.1, 10.0.0.2,
			     10.0.0.3 }
	}

	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" masquerade
	}
}
`;
const IPTABLES_SAMPLE =
  "# Warning: iptables-legacy tables present, use iptables-legacy to see them\n-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N DOCKER\n-A INPUT -i lo -j ACCEPT\n";
const UFW_SAMPLE =
  "Status: active\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW       Anywhere\n";
const APT_SAMPLE =
  "bash/oldstable 5.2.15-2+b13 amd64 [upgradable from: 5.2.15-2+b8]\nlibcups2/oldstable,oldstable-security 2.4.2-3+deb12u9 amd64 [upgradable from: 2.4.2-3+deb12u8]\n";

/** The real `apt list` takes most of a probe's time here; the tests that are not about it skip it. */
const QUICK_APT = { apt: { out: "" } };

const stubDirs: string[] = [];
afterAll(() => {
  for (const d of stubDirs) rmSync(d, { recursive: true, force: true });
});

/** A directory of executables that shadow the real tools: each prints `out` to stdout, `err` to stderr, exits `rc`. */
function stubs(tools: Record<string, { out?: string; err?: string; rc?: number }>): string {
  const dir = mkdtempSync(join(tmpdir(), "fleet-stubs-"));
  stubDirs.push(dir);
  for (const [name, s] of Object.entries(tools)) {
    writeFileSync(join(dir, `${name}.out`), s.out ?? "");
    writeFileSync(join(dir, `${name}.err`), s.err ?? "");
    writeFileSync(join(dir, name), `#!/bin/sh\ncat '${dir}/${name}.out'\ncat '${dir}/${name}.err' >&2\nexit ${s.rc ?? 0}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

const hasAptLists = existsSync("/var/lib/apt/lists") && readdirSync("/var/lib/apt/lists").some((f) => f.includes("_Packages"));

describe("the real script against stub tools agrees with the parsers", () => {
  for (const [label, command] of shells) {
    const available = which(command.split(" ")[0]!) !== null;
    it.skipIf(!available)(`${label}: nft and iptables counted in the shell as parseNftRuleset/parseIptablesS count them`, async () => {
      const dir = stubs({
        nft: { out: NFT_SAMPLE },
        iptables: { out: IPTABLES_SAMPLE },
        ufw: { out: UFW_SAMPLE },
        "firewall-cmd": { out: "running\n" },
        sshd: { out: SSHD_T },
        ...QUICK_APT,
      });
      const { p } = await runProbe(`PATH='${dir}':"$PATH" ${command}`);
      const nft = parseNftRuleset(NFT_SAMPLE);
      expect(nft).toEqual({ tables: 2, chains: 3, rules: 4, dropPolicies: 1 });
      expect(p.facts).toMatchObject({
        "firewall.active": true,
        "firewall.backends": "nftables,iptables,ufw,firewalld",
        "firewall.nftables": "active",
        "firewall.nftables_rules": nft.rules,
        "firewall.iptables_rules": parseIptablesS(IPTABLES_SAMPLE).rules,
        "firewall.ufw": parseUfwStatus(UFW_SAMPLE),
        "firewall.firewalld": "running",
      });
      expect(p.sections.firewall).toEqual({ status: "ok", exitCode: 0 });
      const t = parseSshdT(SSHD_T);
      expect(p.facts).toMatchObject({
        "sshd.source": "sshd -T",
        "sshd.permit_root_login": t.permitRootLogin,
        "sshd.password_authentication": t.passwordAuthentication,
        "sshd.port": t.port,
      });
    });

    it.skipIf(!available)(`${label}: permission errors and "not running" are states, not failures`, async () => {
      const dir = stubs({
        nft: { err: "netlink: Error: cache initialization failed: Operation not permitted\n", rc: 1 },
        iptables: { err: "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n", rc: 4 },
        ufw: { err: "ERROR: You need to be root to run this script\n", rc: 1 },
        "firewall-cmd": { out: "not running\n", rc: 252 },
        ...QUICK_APT,
      });
      const { p } = await runProbe(`PATH='${dir}':"$PATH" ${command}`);
      expect(p.facts).toMatchObject({
        "firewall.active": null,
        "firewall.nftables": "permission_denied",
        "firewall.iptables": "permission_denied",
        "firewall.firewalld": "not_running",
      });
      // ufw.conf, when present, turns ufw's state into enabled/disabled_in_config.
      expect(["permission_denied", "enabled_in_config", "disabled_in_config"]).toContain(p.facts["firewall.ufw"]);
      expect(p.sections.firewall).toMatchObject({ status: "unavailable", reason: "permission_denied" });
    });

    it.skipIf(!available || !existsSync("/etc/ssh/sshd_config"))(`${label}: sshd -T refused, the config files are read instead`, async () => {
      const dir = stubs({ sshd: { err: "Missing privilege separation directory: /run/sshd\n", rc: 255 }, ...QUICK_APT });
      const { p } = await runProbe(`PATH='${dir}':"$PATH" ${command}`);
      const dropDir = "/etc/ssh/sshd_config.d";
      const dropIns = existsSync(dropDir)
        ? readdirSync(dropDir)
            .filter((f) => f.endsWith(".conf"))
            .map((f) => ({ path: `${dropDir}/${f}`, text: readFileSync(`${dropDir}/${f}`, "utf8") }))
        : [];
      const expected = applySshdDefaults(parseSshdConfig([{ path: "/etc/ssh/sshd_config", text: readFileSync("/etc/ssh/sshd_config", "utf8") }, ...dropIns]));
      expect(p.sections.sshd).toMatchObject({
        status: "ok",
        reason: "config_files",
        detail: expect.stringContaining("Missing privilege separation directory"),
      });
      expect(p.facts).toMatchObject({
        "sshd.source": "config",
        "sshd.permit_root_login": expected.permitRootLogin,
        "sshd.password_authentication": expected.passwordAuthentication,
        "sshd.pubkey_authentication": expected.pubkeyAuthentication,
        "sshd.port": expected.port,
      });
    });

    it.skipIf(!available || !which("apt-get") || !hasAptLists)(
      `${label}: apt list counted by parseAptListUpgradable; an apt error fails the section`,
      async () => {
        const ok = await runProbe(`PATH='${stubs({ apt: { out: APT_SAMPLE } })}':"$PATH" ${command}`);
        expect(ok.p.facts).toMatchObject({
          "updates.manager": "apt",
          "updates.pending": parseAptListUpgradable(APT_SAMPLE).pending,
          "updates.security_pending": 1,
        });
        // A manager that is there but broken is the one failure this section reports.
        const broken = await runProbe(
          `PATH='${stubs({ apt: { err: "E: The package lists or status file could not be parsed or opened.\n", rc: 100 } })}':"$PATH" ${command}`,
        );
        expect(broken.p.sections.updates).toMatchObject({
          status: "failed",
          exitCode: 100,
          detail: "E: The package lists or status file could not be parsed or opened.",
        });
      },
    );
  }
});
