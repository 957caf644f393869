#!/usr/bin/env node
// search_fleet benchmark: a generated 10,000-target fleet with 300,000 services
// and containers, written through openDb() (real migrations, so the real FTS
// triggers) into a file database, then each typical query run --runs times.
//
//   npm run build && node bench/search-bench.mjs [--targets 10000] [--runs 200] [--cache-mib 64] [--keep]
//
// 1. Ingest: the same rows inserted raw in one transaction into two fresh
//    databases, one with the search triggers and one with them dropped, to show
//    what keeping the index costs a first discovery. Then the per-run bookkeeping
//    update (last_attempt_at of every target) and a 5 % state churn, which must
//    not touch the index.
// 2. Search: searchFleet() p50/p95 (wall and CPU) per query over the indexed
//    database, and listServices() for comparison. Words matching more than
//    RANK_LIMIT entities of a type take the unranked path (docs/search.md).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { closeDb, openDb } from "../dist/db/open.js";
import { searchFleet } from "../dist/inventory/search.js";
import { listServices } from "../dist/inventory/services-list.js";

const { values: args } = parseArgs({
  options: {
    targets: { type: "string", default: "10000" },
    "services-per": { type: "string", default: "20" },
    "containers-per": { type: "string", default: "10" },
    runs: { type: "string", default: "200" },
    keep: { type: "boolean", default: false },
    "cache-mib": { type: "string" },
  },
});
const N = Number(args.targets);
const SVC = Number(args["services-per"]);
const CTR = Number(args["containers-per"]);
const RUNS = Number(args.runs);
// openDb() leaves SQLite's default page cache (2 MiB); --cache-mib measures a larger one.
const CACHE_MIB = args["cache-mib"] === undefined ? null : Number(args["cache-mib"]);
const log = (m) => process.stderr.write(`[search-bench] ${m}\n`);

// ------------------------------------------------------------------ generator

// A deterministic PRNG, so every run measures the same fleet.
let seed = 0x9e3779b9;
function rnd() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
const pick = (arr) => arr[Math.floor(rnd() * arr.length)];

