#!/usr/bin/env node
// Inventory at scale: a generated fleet of --targets targets (default 10,000)
// with --per-target services+containers each (default 30: 300,000 in all),
// written through the real ingest (finishRun) into a file database, then the
// read side measured on it. Run on dist/ (npm run build first); `node
// bench/run.mjs --only inventory` runs it as a child and reports its peak RSS.
//
//   node bench/inventory.mjs [--targets 10000] [--per-target 30] [--queries 200] [--json FILE] [--keep]
//
// Steps: (1) first discovery into an empty database; (2) a second discovery of
// the same fleet in which 2 % of the targets changed (a service stopped, an image
// bumped, a port opened) — the steady state; (3) get_fleet_overview's query;
// (4) search_fleet queries, p50/p95; (5) snapshots of the two states and their
// comparison; database size and peak RSS.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = (p) => import(pathToFileURL(join(ROOT, "dist", p)).href);

const { values: args } = parseArgs({
  options: {
    targets: { type: "string", default: "10000" },
    "per-target": { type: "string", default: "30" },
    queries: { type: "string", default: "200" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(args.targets);
const PER = Number(args["per-target"]);
const Q = Number(args.queries);

const { openDb, closeDb } = await dist("db/open.js");
const { startRun, finishRun } = await dist("inventory/store.js");
const { getOverview } = await dist("inventory/queries.js");
const { HealthThresholdsSchema } = await dist("config.js");
// What a configured server re-applies after every run's writes: role rules and health.
const ROLE_RULES = [
  { role: "production", name: "web-*" },
  { role: "production", name: "db-*" },
  { role: "monitoring", name: "mon-*" },
  { role: "gateway", name: "gw-*" },
  { role: "lab", tag: "backup" },
];
const HEALTH = HealthThresholdsSchema.parse({});

// Deterministic: the same fleet every run.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = (a) => a[Math.floor(rand() * a.length)];

const UNITS = [
  "nginx",
  "postgresql",
  "redis-server",
  "ssh",
  "cron",
  "rsyslog",
  "node-exporter",
  "docker",
  "containerd",
  "systemd-journald",
  "systemd-logind",
  "dbus",
  "chrony",
  "unattended-upgrades",
  "fail2ban",
  "haproxy",
  "keepalived",
  "prometheus",
  "grafana-server",
  "zabbix-agent",
  "postfix",
  "named",
  "smbd",
  "nfs-server",
  "libvirtd",
  "snapd",
  "polkit",
  "udisks2",
  "apparmor",
  "auditd",
];
const IMAGES = [
  "nginx:1.27",
  "postgres:16",
  "redis:7",
  "traefik:v3.1",
  "grafana/grafana:11.2.0",
  "prom/prometheus:v2.54.1",
  "ghcr.io/acme/api:2.3.1",
  "ghcr.io/acme/worker:2.3.1",
  "minio/minio:RELEASE.2024-09-13",
  "vaultwarden/server:1.32.0",
  "jellyfin/jellyfin:10.9.11",
  "homeassistant/home-assistant:2024.9",
];
const ROLES_BY_PREFIX = ["web", "db", "cache", "app", "mon", "gw", "lab", "ci"];
const OS = [
  ["debian", "12", "Debian GNU/Linux 12 (bookworm)"],
  ["ubuntu", "24.04", "Ubuntu 24.04.1 LTS"],
  ["alpine", "3.20.3", "Alpine Linux v3.20"],
  ["rocky", "9.4", "Rocky Linux 9.4 (Blue Onyx)"],
];

function makeHost(i) {
  const prefix = ROLES_BY_PREFIX[i % ROLES_BY_PREFIX.length];
  const name = `${prefix}-${String(i).padStart(5, "0")}`;
  const [osId, osVer, osName] = OS[i % OS.length];
  const nSvc = Math.floor(PER / 2);
  const nCtr = PER - nSvc;
  const services = [];
  for (let k = 0; k < nSvc; k++) {
    const u = `${UNITS[(i + k) % UNITS.length]}${k >= UNITS.length ? `-${k}` : ""}.service`;
    services.push({
      name: u,
      description: `${u.replace(".service", "")} daemon`,
      load: "loaded",
      active: k % 11 === 5 ? "inactive" : "active",
      sub: k % 11 === 5 ? "dead" : "running",
      enabled: "enabled",
    });
  }
  const containers = [];
  for (let k = 0; k < nCtr; k++) {
    const image = IMAGES[(i * 7 + k) % IMAGES.length];
    const svc = image.split("/").pop().split(":")[0];
    containers.push({
      id: `${i.toString(16).padStart(8, "0")}${k.toString(16).padStart(4, "0")}`.padEnd(64, "a"),
      name: `${prefix}-${svc}-${k}`,
      image,
      state: "running",
      status: `Up ${1 + (i % 30)} days`,
      ports: k % 3 === 0 ? `0.0.0.0:${8000 + k}->80/tcp` : null,
      labels: { "com.docker.compose.project": `${prefix}stack`, "com.docker.compose.service": svc },
      composeProject: `${prefix}stack`,
      composeService: svc,
      createdAt: "2026-10-01 10:00:00 +0000 UTC",
      imageId: `sha256:${(i * 31 + k).toString(16).padStart(64, "0")}`,
      restartCount: 0,
      health: k % 4 === 0 ? "healthy" : null,
      exitCode: 0,
      privileged: false,
      networkMode: "bridge",
    });
  }
  const facts = {
    "os.id": osId,
    "os.version_id": osVer,
    "os.pretty_name": osName,
    "os.codename": null,
    "kernel.name": "Linux",
    "kernel.release": "6.1.0-25-amd64",
    arch: "x86_64",
    "cpu.count": 2 + (i % 4) * 2,
    "cpu.model": "AMD EPYC 7543P 32-Core Processor",
    "load.1m": rand() * 2,
    "load.5m": rand() * 2,
    "load.15m": rand() * 2,
    "memory.total_bytes": 8 * 2 ** 30,
    "memory.available_bytes": Math.floor(rand() * 6 * 2 ** 30),
    "swap.total_bytes": 2 ** 30,
    "swap.free_bytes": 2 ** 30,
    "disk.total_bytes": 100 * 2 ** 30,
    "disk.used_bytes": Math.floor(rand() * 80 * 2 ** 30),
    uptime_seconds: 86400 * (1 + (i % 30)),
    "systemd.status": "running",
    "docker.status": "ok",
    "compose.status": "ok",
    "ssh.endpoint": `root@10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:22`,
    tags: i % 5 === 0 ? "critical,backup" : null,
    "sshd.permit_root_login": "prohibit-password",
    "sshd.password_authentication": "no",
    "updates.pending": i % 17,
  };
  const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    kind: "host",
    identity: [`machine-id:${i.toString(16).padStart(32, "0")}`],
    name,
    address,
    status: "ok",
    sections: { os: { status: "ok", exitCode: 0 }, systemd: { status: "ok", exitCode: 0 }, docker: { status: "ok", exitCode: 0 } },
    facts,
    services,
    containers,
    stacks: [{ name: `${prefix}stack`, status: `running(${nCtr})`, configFiles: [`/srv/${prefix}stack/compose.yaml`] }],
    ports: [
      { protocol: "tcp", address: "0.0.0.0", port: 22, process: "sshd", pid: 1000 + i },
      { protocol: "tcp", address: "0.0.0.0", port: 9100, process: "node_exporter", pid: 2000 + i },
      ...(prefix === "web" ? [{ protocol: "tcp", address: "0.0.0.0", port: 443, process: "nginx", pid: 3000 + i }] : []),
      ...(prefix === "db" ? [{ protocol: "tcp", address: "127.0.0.1", port: 5432, process: "postgres", pid: 4000 + i }] : []),
    ],
    interfaces: [
      { name: "lo", mac: null, mtu: 65536, state: "UNKNOWN", master: null, addresses: [{ family: "inet", address: "127.0.0.1", prefixlen: 8, scope: "host" }] },
      {
        name: "eth0",
        mac: `02:00:00:${(i >> 16) & 255}:${(i >> 8) & 255}:${i & 255}`,
        mtu: 1500,
        state: "UP",
        master: null,
        addresses: [{ family: "inet", address, prefixlen: 16, scope: "global" }],
      },
      {
        name: "docker0",
        mac: "02:42:ac:11:00:01",
        mtu: 1500,
        state: "UP",
        master: null,
        addresses: [{ family: "inet", address: "172.17.0.1", prefixlen: 16, scope: "global" }],
      },
    ],
    filesystems: [
      { source: "/dev/sda1", fstype: "ext4", sizeBytes: 50 * 2 ** 30, usedBytes: Math.floor(rand() * 45 * 2 ** 30), availBytes: 5 * 2 ** 30, mount: "/" },
      {
        source: "/dev/sdb1",
        fstype: "xfs",
        sizeBytes: 200 * 2 ** 30,
        usedBytes: Math.floor(rand() * 150 * 2 ** 30),
        availBytes: 50 * 2 ** 30,
        mount: "/var/lib/docker",
      },
    ],
    durationMs: 800,
  };
}

/** 2 % of the targets change between the runs: a unit stops, an image is bumped, a port opens. */
function mutate(h, i) {
  if (i % 50 !== 0) return h;
  return {
    ...h,
    services: h.services.map((s, k) => (k === 0 ? { ...s, active: "failed", sub: "failed" } : s)),
    containers: h.containers.map((c, k) => (k === 0 ? { ...c, image: c.image.replace(/:.*/, ":next"), imageId: "sha256:" + "f".repeat(64) } : c)),
    ports: [...h.ports, { protocol: "tcp", address: "0.0.0.0", port: 8443, process: "caddy", pid: 5000 + i }],
  };
}

function sourceResult(hosts, at) {
  return [
    {
      sourceId: "fleet",
      kind: "ssh",
      status: "ok",
      startedAt: at,
      finishedAt: at,
      targets: hosts.map((h) => ({ ...h, observedAt: at })),
      warnings: [],
    },
  ];
}

const mb = (b) => Math.round(b / 2 ** 20);
const ms = (t0) => Math.round(performance.now() - t0);
const log = (m) => process.stderr.write(`[inventory] ${m}\n`);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const dir = mkdtempSync(join(tmpdir(), "fleet-inv-bench-"));
const dbPath = join(dir, "fleet.db");
const db = openDb(dbPath);
const results = { targets: N, services_and_containers: N * PER };
try {
  let t0 = performance.now();
  const hosts = Array.from({ length: N }, (_, i) => makeHost(i));
  log(`generated ${N} targets in ${ms(t0)} ms`);

  const ingest = (list, at) => {
    const runId = startRun(db, { correlationId: `bench-${at.toISOString()}`, trigger: "cli", now: at, ownerPid: process.pid, ownerHost: "bench" });
    const t = performance.now();
    const out = finishRun(db, {
      runId,
      results: sourceResult(list, at),
      startedAt: at,
      now: at,
      cancelled: false,
      lifecycle: { staleAfterMs: 86400_000, retireAfterMs: null },
      roles: ROLE_RULES,
      health: HEALTH,
    });
    return { ms: ms(t), out };
  };

  const first = ingest(hosts, new Date("2026-11-23T10:00:00Z"));
  results.ingest_first_ms = first.ms;
  log(`first discovery ingest: ${first.ms} ms (${first.out.targetsSeen} targets)`);

  const changed = hosts.map(mutate);
  const second = ingest(changed, new Date("2026-11-23T11:00:00Z"));
  results.ingest_steady_ms = second.ms;
  const evts = db.$client.prepare("SELECT count(*) AS n FROM events WHERE run_id = ?").get(second.out.runId).n;
  results.events_second_run = evts;
  log(`second discovery ingest (2% changed): ${second.ms} ms, ${evts} events`);
  // maxRSS only grows: read at each phase's end, it is the peak up to there.
  results.peak_rss_after_ingest_mb = mb(process.resourceUsage().maxRSS * 1024);

  const overview = [];
  for (let k = 0; k < 20; k++) {
    t0 = performance.now();
    getOverview(db);
    overview.push(performance.now() - t0);
  }
  results.overview_ms = { p50: +pct(overview, 50).toFixed(1), p95: +pct(overview, 95).toFixed(1) };
  log(`get_fleet_overview query: p50 ${results.overview_ms.p50} ms, p95 ${results.overview_ms.p95} ms`);

  const search = await dist("inventory/search.js");
  {
    const queries = [
      "nginx",
      "postgres",
      "grafana",
      "port:443",
      "image:redis",
      "role:unassigned nginx",
      "state:failed",
      "os:alpine",
      "web-00042",
      "fail2ban daemon",
      "caddy",
    ];
    const per = {};
    const all = [];
    for (const q of queries) {
      const times = [];
      for (let k = 0; k < Math.max(1, Math.floor(Q / queries.length)); k++) {
        t0 = performance.now();
        search.searchFleet(db, { query: q, limit: 25 });
        times.push(performance.now() - t0);
      }
      per[q] = { p50: +pct(times, 50).toFixed(2), p95: +pct(times, 95).toFixed(2) };
      all.push(...times);
    }
    results.search_ms = { p50: +pct(all, 50).toFixed(2), p95: +pct(all, 95).toFixed(2), per_query: per };
    log(`search_fleet: p50 ${results.search_ms.p50} ms, p95 ${results.search_ms.p95} ms over ${all.length} queries`);
  }

  results.peak_rss_after_queries_mb = mb(process.resourceUsage().maxRSS * 1024);
  const snaps = await dist("inventory/snapshots.js");
  const { diffDocuments } = await dist("inventory/diff.js");
  t0 = performance.now();
  const a = snaps.takeSnapshot(db, { name: "bench-a", type: "manual", now: new Date("2026-11-23T11:30:00Z") });
  results.snapshot_create_ms = ms(t0);
  results.snapshot_bytes = a.sizeBytes;
  ingest(hosts, new Date("2026-11-23T12:00:00Z")); // back to the first state: the 2 % change the other way
  const b = snaps.takeSnapshot(db, { name: "bench-b", type: "manual", now: new Date("2026-11-23T12:30:00Z") });
  // What compare_snapshots does: load and decode both sides, then diff.
  t0 = performance.now();
  const diff = diffDocuments(snaps.loadSnapshotDocument(db, a.id), snaps.loadSnapshotDocument(db, b.id), { includeVolatile: false });
  results.compare_ms = ms(t0);
  results.compare_changes = diff.changes.length;
  log(
    `snapshot: create ${results.snapshot_create_ms} ms (${(results.snapshot_bytes / 2 ** 20).toFixed(1)} MB); compare ${results.compare_ms} ms, ${results.compare_changes} changes`,
  );

  results.db_bytes = statSync(dbPath).size + (statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  results.peak_rss_mb = mb(process.resourceUsage().maxRSS * 1024);
  log(`database ${mb(results.db_bytes)} MB; peak RSS ${results.peak_rss_mb} MB`);
} finally {
  closeDb(db);
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
