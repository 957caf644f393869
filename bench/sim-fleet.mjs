#!/usr/bin/env node
// A fleet of simulated SSH hosts for the benchmark, in one standalone process:
//
//   BENCH_SSH_PASSWORD=... node bench/sim-fleet.mjs <N> [--latency-ms 20] [--per-address 10000]
//
// Starts N in-process ssh2 servers on loopback (127.0.0.1, or spread over
// 127.0.0.x with --per-address), each with its own ed25519 host key, a unique
// hostname (bench-<i>) and machine-id, password auth for root. Each answers an
// exec of `... sh -s` like a shell reading the fleet-mcp probe from stdin: it
// reads stdin to EOF, takes the probe's nonce from the script, waits the
// latency, and prints canned sections (built from test/fixtures/) in the
// probe's own marker framing, then exit status 0.
//
// When every server listens it prints ONE JSON line on stdout:
//   {"ready":true,"hosts":[{"address":"127.0.0.1","port":40001},...]}
// It exits on SIGTERM, SIGINT or when its stdin closes (so a dying parent
// never leaves it behind). A plain-JS port of test/support/ssh-sim.ts (which is
// TypeScript and test-only); only the behaviour the benchmark needs.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { parseArgs } from "node:util";
import ssh2 from "ssh2";

const { Server: SshServer, utils } = ssh2;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "latency-ms": { type: "string", default: "20" },
    "per-address": { type: "string", default: "10000" },
  },
});
const N = Number(positionals[0]);
const LATENCY_MS = Number(values["latency-ms"]);
const PER_ADDRESS = Number(values["per-address"]);
if (!Number.isInteger(N) || N < 1 || N > 60000) die("usage: node bench/sim-fleet.mjs <N 1..60000> [--latency-ms 20] [--per-address 10000]");
if (!Number.isFinite(LATENCY_MS) || LATENCY_MS < 0) die("--latency-ms must be a number >= 0");
if (!Number.isInteger(PER_ADDRESS) || PER_ADDRESS < 1) die("--per-address must be a whole number >= 1");
const PASSWORD = process.env.BENCH_SSH_PASSWORD;
if (!PASSWORD) die("set BENCH_SSH_PASSWORD (the password every simulated host accepts for root)");

