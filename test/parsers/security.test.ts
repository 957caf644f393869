import { describe, expect, it } from "vitest";
import {
  applySshdDefaults,
  classifyFirewallError,
  isMissingPackageCache,
  packageManagerError,
  parseApkVersion,
  parseAptGetSimulate,
  parseAptListUpgradable,
  parseDnfCheckUpdate,
  parseFirewallCmdState,
  parseFirewallSection,
  parseIptablesS,
  parseNftRuleset,
  parseSshdConfig,
  parseSshdT,
  parseUfwStatus,
  splitSshdConfigDump,
} from "../../src/discovery/parsers/security.js";

// --- samples -----------------------------------------------------------------

/** Trimmed `sshd -T` from OpenSSH 9.2 (Debian 12), run as root. */
const SSHD_T = `port 2222
port 22
addressfamily any
listenaddress [::]:2222
listenaddress 0.0.0.0:2222
usepam yes
logingracetime 120
x11displayoffset 10
maxauthtries 6
permitrootlogin without-password
pubkeyauthentication yes
passwordauthentication no
kbdinteractiveauthentication no
authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2
subsystem sftp /usr/lib/openssh/sftp-server
`;

/** Debian 12's /etc/ssh/sshd_config (abridged) with local edits. */
const DEBIAN_SSHD_CONFIG = `
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
Port 2200
Port 2201
PermitRootLogin yes   # trailing comment
#PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
PasswordAuthentication yes

Match User backup
	PasswordAuthentication no
	PermitRootLogin forced-commands-only
`;

/** Ubuntu cloud images put this drop-in next to the main file. */
const CLOUD_INIT_DROPIN = "PasswordAuthentication no\n";

const NFT_RULESET = `# Warning: table ip filter is managed by iptables-nft, do not touch!
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport 22 accept comment "ssh"
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
	}

	chain output {
		type filter hook output priority filter; policy accept;
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

/** Debian's stock /etc/nftables.conf loaded: chains, no rules, accept policies. */
const NFT_STOCK = `table inet filter {
	chain input {
		type filter hook input priority filter;
	}

	chain forward {
		type filter hook forward priority filter;
	}

	chain output {
		type filter hook output priority filter;
	}
}
`;

const IPTABLES_DEFAULT = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

const IPTABLES_RULES = `-P INPUT DROP
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N DOCKER
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
`;

const UFW_ACTIVE = `Status: active

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW       Anywhere
22/tcp (v6)                ALLOW       Anywhere (v6)

