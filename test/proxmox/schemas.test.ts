import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { parsePveshJson } from "../../src/discovery/proxmox/cli.js";
import {
  AgentNetworkReplySchema,
  ClusterResourcesSchema,
  ClusterStatusSchema,
  GuestResourceSchema,
  GuestStatusCurrentSchema,
  LxcConfigSchema,
  LxcInterfacesSchema,
  LxcListSchema,
  NodeStatusSchema,
  NodeStorageListSchema,
  NodesListSchema,
  QemuConfigSchema,
  QemuListSchema,
  VersionSchema,
  bool01,
  isStatusCluster,
  isStatusNode,
  num,
  splitResources,
} from "../../src/discovery/proxmox/schemas.js";
import { POST2025_LXC_INTERFACES, apiData, fixture, rawJson } from "./helpers.js";

describe("num() and bool01()", () => {
  it.each<[unknown, number]>([
    [101, 101],
    ["101", 101],
    ["4096", 4096],
    ["0.16", 0.16],
    ["800.000", 800],
    [0.0544631947461575, 0.0544631947461575],
  ])("num(%j) = %j", (input, want) => {
    expect(num().parse(input)).toBe(want);
  });

  it.each<[unknown]>([["abc"], [""], [null], [{}], [[1]], ["1,5"]])("num rejects %j", (input) => {
    expect(() => num().parse(input)).toThrow(ZodError);
  });

  it.each<[unknown, boolean]>([
    [1, true],
    ["1", true],
    [true, true],
    [0, false],
    ["0", false],
    [false, false],
    ["", false],
    [null, false],
    [undefined, false],
  ])("bool01(%j) = %j", (input, want) => {
    expect(bool01().parse(input)).toBe(want);
  });

  it.each<[unknown]>([[2], ["yes"], [{}]])("bool01 rejects %j", (input) => {
    expect(() => bool01().parse(input)).toThrow(ZodError);
  });
});

describe("GET /version", () => {
  it("PVE 7.4 capture", () => {
    expect(VersionSchema.parse(apiData("pve-api-version.pve7.json"))).toEqual({ release: "7.4", version: "7.4-16", repoid: "0f39f621" });
  });
});

describe("GET /cluster/status", () => {
  it("4-node capture: one cluster entry, four node entries, 0/1 booleans coerced", () => {
    const st = ClusterStatusSchema.parse(apiData("pve-api-cluster-status.4node.json"));
    const cluster = st.filter(isStatusCluster);
    expect(cluster).toEqual([{ type: "cluster", version: 4, quorate: true, name: "clustername", id: "cluster", nodes: 4 }]);
    const nodes = st.filter(isStatusNode);
    expect(nodes.map((n) => [n.name, n.nodeid, n.ip, n.online, n.local])).toEqual([
      ["node2", 2, "192.168.1.2", true, false],
      ["node3", 3, "192.168.1.3", true, false],
      ["node1", 1, "192.168.1.1", true, true],
      ["node4", 4, "192.168.1.4", true, false],
    ]);
  });

  it("standalone shape (FORMATS.md §1.4): a single node entry, no cluster entry", () => {
    const st = ClusterStatusSchema.parse([{ type: "node", id: "node/pve", name: "pve", ip: "10.0.0.2", local: 1, nodeid: 0, online: 1, level: "" }]);
    expect(st.filter(isStatusCluster)).toEqual([]);
    expect(st.filter(isStatusNode)[0]).toMatchObject({ name: "pve", online: true, local: true, nodeid: 0 });
  });

  it("tolerates an unknown entry type, rejects a node entry without a name", () => {
    expect(ClusterStatusSchema.parse([{ type: "qdevice", id: "qdevice" }])).toEqual([{ type: "qdevice", id: "qdevice" }]);
    expect(() => ClusterStatusSchema.parse([{ type: "node", id: "node/x", online: 1 }])).toThrow(ZodError);
  });
});