const SERVICES = [
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
  ["getty@tty1.service", "Getty on tty1"],
  ["unattended-upgrades.service", "Unattended Upgrades Shutdown"],
  ["networking.service", "Raise network interfaces"],
  ["polkit.service", "Authorization Manager"],
  ["chrony.service", "chrony, an NTP client/server"],
  ["postfix.service", "Postfix Mail Transport Agent"],
  ["containerd.service", "containerd container runtime"],
  ["docker.service", "Docker Application Container Engine"],
  ["node-exporter.service", "Prometheus exporter for machine metrics"],
  ["fail2ban.service", "Fail2Ban Service"],
  ["qemu-guest-agent.service", "QEMU Guest Agent"],
  ["zfs-zed.service", "ZFS Event Daemon (zed)"],
  ["smartmontools.service", "Self Monitoring and Reporting Technology (SMART) Daemon"],
  ["snapd.service", "Snap Daemon"],
  ["apparmor.service", "Load AppArmor profiles"],
];
const APP_SERVICES = [
  ["nginx.service", "A high performance web server and a reverse proxy server"],
  ["apache2.service", "The Apache HTTP Server"],
  ["postgresql@15-main.service", "PostgreSQL Cluster 15-main"],
  ["mariadb.service", "MariaDB 10.11.6 database server"],
  ["redis-server.service", "Advanced key-value store"],
  ["haproxy.service", "HAProxy Load Balancer"],
  ["grafana-server.service", "Grafana instance"],
  ["prometheus.service", "Monitoring system and time series database"],
  ["elasticsearch.service", "Elasticsearch"],
  ["rabbitmq-server.service", "RabbitMQ broker"],
  ["pveproxy.service", "PVE API Proxy Server"],
  ["pvedaemon.service", "PVE API Daemon"],
  ["corosync.service", "Corosync Cluster Engine"],
  ["wireguard@wg0.service", "WireGuard via wg-quick(8) for wg0"],
  ["tailscaled.service", "Tailscale node agent"],
  ["gitlab-runner.service", "GitLab Runner"],
  ["jenkins.service", "Jenkins Continuous Integration Server"],
  ["keycloak.service", "Keycloak identity and access management"],
  ["minio.service", "MinIO object storage"],
  ["vault.service", "HashiCorp Vault - A tool for managing secrets"],
];
// Images; nginx is on roughly one target in five, a common word.
const IMAGES = [
  "nginx:1.25-alpine",
  "nginx:1.27",
  "postgres:16",
  "redis:7-alpine",
  "grafana/grafana:10.4.2",
  "prom/prometheus:v2.51.0",
  "prom/node-exporter:v1.7.0",
  "traefik:v3.0",
  "ghcr.io/home-assistant/home-assistant:stable",
  "mariadb:11",
  "rabbitmq:3-management",
  "minio/minio:latest",
  "portainer/portainer-ce:2.20.2",
  "jellyfin/jellyfin:10.9.0",
  "vaultwarden/server:1.30.5",
  "gitea/gitea:1.21",
  "registry:2",
  "memcached:1.6",
  "elasticsearch:8.13.0",
  "kibana:8.13.0",
  "containrrr/watchtower",
  "louislam/uptime-kuma:1",
  "nextcloud:28-apache",
  "mongo:7",
];
const APPS = ["shop", "blog", "crm", "auth", "api", "billing", "wiki", "chat", "media", "metrics", "search", "mail", "git", "ci", "vpn"];
const ROLES = ["production", "production", "production", "staging", "staging", "development", "testing", "lab", "monitoring", "gateway", "unassigned"];
const OSES = [
  ["debian", "Debian GNU/Linux 12 (bookworm)"],
  ["debian", "Debian GNU/Linux 11 (bullseye)"],
  ["ubuntu", "Ubuntu 22.04.4 LTS"],
  ["ubuntu", "Ubuntu 24.04 LTS"],
  ["alpine", "Alpine Linux v3.19"],
  ["rocky", "Rocky Linux 9.3 (Blue Onyx)"],
];
const TAGS = ["web", "db", "edge", "backup", "k8s", "iot", "eu", "us", "critical", "legacy"];

