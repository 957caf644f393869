#!/usr/bin/env node
// Snapshot micro-benchmark: a generated inventory of --targets targets with
// --services systemd units and --containers containers each (default 10,000 x
// (20 + 10) = 300,000), written straight into a file database; then
// create_snapshot's work (capture + encode + store), a second snapshot after a
// round of changes, and compare_snapshots (load both, decompress, parse, diff,
// first page) through the real tool handler.
//
//   npm run build && node bench/snapshot-bench.mjs [--targets 10000] [--services 20] [--containers 10] [--repeat 3]
//   npx tsx bench/snapshot-bench.mjs --src      (straight from src/, no build)
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    targets: { type: "string", default: "10000" },
    services: { type: "string", default: "20" },
    containers: { type: "string", default: "10" },
    repeat: { type: "string", default: "3" },
    src: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(opt.targets);
const SVC = Number(opt.services);
const CTR = Number(opt.containers);
const REPEAT = Number(opt.repeat);
const base = opt.src ? "../src" : "../dist";
const ext = opt.src ? ".ts" : ".js";
const { openDb, closeDb } = await import(`${base}/db/open${ext}`);
const snap = await import(`${base}/inventory/snapshots${ext}`);
const { diffDocuments } = await import(`${base}/inventory/diff${ext}`);
const { compareSnapshots } = await import(`${base}/tools/compare-snapshots${ext}`);

const UNITS = [
  ["ssh.service", "OpenBSD Secure Shell server"],
  ["cron.service", "Regular background program processing daemon"],
  ["systemd-journald.service", "Journal Service"],
  ["systemd-logind.service", "User Login Management"],
  ["systemd-networkd.service", "Network Configuration"],
  ["systemd-resolved.service", "Network Name Resolution"],
  ["systemd-timesyncd.service", "Network Time Synchronization"],
  ["systemd-udevd.service", "Rule-based Manager for Device Events and Files"],
  ["dbus.service", "D-Bus System Message Bus"],
  ["rsyslog.service", "System Logging Service"],
  ["docker.service", "Docker Application Container Engine"],
  ["containerd.service", "containerd container runtime"],
  ["nginx.service", "A high performance web server and a reverse proxy server"],
  ["postgresql@15-main.service", "PostgreSQL Cluster 15-main"],
  ["prometheus-node-exporter.service", "Prometheus exporter for machine metrics"],
  ["unattended-upgrades.service", "Unattended Upgrades Shutdown"],
  ["getty@tty1.service", "Getty on tty1"],
  ["polkit.service", "Authorization Manager"],
  ["chrony.service", "chrony, an NTP client/server"],
  ["fail2ban.service", "Fail2Ban Service"],
  ["zfs-zed.service", "ZFS Event Daemon (zed)"],
  ["pveproxy.service", "PVE API Proxy Server"],
  ["pvedaemon.service", "PVE API Daemon"],
  ["corosync.service", "Corosync Cluster Engine"],
  ["redis-server.service", "Advanced key-value store"],
];
const IMAGES = [
  "nginx:1.27",
  "postgres:16",
  "redis:7",
  "grafana/grafana:11.2.0",
  "prom/prometheus:v2.54.1",
  "traefik:v3.1",
  "vaultwarden/server:1.32.0",
  "ghcr.io/home-assistant/home-assistant:2024.10",
];
const hex = (n) => randomBytes(n).toString("hex");