function die(msg) {
  process.stderr.write(`sim-fleet: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- canned host

const fixture = (name) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), "utf8");

const DISTROS = [
  { file: "os-release-debian12.txt", kernel: "Linux 6.1.0-13-amd64 x86_64", updates: "apt" },
  { file: "os-release-ubuntu2404.txt", kernel: "Linux 6.8.0-45-generic x86_64", updates: "apt" },
  { file: "os-release-rhel9.txt", kernel: "Linux 5.14.0-427.13.1.el9_4.x86_64 x86_64", updates: "dnf" },
  { file: "os-release-rocky93.txt", kernel: "Linux 5.14.0-362.8.1.el9_3.x86_64 x86_64", updates: "dnf" },
  { file: "os-release-almalinux10.txt", kernel: "Linux 6.12.0-55.9.1.el10_0.x86_64 x86_64", updates: "dnf" },
  { file: "os-release-debian13.txt", kernel: "Linux 6.12.38+deb13-amd64 x86_64", updates: "apt" },
  { file: "os-release-alpine323.txt", kernel: "Linux 6.12.13-0-lts x86_64", updates: "apk" },
].map((d) => ({ ...d, body: fixture(d.file) }));

const UPDATES = {
  apt: [
    "#apt list",
    "libssl3/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
    "openssl/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
    "tzdata/stable-updates 2024b-0+deb12u1 all [upgradable from: 2024a-0+deb12u1]",
    "curl/stable 7.88.1-10+deb12u8 amd64 [upgradable from: 7.88.1-10+deb12u7]",
  ].join("\n"),
  dnf: [
    "#dnf",
    "",
    "kernel.x86_64                 5.14.0-427.16.1.el9_4        baseos",
    "openssl.x86_64                1:3.0.7-27.el9               baseos",
  ].join("\n"),
  apk: ["#apk", "busybox", "musl"].join("\n"),
};

// ~40 service units as `systemctl list-units --type=service --all --output=json` prints them.
const UNITS = [
  ["apparmor.service", "loaded", "active", "exited", "Load AppArmor profiles"],
  ["apt-daily-upgrade.service", "loaded", "inactive", "dead", "Daily apt upgrade and clean activities"],
  ["apt-daily.service", "loaded", "inactive", "dead", "Daily apt download activities"],
  ["auditd.service", "loaded", "active", "running", "Security Auditing Service"],
  ["chrony.service", "loaded", "active", "running", "chrony, an NTP client/server"],
  ["console-setup.service", "loaded", "active", "exited", "Set console font and keymap"],
  ["containerd.service", "loaded", "active", "running", "containerd container runtime"],
  ["cron.service", "loaded", "active", "running", "Regular background program processing daemon"],
  ["dbus.service", "loaded", "active", "running", "D-Bus System Message Bus"],
  ["docker.service", "loaded", "active", "running", "Docker Application Container Engine"],
  ["e2scrub_reap.service", "loaded", "inactive", "dead", "Remove Stale Online ext4 Metadata Check Snapshots"],
  ["emergency.service", "loaded", "inactive", "dead", "Emergency Shell"],
  ["fail2ban.service", "loaded", "active", "running", "Fail2Ban Service"],
  ["getty@tty1.service", "loaded", "active", "running", "Getty on tty1"],
  ["ifupdown-pre.service", "loaded", "active", "exited", "Helper to synchronize boot up for ifupdown"],
  ["keyboard-setup.service", "loaded", "active", "exited", "Set the console keyboard layout"],
  ["kmod-static-nodes.service", "loaded", "active", "exited", "Create List of Static Device Nodes"],
  ["logrotate.service", "loaded", "inactive", "dead", "Rotate log files"],
  ["man-db.service", "loaded", "inactive", "dead", "Daily man-db regeneration"],
  ["networking.service", "loaded", "active", "exited", "Raise network interfaces"],
  ["nginx.service", "loaded", "active", "running", "A high performance web server and a reverse proxy server"],
  ["node-exporter.service", "loaded", "active", "running", "Prometheus exporter for machine metrics"],
  ["postfix.service", "loaded", "active", "exited", "Postfix Mail Transport Agent"],
  ["postfix@-.service", "loaded", "active", "running", "Postfix Mail Transport Agent (instance -)"],
  ["rescue.service", "loaded", "inactive", "dead", "Rescue Shell"],
  ["rsyslog.service", "loaded", "active", "running", "System Logging Service"],
  ["ssh.service", "loaded", "active", "running", "OpenBSD Secure Shell server"],
  ["systemd-binfmt.service", "loaded", "active", "exited", "Set Up Additional Binary Formats"],
  ["systemd-fsck-root.service", "loaded", "inactive", "dead", "File System Check on Root Device"],
  ["systemd-journal-flush.service", "loaded", "active", "exited", "Flush Journal to Persistent Storage"],
  ["systemd-journald.service", "loaded", "active", "running", "Journal Service"],
  ["systemd-logind.service", "loaded", "active", "running", "User Login Management"],
  ["systemd-modules-load.service", "loaded", "active", "exited", "Load Kernel Modules"],
  ["systemd-networkd-wait-online.service", "loaded", "failed", "failed", "Wait for Network to be Configured"],
  ["systemd-random-seed.service", "loaded", "active", "exited", "Load/Save Random Seed"],
  ["systemd-remount-fs.service", "loaded", "active", "exited", "Remount Root and Kernel File Systems"],
  ["systemd-sysctl.service", "loaded", "active", "exited", "Apply Kernel Variables"],
  ["systemd-timesyncd.service", "not-found", "inactive", "dead", "systemd-timesyncd.service"],
  ["systemd-tmpfiles-setup.service", "loaded", "active", "exited", "Create Volatile Files and Directories"],
  ["systemd-udevd.service", "loaded", "active", "running", "Rule-based Manager for Device Events and Files"],
  ["systemd-update-utmp.service", "loaded", "active", "exited", "Record System Boot/Shutdown in UTMP"],
  ["systemd-user-sessions.service", "loaded", "active", "exited", "Permit User Sessions"],
  ["user@0.service", "loaded", "active", "running", "User Manager for UID 0"],
  ["backup.service", "loaded", "failed", "failed", "Nightly backup"],
].map(([unit, load, active, sub, description]) => ({ unit, load, active, sub, description }));

const COMMON = {
  uptime: fixture("proc-uptime.txt"),
  cpu: fixture("lscpu-J.json"),
  load: fixture("proc-loadavg.txt"),
  memory: fixture("proc-meminfo.txt"),
  filesystems: fixture("df-PkT.txt"),
  addresses: fixture("ip-j-addr.json"),
  ports: `#ss\n${fixture("ss-Htlnp.txt")}`,
  systemd: `#json\n${JSON.stringify(UNITS)}`,
  docker: fixture("docker-ps-all-no-trunc.jsonl"),
  compose: fixture("docker-compose-ls.json"),
  firewall: "nft=ok\nnft_tables=2\nnft_chains=6\nnft_rules=14\nnft_drop_policies=1\niptables=not_installed\nufw=not_installed\nfirewalld=not_installed",
  sshd: "#sshd-T\nport 22\npermitrootlogin without-password\npubkeyauthentication yes\npasswordauthentication no\nkbdinteractiveauthentication no",
};

/** The sections of host i, in the order of PROBE_SECTIONS in src/discovery/probe.ts. */
function cannedHost(i, publicKeyLine) {
  const name = `bench-${i}`;
  const distro = DISTROS[i % DISTROS.length];
  return [
    ["hostname", { body: name }],
    ["machine_id", { body: createHash("sha256").update(`fleet-bench:${name}`).digest("hex").slice(0, 32) }],
    ["host_keys", { body: `${publicKeyLine} root@${name}` }],
    ["os", { body: distro.body }],
    ["kernel", { body: distro.kernel }],
    ["uptime", { body: COMMON.uptime }],
    ["cpu_count", { body: String(2 + (i % 4) * 2) }],
    ["cpu", { body: COMMON.cpu }],
    ["load", { body: COMMON.load }],
    ["memory", { body: COMMON.memory }],
    ["filesystems", { body: COMMON.filesystems }],
    ["addresses", { body: COMMON.addresses }],
    ["ports", { body: COMMON.ports }],
    ["systemd", { body: COMMON.systemd }],
    ["docker", { body: COMMON.docker }],
    ["compose", { body: COMMON.compose }],
    ["firewall", { body: COMMON.firewall }],
    ["sshd", { body: COMMON.sshd }],
    ["updates", { body: UPDATES[distro.updates], ...(distro.updates === "dnf" ? { rc: 100 } : {}) }],
  ];
}

/** Exactly the framing of renderProbeOutput in test/support/scripted-runner.ts (the probe's sec() output). */
function renderProbeOutput(nonce, sections) {
  const M = `@@fleet-${nonce}@@`;
  let out = "";
  for (const [name, s] of sections) {
    out += `\n${M} BEGIN ${name}\n${s.body}\n${M} END ${name} ${s.rc ?? 0}\n`;
    if (s.stderr) out += `${M} STDERR ${name}\n${s.stderr}\n${M} ENDERR ${name}\n`;
  }
  return `${out}\n${M} DONE\n`;
}

// ---------------------------------------------------------------- ssh servers

/**
 * ssh2 1.17's utils.generateKeyPairSync("ed25519") strips leading zero bytes of
 * the public key, so now and then a key comes out unparseable (mscdex/ssh2#1390):
 * generate again until both halves parse.
 */
function generateEd25519() {
  for (let i = 0; i < 64; i++) {
    const pair = utils.generateKeyPairSync("ed25519");
    const priv = utils.parseKey(pair.private);
    const pub = utils.parseKey(pair.public);
    if (!(priv instanceof Error) && !(pub instanceof Error)) return { pair, parsed: Array.isArray(priv) ? priv[0] : priv };
  }
  throw new Error("could not generate a parseable ed25519 key");
}

const passwordBuf = Buffer.from(PASSWORD);
function passwordOk(given) {
  const b = Buffer.from(given ?? "");
  const same = b.length === passwordBuf.length;
  return timingSafeEqual(same ? b : passwordBuf, passwordBuf) && same;
}

const isProbeCommand = (command) => /(^|\s)sh -s$/.test(command.trim());

const stats = { connections: 0, execs: 0, authFailures: 0, probeAnswers: 0, errors: 0 };
const sockets = new Set();
const timers = new Set();
let closing = false;

function later(ms, fn) {
  if (ms <= 0) return void setImmediate(fn);
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, ms);
  timers.add(t);
}