function* generate() {
  const nodes = Math.max(1, Math.round(N / 100));
  const at = "2026-11-20T10:00:00.000Z";
  for (let i = 0; i < N; i++) {
    const isNode = i < nodes;
    const kind = isNode ? "proxmox_node" : rnd() < 0.6 ? "lxc" : rnd() < 0.7 ? "vm" : "host";
    const app = pick(APPS);
    const name = isNode ? `pve${i + 1}` : `${app}-${kind === "lxc" ? "ct" : kind === "vm" ? "vm" : "srv"}-${String(i).padStart(5, "0")}`;
    const [osId, osName] = isNode ? OSES[0] : pick(OSES);
    const id = `${kind === "host" ? "h" : kind === "proxmox_node" ? "n" : kind === "lxc" ? "c" : "v"}-${i.toString(16).padStart(12, "0")}`;
    const tags = [...new Set([pick(TAGS), pick(TAGS)])].sort();
    const target = {
      id,
      kind,
      name,
      parent_id: isNode
        ? null
        : `n-${Math.floor(rnd() * nodes)
            .toString(16)
            .padStart(12, "0")}`,
      lifecycle: rnd() < 0.02 ? "retired" : rnd() < 0.05 ? "unreachable" : "active",
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      first_seen_at: at,
      last_seen_at: at,
      last_attempt_at: at,
      os_id: osId,
      os_name: osName,
      role: pick(ROLES),
      tags: JSON.stringify(tags),
    };
    const services = [];
    const base = [...SERVICES].sort(() => rnd() - 0.5).slice(0, SVC - 3);
    const apps = [...APP_SERVICES].sort(() => rnd() - 0.5).slice(0, 3);
    if (rnd() < 0.12 && !apps.some(([n]) => n === "nginx.service")) apps[0] = APP_SERVICES[0];
    for (const [sname, desc] of [...base, ...apps]) {
      const failed = rnd() < 0.01;
      services.push({
        name: sname,
        description: desc,
        load_state: "loaded",
        active_state: failed ? "failed" : "active",
        sub_state: failed ? "failed" : "running",
        enabled: "enabled",
      });
    }
    const containers = [];
    const stackName = `${app}-stack`;
    for (let c = 0; c < CTR; c++) {
      const image = c === 0 && rnd() < 0.2 ? IMAGES[rnd() < 0.5 ? 0 : 1] : pick(IMAGES.slice(2));
      const short = image.split(/[/:]/).slice(-2, -1)[0] ?? image;
      const state = rnd() < 0.03 ? "exited" : rnd() < 0.005 ? "restarting" : "running";
      containers.push({
        name: `${app}-${short}-${c + 1}`,
        container_id: `${i.toString(16)}${c.toString(16)}`.padEnd(64, "a"),
        image,
        state,
        status: state === "running" ? "Up 3 days" : "Exited (1) 2 hours ago",
        ports: c === 0 ? "0.0.0.0:443->443/tcp" : null,
        labels: "{}",
        compose_project: c < CTR / 2 ? stackName : null,
        compose_service: c < CTR / 2 ? short : null,
      });
    }
    const stacks = [{ name: stackName, status: "running(5)", config_files: JSON.stringify([`/opt/${app}/docker-compose.yml`]) }];
    const ports = [
      { protocol: "tcp", address: "0.0.0.0", port: 22, process: "sshd" },
      { protocol: "tcp", address: "127.0.0.1", port: 25, process: "master" },
      { protocol: "udp", address: "0.0.0.0", port: 123, process: "chronyd" },
    ];
    if (containers[0].image.startsWith("nginx") || rnd() < 0.3) ports.push({ protocol: "tcp", address: "0.0.0.0", port: 443, process: "nginx" });
    if (rnd() < 0.2) ports.push({ protocol: "tcp", address: "0.0.0.0", port: 5432, process: "postgres" });
    yield { target, services, containers, stacks, ports };
  }
}

// ------------------------------------------------------------------ ingest

const SEARCH_TRIGGERS = /_search_(ai|ad|au)$/;

