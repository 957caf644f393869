import { describe, expect, it } from "vitest";
import {
  clusterMember,
  guestFromListItem,
  guestIdentity,
  mapClusterIdentity,
  mapGuest,
  mapNode,
  nodeIdentity,
  type PveMapContext,
} from "../../src/discovery/proxmox/map.js";
import {
  AgentNetworkReplySchema,
  ClusterResourcesSchema,
  ClusterStatusSchema,
  LxcConfigSchema,
  LxcInterfacesSchema,
  LxcListSchema,
  NodeStatusSchema,
  NodeStorageListSchema,
  NodesListSchema,
  QemuConfigSchema,
  QemuListSchema,
  VersionSchema,
  splitResources,
  type GuestResource,
} from "../../src/discovery/proxmox/schemas.js";
import { parsePveshJson } from "../../src/discovery/proxmox/cli.js";
import type { InterfaceObs } from "../../src/discovery/types.js";
import { POST2025_LXC_INTERFACES, apiData, fixture, rawJson } from "./helpers.js";

const AT = new Date("2026-11-23T12:00:00Z");
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const status4 = () => ClusterStatusSchema.parse(apiData("pve-api-cluster-status.4node.json"));
const res4 = () => splitResources(ClusterResourcesSchema.parse(apiData("pve-api-cluster-resources.4node.json")));
const res1 = () => splitResources(ClusterResourcesSchema.parse(apiData("pve-api-cluster-resources.1node-lxc.json")));
const CLUSTER: PveMapContext = { cluster: "clustername", observedAt: AT };
const STANDALONE: PveMapContext = { cluster: null, observedAt: AT };

function guest(list: GuestResource[], vmid: number): GuestResource {
  const g = list.find((x) => x.vmid === vmid);
  if (!g) throw new Error(`no guest ${vmid}`);
  return g;
}

describe("mapClusterIdentity", () => {
  it("4-node cluster + /version", () => {
    expect(mapClusterIdentity(status4(), VersionSchema.parse(apiData("pve-api-version.pve7.json")))).toEqual({
      clusterName: "clustername",
      quorate: true,
      nodesOnline: 4,
      nodesTotal: 4,
      version: "7.4-16",
    });
  });

  it.each([
    [
      "standalone node: no cluster entry",
      [{ type: "node", id: "node/pve", name: "pve", ip: "10.0.0.2", local: 1, nodeid: 0, online: 1, level: "" }],
      { clusterName: null, quorate: null, nodesOnline: 1, nodesTotal: 1, version: null },
    ],
    [
      "cluster that lost quorum, one node offline",
      [
        { type: "cluster", id: "cluster", name: "lab", nodes: 3, quorate: 0, version: 7 },
        { type: "node", id: "node/a", name: "a", nodeid: 1, ip: "10.0.0.1", local: 1, online: 1, level: "" },
        { type: "node", id: "node/b", name: "b", nodeid: 2, ip: "10.0.0.2", local: 0, online: 0, level: "" },
        { type: "node", id: "node/c", name: "c", nodeid: 3, ip: "10.0.0.3", local: 0, online: 0, level: "" },
      ],
      { clusterName: "lab", quorate: false, nodesOnline: 1, nodesTotal: 3, version: null },
    ],
  ])("%s", (_n, data, want) => {
    expect(mapClusterIdentity(ClusterStatusSchema.parse(data), null)).toEqual(want);
  });
});

describe("identities", () => {
  it.each([
    [nodeIdentity("clustername", "node1"), "pve-node:clustername/node1"],
    [nodeIdentity(null, "pve"), "pve-node:standalone:pve/pve"],
    [guestIdentity("clustername", 100), "pve-guest:clustername/100"],
    [guestIdentity("clustername", 100, "node2"), "pve-guest:clustername/100"],
    [guestIdentity(null, 100, "pve"), "pve-guest:standalone:pve/100"],
  ])("%s", (got, want) => {
    expect(got).toBe(want);
  });

  it("a guest keeps its identity when it migrates inside a cluster", () => {
    const g = guest(res4().guests, 100);
    const before = mapGuest(g, CLUSTER);
    const after = mapGuest({ ...g, node: "node3" }, CLUSTER);
    expect(after.identity).toEqual(before.identity);
    expect(after.parentIdentity).toBe("pve-node:clustername/node3");
    expect(before.parentIdentity).toBe("pve-node:clustername/node2");
  });

  it("a standalone guest without a node name is a programming error", () => {
    expect(() => (guestIdentity as (c: string | null, v: number) => string)(null, 1)).toThrow(TypeError);
  });
});

