// The demo fleet: a 3-node Proxmox VE cluster with nine guests and six
// machines that answer the SSH probe (five plain hosts and one of the cluster's
// VMs), every one of them named demo-* and tagged demo. Each probe section is
// printed in the format its command really prints (the captures in
// src/sim/data: os-release files verbatim; df, ip, ss, meminfo, lscpu, docker
// and systemctl output laid out as recorded) with this fleet's own values.
//
// The fleet has something to say: demo-backup-1's /srv/backup is 96% full,
// demo-db-1's pg-backup.service failed, demo-build-1 is loaded and accepts SSH
// passwords, containers exited or run privileged on the host network. And it
// changes once (DEMO_CHANGES), after the discovery `fleet-mcp demo` runs at
// start, so that the next run_discovery has changes to report.
import { createHash } from "node:crypto";
import type { CannedHost, CannedSection } from "../sim/canned-hosts.js";
import { simData, simDataJson } from "../sim/data.js";
import { statusFor, type PveSimGuest, type PveSimNode, type PveSimOptions } from "../sim/pve-sim.js";
import { machineIdFor } from "../sim/ssh-sim.js";

/** The fleet before and after its one change. */
export type DemoGeneration = 1 | 2;

export const DEMO_TAG = "demo";
export const DEMO_CLUSTER = "demo-cluster";
const PVE_VERSION = "8.4" as const;
const GiB = 1024 ** 3;
const KiB = 1024;
const DAY = 86_400;

/** What changes between the first discovery and the next (docs/demo.md lists the same). */
export const DEMO_CHANGES = [
  "demo-edge-1 starts listening on tcp 0.0.0.0:8443 (nginx)",
  "demo-app-1's homelab-db-1 container moves from postgres:16 to postgres:17",
  "demo-staging-1 (VM 121 on demo-pve3) is started, and its guest agent reports its address",
] as const;

// ---------------------------------------------------------------------------
// Proxmox VE

function node(
  name: string,
  ip: string,
  stats: { maxcpu: number; maxmemGiB: number; memGiB: number; maxdiskGiB: number; diskGiB: number; uptimeDays: number; cpu: number },
): PveSimNode {
  return {
    name,
    ip,
    online: true,
    status: statusFor(PVE_VERSION, {
      maxcpu: stats.maxcpu,
      maxmem: stats.maxmemGiB * GiB,
      mem: Math.round(stats.memGiB * GiB),
      maxdisk: stats.maxdiskGiB * GiB,
      disk: Math.round(stats.diskGiB * GiB),
      uptime: stats.uptimeDays * DAY + 4_321,
      cpu: stats.cpu,
    }),
  };
}

const DESCRIPTION = "DEMO guest, simulated by fleet-mcp demo on 127.0.0.1";

function mac(seed: string): string {
  const h = createHash("sha256").update(`demo-mac/${seed}`).digest();
  return ["BC", "24", "11", ...[h[0], h[1], h[2]].map((b) => (b ?? 0).toString(16).padStart(2, "0").toUpperCase())].join(":");
}

