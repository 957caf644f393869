import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import {
  isNotClusteredError,
  parseConfigText,
  parsePctConfig,
  parsePctList,
  parsePvecmStatus,
  parsePveshJson,
  parsePveversion,
  parseQmConfig,
  parseQmList,
  pctRowToGuest,
  qmRowToGuest,
} from "../../src/discovery/proxmox/cli.js";
import { mapGuest } from "../../src/discovery/proxmox/map.js";
import { ClusterResourcesSchema, NodeStatusSchema } from "../../src/discovery/proxmox/schemas.js";
import { apiData, fixture } from "./helpers.js";

describe("pct list", () => {
  it("capture (ntc-templates): leading blank line, empty Lock column, no trailing newline", () => {
    expect(parsePctList(fixture("pct-list.txt"))).toEqual([
      { vmid: 100, status: "stopped", lock: null, name: "netmiko" },
      { vmid: 101, status: "stopped", lock: null, name: "ntc_templates" },
      { vmid: 1001, status: "running", lock: null, name: "something" },
    ]);
  });

  it.each<[string, string, ReturnType<typeof parsePctList>]>([
    ["no containers: no output at all", "", []],
    ["only whitespace", "\n\n", []],
    [
      "a lock, and a lock wider than its column",
      "VMID       Status     Lock         Name                \n200        running    backup       web                 \n201        stopped    snapshot-delete db\n",
      [
        { vmid: 200, status: "running", lock: "backup", name: "web" },
        { vmid: 201, status: "stopped", lock: "snapshot-delete", name: "db" },
      ],
    ],
    [
      "a name longer than 20 characters",
      "VMID       Status     Lock         Name                \n300        running                 a-very-long-container-hostname-01\n",
      [{ vmid: 300, status: "running", lock: null, name: "a-very-long-container-hostname-01" }],
    ],
  ])("%s", (_n, text, want) => {
    expect(parsePctList(text)).toEqual(want);
  });

  it("rejects output that is not a pct list", () => {
    expect(() => parsePctList("bash: pct: command not found\n")).toThrow(/pct list: unexpected line/);
  });

  it("rows become lxc resources", () => {
    expect(pctRowToGuest({ vmid: 200, status: "running", lock: "backup", name: "web" }, "pve")).toEqual({
      id: "lxc/200",
      type: "lxc",
      vmid: 200,
      node: "pve",
      name: "web",
      status: "running",
      template: false,
      lock: "backup",
    });
  });
});

describe("qm list", () => {
  it("capture (ntc-templates)", () => {
    expect(parseQmList(fixture("qm-list.txt"))).toEqual([
      { vmid: 100, name: "Screen-Sun-AAAAAAA", status: "running", memMiB: 1111, bootDiskGiB: 11, pid: 1111111 },
    ]);
  });

  it.each<[string, string, ReturnType<typeof parseQmList>]>([
    ["no VMs: no output", "", []],
    [
      "default name with a space, stopped (pid 0), fractional MiB, paused, long name",
      [
        "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ",
        "       100 VM 100               stopped    2048              32.00 0         ",
        "       101 web                  paused     1953.125          10.50 4242      ",
        "      9001 a-very-long-vm-name-that-overflows running    512                0.00 77        ",
      ].join("\n"),
      [
        { vmid: 100, name: "VM 100", status: "stopped", memMiB: 2048, bootDiskGiB: 32, pid: null },
        { vmid: 101, name: "web", status: "paused", memMiB: 1953.125, bootDiskGiB: 10.5, pid: 4242 },
        { vmid: 9001, name: "a-very-long-vm-name-that-overflows", status: "running", memMiB: 512, bootDiskGiB: 0, pid: 77 },
      ],
    ],
  ])("%s", (_n, text, want) => {
    expect(parseQmList(text)).toEqual(want);
  });

  it("rows become qemu resources; a QMP state becomes qmpstatus", () => {
    const [stopped, paused] = parseQmList(
      "       100 VM 100               stopped    2048              32.00 0\n       101 web                  paused     1024              10.50 4242\n",
    );
    expect(qmRowToGuest(stopped!, "pve")).toMatchObject({
      type: "qemu",
      vmid: 100,
      node: "pve",
      status: "stopped",
      maxmem: 2048 * 1024 ** 2,
      maxdisk: 32 * 1024 ** 3,
    });
    expect(qmRowToGuest(paused!, "pve")).toMatchObject({ status: "running", qmpstatus: "paused", pid: 4242 });
  });
});