/**
 * Writes, then sends the exit status from the write callback: stream.exit()
 * bypasses the channel's write queue, so sent at once it could overtake data
 * still queued behind the window. Then ends the channel (EOF + close).
 */
function finish(stream, stdout, code, stderr) {
  if (stderr) stream.stderr.write(stderr);
  const done = () => {
    if (closing) return;
    stream.exit(code);
    stream.end();
  };
  if (!stdout) return done();
  stream.write(stdout, done);
}

function onConnection(conn, sections) {
  stats.connections++;
  conn.on("error", () => {
    stats.errors++;
  });
  conn.on("authentication", (ctx) => {
    if (ctx.method === "password" && ctx.username === "root" && passwordOk(ctx.password)) return ctx.accept();
    if (ctx.method !== "none") stats.authFailures++;
    return ctx.reject(["password"]);
  });
  conn.on("ready", () => {
    conn.on("session", (acceptSession) => {
      const session = acceptSession();
      session.on("exec", (accept, reject, info) => {
        stats.execs++;
        if (closing) return reject();
        const stream = accept();
        stream.on("error", () => {});
        stream.stderr.on("error", () => {});
        if (!isProbeCommand(info.command)) {
          stream.resume();
          return finish(stream, "", 127, `sh: ${info.command}: not found\n`);
        }
        // Like a shell reading its script from stdin: answer after the client's EOF.
        const chunks = [];
        stream.on("data", (d) => chunks.push(d));
        stream.once("end", () => {
          const script = Buffer.concat(chunks).toString("utf8");
          const nonce = /M='@@fleet-([0-9a-f]+)@@'/.exec(script)?.[1];
          later(LATENCY_MS, () => {
            if (closing) return;
            if (!nonce) return finish(stream, "", 2, "sh: sim-fleet: no probe nonce in the script\n");
            stats.probeAnswers++;
            finish(stream, renderProbeOutput(nonce, sections), 0);
          });
        });
      });
    });
  });
}