function uuid(seed: string): string {
  const h = createHash("sha256").update(`demo-uuid/${seed}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A VM config in the shape of the PVE 9 capture (q35, OVMF, virtio-scsi, cloud-init), with this guest's values. */
function qemu(
  vmid: number,
  nodeName: string,
  name: string,
  o: {
    status: "running" | "stopped";
    tags: string;
    pool?: string;
    cores: number;
    memoryMiB: number;
    diskGiB: number;
    ip: string;
    ostype?: string;
    agent?: PveSimGuest["agent"];
    template?: boolean;
    lock?: string;
    hastate?: string;
  },
): PveSimGuest {
  const base = simDataJson("pve-api-qemu-config.pve9.data-only.json") as Record<string, unknown>;
  delete base.sshkeys; // a key of the captured machine, not of this fleet
  delete base.digest;
  const windows = (o.ostype ?? "l26").startsWith("win");
  const config: Record<string, unknown> = {
    ...base,
    name,
    ostype: o.ostype ?? "l26",
    cores: o.cores,
    memory: String(o.memoryMiB),
    smbios1: `uuid=${uuid(`${vmid}`)}`,
    vmgenid: uuid(`gen/${vmid}`),
    scsi0: `local-lvm:${o.template ? "base" : "vm"}-${vmid}-disk-1,discard=on,size=${o.diskGiB}G,ssd=1`,
    scsi1: `local-lvm:vm-${vmid}-cloudinit,media=cdrom`,
    efidisk0: `local-lvm:vm-${vmid}-disk-0,efitype=4m,size=1M`,
    net0: `virtio=${mac(`${vmid}/0`)},bridge=vmbr0,firewall=1`,
    ipconfig0: `ip=${o.ip}/24,gw=10.20.1.1`,
    tags: o.tags,
    description: DESCRIPTION,
    ...(o.agent && o.agent !== "not_configured" ? { agent: "1" } : {}),
    ...(o.template ? { template: 1 } : {}),
  };
  if (windows) {
    delete config.ipconfig0;
    delete config.scsi1;
  }
  return {
    vmid,
    type: "qemu",
    node: nodeName,
    name,
    status: o.status,
    tags: o.tags,
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.template ? { template: true } : {}),
    ...(o.lock ? { lock: o.lock } : {}),
    ...(o.hastate ? { hastate: o.hastate } : {}),
    ...(o.agent ? { agent: o.agent } : {}),
    config,
  };
}

/** A container config in the shape of the PVE 7 capture, with this guest's values. */
function lxc(
  vmid: number,
  nodeName: string,
  name: string,
  o: {
    status: "running" | "stopped";
    tags: string;
    pool?: string;
    cores: number;
    memoryMiB: number;
    diskGiB: number;
    ip: string;
    hastate?: string;
    ostype?: string;
  },
): PveSimGuest {
  const base = (simDataJson("pve-api-lxc-config.json") as { data: Record<string, unknown> }).data;
  // The capture's raw lxc.* lines and bind mount belong to the captured machine.
  delete base.lxc;
  delete base.mp0;
  delete base.digest;
  return {
    vmid,
    type: "lxc",
    node: nodeName,
    name,
    status: o.status,
    tags: o.tags,
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.hastate ? { hastate: o.hastate } : {}),
    config: {
      ...base,
      hostname: name,
      ostype: o.ostype ?? "debian",
      cores: o.cores,
      memory: o.memoryMiB,
      swap: 512,
      rootfs: `local-lvm:subvol-${vmid}-disk-0,size=${o.diskGiB}G`,
      net0: `name=eth0,bridge=vmbr0,firewall=1,gw=10.20.1.1,hwaddr=${mac(`${vmid}/0`)},ip=${o.ip}/24,type=veth`,
      features: "nesting=1",
      unprivileged: 1,
      tags: o.tags,
      description: DESCRIPTION,
    },
  };
}

/** The VM whose SSH server the demo also runs: probed through the Proxmox guest path. */
export const DEMO_SSH_GUEST = { vmid: 101, name: "demo-app-1" } as const;

export function demoCluster(gen: DemoGeneration): Pick<PveSimOptions, "version" | "clusterName" | "nodes" | "guests"> {
  const nodes = [
    node("demo-pve1", "10.20.0.11", { maxcpu: 16, maxmemGiB: 64, memGiB: 27.4, maxdiskGiB: 930, diskGiB: 212, uptimeDays: 41, cpu: 0.083 }),
    node("demo-pve2", "10.20.0.12", { maxcpu: 16, maxmemGiB: 64, memGiB: 38.9, maxdiskGiB: 930, diskGiB: 305, uptimeDays: 41, cpu: 0.121 }),
    node("demo-pve3", "10.20.0.13", { maxcpu: 8, maxmemGiB: 32, memGiB: 9.6, maxdiskGiB: 465, diskGiB: 96, uptimeDays: 12, cpu: 0.027 }),
  ];
  const guests: PveSimGuest[] = [
    lxc(100, "demo-pve1", "demo-dns-1", {
      status: "running",
      tags: "demo;infra",
      pool: "infra",
      cores: 1,
      memoryMiB: 512,
      diskGiB: 4,
      ip: "10.20.1.53",
      hastate: "started",
    }),
    qemu(DEMO_SSH_GUEST.vmid, "demo-pve1", DEMO_SSH_GUEST.name, {
      status: "running",
      tags: "demo;prod;app",
      pool: "prod",
      cores: 4,
      memoryMiB: 8192,
      diskGiB: 64,
      ip: "10.20.1.101",
      agent: "ok",
      hastate: "started",
    }),
    qemu(102, "demo-pve1", "demo-tpl-debian12", {
      status: "stopped",
      tags: "demo;template",
      cores: 2,
      memoryMiB: 2048,
      diskGiB: 16,
      ip: "10.20.1.102",
      template: true,
    }),
    qemu(110, "demo-pve2", "demo-erp-1", {
      status: "running",
      tags: "demo;prod",
      pool: "prod",
      cores: 8,
      memoryMiB: 16384,
      diskGiB: 200,
      ip: "10.20.1.110",
      agent: "not_running",
      lock: "backup",
    }),
    lxc(111, "demo-pve2", "demo-cache-1", {
      status: "running",
      tags: "demo;prod;cache",
      pool: "prod",
      cores: 2,
      memoryMiB: 2048,
      diskGiB: 8,
      ip: "10.20.1.111",
    }),
    qemu(112, "demo-pve2", "demo-win-1", {
      status: "running",
      tags: "demo;windows",
      cores: 4,
      memoryMiB: 8192,
      diskGiB: 128,
      ip: "10.20.1.112",
      ostype: "win11",
      agent: "unsupported",
    }),
    lxc(120, "demo-pve3", "demo-ci-runner-1", { status: "running", tags: "demo;ci", pool: "dev", cores: 4, memoryMiB: 4096, diskGiB: 32, ip: "10.20.1.120" }),
    qemu(121, "demo-pve3", "demo-staging-1", {
      status: gen === 1 ? "stopped" : "running",
      tags: "demo;staging",
      pool: "dev",
      cores: 2,
      memoryMiB: 4096,
      diskGiB: 48,
      ip: "10.20.1.121",
      agent: "ok",
    }),
    lxc(122, "demo-pve3", "demo-old-wiki", {
      status: "stopped",
      tags: "demo;legacy",
      cores: 1,
      memoryMiB: 1024,
      diskGiB: 8,
      ip: "10.20.1.122",
      ostype: "ubuntu",
    }),
  ];
  return { version: PVE_VERSION, clusterName: DEMO_CLUSTER, nodes, guests };
}

// ---------------------------------------------------------------------------
// Probe sections in their commands' own formats

/** `lscpu -J` as captured, with this machine's CPU count and model. */
function lscpu(cpus: number, model: string): string {
  const data: Record<string, string> = {
    "CPU(s):": String(cpus),
    "On-line CPU(s) list:": `0-${cpus - 1}`,
    "Model name:": model,
    "Thread(s) per core:": "1",
    "Core(s) per socket:": String(cpus),
    "Socket(s):": "1",
    "NUMA node0 CPU(s):": `0-${cpus - 1}`,
  };
  const lines = simData("lscpu-J.json").split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const field = /"field": "([^"]*)"/.exec(lines[i]!)?.[1];
    if (field !== undefined && data[field] !== undefined) lines[i + 1] = lines[i + 1]!.replace(/"data": "[^"]*"/, `"data": ${JSON.stringify(data[field])}`);
  }
  return lines.join("\n");
}

/** /proc/meminfo as captured, with this machine's totals (kB, the kernel's layout). */
function meminfo(totalGiB: number, availableGiB: number, swapGiB: number, swapFreeGiB: number): string {
  const kb = (g: number) => Math.round((g * GiB) / KiB);
  const set: Record<string, number> = {
    MemTotal: kb(totalGiB),
    MemFree: kb(availableGiB * 0.55),
    MemAvailable: kb(availableGiB),
    SwapTotal: kb(swapGiB),
    SwapFree: kb(swapFreeGiB),
  };
  return simData("proc-meminfo.txt")
    .split("\n")
    .map((l) => {
      const key = /^([A-Za-z_()0-9]+):/.exec(l)?.[1];
      return key !== undefined && set[key] !== undefined ? `${`${key}:`.padEnd(15)} ${String(set[key]).padStart(8)} kB` : l;
    })
    .join("\n");
}

interface Mount {
  source: string;
  type: string;
  sizeGiB: number;
  usedPct: number;
  mount: string;
}

const pseudoMounts = (memGiB: number): Mount[] => [
  { source: "udev", type: "devtmpfs", sizeGiB: memGiB / 2, usedPct: 0, mount: "/dev" },
  { source: "tmpfs", type: "tmpfs", sizeGiB: memGiB / 10, usedPct: 1, mount: "/run" },
  { source: "tmpfs", type: "tmpfs", sizeGiB: memGiB / 2, usedPct: 0, mount: "/dev/shm" },
];

function dfRows(mounts: Mount[]): Array<[string, string, string, string, string, string, string]> {
  return mounts.map((m) => {
    const size = Math.round((m.sizeGiB * GiB) / KiB);
    const used = Math.round((size * m.usedPct) / 100);
    // ext4 keeps 5% for root: what is left for users is smaller than size - used
    const avail = Math.max(0, Math.round(size * (m.type.startsWith("ext") ? 0.95 : 1)) - used);
    const cap = used + avail === 0 ? 0 : Math.ceil((used * 100) / (used + avail));
    return [m.source, m.type, String(size), String(used), String(avail), `${cap}%`, m.mount];
  });
}

/** GNU `df -PkT`: columns as wide as their widest cell (at least the capture's widths). */
function gnuDf(mounts: Mount[]): string {
  const header = ["Filesystem", "Type", "1024-blocks", "Used", "Available", "Capacity", "Mounted on"] as const;
  const rows = dfRows(mounts);
  const w = (i: number, min: number) => Math.max(min, header[i]!.length, ...rows.map((r) => r[i]!.length));
  const widths = [w(0, 23), w(1, 8), w(2, 11), w(3, 8), w(4, 9), w(5, 8)];
  const line = (r: readonly string[]) =>
    [r[0]!.padEnd(widths[0]!), r[1]!.padEnd(widths[1]!), ...[2, 3, 4, 5].map((i) => r[i]!.padStart(widths[i]!)), r[6]!].join(" ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** BusyBox `df -PkT`: fixed printf widths, as in the BusyBox capture. */
function busyboxDf(mounts: Mount[]): string {
  const rows = dfRows(mounts);
  const head = "Filesystem           Type       1024-blocks    Used Available Capacity Mounted on";
  return [
    head,
    ...rows.map((r) => `${r[0].padEnd(20)} ${r[1].padEnd(10)} ${r[2].padStart(9)} ${r[3].padStart(9)} ${r[4].padStart(9)} ${r[5].padStart(4)} ${r[6]}`),
  ].join("\n");
}

function linkLocal(macAddr: string): string {
  const b = macAddr.split(":").map((x) => parseInt(x, 16));
  const g = [(((b[0] ?? 0) ^ 2) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | 0xff, (0xfe << 8) | (b[3] ?? 0), ((b[4] ?? 0) << 8) | (b[5] ?? 0)];
  return `fe80::${g.map((x) => x.toString(16)).join(":")}`;
}

/** `ip -j addr` as captured (its loopback entry verbatim), with this machine's NIC and, with docker, docker0. */
function ipJson(ifname: string, ip: string, docker: boolean, seed: string): string {
  const captured = JSON.parse(simData("ip-j-addr.json")) as Array<Record<string, unknown>>;
  const lo = captured.find((i) => i.ifname === "lo")!;
  const eth = captured.find((i) => i.ifname === "eth0")!;
  const nic = (index: number, name: string, addr: string, v4: string, prefix: number, up: boolean) => ({
    ...eth,
    ifindex: index,
    ifname: name,
    flags: up ? ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] : ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
    mtu: 1500,
    qdisc: up ? "fq_codel" : "noqueue",
    operstate: up ? "UP" : "DOWN",
    address: addr,
    addr_info: [
      {
        family: "inet",
        local: v4,
        prefixlen: prefix,
        broadcast: prefix === 16 ? v4.replace(/\.\d+\.\d+$/, ".255.255") : v4.replace(/\.\d+$/, ".255"),
        scope: "global",
        label: name,
        valid_life_time: 4294967295,
        preferred_life_time: 4294967295,
      },
      ...(up ? [{ family: "inet6", local: linkLocal(addr), prefixlen: 64, scope: "link", valid_life_time: 4294967295, preferred_life_time: 4294967295 }] : []),
    ],
  });
  const macAddr = mac(`${seed}/nic`).toLowerCase();
  const out: unknown[] = [lo, nic(2, ifname, macAddr, ip, 24, true)];
  if (docker) out.push(nic(3, "docker0", mac(`${seed}/docker0`).toLowerCase(), "172.17.0.1", 16, true));
  return JSON.stringify(out);
}

/** BusyBox `ip addr` (no JSON), in the layout of the BusyBox capture (its loopback block verbatim). */
function busyboxIpAddr(ip: string, seed: string): string {
  const captured = simData("busybox-ip-addr.txt").split("\n");
  const loEnd = captured.findIndex((l, i) => i > 0 && /^\d+: /.test(l));
  const macAddr = mac(`${seed}/nic`).toLowerCase();
  return [
    ...captured.slice(0, loEnd),
    "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000",
    `    link/ether ${macAddr} brd ff:ff:ff:ff:ff:ff`,
    `    inet ${ip}/24 brd ${ip.replace(/\.\d+$/, ".255")} scope global eth0`,
    "       valid_lft forever preferred_lft forever",
    `    inet6 ${linkLocal(macAddr)}/64 scope link `,
    "       valid_lft forever preferred_lft forever",
  ].join("\n");
}

interface Listen {
  proto?: "tcp" | "udp";
  address: string;
  port: number;
  process?: string;
  pid?: number;
}

/** `ss -Htulnp`: one row per socket, with the Netid column that -t -u adds. */
function ss(rows: Listen[]): string {
  const local = (r: Listen) => `${r.address.includes(":") ? `[${r.address}]` : r.address}:${r.port}`;
  const peer = (r: Listen) => (r.address.includes(":") ? "[::]:*" : "0.0.0.0:*");
  return (
    "#ss\n" +
    rows
      .map((r) => {
        const proto = r.proto ?? "tcp";
        const state = proto === "tcp" ? "LISTEN" : "UNCONN";
        const q = proto === "tcp" ? "4096" : "0";
        const users = r.process ? ` users:(("${r.process}",pid=${r.pid ?? 1000 + r.port},fd=${3 + (r.port % 5)}))` : "";
        return `${proto.padEnd(5)} ${state.padEnd(6)} 0      ${q.padEnd(6)} ${local(r).padStart(20)} ${peer(r).padStart(12)}${users}`;
      })
      .join("\n")
  );
}

interface Unit {
  unit: string;
  active: "active" | "inactive" | "failed";
  sub: string;
  description: string;
  /** list-unit-files state; default enabled. */
  file?: string;
}

/** `systemctl list-units --output=json`, then the list-unit-files JSON (the Debian capture's files plus these units'). */
function systemd(units: Unit[], baseUnitFiles: boolean): CannedSection {
  const listed = units.map((u) => ({ unit: u.unit, load: "loaded", active: u.active, sub: u.sub, description: u.description }));
  const files = baseUnitFiles
    ? (JSON.parse(simData("systemctl-list-unit-files.json")) as Array<{ unit_file: string; state: string; preset: string | null }>)
    : [];
  const known = new Set(files.map((f) => f.unit_file));
  for (const u of units) {
    if (known.has(u.unit)) continue;
    const state = u.file ?? "enabled";
    files.push({ unit_file: u.unit, state, preset: state === "static" || state === "alias" ? null : "enabled" });
  }
  files.sort((a, b) => (a.unit_file < b.unit_file ? -1 : a.unit_file > b.unit_file ? 1 : 0));
  return { body: `#json\n${JSON.stringify(listed)}\n#@unit-files json 0\n${JSON.stringify(files)}` };
}

const COMMON_UNITS: Unit[] = [
  { unit: "cron.service", active: "active", sub: "running", description: "Regular background program processing daemon" },
  { unit: "dbus.service", active: "active", sub: "running", description: "D-Bus System Message Bus", file: "static" },
  { unit: "systemd-journald.service", active: "active", sub: "running", description: "Journal Service", file: "static" },
  { unit: "systemd-timesyncd.service", active: "active", sub: "running", description: "Network Time Synchronization" },
];

interface Container {
  name: string;
  image: string;
  command: string;
  state: "running" | "exited";
  /** docker ps Status, e.g. "Up 3 weeks (healthy)" or "Exited (1) 2 days ago". */
  status: string;
  runningFor: string;
  createdDaysAgo: number;
  ports?: string;
  network?: string;
  health?: "healthy" | "unhealthy" | "starting" | null;
  exit?: number;
  restarts?: number;
  privileged?: boolean;
  compose?: { project: string; service: string; dir: string };
}

function hex64(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** Go's encoding/json escapes <, > and & (as the docker CLI prints them). */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

function createdAt(daysAgo: number, now: Date): string {
  const d = new Date(now.getTime() - daysAgo * DAY * 1000);
  return `${d.toISOString().slice(0, 19).replace("T", " ")} +0000 UTC`;
}

/** `docker ps --all --no-trunc --format json` (keys as the CLI orders them) and the probe's inspect lines (its template, as the CLI fills it). */
function docker(host: string, list: Container[], now: Date): CannedSection {
  const ps: string[] = [];
  const inspect: string[] = [];
  for (const c of list) {
    const id = hex64(`demo-container/${host}/${c.name}`);
    const labels = c.compose
      ? [
          `com.docker.compose.container-number=1`,
          `com.docker.compose.oneoff=False`,
          `com.docker.compose.project.config_files=${c.compose.dir}/compose.yaml`,
          `com.docker.compose.project.working_dir=${c.compose.dir}`,
          `com.docker.compose.project=${c.compose.project}`,
          `com.docker.compose.service=${c.compose.service}`,
          `com.docker.compose.version=2.29.7`,
        ].join(",")
      : "";
    const network = c.network ?? (c.compose ? `${c.compose.project}_default` : "bridge");
    ps.push(
      goJson({
        Command: JSON.stringify(c.command),
        CreatedAt: createdAt(c.createdDaysAgo, now),
        ID: id,
        Image: c.image,
        Labels: labels,
        LocalVolumes: "0",
        Mounts: "",
        Names: c.name,
        Networks: network,
        Platform: null,
        Ports: c.ports ?? "",
        RunningFor: c.runningFor,
        Size: "0B",
        State: c.state,
        Status: c.status,
      }),
    );
    inspect.push(
      goJson({
        id,
        name: `/${c.name}`,
        image: `sha256:${hex64(`demo-image/${c.image}`)}`,
        restarts: c.restarts ?? 0,
        exit: c.exit ?? 0,
        health: c.health ?? null,
        privileged: c.privileged ?? false,
        network,
      }),
    );
  }
  return { body: `${ps.join("\n")}\n#@inspect 0\n${inspect.join("\n")}` };
}

function composeLs(stacks: Array<{ name: string; running: number; dir: string }>): CannedSection {
  return { body: goJson(stacks.map((s) => ({ Name: s.name, Status: `running(${s.running})`, ConfigFiles: `${s.dir}/compose.yaml` }))) };
}

const NOT_INSTALLED: CannedSection = { body: "#not-installed" };

function sshdT(o: { permitRootLogin: string; password: boolean }): CannedSection {
  return { body: `#sshd-T\nport 22\npermitrootlogin ${o.permitRootLogin}\npubkeyauthentication yes\npasswordauthentication ${o.password ? "yes" : "no"}` };
}

const FIREWALL_UFW: CannedSection = {
  body: "nft=not_installed\niptables=not_installed\nufw=ok\nufw_status=Status: active\nufw_config=yes\nfirewalld=not_installed",
};
const FIREWALL_NFT: CannedSection = {
  body: "nft=ok\nnft_tables=1\nnft_chains=3\nnft_rules=9\nnft_drop_policies=1\niptables=not_installed\nufw=not_installed\nfirewalld=not_installed",
};

function base(
  name: string,
  hostKeyLine: string,
  o: { os: string; kernel: string; cpus: number; cpuModel: string; uptimeDays: number; load: [number, number, number] },
): CannedHost {
  const up = o.uptimeDays * DAY + 1_234.56;
  return {
    hostname: { body: name },
    machine_id: { body: machineIdFor(name) },
    host_keys: { body: `${hostKeyLine} root@${name}` },
    os: { body: simData(o.os) },
    kernel: { body: o.kernel },
    uptime: { body: `${up.toFixed(2)} ${(up * o.cpus * 0.93).toFixed(2)}` },
    cpu_count: { body: String(o.cpus) },
    cpu: { body: lscpu(o.cpus, o.cpuModel) },
    load: { body: `${o.load.map((l) => l.toFixed(2)).join(" ")} 2/${180 + o.cpus * 9} ${31_337 + o.cpus}` },
  };
}

// ---------------------------------------------------------------------------
// The machines that answer the probe

export interface DemoSshMachine {
  name: string;
  /** Config tags (the Proxmox guest gets its tags from Proxmox). */
  tags: string[];
  /** Probed through the Proxmox source's guest path instead of the SSH source. */
  proxmoxGuest?: boolean;
  /** The canned probe answer, for this generation and the sim's real host key ("ssh-ed25519 AAAA…"). */
  canned(gen: DemoGeneration, hostKeyLine: string, now: Date): CannedHost;
}

const EPYC = "AMD EPYC 7302P 16-Core Processor";
const XEON = "Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz";
const QEMU_CPU = "QEMU Virtual CPU version 2.5+";

export const DEMO_SSH_MACHINES: DemoSshMachine[] = [
  {
    name: "demo-edge-1",
    tags: [DEMO_TAG, "web"],
    canned: (gen, key) => ({
      ...base("demo-edge-1", key, {
        os: "os-release-ubuntu2404.txt",
        kernel: "Linux 6.8.0-45-generic x86_64",
        cpus: 2,
        cpuModel: XEON,
        uptimeDays: 23,
        load: [0.18, 0.22, 0.19],
      }),
      memory: { body: meminfo(4, 2.9, 2, 2) },
      filesystems: {
        body: gnuDf([
          ...pseudoMounts(4),
          { source: "/dev/sda1", type: "ext4", sizeGiB: 40, usedPct: 38, mount: "/" },
          { source: "/dev/sda15", type: "vfat", sizeGiB: 0.1, usedPct: 6, mount: "/boot/efi" },
        ]),
      },
      addresses: { body: ipJson("ens18", "10.20.2.10", false, "demo-edge-1") },
      ports: {
        body: ss([
          { address: "0.0.0.0", port: 22, process: "sshd", pid: 811 },
          { address: "0.0.0.0", port: 80, process: "nginx", pid: 1022 },
          { address: "0.0.0.0", port: 443, process: "nginx", pid: 1022 },
          ...(gen === 2 ? [{ address: "0.0.0.0", port: 8443, process: "nginx", pid: 1022 }] : []),
          { address: "::", port: 22, process: "sshd", pid: 811 },
          { proto: "udp", address: "127.0.0.53", port: 53, process: "systemd-resolve", pid: 602 },
        ]),
      },
      systemd: systemd(
        [
          ...COMMON_UNITS,
          { unit: "ssh.service", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
          { unit: "nginx.service", active: "active", sub: "running", description: "A high performance web server and a reverse proxy server" },
          { unit: "certbot.service", active: "inactive", sub: "dead", description: "Certbot", file: "static" },
          { unit: "systemd-resolved.service", active: "active", sub: "running", description: "Network Name Resolution" },
        ],
        true,
      ),
      docker: NOT_INSTALLED,
      compose: NOT_INSTALLED,
      firewall: FIREWALL_UFW,
      sshd: sshdT({ permitRootLogin: "without-password", password: false }),
      updates: {
        body: "#apt list\nlibssl3t64/noble-security 3.0.13-0ubuntu3.5 amd64 [upgradable from: 3.0.13-0ubuntu3.4]\nnginx/noble-updates 1.24.0-2ubuntu7.1 amd64 [upgradable from: 1.24.0-2ubuntu7]\nopenssl/noble-security 3.0.13-0ubuntu3.5 amd64 [upgradable from: 3.0.13-0ubuntu3.4]",
      },
    }),
  },
  {
    name: "demo-db-1",
    tags: [DEMO_TAG, "prod", "db"],
    canned: (_gen, key) => ({
      ...base("demo-db-1", key, {
        os: "os-release-debian13.txt",
        kernel: "Linux 6.12.48+deb13-amd64 x86_64",
        cpus: 8,
        cpuModel: EPYC,
        uptimeDays: 64,
        load: [0.92, 0.81, 0.77],
      }),
      memory: { body: meminfo(32, 9.5, 4, 3.6) },
      filesystems: {
        body: gnuDf([
          ...pseudoMounts(32),
          { source: "/dev/nvme0n1p2", type: "ext4", sizeGiB: 60, usedPct: 31, mount: "/" },
          { source: "/dev/nvme1n1", type: "xfs", sizeGiB: 500, usedPct: 58, mount: "/var/lib/postgresql" },
        ]),
      },
      addresses: { body: ipJson("enp3s0", "10.20.2.20", false, "demo-db-1") },
      ports: {
        body: ss([
          { address: "0.0.0.0", port: 22, process: "sshd", pid: 702 },
          { address: "0.0.0.0", port: 5432, process: "postgres", pid: 1187 },
          { address: "0.0.0.0", port: 9187, process: "postgres_exporte", pid: 1290 },
          { address: "::", port: 5432, process: "postgres", pid: 1187 },
        ]),
      },
      systemd: systemd(
        [
          ...COMMON_UNITS,
          { unit: "ssh.service", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
          { unit: "postgresql@17-main.service", active: "active", sub: "running", description: "PostgreSQL Cluster 17-main", file: "enabled-runtime" },
          { unit: "prometheus-postgres-exporter.service", active: "active", sub: "running", description: "Prometheus exporter for PostgreSQL server metrics" },
          { unit: "pg-backup.service", active: "failed", sub: "failed", description: "Nightly pg_dump to the backup host", file: "static" },
        ],
        true,
      ),
      docker: NOT_INSTALLED,
      compose: NOT_INSTALLED,
      firewall: FIREWALL_NFT,
      sshd: sshdT({ permitRootLogin: "no", password: false }),
      updates: { body: "#apt list" },
    }),
  },
  {
    name: "demo-backup-1",
    tags: [DEMO_TAG, "backup"],
    canned: (_gen, key, now) => ({
      ...base("demo-backup-1", key, {
        os: "os-release-debian12.txt",
        kernel: "Linux 6.1.0-26-amd64 x86_64",
        cpus: 4,
        cpuModel: XEON,
        uptimeDays: 131,
        load: [0.41, 0.37, 0.35],
      }),
      memory: { body: meminfo(8, 5.2, 1, 1) },
      filesystems: {
        body: gnuDf([
          ...pseudoMounts(8),
          { source: "/dev/sda1", type: "ext4", sizeGiB: 30, usedPct: 44, mount: "/" },
          { source: "/dev/mapper/vg0-backup", type: "ext4", sizeGiB: 3700, usedPct: 91, mount: "/srv/backup" },
        ]),
      },
      addresses: { body: ipJson("eno1", "10.20.2.30", true, "demo-backup-1") },
      ports: {
        body: ss([
          { address: "0.0.0.0", port: 22, process: "sshd", pid: 655 },
          { address: "0.0.0.0", port: 8000, process: "docker-proxy", pid: 2210 },
        ]),
      },
      systemd: systemd(
        [
          ...COMMON_UNITS,
          { unit: "ssh.service", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
          { unit: "docker.service", active: "active", sub: "running", description: "Docker Application Container Engine" },
          { unit: "containerd.service", active: "active", sub: "running", description: "containerd container runtime" },
        ],
        true,
      ),
      docker: docker(
        "demo-backup-1",
        [
          {
            name: "rest-server",
            image: "restic/rest-server:0.13.0",
            command: "/entrypoint.sh",
            state: "running",
            status: "Up 4 weeks",
            runningFor: "4 months ago",
            createdDaysAgo: 122,
            ports: "0.0.0.0:8000->8000/tcp",
          },
          {
            name: "restic-prune",
            image: "restic/restic:0.17.1",
            command: "restic forget --prune --keep-daily 7",
            state: "exited",
            status: "Exited (1) 9 hours ago",
            runningFor: "4 months ago",
            createdDaysAgo: 122,
            exit: 1,
          },
        ],
        now,
      ),
      compose: { body: "[]" },
      firewall: FIREWALL_NFT,
      sshd: sshdT({ permitRootLogin: "without-password", password: false }),
      updates: { body: "#apt list\nlibc6/stable-security 2.36-9+deb12u9 amd64 [upgradable from: 2.36-9+deb12u8]" },
    }),
  },
  {
    name: "demo-mon-1",
    tags: [DEMO_TAG, "monitoring"],
    canned: (_gen, key, now) => ({
      ...base("demo-mon-1", key, {
        os: "os-release-alpine323.txt",
        kernel: "Linux 6.12.13-0-lts x86_64",
        cpus: 2,
        cpuModel: QEMU_CPU,
        uptimeDays: 9,
        load: [0.33, 0.3, 0.28],
      }),
      memory: { body: meminfo(4, 1.8, 0, 0) },
      filesystems: {
        body: busyboxDf([
          { source: "devtmpfs", type: "devtmpfs", sizeGiB: 0.01, usedPct: 0, mount: "/dev" },
          { source: "shm", type: "tmpfs", sizeGiB: 2, usedPct: 0, mount: "/dev/shm" },
          { source: "/dev/vda3", type: "ext4", sizeGiB: 20, usedPct: 52, mount: "/" },
          { source: "/dev/vda1", type: "ext4", sizeGiB: 0.3, usedPct: 18, mount: "/boot" },
        ]),
      },
      addresses: { body: busyboxIpAddr("10.20.2.40", "demo-mon-1") },
      ports: {
        body: ss([
          { address: "0.0.0.0", port: 22, process: "sshd", pid: 2301 },
          { address: "0.0.0.0", port: 3000, process: "docker-proxy", pid: 3312 },
          { address: "0.0.0.0", port: 9090, process: "docker-proxy", pid: 3290 },
          { address: "*", port: 9100, process: "node_exporter", pid: 3401 },
        ]),
      },
      // OpenRC, not systemd
      systemd: { body: "#not-running" },
      docker: docker(
        "demo-mon-1",
        [
          {
            name: "monitoring-prometheus-1",
            image: "prom/prometheus:v2.54.1",
            command: "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml",
            state: "running",
            status: "Up 9 days (healthy)",
            runningFor: "2 months ago",
            createdDaysAgo: 61,
            ports: "0.0.0.0:9090->9090/tcp",
            health: "healthy",
            compose: { project: "monitoring", service: "prometheus", dir: "/opt/monitoring" },
          },
          {
            name: "monitoring-grafana-1",
            image: "grafana/grafana:11.2.2",
            command: "/run.sh",
            state: "running",
            status: "Up 9 days",
            runningFor: "2 months ago",
            createdDaysAgo: 61,
            ports: "0.0.0.0:3000->3000/tcp",
            compose: { project: "monitoring", service: "grafana", dir: "/opt/monitoring" },
          },
          {
            name: "monitoring-node-exporter-1",
            image: "prom/node-exporter:v1.8.2",
            command: "/bin/node_exporter --path.rootfs=/host",
            state: "running",
            status: "Up 9 days",
            runningFor: "2 months ago",
            createdDaysAgo: 61,
            network: "host",
            privileged: true,
            compose: { project: "monitoring", service: "node-exporter", dir: "/opt/monitoring" },
          },
        ],
        now,
      ),
      compose: composeLs([{ name: "monitoring", running: 3, dir: "/opt/monitoring" }]),
      firewall: { body: "nft=not_installed\niptables=ok\niptables_rules=12\nufw=not_installed\nfirewalld=not_installed" },
      sshd: sshdT({ permitRootLogin: "prohibit-password", password: false }),
      updates: { body: "#apk\nbusybox\nssl_client" },
    }),
  },
  {
    name: "demo-build-1",
    tags: [DEMO_TAG, "ci"],
    canned: (_gen, key) => ({
      ...base("demo-build-1", key, {
        os: "os-release-rocky93.txt",
        kernel: "Linux 5.14.0-362.24.1.el9_3.x86_64 x86_64",
        cpus: 4,
        cpuModel: EPYC,
        uptimeDays: 5,
        load: [7.9, 7.2, 6.4],
      }),
      memory: { body: meminfo(16, 3.1, 4, 2.2) },
      filesystems: {
        body: gnuDf([
          ...pseudoMounts(16),
          { source: "/dev/mapper/rl-root", type: "xfs", sizeGiB: 70, usedPct: 67, mount: "/" },
          { source: "/dev/vda1", type: "xfs", sizeGiB: 1, usedPct: 29, mount: "/boot" },
          { source: "/dev/mapper/rl-home", type: "xfs", sizeGiB: 120, usedPct: 12, mount: "/home" },
        ]),
      },
      addresses: { body: ipJson("eth0", "10.20.2.50", false, "demo-build-1") },
      ports: {
        body: ss([
          { address: "0.0.0.0", port: 22, process: "sshd", pid: 1043 },
          { address: "127.0.0.1", port: 9252, process: "gitlab-runner", pid: 1388 },
          { address: "::", port: 22, process: "sshd", pid: 1043 },
          { proto: "udp", address: "127.0.0.1", port: 323, process: "chronyd", pid: 880 },
        ]),
      },
      systemd: systemd(
        [
          { unit: "chronyd.service", active: "active", sub: "running", description: "NTP client/server" },
          { unit: "crond.service", active: "active", sub: "running", description: "Command Scheduler" },
          { unit: "dbus-broker.service", active: "active", sub: "running", description: "D-Bus System Message Bus" },
          { unit: "firewalld.service", active: "active", sub: "running", description: "firewalld - dynamic firewall daemon" },
          { unit: "gitlab-runner.service", active: "active", sub: "running", description: "GitLab Runner" },
          { unit: "sshd.service", active: "active", sub: "running", description: "OpenSSH server daemon" },
          { unit: "systemd-journald.service", active: "active", sub: "running", description: "Journal Service", file: "static" },
        ],
        false,
      ),
      docker: NOT_INSTALLED,
      compose: NOT_INSTALLED,
      firewall: {
        body: "nft=ok\nnft_tables=2\nnft_chains=14\nnft_rules=31\nnft_drop_policies=0\niptables=not_installed\nufw=not_installed\nfirewalld=ok\nfirewalld_state=running",
      },
      sshd: sshdT({ permitRootLogin: "yes", password: true }),
      updates: {
        body: "#dnf\n\nkernel.x86_64                      5.14.0-362.24.2.el9_3          baseos\nopenssh.x86_64                     8.7p1-38.el9_3.1               baseos\nopenssh-server.x86_64              8.7p1-38.el9_3.1               baseos\ngitlab-runner.x86_64               17.4.1-1                       runner_gitlab-runner",
        rc: 100,
      },
    }),
  },
  {
    name: DEMO_SSH_GUEST.name,
    tags: [],
    proxmoxGuest: true,
    canned: (gen, key) => {
      // The captured homelab stack (docker CLI output verbatim); the one change: postgres:16 -> postgres:17.
      const capturedPs = simData("docker-ps-all-no-trunc.jsonl").trimEnd();
      let inspectLines = simData("docker-inspect-fleet-template.txt")
        .split("\n")
        .filter((l) => capturedPs.split("\n").some((p) => p.includes(`"ID":"${/"id":"([0-9a-f]+)"/.exec(l)?.[1] ?? "-"}"`)))
        .join("\n");
      let ps = capturedPs;
      if (gen === 2) {
        ps = ps.replace('"Image":"postgres:16"', '"Image":"postgres:17"');
        inspectLines = inspectLines.replace(/("name":"\/homelab-db-1","image":"sha256:)[0-9a-f]{64}/, `$1${hex64("demo-image/postgres:17")}`);
      }
      return {
        ...base(DEMO_SSH_GUEST.name, key, {
          os: "os-release-debian12.txt",
          kernel: "Linux 6.1.0-26-amd64 x86_64",
          cpus: 4,
          cpuModel: QEMU_CPU,
          uptimeDays: 17,
          load: [0.64, 0.58, 0.52],
        }),
        memory: { body: meminfo(8, 3.4, 1, 0.9) },
        filesystems: { body: gnuDf([...pseudoMounts(8), { source: "/dev/sda1", type: "ext4", sizeGiB: 63, usedPct: 47, mount: "/" }]) },
        addresses: { body: ipJson("ens18", "10.20.1.101", true, DEMO_SSH_GUEST.name) },
        ports: {
          body: ss([
            { address: "0.0.0.0", port: 22, process: "sshd", pid: 744 },
            { address: "0.0.0.0", port: 8080, process: "docker-proxy", pid: 1930 },
            { address: "::", port: 8080, process: "docker-proxy", pid: 1937 },
          ]),
        },
        systemd: systemd(
          [
            ...COMMON_UNITS,
            { unit: "ssh.service", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
            { unit: "docker.service", active: "active", sub: "running", description: "Docker Application Container Engine" },
            { unit: "containerd.service", active: "active", sub: "running", description: "containerd container runtime" },
            { unit: "qemu-guest-agent.service", active: "active", sub: "running", description: "QEMU Guest Agent", file: "static" },
          ],
          true,
        ),
        docker: { body: `${ps}\n#@inspect 0\n${inspectLines}` },
        compose: composeLs([{ name: "homelab", running: 2, dir: "/srv/homelab" }]),
        firewall: FIREWALL_UFW,
        sshd: sshdT({ permitRootLogin: "without-password", password: false }),
        updates: { body: "#apt list" },
      };
    },
  },
];

/** Role rules of the demo config: the first that matches wins; everything else is lab. */
export const DEMO_ROLES = [
  { role: "gateway", name: "demo-edge-*" },
  { role: "monitoring", name: "demo-mon-*" },
  { role: "production", tag: "prod" },
  { role: "staging", tag: "staging" },
  { role: "development", tag: "ci" },
  { role: "development", pool: "dev" },
  { role: "lab", name: "demo-*" },
] as const;