function fill(db) {
  const c = db.$client;
  const now = "2026-11-23T10:00:00.000Z";
  const ins = {
    target: c.prepare(
      `INSERT INTO targets (id, kind, name, lifecycle, address, first_seen_at, last_seen_at, last_attempt_at, os_id, os_version, os_name, kernel, arch, cpu_count, mem_total_bytes, mem_available_bytes, disk_total_bytes, disk_used_bytes, uptime_seconds, role, tags, health_score, health_issues)
       VALUES (?, 'host', ?, 'active', ?, ?, ?, ?, 'debian', '12', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-18-amd64', 'x86_64', 8, 17179869184, 8589934592, 214748364800, 64424509440, ?, ?, ?, 0.9, '[]')`,
    ),
    svc: c.prepare(
      `INSERT INTO services (target_id, source_id, name, description, load_state, active_state, sub_state, enabled, first_observed_at) VALUES (?, ?, ?, ?, 'loaded', 'active', 'running', 'enabled', ?)`,
    ),
    ctr: c.prepare(
      `INSERT INTO containers (target_id, source_id, name, container_id, image, state, status, ports, labels, compose_project, compose_service, created_at, image_id, restart_count, health, exit_code, privileged, network_mode, first_observed_at)
       VALUES (?, 'lab', ?, ?, ?, 'running', 'Up 3 hours', '0.0.0.0:8080->80/tcp', '{}', ?, ?, '2026-11-01 10:00:00 +0000 UTC', ?, 0, NULL, 0, 0, 'bridge', ?)`,
    ),
    port: c.prepare(`INSERT INTO ports (target_id, source_id, protocol, address, port, process, pid, first_observed_at) VALUES (?, 'lab', ?, ?, ?, ?, ?, ?)`),
    iface: c.prepare(`INSERT INTO interfaces (target_id, source_id, name, mac, mtu, state, master) VALUES (?, 'lab', ?, ?, 1500, 'UP', NULL)`),
    addr: c.prepare(
      `INSERT INTO addresses (target_id, source_id, interface_name, family, address, prefixlen, scope) VALUES (?, 'lab', ?, 'inet', ?, 24, 'global')`,
    ),
    fs: c.prepare(
      `INSERT INTO filesystems (target_id, source_id, mount, device, fstype, size_bytes, used_bytes, avail_bytes) VALUES (?, 'lab', ?, ?, 'ext4', 107374182400, 32212254720, 75161927680)`,
    ),
    ep: c.prepare(`INSERT INTO ssh_endpoints (endpoint, target_id, pinned_fingerprint, pinned_key_type, pinned_at) VALUES (?, ?, ?, 'ssh-ed25519', ?)`),
  };
  c.transaction(() => {
    for (let t = 0; t < N; t++) {
      const id = `h-${t.toString(16).padStart(12, "0")}`;
      const addr = `10.${(t >> 16) & 255}.${(t >> 8) & 255}.${t & 255}`;
      ins.target.run(id, `host-${t}`, addr, now, now, now, 86400 + t, t % 10 === 0 ? "production" : "unassigned", JSON.stringify([`rack-${t % 40}`]));
      for (let s = 0; s < SVC; s++) {
        const [name, desc] = UNITS[(t + s) % UNITS.length];
        const unit = s < UNITS.length ? name : `app-${s}.service`;
        ins.svc.run(id, "lab", unit, desc, now);
        // 2% of targets are also seen by a second source: the snapshot merges them.
        if (t % 50 === 0) ins.svc.run(id, "lab-2", unit, desc, now);
      }
      for (let k = 0; k < CTR; k++) {
        const image = IMAGES[(t + k) % IMAGES.length];
        ins.ctr.run(
          id,
          `stack${k % 3}-app${k}-1`,
          hex(32),
          image,
          `stack${k % 3}`,
          `app${k}`,
          `sha256:${createHash("sha256").update(image).digest("hex")}`,
          now,
        );
      }
      for (const [p, proc] of [
        [22, "sshd"],
        [80, "nginx"],
        [443, "nginx"],
        [5432, "postgres"],
        [9100, "node_exporter"],
        [8080, "docker-proxy"],
      ]) {
        ins.port.run(id, "tcp", "0.0.0.0", p, proc, 1000 + p, now);
      }
      for (const ifname of ["lo", "eth0", "docker0"]) {
        ins.iface.run(id, ifname, ifname === "lo" ? null : `02:00:${hex(4).match(/../g).join(":")}`);
        ins.addr.run(id, ifname, ifname === "lo" ? "127.0.0.1" : ifname === "eth0" ? addr : "172.17.0.1");
      }
      for (const m of ["/", "/boot", "/var/lib/docker"]) ins.fs.run(id, m, `/dev/sda${m.length}`);
      ins.ep.run(`ssh:${addr}:22`, id, `SHA256:${randomBytes(32).toString("base64").replace(/=+$/, "")}`, now);
    }
  })();
}