async function startHost(i) {
  const { pair, parsed } = generateEd25519();
  const publicKeyLine = `${parsed.type} ${parsed.getPublicSSH().toString("base64")}`;
  const sections = cannedHost(i, publicKeyLine);
  const ssh = new SshServer({ hostKeys: [pair.private] }, (conn) => onConnection(conn, sections));
  ssh.on("error", () => {});
  // We own the TCP listener (TCP_NODELAY on the server side too) and hand each socket to ssh2.
  const tcp = createServer({ noDelay: true }, (socket) => {
    if (closing) return void socket.destroy();
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    ssh.injectSocket(socket);
  });
  const address = `127.0.0.${1 + Math.floor(i / PER_ADDRESS)}`;
  if (!/^127\.0\.0\.(\d{1,3})$/.test(address) || Number(address.split(".")[3]) > 254) throw new Error(`too many hosts for --per-address ${PER_ADDRESS}`);
  const port = await new Promise((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen({ host: address, port: 0, exclusive: true, backlog: 511 }, () => {
      tcp.off("error", reject);
      tcp.on("error", () => {});
      resolve(tcp.address().port);
    });
  });
  return { address, port, tcp };
}

const servers = [];
function shutdown(code) {
  if (closing) return;
  closing = true;
  for (const t of timers) clearTimeout(t);
  for (const s of sockets) s.destroy();
  for (const h of servers) h.tcp.close();
  process.stderr.write(`sim-fleet: exiting; ${JSON.stringify(stats)}\n`);
  // Do not wait for anything: the listeners are gone with the process.
  process.exit(code);
}
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

// Stats on request: a line "stats" on stdin answers one JSON line on stdout.
process.stdin.setEncoding("utf8");
let inBuf = "";
process.stdin.on("data", (d) => {
  inBuf += d;
  let nl;
  while ((nl = inBuf.indexOf("\n")) >= 0) {
    const line = inBuf.slice(0, nl).trim();
    inBuf = inBuf.slice(nl + 1);
    if (line === "stats") {
      const ru = process.resourceUsage();
      process.stdout.write(
        `${JSON.stringify({ stats: { ...stats, cpuUserMs: ru.userCPUTime / 1000, cpuSystemMs: ru.systemCPUTime / 1000, maxRssMB: ru.maxRSS / 1024 } })}\n`,
      );
    }
  }
});

try {
  const started = performance.now();
  for (let i = 0; i < N; i++) servers.push(await startHost(i));
  process.stderr.write(`sim-fleet: ${N} hosts listening in ${Math.round(performance.now() - started)} ms (latency ${LATENCY_MS} ms)\n`);
  process.stdout.write(`${JSON.stringify({ ready: true, hosts: servers.map(({ address, port }) => ({ address, port })) })}\n`);
} catch (err) {
  process.stderr.write(`sim-fleet: cannot start: ${err.stack ?? err}\n`);
  shutdown(1);
}