describe("mapNode", () => {
  it("4-node cluster, node1: resources entry + PVE 7.4 status + storages + cluster member", () => {
    const r = res4();
    const node1 = r.nodes.find((n) => n.node === "node1")!;
    const obs = mapNode(node1, CLUSTER, {
      status: NodeStatusSchema.parse(apiData("pve-api-node-status.pve7.json")),
      storages: r.storages,
      member: clusterMember(status4(), "node1"),
    });
    expect(obs).toEqual({
      kind: "proxmox_node",
      identity: ["pve-node:clustername/node1"],
      name: "node1",
      address: "192.168.1.1",
      status: "ok",
      sections: { node: { status: "ok", exitCode: null }, status: { status: "ok", exitCode: null }, storage: { status: "ok", exitCode: null } },
      facts: {
        "pve.cluster": "clustername",
        "pve.node.status": "online",
        "pve.node.subscription_level": null,
        "pve.node.nodeid": 1,
        "cpu.count": 8,
        "cpu.model": "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz",
        "cpu.sockets": 1,
        "cpu.cores_per_socket": 4,
        "memory.total_bytes": 65919459328,
        "memory.used_bytes": 8095399936,
        "swap.total_bytes": 0,
        "swap.free_bytes": 0,
        "disk.total_bytes": 948338819072,
        "disk.used_bytes": 10487595008,
        uptime_seconds: 2501631,
        "load.1m": 0,
        "load.5m": 0,
        "load.15m": 0,
        "pve.version": "7.4-16",
        "pve.repoid": "0f39f621",
        "kernel.name": "Linux",
        "kernel.release": "5.15.108-1-pve",
        "pve.storage.local-zfs.type": "zfspool",
        "pve.storage.local-zfs.shared": false,
        "pve.storage.local-zfs.content": "images,rootdir",
        "pve.storage.local-zfs.used_bytes": 14446702592,
        "pve.storage.local-zfs.total_bytes": 955016175616,
        "pve.storage.local.type": "dir",
        "pve.storage.local.shared": false,
        "pve.storage.local.content": "backup,vztmpl,iso",
        "pve.storage.local.used_bytes": 10486546432,
        "pve.storage.local.total_bytes": 951055941632,
        "pve.storage.cloud-init.type": "dir",
        "pve.storage.cloud-init.shared": false,
        "pve.storage.cloud-init.content": "snippets",
        "pve.storage.cloud-init.used_bytes": 10486546432,
        "pve.storage.cloud-init.total_bytes": 951055941632,
      },
      observedAt: AT,
      durationMs: 0,
    });
  });

  it.each(["node1", "node2", "node3", "node4"])("4-node cluster: %s from /cluster/resources alone", (name) => {
    const n = res4().nodes.find((x) => x.node === name)!;
    const obs = mapNode(n, CLUSTER, { member: clusterMember(status4(), name) });
    expect(obs.identity).toEqual([`pve-node:clustername/${name}`]);
    expect(obs.address).toBe(`192.168.1.${name.slice(-1)}`);
    expect(obs.status).toBe("ok");
    expect(obs.facts["memory.total_bytes"]).toBe(n.maxmem);
    expect(obs.facts["disk.total_bytes"]).toBe(n.maxdisk);
    expect(obs.facts["cpu.count"]).toBe(n.maxcpu);
    expect(obs.facts["uptime_seconds"]).toBe(n.uptime);
    expect(Object.keys(obs.sections)).toEqual(["node"]);
  });

  it("standalone PVE 8.4 via pvesh: /nodes entry + node status with current-kernel and boot-info", () => {
    const [n] = NodesListSchema.parse(parsePveshJson(fixture("pvesh-get-nodes.pve8.json")));
    const obs = mapNode(n!, STANDALONE, { status: NodeStatusSchema.parse(parsePveshJson(fixture("pvesh-node-status.pve8.json"))) });
    expect(obs.identity).toEqual(["pve-node:standalone:proxmox/proxmox"]);
    expect(obs.address).toBeNull();
    expect(obs.facts).toMatchObject({
      "pve.cluster": null,
      "pve.node.subscription_level": "p",
      "pve.node.ssl_fingerprint": "10:94:FF:EE:95:B2:AF:57:C6:A9:2B:C7:E1:0E:F9:A2:33:64:13:D4:AB:9F:C2:BD:74:44:88:67:A2:5A:D8:3A",
      "cpu.count": 8,
      "cpu.cores_per_socket": 4,
      "memory.total_bytes": 33537990656,
      "memory.used_bytes": 1952485376,
      "swap.total_bytes": 1073737728,
      "disk.total_bytes": 13471539200,
      "disk.used_bytes": 12836352000,
      uptime_seconds: 23433,
      "load.1m": 0.16,
      "load.5m": 0.1,
      "load.15m": 0.02,
      "pve.version": "8.4.14",
      "pve.repoid": "b502d23c55afcba1",
      "kernel.name": "Linux",
      "kernel.release": "6.8.12-15-pve",
      arch: "x86_64",
      "boot.mode": "legacy-bios",
      "boot.secureboot": false,
    });
    expect(obs.facts["memory.available_bytes"]).toBeUndefined();
  });

  it("1-node cluster resources: node + cifs/dir storages (shared flag)", () => {
    const r = res1();
    const obs = mapNode(r.nodes[0]!, STANDALONE, { storages: r.storages });
    expect(obs.identity).toEqual(["pve-node:standalone:pve/pve"]);
    expect(obs.facts).toMatchObject({
      "cpu.count": 12,
      "pve.storage.DSM.type": "cifs",
      "pve.storage.DSM.shared": true,
      "pve.storage.DSM.total_bytes": 9909187887104,
    });
  });

  it("PVE 9 memory.available and /nodes/{node}/storage entries", () => {
    const obs = mapNode({ node: "n9", status: "online" }, CLUSTER, {
      status: NodeStatusSchema.parse({ memory: { total: 100, used: 40, free: 60, available: 70 }, "boot-info": { mode: "efi", secureboot: 1 } }),
      storages: NodeStorageListSchema.parse([
        { storage: "local-lvm", type: "lvmthin", content: "images,rootdir", active: 1, enabled: 1, shared: 0, total: 1000, used: 250 },
      ]),
    });
    expect(obs.facts).toMatchObject({
      "memory.available_bytes": 70,
      "boot.mode": "efi",
      "boot.secureboot": true,
      "pve.storage.local-lvm.type": "lvmthin",
      "pve.storage.local-lvm.used_bytes": 250,
      "pve.storage.local-lvm.total_bytes": 1000,
    });
  });

  it.each(["offline", "unknown"])("a node Proxmox reports %s is unreachable", (state) => {
    const obs = mapNode({ node: "node5", status: state, type: "node", uptime: 99 }, CLUSTER, {
      sections: { status: { status: "failed", exitCode: null, detail: "595 No route to host" } },
    });
    expect(obs.status).toBe("unreachable");
    expect(obs.error).toBe(`Proxmox reports node node5 as ${state}`);
    expect(obs.facts["pve.node.status"]).toBe(state);
    expect(obs.facts["uptime_seconds"]).toBeUndefined();
    expect(obs.sections["status"]).toEqual({ status: "failed", exitCode: null, detail: "595 No route to host" });
  });

  it("without a caller override, an offline node's status section says why", () => {
    expect(mapNode({ node: "node5", status: "offline" }, CLUSTER).sections["status"]).toEqual({
      status: "unavailable",
      exitCode: null,
      reason: "node_offline",
    });
  });
});