function change(db) {
  const c = db.$client;
  c.transaction(() => {
    // Volatile only: every uptime moves, container status texts move.
    c.prepare(`UPDATE targets SET uptime_seconds = uptime_seconds + 3600, mem_available_bytes = mem_available_bytes - 1024`).run();
    c.prepare(`UPDATE containers SET status = 'Up 4 hours'`).run();
    // Real changes: 1% of services fail, 500 images change, 100 targets leave, 1 new port on 1,000 hosts.
    c.prepare(`UPDATE services SET active_state = 'failed', sub_state = 'failed' WHERE rowid % 100 = 0`).run();
    c.prepare(`UPDATE containers SET image = 'nginx:1.28' WHERE rowid % 600 = 0`).run();
    c.prepare(`DELETE FROM targets WHERE id IN (SELECT id FROM targets ORDER BY id DESC LIMIT 100)`).run();
    c.prepare(
      `INSERT INTO ports (target_id, source_id, protocol, address, port, process, pid, first_observed_at) SELECT id, 'lab', 'tcp', '0.0.0.0', 6379, 'redis-server', 4242, 'x' FROM targets WHERE rowid % 10 = 1`,
    ).run();
  })();
}

const ms = (t0) => Math.round(performance.now() - t0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Wall time, and CPU time beside it: on a shared machine the CPU time is what
// the same work costs when it has a core to itself.
const cpuTimes = {};
function time(fn, label) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  if (label) (cpuTimes[label] ??= []).push(Math.round((c.user + c.system) / 1000));
  return { value, ms: ms(t0) };
}

const dir = mkdtempSync(join(tmpdir(), "fleet-snap-bench-"));
const db = openDb(join(dir, "fleet.db"));
try {
  const tFill = time(() => fill(db));
  const counts = db.$client
    .prepare(`SELECT (SELECT count(*) FROM targets) t, (SELECT count(*) FROM services) s, (SELECT count(*) FROM containers) c, (SELECT count(*) FROM ports) p`)
    .get();
  console.error(`filled in ${tFill.ms} ms: ${JSON.stringify(counts)}`);

  const captures = [];
  const encodes = [];
  const takes = [];
  let doc;
  for (let i = 0; i < REPEAT; i++) {
    const c = time(() => snap.captureInventory(db, new Date()), "capture");
    doc = c.value;
    captures.push(c.ms);
    encodes.push(time(() => snap.encodeDocument(doc), "encode").ms);
    takes.push(time(() => snap.takeSnapshot(db, { type: "manual", name: `before-${i}`, now: new Date(Date.UTC(2026, 10, 23, 10, i)) }), "create_snapshot").ms);
  }
  const before = snap.findSnapshot(db, "before-0");
  change(db);
  const after = time(() => snap.takeSnapshot(db, { type: "manual", name: "after", now: new Date(Date.UTC(2026, 10, 23, 11)) }));

  const loads = [];
  const diffs = [];
  const tool = [];
  let d;
  for (let i = 0; i < REPEAT; i++) {
    const l = time(() => [snap.loadSnapshotDocument(db, before.id), snap.loadSnapshotDocument(db, after.value.id)], "load_two");
    loads.push(l.ms);
    const df = time(() => diffDocuments(l.value[0], l.value[1], { includeVolatile: false }), "diff");
    diffs.push(df.ms);
    d = df.value;
    const app = { db, now: () => new Date() };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await compareSnapshots.handler(
      { a: String(before.id), b: "after", include_volatile: false, detail: "brief", limit: 200 },
      { app, signal: new AbortController().signal, correlationId: "bench", progress() {} },
    );
    tool.push(ms(t0));
    const c = process.cpuUsage(c0);
    (cpuTimes.compare_snapshots_tool ??= []).push(Math.round((c.user + c.system) / 1000));
  }
  const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
  const result = {
    targets: counts.t,
    services_containers: counts.s + counts.c,
    snapshot_bytes: after.value.sizeBytes,
    entity_count: after.value.entityCount,
    capture_ms: median(captures),
    encode_ms: median(encodes),
    create_snapshot_ms: median(takes),
    load_two_ms: median(loads),
    diff_ms: median(diffs),
    compare_snapshots_tool_ms: median(tool),
    changes: d.total,
    counts: d.counts,
    critical: d.critical.length,
    cpu_ms_median: Object.fromEntries(Object.entries(cpuTimes).map(([k, v]) => [k, median(v)])),
    first_compare_tool_ms: tool[0],
    peak_rss_mib: rss,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  closeDb(db);
  if (!opt.keep) rmSync(dir, { recursive: true, force: true });
}