function fill(path, { withTriggers }) {
  const db = openDb(path);
  const c = db.$client;
  if (!withTriggers) {
    for (const { name } of c.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()) {
      if (SEARCH_TRIGGERS.test(name)) c.exec(`DROP TRIGGER "${name}"`);
    }
  }
  const at = "2026-11-20T10:00:00.000Z";
  const insT = c.prepare(
    `INSERT INTO targets (id, kind, name, parent_id, lifecycle, address, first_seen_at, last_seen_at, last_attempt_at, os_id, os_name, role, tags)
     VALUES (@id, @kind, @name, @parent_id, @lifecycle, @address, @first_seen_at, @last_seen_at, @last_attempt_at, @os_id, @os_name, @role, @tags)`,
  );
  const insS = c.prepare(
    `INSERT INTO services (target_id, source_id, name, description, load_state, active_state, sub_state, enabled, first_observed_at)
     VALUES (?, 'fleet', @name, @description, @load_state, @active_state, @sub_state, @enabled, '${at}')`,
  );
  const insC = c.prepare(
    `INSERT INTO containers (target_id, source_id, name, container_id, image, state, status, ports, labels, compose_project, compose_service, first_observed_at)
     VALUES (?, 'fleet', @name, @container_id, @image, @state, @status, @ports, @labels, @compose_project, @compose_service, '${at}')`,
  );
  const insK = c.prepare(
    `INSERT INTO stacks (target_id, source_id, name, status, config_files, first_observed_at) VALUES (?, 'fleet', @name, @status, @config_files, '${at}')`,
  );
  const insP = c.prepare(
    `INSERT INTO ports (target_id, source_id, protocol, address, port, process, first_observed_at) VALUES (?, 'fleet', @protocol, @address, @port, @process, '${at}')`,
  );
  seed = 0x9e3779b9;
  const rows = [...generate()];
  const counts = { targets: 0, services: 0, containers: 0, stacks: 0, ports: 0 };
  const t0 = performance.now();
  c.transaction(() => {
    for (const r of rows) {
      insT.run(r.target);
      for (const s of r.services) insS.run(r.target.id, s);
      for (const x of r.containers) insC.run(r.target.id, x);
      for (const k of r.stacks) insK.run(r.target.id, k);
      for (const p of r.ports) insP.run(r.target.id, p);
      counts.targets++;
      counts.services += r.services.length;
      counts.containers += r.containers.length;
      counts.stacks += r.stacks.length;
      counts.ports += r.ports.length;
    }
  })();
  const insertMs = performance.now() - t0;
  // A discovery run flushes the noted changes into the index when it finishes, in
  // its transaction; raw inserts flush explicitly, also in one transaction.
  const tf = performance.now();
  if (withTriggers) c.transaction(() => c.prepare("INSERT INTO search_index_flush(id) VALUES (NULL)").run())();
  const flushMs = performance.now() - tf;
  // Every run updates every target's bookkeeping: must not touch the index.
  const t1 = performance.now();
  c.prepare("UPDATE targets SET last_attempt_at = ?, uptime_seconds = 1234").run("2026-11-21T10:00:00.000Z");
  const bookkeepingMs = performance.now() - t1;
  // A later run: 5 % of services change state (not indexed), 1 % of containers get a new image (indexed).
  const t2 = performance.now();
  c.transaction(() => {
    c.prepare("UPDATE services SET active_state = 'inactive', sub_state = 'dead' WHERE rowid % 20 = 0").run();
    c.prepare("UPDATE containers SET image = image || '-new' WHERE rowid % 100 = 0").run();
    if (withTriggers) c.prepare("INSERT INTO search_index_flush(id) VALUES (NULL)").run();
  })();
  const churnMs = performance.now() - t2;
  c.pragma("wal_checkpoint(TRUNCATE)");
  return { db, counts, insertMs, flushMs, bookkeepingMs, churnMs };
}

function dbBytes(path) {
  let n = 0;
  for (const f of [path, `${path}-wal`]) {
    try {
      n += statSync(f).size;
    } catch {
      // absent
    }
  }
  return n;
}