describe("pct config / qm config", () => {
  it("pct config capture → the API config object", () => {
    const raw = parseConfigText(fixture("pct-config.txt"));
    expect(raw).toEqual({
      arch: "amd11",
      cores: "1111",
      cpulimit: "1",
      cpuunits: "1111",
      description: " Something really bad",
      features: "nesting=1",
      hostname: "ntc_templates",
      memory: "1111",
      net0: "name=eth0,bridge=vmbr0,firewall=1,gw=1.1.1.1,hwaddr=AA:AA:AA:AA:AA:AA,ip=1.1.1.2/8,type=veth",
      onboot: "1",
      ostype: "ubuntu",
      rootfs: "local:1/vm-1-disk-0.raw,size=1000G",
      swap: "1111",
      unprivileged: "0",
      tags: "tag1,tag2,tag3",
      lxc: [
        ["lxc.apparmor.profile", "unconfined"],
        ["lxc.cgroup.devices.allow", "a"],
        ["lxc.apparmor.profile", "unconfined"],
        ["lxc.cgroup.devices.allow", "a"],
      ],
    });
    const cfg = parsePctConfig(fixture("pct-config.txt"));
    expect(cfg).toMatchObject({ cores: 1111, memory: 1111, swap: 1111, onboot: true, unprivileged: false, hostname: "ntc_templates" });
  });

  it("pct config feeds mapGuest like the API config does", () => {
    const cfg = parsePctConfig(fixture("pct-config.txt"));
    const [row] = parsePctList(fixture("pct-list.txt"));
    const obs = mapGuest(pctRowToGuest(row!, "pve"), { cluster: null, observedAt: new Date(0) }, { config: cfg });
    expect(obs.identity).toEqual(["pve-guest:standalone:pve/100"]);
    expect(obs.facts).toMatchObject({
      "cpu.count": 1111,
      "memory.total_bytes": 1111 * 1024 ** 2,
      "disk.total_bytes": 1000 * 1024 ** 3,
      "pve.description": "Something really bad",
      "pve.tags": "tag1;tag2;tag3",
      "pve.onboot": true,
      "pve.unprivileged": false,
    });
    expect(obs.interfaces).toEqual([
      {
        name: "eth0",
        mac: "aa:aa:aa:aa:aa:aa",
        mtu: null,
        state: null,
        master: "vmbr0",
        addresses: [{ family: "inet", address: "1.1.1.2", prefixlen: 8, scope: "global" }],
      },
    ]);
  });

  it("qm config: percent-encoded description, memory property string, snapshot sections ignored", () => {
    const text = [
      "agent: 1",
      "boot: order=scsi0",
      "cores: 2",
      "description: Web server%0Aowner%3A ops",
      "memory: 4096",
      "name: web",
      "net0: virtio=BC:24:11:4E:8F:D1,bridge=vmbr0,firewall=1",
      "onboot: 1",
      "scsi0: local-lvm:vm-100-disk-0,size=32G",
      "sockets: 1",
      "",
      "[before-upgrade]",
      "memory: 1",
    ].join("\n");
    const cfg = parseQmConfig(text);
    expect(cfg).toMatchObject({ agent: "1", cores: 2, sockets: 1, memory: "4096", name: "web", onboot: true, description: "Web server\nowner: ops" });
  });

  it("empty config text is an empty config; junk throws", () => {
    expect(parseConfigText("")).toEqual({});
    expect(() => parseConfigText("Configuration file 'nodes/pve/qemu-server/999.conf' does not exist\n")).toThrow(/no `key: value` lines/);
    expect(() => parsePctConfig("cores: many\n")).toThrow(ZodError);
  });
});

describe("pvesh --output-format json", () => {
  it("one line, pretty-printed, and empty output", () => {
    expect(parsePveshJson(fixture("pvesh-get-nodes.pve8.json"))).toHaveLength(1);
    const pretty = JSON.stringify(apiData("pve-api-cluster-resources.1node-lxc.json"), null, 4);
    expect(ClusterResourcesSchema.parse(parsePveshJson(pretty))).toHaveLength(8);
    expect(parsePveshJson("")).toBeNull();
    expect(parsePveshJson("null\n")).toBeNull();
    expect(() => parsePveshJson("Usage: pvesh get <api_path>")).toThrow(/pvesh: output is not JSON/);
    expect(NodeStatusSchema.parse(parsePveshJson(fixture("pvesh-node-status.pve8.json"))).pveversion).toBe("pve-manager/8.4.14/b502d23c55afcba1");
  });
});

describe("pveversion", () => {
  it("capture (sanitised)", () => {
    expect(parsePveversion(fixture("pveversion.txt"))).toEqual({ version: "1.1-1", repoid: "101a1111", runningKernel: "1.1.11-11-pve" });
  });
  it("real PVE 8.4.14 line; not a pveversion", () => {
    expect(parsePveversion("pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-15-pve)\n")).toEqual({
      version: "8.4.14",
      repoid: "b502d23c55afcba1",
      runningKernel: "6.8.12-15-pve",
    });
    expect(parsePveversion("bash: pveversion: command not found")).toBeNull();
    expect(parsePveversion("")).toBeNull();
  });
});

describe("pvecm status", () => {
  it("1-node corosync 3 capture", () => {
    expect(parsePvecmStatus(fixture("pvecm-status.1node.txt"))).toEqual({
      clusterName: "local-cluster",
      configVersion: 1,
      transport: "knet",
      quorate: true,
      nodes: 1,
      localNodeId: 1,
      expectedVotes: 1,
      totalVotes: 1,
      quorum: 1,
      ringId: "1.5",
      members: [{ nodeid: 1, votes: 1, name: "192.168.0.150", local: true }],
    });
  });

  it("3-node corosync 2 capture: no Cluster information block", () => {
    const st = parsePvecmStatus(fixture("pvecm-status.3node.corosync2.txt"));
    expect(st).toMatchObject({ clusterName: null, transport: null, quorate: true, nodes: 3, localNodeId: 1, expectedVotes: 3, quorum: 2, ringId: "1/348" });
    expect(st.members).toEqual([
      { nodeid: 1, votes: 1, name: "192.168.1.101", local: true },
      { nodeid: 2, votes: 1, name: "192.168.1.102", local: false },
      { nodeid: 3, votes: 1, name: "192.168.1.103", local: false },
    ]);
  });

  it("standalone node: the error text", () => {
    const stderr = fixture("pvecm-status.not-clustered.stderr.txt");
    expect(isNotClusteredError(stderr)).toBe(true);
    expect(isNotClusteredError("pvecm: command not found")).toBe(false);
    expect(() => parsePvecmStatus(stderr)).toThrow(/no quorum or membership/);
  });
});