const eth = (over: Partial<InterfaceObs>): InterfaceObs => ({ name: "eth0", mac: null, mtu: null, state: null, master: null, addresses: [], ...over });

describe("mapGuest: LXC", () => {
  it("running CT (1-node resources) + config (go-proxmox) + pre-2025 interfaces", () => {
    const g = guest(res1().guests, 100);
    const obs = mapGuest(g, STANDALONE, {
      config: LxcConfigSchema.parse(apiData("pve-api-lxc-config.json")),
      interfaces: LxcInterfacesSchema.parse(apiData("pve-api-lxc-interfaces.pre2025.json")),
    });
    expect(obs).toMatchObject({
      kind: "lxc",
      identity: ["pve-guest:standalone:pve/100"],
      parentIdentity: "pve-node:standalone:pve/pve",
      name: "Jellyfin",
      address: null,
      status: "ok",
      sections: { config: { status: "ok", exitCode: null }, interfaces: { status: "ok", exitCode: null } },
      observedAt: AT,
      durationMs: 0,
    });
    expect(obs.facts).toEqual({
      "pve.cluster": null,
      "pve.node": "pve",
      "pve.vmid": 100,
      "pve.status": "running",
      "pve.template": false,
      "pve.lock": null,
      "pve.pool": null,
      "pve.ha_state": null,
      "pve.tags": "tag1;tag2",
      "cpu.count": 2,
      "memory.total_bytes": 4096 * MiB,
      "memory.used_bytes": 5389254656,
      "swap.total_bytes": 512 * MiB,
      "disk.total_bytes": 30 * GiB,
      "disk.used_bytes": 29767077888,
      uptime_seconds: 1204757,
      "pve.ostype": "debian",
      "pve.onboot": true,
      "pve.protection": false,
      "pve.description": null,
      "pve.disks": JSON.stringify([
        { key: "rootfs", volid: "vmstore:subvol-101-disk-0", storage: "vmstore", size_bytes: 30 * GiB, mp: "/" },
        { key: "mp0", volid: "/mnt/foo/bar", storage: null, size_bytes: null, mp: "/storage" },
      ]),
      "pve.unprivileged": false,
      arch: "x86_64",
      "pve.net.0.vlan": null,
      "pve.net.0.firewall": true,
      "pve.addresses_source": "lxc-interfaces",
    });
    // Matched by name (eth0); the config MAC wins; lo is skipped.
    expect(obs.interfaces).toEqual([
      eth({
        mac: "5d:cf:bd:b2:c5:39",
        master: "vmbr0",
        addresses: [
          { family: "inet", address: "192.168.3.95", prefixlen: 22, scope: "global" },
          { family: "inet6", address: "fe80::be24:11ff:fe89:6707", prefixlen: 64, scope: "link" },
        ],
      }),
    ]);
  });

  it("2025+ interfaces: every address from ip-addresses, not only the last per family", () => {
    const g: GuestResource = { type: "lxc", vmid: 101, node: "pve", status: "running", template: false };
    const obs = mapGuest(g, STANDALONE, {
      config: LxcConfigSchema.parse({ hostname: "ct", net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:89:67:07,ip=dhcp,tag=30,type=veth" }),
      interfaces: LxcInterfacesSchema.parse(POST2025_LXC_INTERFACES),
    });
    expect(obs.interfaces).toEqual([
      eth({
        mac: "bc:24:11:89:67:07",
        master: "vmbr0",
        addresses: [
          { family: "inet", address: "192.168.3.95", prefixlen: 22, scope: "global" },
          { family: "inet", address: "192.168.3.96", prefixlen: 22, scope: "global" },
          { family: "inet6", address: "fe80::be24:11ff:fe89:6707", prefixlen: 64, scope: "link" },
        ],
      }),
    ]);
    expect(obs.facts["pve.net.0.vlan"]).toBe(30);
    expect(obs.name).toBe("ct");
  });

  it("stopped CT (PVE 6.2 list item + config): static ip= from the config, interfaces data null", () => {
    const [item] = LxcListSchema.parse(rawJson("pve-api-lxc-list.pve62.data-only.json"));
    const g = guestFromListItem({ ...item!, status: "stopped" }, "testnode", "lxc");
    const obs = mapGuest(g, CLUSTER, { config: LxcConfigSchema.parse(rawJson("pve-api-lxc-config.pve62.data-only.json")), interfaces: null });
    expect(obs.identity).toEqual(["pve-guest:clustername/100"]);
    expect(obs.status).toBe("ok");
    expect(obs.sections["interfaces"]).toEqual({ status: "unavailable", exitCode: null, reason: "stopped" });
    expect(obs.facts).toMatchObject({
      "pve.status": "stopped",
      "pve.lock": null,
      "pve.tags": "one;two;three",
      "pve.description": "A testnode",
      "cpu.count": 1,
      "memory.total_bytes": 1000 * MiB,
      "swap.total_bytes": 0,
      "disk.total_bytes": 4 * GiB,
      "memory.used_bytes": null,
      "disk.used_bytes": null,
      uptime_seconds: null,
      "pve.addresses_source": "config",
    });
    expect(obs.interfaces).toEqual([
      eth({ mac: "ff:ff:ff:ff:ff:ff", master: "vmbr0", addresses: [{ family: "inet", address: "10.1.1.3", prefixlen: 24, scope: "global" }] }),
    ]);
  });

  it("PVE 7 LXC list: vmid strings, template, list-only guests (no config, no runtime)", () => {
    const list = LxcListSchema.parse(apiData("pve-api-lxc-list.pve7.json"));
    const obs = list.map((i) => mapGuest(guestFromListItem(i, "node1", "lxc"), CLUSTER));
    expect(obs.map((o) => [o.identity[0], o.name, o.facts["pve.status"], o.facts["pve.template"], o.facts["cpu.count"]])).toEqual([
      ["pve-guest:clustername/106", "test", "running", false, 1],
      ["pve-guest:clustername/105", "zort", "running", false, 1],
      ["pve-guest:clustername/101", "test-container", "stopped", true, 1],
    ]);
    expect(obs[0]!.facts["swap.total_bytes"]).toBe(536870912);
    expect(obs[0]!.interfaces).toBeUndefined();
    expect(obs[2]!.sections).toEqual({ interfaces: { status: "unavailable", exitCode: null, reason: "stopped" } });
  });
});

describe("mapGuest: QEMU", () => {
  const agentOk = () => AgentNetworkReplySchema.parse(rawJson("pve-api-qemu-agent-network-get-interfaces.data-only.json"));

  it("PVE 6.2 running VM (list item, string vmid) + config + agent reply", () => {
    const [item] = QemuListSchema.parse(rawJson("pve-api-qemu-list.pve62.data-only.json"));
    const obs = mapGuest(guestFromListItem(item!, "testnode", "qemu"), CLUSTER, {
      config: QemuConfigSchema.parse(rawJson("pve-api-qemu-config.pve62.data-only.json")),
      interfaces: agentOk(),
    });
    expect(obs.kind).toBe("vm");
    expect(obs.identity).toEqual(["pve-guest:clustername/101"]);
    expect(obs.parentIdentity).toBe("pve-node:clustername/testnode");
    expect(obs.facts).toMatchObject({
      "pve.vmid": 101,
      "pve.status": "running",
      "pve.agent": true,
      "pve.onboot": true,
      "pve.ostype": "l26",
      "cpu.count": 1,
      "memory.total_bytes": 1000 * MiB,
      "disk.total_bytes": 8 * GiB,
      "pve.tags": "one;two;three",
      "pve.description": "A test qemu",
      "pve.addresses_source": "qemu-agent",
      "pve.created_at": null,
    });
    expect(JSON.parse(obs.facts["pve.disks"] as string)).toEqual([
      { key: "ide0", volid: "local-lvm:vm-101-cloudinit", storage: "local-lvm", size_bytes: 4 * MiB, media: "cdrom" },
      { key: "ide2", volid: "none", storage: null, size_bytes: null, media: "cdrom" },
      { key: "scsi0", volid: "local-lvm:vm-101-disk-0", storage: "local-lvm", size_bytes: 8 * GiB },
    ]);
    expect(obs.facts["disk.used_bytes"]).toBeUndefined();
    // The capture's MACs are all sanitised to ff:ff:…: eth0 and docker0 both match net0 by MAC.
    expect(obs.interfaces).toEqual([
      {
        name: "net0",
        mac: "ff:ff:ff:ff:ff:ff",
        mtu: null,
        state: null,
        master: "vmbr0",
        addresses: [
          { family: "inet", address: "10.1.2.3", prefixlen: 24, scope: "global" },
          { family: "inet6", address: "fd8c:4687:e88d:1be3:5b70:7b88:c79c:293", prefixlen: 64, scope: "global" },
          { family: "inet", address: "10.10.2.3", prefixlen: 16, scope: "global" },
        ],
      },
    ]);
  });

  it("agent interfaces of no NIC (docker0) are kept when they carry addresses; net0 matched by MAC", () => {
    const g = guest(res4().guests, 100);
    const reply = AgentNetworkReplySchema.parse({
      result: [
        { name: "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 }] },
        { name: "ens18", "hardware-address": "bc:24:11:4e:8f:d1", "ip-addresses": [{ "ip-address": "10.100.1.174", "ip-address-type": "ipv4", prefix: 24 }] },
        { name: "docker0", "hardware-address": "02:42:ac:11:00:01", "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4", prefix: 16 }] },
        { name: "veth1234", "hardware-address": "02:42:ac:11:00:02" },
      ],
    });
    const obs = mapGuest(g, CLUSTER, { config: QemuConfigSchema.parse(rawJson("pve-api-qemu-config.pve9.data-only.json")), interfaces: reply });
    expect(obs.name).toBe("server1");
    expect(obs.interfaces).toEqual([
      {
        name: "net0",
        mac: "bc:24:11:4e:8f:d1",
        mtu: null,
        state: null,
        master: "vmbr0",
        addresses: [{ family: "inet", address: "10.100.1.174", prefixlen: 24, scope: "global" }],
      },
      {
        name: "docker0",
        mac: "02:42:ac:11:00:01",
        mtu: null,
        state: null,
        master: null,
        addresses: [{ family: "inet", address: "172.17.0.1", prefixlen: 16, scope: "global" }],
      },
    ]);
    expect(obs.facts).toMatchObject({
      "cpu.count": 4,
      "memory.total_bytes": 4096 * MiB,
      "memory.used_bytes": 842551296,
      "disk.total_bytes": 160 * GiB,
      "pve.agent": false,
      "pve.created_at": "2025-08-11T08:18:03.000Z",
      uptime_seconds: 874350,
    });
  });

  it("PVE 9 config, stopped: static cloud-init ipconfig0 (ip6=auto is not an address)", () => {
    const g = guest(res4().guests, 102);
    const obs = mapGuest(g, CLUSTER, { config: QemuConfigSchema.parse(rawJson("pve-api-qemu-config.pve9.data-only.json")) });
    expect(obs.facts).toMatchObject({ "pve.status": "stopped", "pve.tags": "go-proxmox+cloud-init", "pve.addresses_source": "config", uptime_seconds: null });
    expect(obs.sections["interfaces"]).toEqual({ status: "unavailable", exitCode: null, reason: "stopped" });
    expect(obs.interfaces).toEqual([
      {
        name: "net0",
        mac: "bc:24:11:4e:8f:d1",
        mtu: null,
        state: null,
        master: "vmbr0",
        addresses: [{ family: "inet", address: "10.100.1.174", prefixlen: 24, scope: "global" }],
      },
    ]);
  });

  it("Windows guest: the agent's error form is 'unavailable', addresses fall back to the config", () => {
    const [, item] = QemuListSchema.parse(rawJson("pve-api-qemu-list.pve62.data-only.json"));
    const obs = mapGuest(guestFromListItem(item!, "testnode", "qemu"), CLUSTER, {
      config: QemuConfigSchema.parse({ name: "test-qemu-windows", agent: "1", ostype: "win10", net0: "e1000=BC:24:11:00:00:02,bridge=vmbr1,tag=10" }),
      interfaces: AgentNetworkReplySchema.parse(rawJson("pve-api-qemu-agent-network-get-interfaces.windows-unsupported.data-only.json")),
    });
    expect(obs.status).toBe("ok");
    expect(obs.sections["interfaces"]).toEqual({
      status: "unavailable",
      exitCode: null,
      reason: "agent_error",
      detail: "Unsupported: this feature or command is not currently supported",
    });
    expect(obs.interfaces).toEqual([{ name: "net0", mac: "bc:24:11:00:00:02", mtu: null, state: null, master: "vmbr1", addresses: [] }]);
    expect(obs.facts).toMatchObject({ "pve.net.0.vlan": 10, "pve.net.0.firewall": false, "pve.addresses_source": "config" });
  });

  it("running VM with the agent disabled in its config and no agent call", () => {
    const g = guest(res1().guests, 102);
    const obs = mapGuest(g, STANDALONE, { config: QemuConfigSchema.parse({ name: "win", agent: "0", cores: 2, sockets: 2, memory: "current=4096" }) });
    expect(obs.sections["interfaces"]).toEqual({ status: "unavailable", exitCode: null, reason: "agent_disabled" });
    expect(obs.facts).toMatchObject({ "cpu.count": 4, "memory.total_bytes": 4096 * MiB, "pve.agent": false, "disk.total_bytes": null });
  });

  it.each([
    [
      "template (4-node qemu/101)",
      101,
      { "pve.template": true, "pve.status": "stopped", "memory.total_bytes": 16777216000, "disk.total_bytes": 68719476736, "cpu.count": 4 },
    ],
    ["no name set (VM 200)", 200, { "pve.template": false, "pve.vmid": 200 }],
  ])("%s from /cluster/resources alone", (_n, vmid, facts) => {
    const obs = mapGuest(guest(res4().guests, vmid), CLUSTER);
    expect(obs.facts).toMatchObject(facts);
    expect(obs.interfaces).toBeUndefined();
  });

  it("every guest of the 1-node capture maps to its kind, with the node as parent", () => {
    const obs = res1().guests.map((g) => mapGuest(g, STANDALONE));
    expect(obs.map((o) => [o.kind, o.name, o.parentIdentity, o.status])).toEqual([
      ["lxc", "Jellyfin", "pve-node:standalone:pve/pve", "ok"],
      ["vm", "ubuntu", "pve-node:standalone:pve/pve", "ok"],
      ["vm", "win", "pve-node:standalone:pve/pve", "ok"],
    ]);
    // qemu/102 "win" has maxdisk 0 (boot disk size unknown): no disk size rather than 0.
    expect(obs[2]!.facts["disk.total_bytes"]).toBeNull();
  });

  it("status unknown (node offline): unreachable; lock, pool and HA state pass through", () => {
    const g: GuestResource = { type: "qemu", vmid: 300, node: "node5", status: "unknown", template: false, lock: "backup", pool: "prod", hastate: "started" };
    const obs = mapGuest(g, CLUSTER);
    expect(obs.status).toBe("unreachable");
    expect(obs.error).toMatch(/VM 300.*node5 offline/);
    expect(obs.facts).toMatchObject({ "pve.status": "unknown", "pve.lock": "backup", "pve.pool": "prod", "pve.ha_state": "started" });
    expect(obs.name).toBe("VM 300");
  });

  it("paused VM (qmpstatus) is running; caller sections override the defaults", () => {
    const g: GuestResource = { type: "qemu", vmid: 301, node: "node1", status: "running", qmpstatus: "paused", template: false };
    const obs = mapGuest(g, CLUSTER, { sections: { interfaces: { status: "unavailable", exitCode: null, reason: "no_guest_agent" } } });
    expect(obs.facts).toMatchObject({ "pve.status": "running", "pve.qmpstatus": "paused" });
    expect(obs.sections).toEqual({ interfaces: { status: "unavailable", exitCode: null, reason: "no_guest_agent" } });
  });
});