`;

/** `apt-get -s upgrade` on Debian 12 (abridged). */
const APT_GET_S = `Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  base-files bash libcups2
3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Inst libcups2 [2.4.2-3+deb12u8] (2.4.2-3+deb12u9 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Conf libcups2 (2.4.2-3+deb12u9 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
`;

/** `apt -qq list --upgradable` on Debian 12 (abridged). */
const APT_LIST = `appstream/oldstable 0.16.1-2+b1 amd64 [upgradable from: 0.16.1-2]
apt-transport-https/oldstable-security 2.6.2 all [upgradable from: 2.6.1]
krb5-locales/oldstable,oldstable-security 1.20.1-2+deb12u5 all [upgradable from: 1.20.1-2+deb12u3]
`;

/** `dnf -C -q check-update` on Fedora 39 (exit 100): a wrapped long name and an Obsoleting block. */
const DNF_CHECK_UPDATE = `
kernel.x86_64                                  6.5.12-300.fc39              updates
kernel-core.x86_64                             6.5.12-300.fc39              updates
python3-a-really-long-package-name-that-wraps.noarch
                                               1.2.3-1.fc39                 updates
openssl-libs.x86_64                            1:3.1.1-4.fc39               updates
Obsoleting Packages
grub2-tools.x86_64                             1:2.06-100.fc39              updates
    grub2-tools.x86_64                         1:2.06-95.fc39               @updates
`;

/** `apk -q version -l '<'` on Alpine 3.19. */
const APK_QUIET = "busybox\nlibcrypto3\nlibssl3\n";

// --- firewall ----------------------------------------------------------------

describe("parseNftRuleset", () => {
  it.each([
    ["empty ruleset", "", { tables: 0, chains: 0, rules: 0, dropPolicies: 0 }],
    ["stock table, chains without rules", NFT_STOCK, { tables: 1, chains: 3, rules: 0, dropPolicies: 0 }],
    ["tables, a set, rules and a drop policy", NFT_RULESET, { tables: 2, chains: 4, rules: 4, dropPolicies: 1 }],
    [
      "a lone drop-policy chain",
      "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy drop;\n\t}\n}\n",
      { tables: 1, chains: 1, rules: 0, dropPolicies: 1 },
    ],
    ["junk", "Error: something\n}\n{\n", { tables: 0, chains: 0, rules: 0, dropPolicies: 0 }],
  ])("%s", (_label, text, expected) => {
    expect(parseNftRuleset(text)).toEqual(expected);
  });
});

describe("parseIptablesS", () => {
  it.each([
    ["default policies only", IPTABLES_DEFAULT, 0],
    ["a DROP policy, a chain and rules", IPTABLES_RULES, 4],
    ["iptables-nft warning comment and CRLF", "# Warning: iptables-legacy tables present, use iptables-legacy to see them\r\n-P INPUT ACCEPT\r\n", 0],
    ["empty", "", 0],
  ])("%s", (_label, text, rules) => {
    expect(parseIptablesS(text)).toEqual({ rules });
  });
});

describe("parseUfwStatus / parseFirewallCmdState", () => {
  it.each([
    [UFW_ACTIVE, "active"],
    ["Status: inactive\n", "inactive"],
    ["ERROR: You need to be root to run this script\n", null],
    ["", null],
  ])("ufw %j -> %j", (text, expected) => {
    expect(parseUfwStatus(text)).toBe(expected);
  });
  it.each([
    ["running\n", "running"],
    ["not running\n", "not_running"],
    ["active\n", "running"],
    ["inactive\n", "not_running"],
    ["FirewallD is not running\n", null],
    ["", null],
  ])("firewalld %j -> %j", (text, expected) => {
    expect(parseFirewallCmdState(text)).toBe(expected);
  });
  it.each([
    [1, "netlink: Error: cache initialization failed: Operation not permitted", "permission_denied"],
    [4, "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)", "permission_denied"],
    [1, "ERROR: You need to be root to run this script", "permission_denied"],
    [124, "", "timeout"],
    [1, "Error: syntax error", "error"],
  ] as const)("error %i %j -> %s", (code, message, expected) => {
    expect(classifyFirewallError(code, message)).toBe(expected);
  });
});

describe("parseFirewallSection", () => {
  const none = "nft=not_installed\niptables=not_installed\nufw=not_installed\nfirewalld=not_installed\n";
  it.each([
    [
      "Debian with ufw active (over iptables-nft)",
      "nft=ok\nnft_tables=3\nnft_chains=40\nnft_rules=71\nnft_drop_policies=2\niptables=ok\niptables_rules=64\nufw=ok\nufw_status=active\nufw_config=yes\nfirewalld=not_installed\n",
      {
        active: true,
        backends: ["nftables", "iptables", "ufw"],
        tools: { nftables: "active", iptables: "active", ufw: "active", firewalld: "not_installed" },
        nftRules: 71,
        iptablesRules: 64,
      },
    ],
    [
      "nothing installed",
      none,
      {
        active: false,
        backends: [],
        tools: { nftables: "not_installed", iptables: "not_installed", ufw: "not_installed", firewalld: "not_installed" },
        nftRules: null,
        iptablesRules: null,
      },
    ],
    [
      "tools present, nothing loaded",
      "nft=ok\nnft_tables=0\nnft_chains=0\nnft_rules=0\nnft_drop_policies=0\niptables=ok\niptables_rules=0\nufw=ok\nufw_status=inactive\nfirewalld=ok\nfirewalld_state=not running\n",
      {
        active: false,
        backends: [],
        tools: { nftables: "inactive", iptables: "inactive", ufw: "inactive", firewalld: "not_running" },
        nftRules: 0,
        iptablesRules: 0,
      },
    ],
    [
      "a drop policy with no rules is a firewall",
      "nft=ok\nnft_tables=1\nnft_chains=1\nnft_rules=0\nnft_drop_policies=1\niptables=not_installed\nufw=not_installed\nfirewalld=not_installed\n",
      {
        active: true,
        backends: ["nftables"],
        tools: { nftables: "active", iptables: "not_installed", ufw: "not_installed", firewalld: "not_installed" },
        nftRules: 0,
        iptablesRules: null,
      },
    ],
    [
      "not root: nothing readable, ufw.conf says enabled",
      "nft=failed 1 netlink: Error: cache initialization failed: Operation not permitted\niptables=failed 4 iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\nufw=failed 1 ERROR: You need to be root to run this script\nufw_config=yes\nfirewalld=not_installed\n",
      {
        active: null,
        backends: [],
        tools: { nftables: "permission_denied", iptables: "permission_denied", ufw: "enabled_in_config", firewalld: "not_installed" },
        nftRules: null,
        iptablesRules: null,
      },
    ],
    [
      "firewalld over D-Bus failed, systemd says active",
      "nft=failed 1 Error: Operation not permitted\niptables=not_installed\nufw=not_installed\nfirewalld=failed 124 \nfirewalld_unit=active\n",
      {
        active: true,
        backends: ["firewalld"],
        tools: { nftables: "permission_denied", iptables: "not_installed", ufw: "not_installed", firewalld: "running" },
        nftRules: null,
        iptablesRules: null,
      },
    ],
    [
      "odd lines and unknown values are ignored",
      "garbage\n=x\nnft=weird\nnft_rules=abc\niptables=ok\niptables_rules=\nufw=not_installed\nfirewalld=not_installed\n",
      {
        active: null,
        backends: [],
        tools: { nftables: "unknown", iptables: "unknown", ufw: "not_installed", firewalld: "not_installed" },
        nftRules: null,
        iptablesRules: null,
      },
    ],
  ])("%s", (_label, body, expected) => {
    expect(parseFirewallSection(body)).toMatchObject({ ...expected, recognised: true });
  });

  it("keeps each failed tool's message and recognises nothing in junk", () => {
    expect(parseFirewallSection("nft=failed 1 Error: boom\n").errors).toEqual({ nftables: "Error: boom" });
    expect(parseFirewallSection("hello\nworld").recognised).toBe(false);
    expect(parseFirewallSection("").active).toBeNull();
  });
});

// --- sshd --------------------------------------------------------------------

describe("parseSshdT", () => {
  it.each([
    ["Debian 12 as root", SSHD_T, { permitRootLogin: "without-password", passwordAuthentication: false, pubkeyAuthentication: true, port: 2222 }],
    [
      "newer spelling",
      "port 22\npermitrootlogin prohibit-password\npasswordauthentication yes\npubkeyauthentication yes\n",
      { permitRootLogin: "prohibit-password", passwordAuthentication: true, pubkeyAuthentication: true, port: 22 },
    ],
    [
      "forced-commands-only, CRLF",
      "permitrootlogin forced-commands-only\r\nport 22\r\n",
      { permitRootLogin: "forced-commands-only", passwordAuthentication: null, pubkeyAuthentication: null, port: 22 },
    ],
    [
      "an error message instead",
      "Missing privilege separation directory: /run/sshd\n",
      { permitRootLogin: null, passwordAuthentication: null, pubkeyAuthentication: null, port: null },
    ],
    ["empty", "", { permitRootLogin: null, passwordAuthentication: null, pubkeyAuthentication: null, port: null }],
  ])("%s", (_label, text, expected) => {
    expect(parseSshdT(text)).toEqual(expected);
  });
});

describe("parseSshdConfig", () => {
  const main = (text: string) => ({ path: "/etc/ssh/sshd_config", text });
  const dropIn = (name: string, text: string) => ({ path: `/etc/ssh/sshd_config.d/${name}`, text });
  it.each([
    [
      "comments, trailing comment, duplicate PasswordAuthentication (first wins), Match ignored, first Port",
      [main(DEBIAN_SSHD_CONFIG)],
      { permitRootLogin: "yes", passwordAuthentication: true, pubkeyAuthentication: null, port: 2200, matchSeen: true, includesNotFollowed: [] },
    ],
    [
      "a drop-in included at the top wins over the main file",
      [main(DEBIAN_SSHD_CONFIG), dropIn("50-cloud-init.conf", CLOUD_INIT_DROPIN)],
      { permitRootLogin: "yes", passwordAuthentication: false, port: 2200 },
    ],
    [
      "drop-ins in lexical order; an earlier one wins",
      [main("Include /etc/ssh/sshd_config.d/*.conf\n"), dropIn("90-b.conf", "PermitRootLogin yes\n"), dropIn("10-a.conf", "PermitRootLogin no\n")],
      { permitRootLogin: "no" },
    ],
    [
      "an Include after the main file's own setting loses to it",
      [main("PasswordAuthentication yes\nInclude sshd_config.d/*.conf\n"), dropIn("50-cloud-init.conf", CLOUD_INIT_DROPIN)],
      { passwordAuthentication: true, includesNotFollowed: [] },
    ],
    [
      "drop-ins the main file never includes are ignored, as sshd ignores them",
      [main("Port 22\n"), dropIn("50-cloud-init.conf", CLOUD_INIT_DROPIN)],
      { passwordAuthentication: null, port: 22 },
    ],
    [
      "other Include patterns are not followed, and reported",
      [main("Include /etc/ssh/extra.conf local/*.conf\nPermitRootLogin no\n")],
      { permitRootLogin: "no", includesNotFollowed: ["/etc/ssh/extra.conf", "local/*.conf"] },
    ],
    [
      "a Match in a drop-in ends only that file",
      [
        main("Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n"),
        dropIn("10-x.conf", "Match Address 10.0.0.0/8\nPasswordAuthentication yes\n"),
      ],
      { passwordAuthentication: false, matchSeen: false },
    ],
    [
      "Key=value forms, mixed case, quotes, junk lines",
      [main('pOrT=2022\nPermitRootLogin = "No"\n  PubkeyAuthentication\tno\n= nothing\n!!!\nPasswordAuthentication maybe\n')],
      { port: 2022, permitRootLogin: "no", pubkeyAuthentication: false, passwordAuthentication: null },
    ],
    ["nothing at all", [], { permitRootLogin: null, passwordAuthentication: null, pubkeyAuthentication: null, port: null }],
  ])("%s", (_label, files, expected) => {
    expect(parseSshdConfig(files)).toMatchObject(expected);
  });

  it("fills OpenSSH's defaults for what the files leave unset", () => {
    expect(applySshdDefaults(parseSshdConfig([main("# all commented out\n#PermitRootLogin yes\n")]))).toEqual({
      permitRootLogin: "prohibit-password",
      passwordAuthentication: true,
      pubkeyAuthentication: true,
      port: 22,
    });
    expect(applySshdDefaults(parseSshdConfig([main("PasswordAuthentication no\nPort 2222\n")]))).toMatchObject({ passwordAuthentication: false, port: 2222 });
  });

  it("splits the probe's dump into files, keeping unreadable names", () => {
    const dump =
      "#@file /etc/ssh/sshd_config\nPort 22\n# a comment\n\n#@unreadable /etc/ssh/sshd_config.d/secret.conf\n#@file /etc/ssh/sshd_config.d/a.conf\nX y\n";
    expect(splitSshdConfigDump(dump)).toEqual({
      files: [
        { path: "/etc/ssh/sshd_config", text: "Port 22\n# a comment\n" },
        { path: "/etc/ssh/sshd_config.d/a.conf", text: "X y\n" },
      ],
      unreadable: ["/etc/ssh/sshd_config.d/secret.conf"],
    });
    expect(splitSshdConfigDump("stray\n")).toEqual({ files: [], unreadable: [] });
  });
});

// --- updates -----------------------------------------------------------------

describe("pending update parsers", () => {
  it.each([
    ["apt-get -s upgrade", parseAptGetSimulate(APT_GET_S), { pending: 3, packages: ["base-files", "bash", "libcups2"], security: 1 }],
    [
      "apt-get -s upgrade, nothing to do",
      parseAptGetSimulate("Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"),
      { pending: 0, security: 0 },
    ],
    ["apt list --upgradable", parseAptListUpgradable(APT_LIST), { pending: 3, packages: ["appstream", "apt-transport-https", "krb5-locales"], security: 2 }],
    [
      "apt list with its Listing line and warning",
      parseAptListUpgradable("\nWARNING: apt does not have a stable CLI interface.\nListing...\n"),
      { pending: 0, security: 0 },
    ],
    [
      "dnf check-update",
      parseDnfCheckUpdate(DNF_CHECK_UPDATE),
      { pending: 4, packages: ["kernel", "kernel-core", "python3-a-really-long-package-name-that-wraps", "openssl-libs"] },
    ],
    [
      "yum check-update, not quiet",
      parseDnfCheckUpdate("Loaded plugins: fastestmirror\n\nbash.x86_64   4.2.46-35.el7_9   updates\n"),
      { pending: 1, packages: ["bash"] },
    ],
    ["dnf check-update, none", parseDnfCheckUpdate(""), { pending: 0 }],
    ["apk -q version -l '<'", parseApkVersion(APK_QUIET), { pending: 3, packages: ["busybox", "libcrypto3", "libssl3"] }],
    [
      "apk version -l '<' (verbose)",
      parseApkVersion(
        "Installed:                                Available:\nbusybox-1.36.1-r5                       < 1.36.1-r7 \nlibssl3-3.1.4-r1                        < 3.1.4-r5 @edge\n",
      ),
      { pending: 2, packages: ["busybox", "libssl3"] },
    ],
  ])("%s", (_label, got, expected) => {
    expect(got).toMatchObject(expected);
  });

  it.each([
    ["Error: Cache-only enabled but no cache for 'fedora'", true],
    ['Cache-only enabled but no cache for repository "fedora"', true],
    ["WARNING: opening from cache https://dl-cdn.alpinelinux.org/alpine/v3.19/main: No such file or directory", true],
    ["WARNING: Ignoring https://dl-cdn.alpinelinux.org/alpine/v3.19/community: No such file or directory", true],
    ["E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)", false],
    ["", false],
  ])("missing cache: %j -> %j", (stderr, expected) => {
    expect(isMissingPackageCache(stderr)).toBe(expected);
  });

  it("picks apt's E: line over its W: warnings", () => {
    expect(
      packageManagerError(
        "W: Unable to read /etc/apt/apt.conf.d/ - DirectoryExists (2: No such file or directory)\nE: The package lists or status file could not be parsed or opened.\n",
      ),
    ).toBe("E: The package lists or status file could not be parsed or opened.");
    expect(packageManagerError("\n  something odd\n")).toBe("something odd");
    expect(packageManagerError("")).toBe("");
  });
});