function ftsBytes(db) {
  try {
    const r = db.$client.prepare("SELECT sum(pgsize) AS n FROM dbstat WHERE name LIKE '%\\_fts%' ESCAPE '\\'").get();
    return r.n;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ main

const dir = mkdtempSync(join(tmpdir(), "fleet-search-bench-"));
const mb = (b) => (b === null ? "n/a" : `${(b / 2 ** 20).toFixed(1)} MB`);
try {
  log(`generating and inserting ${N} targets (${SVC} services, ${CTR} containers each) without the search triggers`);
  const plain = fill(join(dir, "plain.db"), { withTriggers: false });
  const plainBytes = dbBytes(join(dir, "plain.db"));
  closeDb(plain.db);
  log("the same with the search triggers");
  const indexed = fill(join(dir, "indexed.db"), { withTriggers: true });
  const indexedBytes = dbBytes(join(dir, "indexed.db"));
  const db = indexed.db;
  const c = indexed.counts;
  console.log(`\n## search_fleet benchmark\n`);
  console.log(
    `fleet: ${c.targets} targets, ${c.services} services, ${c.containers} containers (${c.services + c.containers} together), ${c.stacks} stacks, ${c.ports} ports; SQLite ${db.$client.prepare("SELECT sqlite_version() AS v").get().v}\n`,
  );
  console.log(`| ingest (one transaction, raw inserts) | without search triggers | with search triggers |`);
  console.log(`| --- | ---: | ---: |`);
  console.log(`| insert all rows | ${plain.insertMs.toFixed(0)} ms | ${indexed.insertMs.toFixed(0)} ms |`);
  console.log(`| flush the noted rows into the index | – | ${indexed.flushMs.toFixed(0)} ms |`);
  console.log(`| **total** | **${plain.insertMs.toFixed(0)} ms** | **${(indexed.insertMs + indexed.flushMs).toFixed(0)} ms** |`);
  console.log(`| bookkeeping update of every target | ${plain.bookkeepingMs.toFixed(0)} ms | ${indexed.bookkeepingMs.toFixed(0)} ms |`);
  console.log(`| churn: 5 % service states, 1 % images (+ flush) | ${plain.churnMs.toFixed(0)} ms | ${indexed.churnMs.toFixed(0)} ms |`);
  console.log(`| database size | ${mb(plainBytes)} | ${mb(indexedBytes)} (FTS tables ${mb(ftsBytes(db))}) |\n`);

  const searches = [
    ["common word", { query: "nginx" }],
    ["rare word", { query: "keycloak" }],
    ["prefix", { query: "postg" }],
    ["two words", { query: "grafana instance" }],
    ["very common word", { query: "service" }],
    ["two common words", { query: "daemon service" }],
    ["filter only: port", { query: "port:443" }],
    ["filter only: role", { query: "role:production" }],
    ["filter only: state", { query: "state:failed" }],
    ["filter only: image", { query: "image:nginx" }],
    ["word + target filter", { query: "nginx role:production" }],
    ["word + entity filter", { query: "postgres state:failed" }],
    ["common word + indexed filter", { query: "nginx state:inactive" }],
    ["common word + filter no match passes", { query: "nginx image:keycloak" }],
    ["word + os + type", { query: "redis os:alpine type:container" }],
    ["node filter", { query: "node:pve7 type:container" }],
    ["page 3 of common word", { query: "nginx", pages: 3 }],
    ["page 40 of very common word", { query: "service", pages: 40 }],
  ].map(([label, q]) => ({
    label: `search \`${q.query}\` (${label}${q.pages ? `, ${q.pages} pages` : ""})`,
    run() {
      let cursor = null;
      let out;
      for (let p = 0; p < (q.pages ?? 1); p++) {
        out = searchFleet(db, { query: q.query, limit: 25, cursor });
        cursor = out.nextCursor;
      }
      return out;
    },
  }));
  const lists = [
    ["docker, first page", { runtime: "docker", limit: 25 }],
    ["systemd state=failed", { runtime: "systemd", state: "failed", limit: 25 }],
    ["all runtimes", { runtime: "all", limit: 25 }],
  ].map(([label, q]) => ({ label: `list_services ${label}`, run: () => listServices(db, q) }));

  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const measure = ({ label, run }) => {
    const first = run();
    for (let i = 0; i < 5; i++) run();
    const wall = [];
    const cpu = [];
    for (let i = 0; i < RUNS; i++) {
      const c0 = cpuMs();
      const t = performance.now();
      run();
      wall.push(performance.now() - t);
      cpu.push(cpuMs() - c0);
    }
    const q = (arr, x) => [...arr].sort((a, b) => a - b)[Math.min(arr.length - 1, Math.floor(x * arr.length))];
    const total = `${first.totalIsLowerBound ? "≥ " : ""}${first.total}`;
    console.log(`| ${label} | ${total} | ${q(wall, 0.5).toFixed(2)} | ${q(wall, 0.95).toFixed(2)} | ${q(cpu, 0.5).toFixed(2)} | ${q(cpu, 0.95).toFixed(2)} |`);
  };
  const header = () => {
    console.log(`| query | matches | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms |`);
    console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  };
  if (CACHE_MIB !== null) db.$client.pragma(`cache_size = -${CACHE_MIB * 1024}`);
  console.log(
    `page cache: ${CACHE_MIB === null ? `as openDb() sets it (${-db.$client.pragma("cache_size", { simple: true }) / 1024} MiB)` : `${CACHE_MIB} MiB`}\n`,
  );
  header();
  for (const m of [...searches, ...lists]) measure(m);
  console.log(
    `\n${RUNS} runs per query after 5 warm-up runs; limit 25; node ${process.version}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}.`,
  );
  closeDb(db);
} finally {
  if (args.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
