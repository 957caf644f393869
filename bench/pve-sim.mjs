#!/usr/bin/env node
// A minimal simulated Proxmox VE API (pveproxy) for the benchmark:
//
//   node bench/pve-sim.mjs [--nodes 10] [--guests 1000] [--latency-ms 2]
//                          [--no-agent-pct 10] [--auth-delay-ms 3000]
//
// HTTPS on 127.0.0.1 (an ephemeral port) with a self-signed RSA certificate made
// by the `openssl` CLI in a temp directory. It answers, under /api2/json/, only
// what fleet-mcp's proxmox discovery calls:
//
//   version, cluster/status, cluster/resources, nodes/<n>/status,
//   nodes/<n>/<lxc|qemu>/<vmid>/config, nodes/<n>/lxc/<vmid>/interfaces,
//   nodes/<n>/qemu/<vmid>/agent/network-get-interfaces
//
// with shapes built from test/fixtures/pve-* (see /work/shared/fixtures/FORMATS.md
// §1.1–1.4): `Content-Type: application/json;charset=UTF-8` exactly, `{"data":…}`,
// errors as status + reason phrase + `{"data":null,"message":"…\n"}` and
// `Connection: close`. Guests alternate lxc/qemu, 7 in 10 are running, spread
// round-robin over the nodes. --no-agent-pct of the running VMs have no guest
// agent running (500 "QEMU guest agent is not running"), as on real clusters.
//
// Auth: API token only, `Authorization: PVEAPIToken=bench@pve!bench=<secret>`
// (or a space instead of the first `=`). Anything else gets `401 No ticket` /
// `401 invalid token value!` with an empty body and no Content-Type, after
// --auth-delay-ms (pveproxy delays every 401 by 3 s).
//
// When listening it prints ONE JSON line on stdout:
//   {"ready":true,"port":…,"fingerprint":"AA:BB:…","token":"bench@pve!bench","secret":"<uuid>"}
// The fingerprint is the certificate's SHA-256 as Node's getPeerCertificate().fingerprint256
// shows it. Writing `stats\n` on stdin prints `{"stats":{…}}` (request counts by
// endpoint, TLS connections, this process's CPU and RSS). It exits on SIGTERM,
// SIGINT or when stdin closes, and removes its temp directory.
import { execFileSync } from "node:child_process";
import { randomUUID, X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const USAGE = "usage: node bench/pve-sim.mjs [--nodes 10] [--guests 1000] [--latency-ms 2] [--no-agent-pct 10] [--auth-delay-ms 3000]";
let opts;
try {
  opts = parseArgs({
    options: {
      nodes: { type: "string", default: "10" },
      guests: { type: "string", default: "1000" },
      "latency-ms": { type: "string", default: "2" },
      "no-agent-pct": { type: "string", default: "10" },
      "auth-delay-ms": { type: "string", default: "3000" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const int = (name, min, max) => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`--${name} must be a whole number from ${min} to ${max}\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
};
const NODES = int("nodes", 1, 64);
const GUESTS = int("guests", 0, 100_000);
const LATENCY_MS = int("latency-ms", 0, 60_000);
const NO_AGENT_PCT = int("no-agent-pct", 0, 100);
const AUTH_DELAY_MS = int("auth-delay-ms", 0, 10_000);

// ------------------------------------------------------------ certificate

const dir = mkdtempSync(join(tmpdir(), "pve-sim-"));
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanup);

const keyFile = join(dir, "pve-ssl.key");
const certFile = join(dir, "pve-ssl.pem");
try {
  // pveproxy's own pve-ssl.pem is RSA 2048, signed by the cluster CA; self-signed here.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=pve-bench",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 },
  );
} catch (err) {
  process.stderr.write(`pve-sim: openssl could not make a certificate: ${err.stderr?.toString().trim() || err.message}\n`);
  process.exit(1);
}
const key = readFileSync(keyFile);
const cert = readFileSync(certFile);
const fingerprint = new X509Certificate(cert).fingerprint256; // "AA:BB:…", upper case

// ------------------------------------------------------------ the cluster

const TOKEN_ID = "bench@pve!bench";
const SECRET = randomUUID();
const hex = (s, n) => createHash("sha1").update(s).digest("hex").slice(0, n);
const mac = (prefix, i) =>
  `${prefix}:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
const ip = (i) => {
  const n = i + 2; // 10.20.0.1 is the gateway
  return `10.${20 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
};

const nodeNames = Array.from({ length: NODES }, (_, i) => `pve${String(i + 1).padStart(2, "0")}`);
const GiB = 1024 ** 3;

/** One guest per index: alternating lxc/qemu, 7 in 10 running, round-robin over the nodes. */
const guests = Array.from({ length: GUESTS }, (_, i) => {
  const vmid = 100 + i;
  const type = i % 2 === 0 ? "lxc" : "qemu";
  const running = i % 10 < 7;
  const node = nodeNames[i % NODES];
  // Every 10th running VM has its agent configured but not running.
  const agent = type === "qemu" && running && (i * 7919) % 100 >= NO_AGENT_PCT;
  return {
    i,
    vmid,
    type,
    running,
    node,
    agent,
    name: `${type === "lxc" ? "ct" : "vm"}-${vmid}`,
    tags: i % 5 === 0 ? "bench;web" : i % 5 === 1 ? "bench" : undefined,
  };
});
const byKey = new Map(guests.map((g) => [`${g.node}/${g.type}/${g.vmid}`, g]));

function guestResource(g) {
  // pve-api-cluster-resources.4node.json, guest entries
  const maxmem = (g.type === "lxc" ? 2048 : 4096) * 1024 * 1024;
  return {
    id: `${g.type}/${g.vmid}`,
    type: g.type,
    vmid: g.vmid,
    name: g.name,
    node: g.node,
    status: g.running ? "running" : "stopped",
    template: 0,
    maxcpu: g.type === "lxc" ? 2 : 4,
    cpu: g.running ? 0.0249060195469461 : 0,
    maxmem,
    mem: g.running ? Math.floor(maxmem * 0.4) : 0,
    maxdisk: (g.type === "lxc" ? 30 : 160) * GiB,
    disk: g.running && g.type === "lxc" ? 2983723008 : 0,
    netin: g.running ? 2456116121 : 0,
    netout: g.running ? 545248946 : 0,
    diskread: g.running ? 4510777856 : 0,
    diskwrite: g.running ? 6059209728 : 0,
    uptime: g.running ? 874350 : 0,
    ...(g.tags ? { tags: g.tags } : {}),
  };
}

const nodeResource = (n, i) => ({
  id: `node/${n}`,
  type: "node",
  node: n,
  status: "online",
  level: "",
  "cgroup-mode": 2,
  maxcpu: 32,
  cpu: 0.0054917623564653,
  maxmem: 270_000_000_000 + i,
  mem: 81_278_730_240,
  maxdisk: 482713534464,
  disk: 2983723008,
  uptime: 872961 + i,
});
const storageResources = (n) => [
  {
    id: `storage/${n}/local`,
    type: "storage",
    storage: "local",
    node: n,
    status: "available",
    plugintype: "dir",
    shared: 0,
    content: "iso,vztmpl,backup",
    disk: 12836159488,
    maxdisk: 98_000_000_000,
  },
  {
    id: `storage/${n}/local-zfs`,
    type: "storage",
    storage: "local-zfs",
    node: n,
    status: "available",
    plugintype: "zfspool",
    shared: 0,
    content: "images,rootdir",
    disk: 98304,
    maxdisk: 479730032640,
  },
  {
    id: `storage/${n}/nfs-backup`,
    type: "storage",
    storage: "nfs-backup",
    node: n,
    status: "available",
    plugintype: "nfs",
    shared: 1,
    content: "backup",
    disk: 1_200_000_000_000,
    maxdisk: 8_000_000_000_000,
  },
];

// Precomputed bodies for the cluster-wide calls (pveproxy builds them per call; cost is ours to avoid).
const envelope = (data) => JSON.stringify({ data });
const VERSION = envelope({ release: "8.4", version: "8.4.14", repoid: "b502d23c55afcba1" });
const CLUSTER_STATUS = envelope([
  { type: "cluster", id: "cluster", name: "bench-cluster", version: NODES + 3, quorate: 1, nodes: NODES },
  ...nodeNames.map((n, i) => ({
    type: "node",
    id: `node/${n}`,
    name: n,
    nodeid: i + 1,
    ip: `192.168.100.${i + 1}`,
    online: 1,
    local: i === 0 ? 1 : 0,
    level: "",
  })),
]);
const CLUSTER_RESOURCES = envelope([...nodeNames.map(nodeResource), ...nodeNames.flatMap(storageResources), ...guests.map(guestResource)]);

const NODE_STATUS = JSON.parse(readFileSync(new URL("../test/fixtures/pvesh-node-status.pve8.json", import.meta.url), "utf8"));
const nodeStatus = (n, i) => envelope({ ...NODE_STATUS, uptime: NODE_STATUS.uptime + i, cpuinfo: { ...NODE_STATUS.cpuinfo, cpus: 32, cores: 16, sockets: 1 } });

function lxcConfig(g) {
  // pve-api-lxc-config.json
  return {
    arch: "amd64",
    cores: 2,
    digest: hex(`cfg-${g.vmid}`, 40),
    features: "fuse=1,mknod=1,nesting=1",
    hostname: g.name,
    ...(g.i % 20 === 0
      ? {
          lxc: [
            ["lxc.cgroup2.devices.allow", "c 226:0 rwm"],
            ["lxc.mount.entry", "/dev/dri dev/dri none bind,optional,create=dir"],
          ],
        }
      : {}),
    memory: 2048,
    ...(g.i % 4 === 0 ? { mp0: `/mnt/data/${g.vmid},mp=/storage` } : {}),
    net0: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=${mac("BC:24:11", g.i).toUpperCase()},ip=${ip(g.i)}/16,gw=10.20.0.1,type=veth`,
    onboot: 1,
    ostype: "debian",
    rootfs: `local-zfs:subvol-${g.vmid}-disk-0,size=30G`,
    swap: 512,
    ...(g.tags ? { tags: g.tags } : {}),
  };
}

function qemuConfig(g) {
  // pve-api-qemu-config.pve9.data-only.json
  const u = hex(`uuid-${g.vmid}`, 32);
  const uuid = `${u.slice(0, 8)}-${u.slice(8, 12)}-4${u.slice(13, 16)}-a${u.slice(17, 20)}-${u.slice(20, 32)}`;
  return {
    name: g.name,
    smbios1: `uuid=${uuid}`,
    cpu: "host",
    scsihw: "virtio-scsi-pci",
    bios: "ovmf",
    ostype: "l26",
    serial0: "socket",
    net0: `virtio=${mac("bc:24:11", g.i)},bridge=vmbr0,firewall=1`,
    meta: "creation-qemu=10.0.2,ctime=1754900283",
    scsi0: `local-zfs:vm-${g.vmid}-disk-1,discard=on,size=160G,ssd=1`,
    scsi1: `local-zfs:vm-${g.vmid}-cloudinit,media=cdrom`,
    vmgenid: uuid,
    digest: hex(`cfg-${g.vmid}`, 40),
    efidisk0: `local-zfs:vm-${g.vmid}-disk-0,efitype=4m,size=1M`,
    machine: "q35",
    kvm: 1,
    onboot: 1,
    agent: "1",
    sshkeys: "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAILnyd2niY8ht8KRea6M6y%2BTBx08F7zRdhBlKjk7aywMT",
    memory: "4096",
    cores: 4,
    ipconfig0: `ip=${ip(g.i)}/16,gw=10.20.0.1,ip6=auto`,
    boot: "order=scsi0",
    ...(g.tags ? { tags: g.tags } : {}),
  };
}

// pve-api-lxc-interfaces.pre2025.json
const lxcInterfaces = (g) =>
  g.running
    ? [
        { inet: "127.0.0.1/8", hwaddr: "00:00:00:00:00:00", name: "lo", inet6: "::1/128" },
        {
          inet6: `fe80::be24:11ff:fe${((g.i >> 16) & 255).toString(16).padStart(2, "0")}:${(g.i & 0xffff).toString(16)}/64`,
          name: "eth0",
          hwaddr: mac("bc:24:11", g.i),
          inet: `${ip(g.i)}/16`,
        },
      ]
    : null; // a stopped container: {"data":null}, HTTP 200

// pve-api-qemu-agent-network-get-interfaces.data-only.json, wrapped as {"data":{"result":[…]}}
const stats = (rx, tx) => ({
  "rx-errs": 0,
  "rx-bytes": rx,
  "rx-packets": rx >> 7,
  "rx-dropped": 0,
  "tx-dropped": 0,
  "tx-packets": tx >> 7,
  "tx-bytes": tx,
  "tx-errs": 0,
});
const agentInterfaces = (g) => ({
  result: [
    {
      name: "lo",
      "hardware-address": "00:00:00:00:00:00",
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 },
        { "ip-address-type": "ipv6", "ip-address": "::1", prefix: 128 },
      ],
      statistics: stats(163244, 163244),
    },
    {
      name: "eth0",
      "hardware-address": mac("bc:24:11", g.i),
      "ip-addresses": [
        { "ip-address-type": "ipv4", "ip-address": ip(g.i), prefix: 16 },
        { "ip-address-type": "ipv6", "ip-address": `fd8c:4687:e88d:1be3::${g.vmid.toString(16)}`, prefix: 64 },
      ],
      statistics: stats(324105 + g.i, 368860 + g.i),
    },
    ...(g.i % 6 === 1
      ? [
          {
            name: "docker0",
            "hardware-address": "02:42:ac:11:00:01",
            "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "172.17.0.1", prefix: 16 }],
            statistics: stats(0, 0),
          },
        ]
      : []),
  ],
});

// ------------------------------------------------------------ HTTP

const counters = { requests: 0, ok: 0, errors: 0, unauthorized: 0, tlsConnections: 0, byEndpoint: {} };
const bump = (ep) => (counters.byEndpoint[ep] = (counters.byEndpoint[ep] ?? 0) + 1);

const BASE_HEADERS = { Server: "pve-api-daemon/3.0", "Cache-Control": "max-age=0", Pragma: "no-cache" };
const expires = () => new Date().toUTCString();

function sendJson(res, body) {
  counters.ok++;
  const buf = Buffer.from(body, "utf8");
  res.writeHead(200, "OK", { ...BASE_HEADERS, Expires: expires(), "Content-Type": "application/json;charset=UTF-8", "Content-Length": buf.length });
  res.end(buf);
}

/** A handler error: status + reason phrase carrying the message, {"data":null,"message":"…\n"}, Connection: close. */
function sendError(res, status, message) {
  counters.errors++;
  const buf = Buffer.from(JSON.stringify({ data: null, message: `${message}\n` }), "utf8");
  res.writeHead(status, message, {
    ...BASE_HEADERS,
    Expires: expires(),
    "Content-Type": "application/json;charset=UTF-8",
    "Content-Length": buf.length,
    Connection: "close",
  });
  res.end(buf);
}

/** 401 before any handler runs: empty body, no Content-Type, delayed like pveproxy's. */
function sendUnauthorized(res, reason) {
  counters.unauthorized++;
  setTimeout(() => {
    res.useChunkedEncodingByDefault = false; // no body, no Content-Length, no chunking
    res.writeHead(401, reason, { ...BASE_HEADERS, Expires: expires(), Connection: "close" });
    res.end();
  }, AUTH_DELAY_MS);
}

function authorised(header) {
  if (!header) return "No ticket";
  const m = /^PVEAPIToken[= ](.+)$/.exec(header);
  if (!m) return "No ticket";
  const v = m[1];
  const eq = v.lastIndexOf("=");
  if (eq < 0) return "no tokenid specified";
  if (v.slice(0, eq) !== TOKEN_ID) return `no such token '${v.slice(0, eq).split("!")[1] ?? ""}' for user '${v.slice(0, eq).split("!")[0]}'`;
  if (v.slice(eq + 1) !== SECRET) return "invalid token value!";
  return null;
}

function route(method, path) {
  // -> [endpoint label, () => body] or [label, null, status, message]
  if (method !== "GET") return ["other", null, 501, `Method '${method} /api2/json/${path}' not implemented`];
  if (path === "version") return ["version", () => VERSION];
  if (path === "cluster/status") return ["cluster/status", () => CLUSTER_STATUS];
  if (path === "cluster/resources") return ["cluster/resources", () => CLUSTER_RESOURCES];
  let m = /^nodes\/([^/]+)\/status$/.exec(path);
  if (m) {
    const i = nodeNames.indexOf(decodeURIComponent(m[1]));
    if (i < 0)
      return [
        "nodes/status",
        null,
        500,
        `hostname lookup '${decodeURIComponent(m[1])}' failed - failed to get address info for: ${decodeURIComponent(m[1])}: Name or service not known`,
      ];
    return ["nodes/status", () => nodeStatus(nodeNames[i], i)];
  }
  m = /^nodes\/([^/]+)\/(lxc|qemu)\/(\d+)\/(config|interfaces|agent\/network-get-interfaces)$/.exec(path);
  if (m) {
    const [, nodeEnc, type, vmid, what] = m;
    const node = decodeURIComponent(nodeEnc);
    const label = `${type}/${what}`;
    if ((type === "lxc" && what === "agent/network-get-interfaces") || (type === "qemu" && what === "interfaces"))
      return [label, null, 501, `Method 'GET /nodes/{node}/${type}/{vmid}/${what}' not implemented`];
    const g = byKey.get(`${node}/${type}/${vmid}`);
    if (!g) return [label, null, 500, `Configuration file 'nodes/${node}/${type === "lxc" ? "lxc" : "qemu-server"}/${vmid}.conf' does not exist`];
    if (what === "config") return [label, () => envelope(type === "lxc" ? lxcConfig(g) : qemuConfig(g))];
    if (what === "interfaces") return [label, () => envelope(lxcInterfaces(g))];
    if (!g.running) return [label, null, 500, `VM ${vmid} is not running`];
    if (!g.agent) return [label, null, 500, "QEMU guest agent is not running"];
    return [label, () => envelope(agentInterfaces(g))];
  }
  return ["other", null, 501, `Method 'GET /${path}' not implemented`];
}

const server = createServer({ key, cert, keepAliveTimeout: 30_000 }, (req, res) => {
  counters.requests++;
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  if (!url.pathname.startsWith("/api2/json/")) {
    bump("other");
    // An HTTP-layer error: plain text, no Content-Type.
    counters.errors++;
    res.useChunkedEncodingByDefault = false;
    res.writeHead(501, "no such uri", { ...BASE_HEADERS, Connection: "close" });
    res.end();
    return;
  }
  const why = authorised(req.headers.authorization);
  if (why) {
    bump("unauthorized");
    sendUnauthorized(res, why);
    return;
  }
  const [label, build, status, message] = route(req.method ?? "GET", url.pathname.slice("/api2/json/".length));
  bump(label);
  const answer = () => (build ? sendJson(res, build()) : sendError(res, status, message));
  if (LATENCY_MS > 0) setTimeout(answer, LATENCY_MS);
  else answer();
});
server.on("secureConnection", () => counters.tlsConnections++);
server.on("tlsClientError", () => {});

function statsLine() {
  const ru = process.resourceUsage();
  return JSON.stringify({
    stats: {
      ...counters,
      byEndpoint: { ...counters.byEndpoint },
      cpuUserMs: Math.round(ru.userCPUTime / 1000),
      cpuSystemMs: Math.round(ru.systemCPUTime / 1000),
      maxRssMB: Math.round(ru.maxRSS / 102.4) / 10,
    },
  });
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections?.();
  cleanup();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

let inBuf = "";
process.stdin.on("data", (d) => {
  inBuf += d.toString("utf8");
  let nl;
  while ((nl = inBuf.indexOf("\n")) >= 0) {
    const cmd = inBuf.slice(0, nl).trim();
    inBuf = inBuf.slice(nl + 1);
    if (cmd === "stats") process.stdout.write(`${statsLine()}\n`);
    else if (cmd === "reset") {
      Object.assign(counters, { requests: 0, ok: 0, errors: 0, unauthorized: 0, tlsConnections: 0, byEndpoint: {} });
      process.stdout.write(`${statsLine()}\n`);
    }
  }
});
process.stdin.on("end", stop);
process.stdin.on("error", stop);

server.listen({ host: "127.0.0.1", port: 0 }, () => {
  process.stdout.write(
    `${JSON.stringify({ ready: true, port: server.address().port, fingerprint, token: TOKEN_ID, secret: SECRET, nodes: NODES, guests: GUESTS })}\n`,
  );
});