describe("GET /nodes", () => {
  it.each<[string, () => unknown, number]>([
    ["pve-api-nodes.4node.json (HTTP)", () => apiData("pve-api-nodes.4node.json"), 4],
    ["pvesh-get-nodes.pve8.json (pvesh, no envelope)", () => parsePveshJson(fixture("pvesh-get-nodes.pve8.json")), 1],
  ])("%s", (_name, load, count) => {
    const nodes = NodesListSchema.parse(load());
    expect(nodes).toHaveLength(count);
    for (const n of nodes) {
      expect(n.status).toBe("online");
      expect(typeof n.maxmem).toBe("number");
      expect(n.ssl_fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    }
  });

  it("an offline node without stats (no Sys.Audit / no RRD data) still parses", () => {
    expect(NodesListSchema.parse([{ node: "n5", status: "offline", type: "node", id: "node/n5" }])[0]).toMatchObject({ node: "n5", status: "offline" });
  });
});

describe("GET /nodes/{node}/status", () => {
  it("PVE 7.4 capture: loadavg strings become numbers; no current-kernel/boot-info", () => {
    const st = NodeStatusSchema.parse(apiData("pve-api-node-status.pve7.json"));
    expect(st.loadavg).toEqual([0, 0, 0]);
    expect(st.cpuinfo).toMatchObject({ cpus: 8, cores: 4, sockets: 1, mhz: 3400, model: "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz" });
    expect(st.memory).toEqual({ total: 65919459328, free: 57824059392, used: 8095399936 });
    expect(st.pveversion).toBe("pve-manager/7.4-16/0f39f621");
    expect(st["current-kernel"]).toBeUndefined();
    expect(st["boot-info"]).toBeUndefined();
  });

  it("PVE 8.4 pvesh capture: current-kernel and boot-info", () => {
    const st = NodeStatusSchema.parse(parsePveshJson(fixture("pvesh-node-status.pve8.json")));
    expect(st.loadavg).toEqual([0.16, 0.1, 0.02]);
    expect(st["current-kernel"]).toEqual({
      machine: "x86_64",
      release: "6.8.12-15-pve",
      sysname: "Linux",
      version: "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-15 (2025-09-12T11:02Z)",
    });
    expect(st["boot-info"]).toEqual({ mode: "legacy-bios", secureboot: false });
    expect(st.rootfs).toEqual({ avail: 1564672, free: 635187200, total: 13471539200, used: 12836352000 });
    expect(st.memory?.available).toBeUndefined();
  });

  it("rejects a wrong shape (memory as a string)", () => {
    expect(() => NodeStatusSchema.parse({ memory: "lots" })).toThrow(ZodError);
  });
});

describe("GET /cluster/resources", () => {
  it("4-node capture: nodes, qemu guests and storages; template 0/1 coerced", () => {
    const res = ClusterResourcesSchema.parse(apiData("pve-api-cluster-resources.4node.json"));
    const s = splitResources(res);
    expect(s.nodes.map((n) => n.node).sort()).toEqual(["node1", "node2", "node3", "node4"]);
    expect(s.guests.map((g) => [g.type, g.vmid, g.node, g.status, g.template])).toEqual([
      ["qemu", 100, "node2", "running", false],
      ["qemu", 101, "node1", "stopped", true],
      ["qemu", 102, "node1", "stopped", false],
      ["qemu", 200, "node1", "stopped", false],
    ]);
    expect(s.guests.find((g) => g.vmid === 102)?.tags).toBe("go-proxmox+cloud-init");
    expect(s.storages).toHaveLength(12);
    expect(s.storages.every((x) => x.shared === false)).toBe(true);
    expect(s.nodes[0]?.["cgroup-mode"]).toBe(2);
    expect(s.other).toEqual([]);
  });

  it("1-node capture: lxc, qemu (maxdisk 0), node, cifs/dir storages and an sdn entry", () => {
    const res = ClusterResourcesSchema.parse(apiData("pve-api-cluster-resources.1node-lxc.json"));
    const s = splitResources(res);
    expect(s.guests.map((g) => [g.type, g.vmid, g.name, g.status])).toEqual([
      ["lxc", 100, "Jellyfin", "running"],
      ["qemu", 101, "ubuntu", "stopped"],
      ["qemu", 102, "win", "running"],
    ]);
    expect(s.guests.find((g) => g.vmid === 102)?.maxdisk).toBe(0);
    expect(s.storages.map((x) => [x.storage, x.plugintype, x.shared])).toEqual([
      ["DSM", "cifs", true],
      ["hard", "dir", false],
      ["local", "dir", false],
    ]);
    expect(s.other).toEqual([{ id: "sdn/pve/localnetwork", node: "pve", sdn: "localnetwork", status: "ok", type: "sdn" }]);
  });

  it("pool, network, unknown and optional guest keys (no capture: shapes from FORMATS.md §1.4)", () => {
    const res = ClusterResourcesSchema.parse([
      { id: "/pool/prod", type: "pool", pool: "prod" },
      { id: "network/pve/vmbr0", type: "network" },
      { id: "mystery/1", type: "mystery", foo: 1 },
      { id: "lxc/105", type: "lxc", vmid: 105, node: "pve", status: "unknown", template: 0, pool: "prod", hastate: "started", lock: "backup", memhost: 1 },
    ]);
    const s = splitResources(res);
    expect(s.pools).toEqual(["prod"]);
    expect(s.other.map((o) => o.type)).toEqual(["network", "mystery"]);
    expect(s.guests[0]).toMatchObject({ pool: "prod", hastate: "started", lock: "backup", status: "unknown" });
  });

  it("a guest entry of a known type with a wrong shape throws", () => {
    expect(() => ClusterResourcesSchema.parse([{ id: "qemu/1", type: "qemu", node: "pve" }])).toThrow(ZodError);
    expect(() => GuestResourceSchema.parse({ type: "lxc", vmid: "abc", node: "pve" })).toThrow(ZodError);
  });
});

describe("guest lists", () => {
  it("LXC list PVE 7 capture: vmid strings, template only when 1, pid only when running", () => {
    const list = LxcListSchema.parse(apiData("pve-api-lxc-list.pve7.json"));
    expect(list.map((g) => [g.vmid, g.name, g.status, g.template, g.pid])).toEqual([
      [106, "test", "running", false, 248173],
      [105, "zort", "running", false, 248045],
      [101, "test-container", "stopped", true, undefined],
    ]);
  });

  it('LXC list PVE 6.2 (data only): vmid/pid/disk/maxdisk strings, template "", lock ""', () => {
    const [g] = LxcListSchema.parse(rawJson("pve-api-lxc-list.pve62.data-only.json"));
    expect(g).toMatchObject({ vmid: 100, pid: 1000, disk: 1000, maxdisk: 1000, template: false, lock: "", type: "lxc" });
  });

  it('qemu list PVE 6.2 (data only): no type key, vmid/pid strings, template "" or 1', () => {
    const list = QemuListSchema.parse(rawJson("pve-api-qemu-list.pve62.data-only.json"));
    expect(list.map((g) => [g.vmid, g.name, g.template, g.pid, g["type"]])).toEqual([
      [101, "test-qemu", false, 1001, undefined],
      [102, "test-qemu-windows", false, 1001, undefined],
      [103, "test-qemu-multi-nic", false, 1001, undefined],
      [9001, "test-qemu-template", true, 1001, undefined],
    ]);
  });
});

describe("GET …/{lxc,qemu}/{vmid}/status/current", () => {
  it.each([
    ["pve-api-lxc-status-current.json", { vmid: 101, type: "lxc", status: "stopped", template: true, agent: false, ha: { managed: false }, tags: "tag1;tag2" }],
    [
      "pve-api-qemu-status-current.pve8.json",
      {
        vmid: 101,
        status: "running",
        qmpstatus: "running",
        template: false,
        agent: true,
        ha: { managed: false },
        "running-qemu": "8.0.2",
        pid: 1563102,
        cpus: 8,
      },
    ],
  ])("%s", (name, want) => {
    expect(GuestStatusCurrentSchema.parse(apiData(name))).toMatchObject(want);
  });
});

describe("guest configs", () => {
  it("LXC config (go-proxmox PVE 7): numbers, lxc pairs, property strings kept", () => {
    const c = LxcConfigSchema.parse(apiData("pve-api-lxc-config.json"));
    expect(c).toMatchObject({
      hostname: "test-container",
      cores: 2,
      memory: 4096,
      swap: 512,
      onboot: true,
      unprivileged: false,
      ostype: "debian",
      tags: "tag1;tag2",
    });
    expect(c["net0"]).toBe("name=eth0,bridge=vmbr0,firewall=1,hwaddr=5D:CF:BD:B2:C5:39,ip=dhcp,type=veth");
    expect(c.lxc).toHaveLength(5);
    expect(c.lxc?.[3]).toEqual(["lxc.mount.entry", "/dev/dri dev/dri none bind,optional,create=dir"]);
  });

  it("LXC config PVE 6.2 (data only): cpulimit as string, onboot 0", () => {
    const c = LxcConfigSchema.parse(rawJson("pve-api-lxc-config.pve62.data-only.json"));
    expect(c).toMatchObject({ cpulimit: 0, onboot: false, protection: false, memory: 1000, description: "A testnode", tags: "one, two, three" });
  });

  it.each<[string, number | string, string]>([
    ["pve-api-qemu-config.pve62.data-only.json", 1000, "1,fstrim_cloned_disks=1"],
    ["pve-api-qemu-config.pve9.data-only.json", "4096", ""],
  ])("qemu config %s: memory %j as sent, agent %j", (name, memory, agent) => {
    const c = QemuConfigSchema.parse(rawJson(name));
    expect(c.memory).toBe(memory);
    expect(c.agent ?? "").toBe(agent);
    expect(c.onboot).toBe(true);
  });

  it("qemu agent given as a number is read as a string", () => {
    expect(QemuConfigSchema.parse({ agent: 1 }).agent).toBe("1");
  });
});

describe("GET …/lxc/{vmid}/interfaces", () => {
  it("pre-2025 capture: {name, hwaddr, inet, inet6}", () => {
    const list = LxcInterfacesSchema.parse(apiData("pve-api-lxc-interfaces.pre2025.json"));
    expect(list).toEqual([
      { inet: "127.0.0.1/8", hwaddr: "00:00:00:00:00:00", name: "lo", inet6: "::1/128" },
      { inet6: "fe80::be24:11ff:fe89:6707/64", name: "eth0", hwaddr: "bc:24:11:89:67:07", inet: "192.168.3.95/22" },
    ]);
  });

  it("2025+ shape (pve-container 5f9f011: hardware-address, ip-addresses; FORMATS.md §1.4, no capture)", () => {
    const list = LxcInterfacesSchema.parse(POST2025_LXC_INTERFACES);
    expect(list?.[1]?.["ip-addresses"]).toHaveLength(3);
    expect(list?.[1]?.["hardware-address"]).toBe("bc:24:11:89:67:07");
  });

  it("stopped container: data null", () => {
    expect(LxcInterfacesSchema.parse(EnvelopeNull.data)).toBeNull();
  });
});

describe("QEMU agent network-get-interfaces", () => {
  it("result array (ansible PVE 6.2 capture)", () => {
    const r = AgentNetworkReplySchema.parse(rawJson("pve-api-qemu-agent-network-get-interfaces.data-only.json"));
    expect(Array.isArray(r.result)).toBe(true);
    if (!Array.isArray(r.result)) return;
    expect(r.result.map((i) => i.name)).toEqual(["lo", "eth0", "docker0"]);
    expect(r.result[1]?.["ip-addresses"]?.[1]).toEqual({ prefix: 64, "ip-address": "fd8c:4687:e88d:1be3:5b70:7b88:c79c:293", "ip-address-type": "ipv6" });
  });

  it("error form (Windows guest)", () => {
    const r = AgentNetworkReplySchema.parse(rawJson("pve-api-qemu-agent-network-get-interfaces.windows-unsupported.data-only.json"));
    expect(r.result).toEqual({ error: { desc: "this feature or command is not currently supported", class: "Unsupported" } });
  });

  it("an interface with only name and hardware-address (ansible vethwe-* items)", () => {
    const r = AgentNetworkReplySchema.parse({ result: [{ name: "vethwe-datapath", "hardware-address": "aa:bb:cc:dd:ee:ff" }] });
    expect(r.result).toEqual([{ name: "vethwe-datapath", "hardware-address": "aa:bb:cc:dd:ee:ff" }]);
  });
});

describe("GET /nodes/{node}/storage (shape from pve-storage Status.pm, no capture)", () => {
  it("parses enabled/active/shared flags and sizes", () => {
    const [s] = NodeStorageListSchema.parse([
      {
        storage: "local-lvm",
        type: "lvmthin",
        content: "images,rootdir",
        active: 1,
        enabled: 1,
        shared: 0,
        total: 100,
        used: 40,
        avail: 60,
        used_fraction: 0.4,
      },
    ]);
    expect(s).toMatchObject({ storage: "local-lvm", type: "lvmthin", active: true, enabled: true, shared: false, total: 100, used: 40 });
  });
});

/** The HTTP body for a stopped container's interfaces. */
const EnvelopeNull = { data: null };
