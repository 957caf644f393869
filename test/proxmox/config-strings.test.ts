import { describe, expect, it } from "vitest";
import {
  decodeConfigText,
  isDataDisk,
  isDiskKey,
  parseAgent,
  parseCidr,
  parseDisk,
  parseIpConfig,
  parseLxcNet,
  parseMeta,
  parsePropertyString,
  parsePveManagerVersion,
  parseQemuMemory,
  parseQemuNet,
  parseSize,
  parseTags,
} from "../../src/discovery/proxmox/config-strings.js";
import { LxcConfigSchema, QemuConfigSchema } from "../../src/discovery/proxmox/schemas.js";
import { apiData, rawJson } from "./helpers.js";

describe("parsePropertyString", () => {
  it.each<[string, string | undefined, Record<string, string>]>([
    ["a=1,b=2", undefined, { a: "1", b: "2" }],
    ["local-lvm:vm-100-disk-0,size=32G", "file", { file: "local-lvm:vm-100-disk-0", size: "32G" }],
    ["1,fstrim_cloned_disks=1", "enabled", { enabled: "1", fstrim_cloned_disks: "1" }],
    ["a=x=y,,b=", undefined, { a: "x=y", b: "" }],
    ["", undefined, {}],
  ])("%j (default key %j)", (s, def, want) => {
    expect(parsePropertyString(s, def)).toEqual(want);
  });
});

describe("parseSize", () => {
  it.each<[string, number | null]>([
    ["8G", 8 * 1024 ** 3],
    ["512M", 512 * 1024 ** 2],
    ["1T", 1024 ** 4],
    ["100K", 102400],
    ["4096", 4096],
    ["4.5G", 4.5 * 1024 ** 3],
    ["16GiB", 16 * 1024 ** 3],
    ["1000G", 1000 * 1024 ** 3],
    ["8g", null],
    ["big", null],
    ["", null],
  ])("%j → %j", (s, want) => {
    expect(parseSize(s)).toBe(want);
  });
});

describe("parseLxcNet", () => {
  it.each([
    [
      "go-proxmox capture (dhcp)",
      "name=eth0,bridge=vmbr0,firewall=1,hwaddr=5D:CF:BD:B2:C5:39,ip=dhcp,type=veth",
      {
        name: "eth0",
        mac: "5d:cf:bd:b2:c5:39",
        bridge: "vmbr0",
        vlan: null,
        firewall: true,
        ip: "dhcp",
        gw: null,
        ip6: null,
        gw6: null,
        mtu: null,
        linkDown: false,
        trunks: null,
      },
    ],
    [
      "PVE 6.2 capture (static, no firewall)",
      "name=eth0,bridge=vmbr0,gw=10.1.1.1,hwaddr=FF:FF:FF:FF:FF:FF,ip=10.1.1.3/24,type=veth",
      {
        name: "eth0",
        mac: "ff:ff:ff:ff:ff:ff",
        bridge: "vmbr0",
        vlan: null,
        firewall: false,
        ip: "10.1.1.3/24",
        gw: "10.1.1.1",
        ip6: null,
        gw6: null,
        mtu: null,
        linkDown: false,
        trunks: null,
      },
    ],
    [
      "VLAN, IPv6, MTU, link down",
      "name=eth1,bridge=vmbr1,hwaddr=BC:24:11:2E:C5:7E,ip6=fd00::5/64,gw6=fd00::1,tag=20,mtu=9000,link_down=1,type=veth",
      {
        name: "eth1",
        mac: "bc:24:11:2e:c5:7e",
        bridge: "vmbr1",
        vlan: 20,
        firewall: false,
        ip: null,
        gw: null,
        ip6: "fd00::5/64",
        gw6: "fd00::1",
        mtu: 9000,
        linkDown: true,
        trunks: null,
      },
    ],
  ])("%s", (_n, s, want) => {
    expect(parseLxcNet(s)).toEqual(want);
  });
});

describe("parseQemuNet", () => {
  it.each([
    [
      "PVE 9 capture",
      "virtio=bc:24:11:4e:8f:d1,bridge=vmbr0,firewall=1",
      { model: "virtio", mac: "bc:24:11:4e:8f:d1", bridge: "vmbr0", vlan: null, firewall: true },
    ],
    [
      "PVE 6.2 capture",
      "virtio=ff:ff:ff:ff:ff:ff,bridge=vmbr0,firewall=1",
      { model: "virtio", mac: "ff:ff:ff:ff:ff:ff", bridge: "vmbr0", vlan: null, firewall: true },
    ],
    [
      "e1000 with VLAN tag",
      "e1000=BC:24:11:4E:8F:D1,bridge=vmbr0,tag=10",
      { model: "e1000", mac: "bc:24:11:4e:8f:d1", bridge: "vmbr0", vlan: 10, firewall: false },
    ],
    [
      "model=/macaddr= spelling",
      "model=vmxnet3,macaddr=BC:24:11:00:00:01,bridge=vmbr2",
      { model: "vmxnet3", mac: "bc:24:11:00:00:01", bridge: "vmbr2", vlan: null, firewall: false },
    ],
    ["bare model (no MAC yet), user networking", "virtio", { model: "virtio", mac: null, bridge: null, vlan: null, firewall: false }],
  ])("%s", (_n, s, want) => {
    expect(parseQemuNet(s)).toMatchObject(want);
  });

  it("mtu, queues, link_down", () => {
    expect(parseQemuNet("virtio=BC:24:11:4E:8F:D1,bridge=vmbr0,mtu=1,queues=4,link_down=1")).toMatchObject({ mtu: 1, queues: 4, linkDown: true });
  });
});

describe("parseDisk", () => {
  it.each([
    [
      "scsi0",
      "local-lvm:vm-100-disk-0,size=32G",
      { volid: "local-lvm:vm-100-disk-0", storage: "local-lvm", sizeBytes: 32 * 1024 ** 3, media: null, mountpoint: null },
      true,
    ],
    ["rootfs", "local-lvm:vm-101-disk-0,size=8G", { volid: "local-lvm:vm-101-disk-0", storage: "local-lvm", sizeBytes: 8 * 1024 ** 3, mountpoint: "/" }, true],
    ["rootfs", "vmstore:subvol-101-disk-0,size=30G", { storage: "vmstore", sizeBytes: 30 * 1024 ** 3 }, true],
    ["rootfs", "local:1/vm-1-disk-0.raw,size=1000G", { storage: "local", volid: "local:1/vm-1-disk-0.raw" }, true],
    ["mp0", "/mnt/foo/bar,mp=/storage", { volid: "/mnt/foo/bar", storage: null, sizeBytes: null, mountpoint: "/storage" }, true],
    ["mp1", "volume=tank:subvol-101-disk-1,mp=/data,size=100G", { volid: "tank:subvol-101-disk-1", storage: "tank", mountpoint: "/data" }, true],
    ["ide2", "none,media=cdrom", { volid: "none", storage: null, media: "cdrom" }, false],
    ["ide0", "local-lvm:vm-101-cloudinit,media=cdrom,size=4M", { storage: "local-lvm", media: "cdrom", sizeBytes: 4 * 1024 ** 2 }, false],
    ["scsi1", "local-zfs:vm-111-cloudinit,media=cdrom", { media: "cdrom" }, false],
    ["scsi0", "local-zfs:vm-111-disk-1,discard=on,size=160G,ssd=1", { storage: "local-zfs", sizeBytes: 160 * 1024 ** 3 }, true],
    ["efidisk0", "local-zfs:vm-111-disk-0,efitype=4m,size=1M", { sizeBytes: 1024 ** 2 }, false],
    ["unused0", "local-lvm:vm-100-disk-9", { storage: "local-lvm", sizeBytes: null }, false],
  ])("%s: %s", (key, value, want, data) => {
    const d = parseDisk(key, value);
    expect(d).toMatchObject({ key, ...want });
    expect(isDataDisk(d)).toBe(data);
  });

  it.each<["lxc" | "qemu", string, boolean]>([
    ["lxc", "rootfs", true],
    ["lxc", "mp3", true],
    ["lxc", "net0", false],
    ["qemu", "scsi30", true],
    ["qemu", "virtio0", true],
    ["qemu", "efidisk0", true],
    ["qemu", "tpmstate0", true],
    ["qemu", "scsihw", false],
    ["qemu", "ipconfig0", false],
  ])("isDiskKey(%s, %s) = %s", (kind, key, want) => {
    expect(isDiskKey(kind, key)).toBe(want);
  });
});

describe("parseIpConfig and parseCidr", () => {
  it.each([
    ["ip=10.0.0.5/24,gw=10.0.0.1", { ip: "10.0.0.5/24", gw: "10.0.0.1", ip6: null, gw6: null }],
    ["ip=dhcp", { ip: "dhcp", gw: null, ip6: null, gw6: null }],
    ["ip6=auto", { ip: null, gw: null, ip6: "auto", gw6: null }],
    ["ip=10.100.1.174/24,gw=10.100.1.1,ip6=auto", { ip: "10.100.1.174/24", gw: "10.100.1.1", ip6: "auto", gw6: null }],
  ])("%s", (s, want) => {
    expect(parseIpConfig(s)).toEqual(want);
  });

  it.each([
    ["192.168.3.95/22", { family: "inet", address: "192.168.3.95", prefixlen: 22 }],
    ["FD00::5/64", { family: "inet6", address: "fd00::5", prefixlen: 64 }],
    ["dhcp", null],
    ["auto", null],
    ["10.0.0.300/24", null],
    ["10.0.0.1/33", null],
    ["10.0.0.1", null],
  ])("parseCidr(%j)", (s, want) => {
    expect(parseCidr(s)).toEqual(want);
  });
});

describe("parseTags", () => {
  it.each<[string | undefined, string[]]>([
    ["tag1;tag2", ["tag1", "tag2"]],
    ["one, two, three", ["one", "two", "three"]],
    ["tag1,tag2,tag3", ["tag1", "tag2", "tag3"]],
    ["go-proxmox+cloud-init", ["go-proxmox+cloud-init"]],
    ["a;a; b", ["a", "b"]],
    ["", []],
    [undefined, []],
  ])("%j", (s, want) => {
    expect(parseTags(s)).toEqual(want);
  });
});

describe("parseAgent", () => {
  it.each<[string | number | undefined, { enabled: boolean; fstrimClonedDisks: boolean; type: string | null }]>([
    ["1", { enabled: true, fstrimClonedDisks: false, type: null }],
    ["0", { enabled: false, fstrimClonedDisks: false, type: null }],
    ["enabled=1,fstrim_cloned_disks=1", { enabled: true, fstrimClonedDisks: true, type: null }],
    ["1,fstrim_cloned_disks=1", { enabled: true, fstrimClonedDisks: true, type: null }],
    ["enabled=0,type=isa", { enabled: false, fstrimClonedDisks: false, type: "isa" }],
    [1, { enabled: true, fstrimClonedDisks: false, type: null }],
    [undefined, { enabled: false, fstrimClonedDisks: false, type: null }],
  ])("%j", (v, want) => {
    expect(parseAgent(v)).toMatchObject(want);
  });
});

describe("parseQemuMemory, parseMeta", () => {
  it.each<[string | number | undefined, number | null]>([
    [1000, 1000],
    ["4096", 4096],
    ["current=2048", 2048],
    ["current=2048,foo=1", 2048],
    ["lots", null],
    [undefined, null],
  ])("parseQemuMemory(%j) = %j", (v, want) => {
    expect(parseQemuMemory(v)).toBe(want);
  });

  it("meta of the PVE 9 capture", () => {
    const c = QemuConfigSchema.parse(rawJson("pve-api-qemu-config.pve9.data-only.json"));
    expect(parseMeta(c.meta)).toEqual({ creationQemu: "10.0.2", ctime: 1754900283 });
    expect(parseMeta(undefined)).toEqual({ creationQemu: null, ctime: null });
  });
});

describe("description encoding", () => {
  it("the API returns descriptions decoded (captures): nothing to do", () => {
    expect(LxcConfigSchema.parse(rawJson("pve-api-lxc-config.pve62.data-only.json")).description).toBe("A testnode");
    expect(QemuConfigSchema.parse(rawJson("pve-api-qemu-config.pve62.data-only.json")).description).toBe("A test qemu");
    expect(LxcConfigSchema.parse(apiData("pve-api-lxc-config.json")).description).toBeUndefined();
  });

  it.each([
    ["Something really bad", "Something really bad"],
    ["line one%0Aline two%0A", "line one\nline two\n"],
    ["see http%3A//x", "see http://x"],
    ["caf%C3%A9 100%25", "café 100%"],
    ["50% off, %ZZ and %C3", "50% off, %ZZ and %C3"],
  ])("decodeConfigText(%j) (CLI, PVE encode_text)", (s, want) => {
    expect(decodeConfigText(s)).toBe(want);
  });
});

describe("parsePveManagerVersion", () => {
  it.each([
    ["pve-manager/8.4.14/b502d23c55afcba1", { version: "8.4.14", repoid: "b502d23c55afcba1", runningKernel: null }],
    ["pve-manager/7.4-16/0f39f621", { version: "7.4-16", repoid: "0f39f621", runningKernel: null }],
    ["pve-manager/8.4.14/b502d23c55afcba1 (running kernel: 6.8.12-15-pve)", { version: "8.4.14", repoid: "b502d23c55afcba1", runningKernel: "6.8.12-15-pve" }],
    ["nonsense", null],
  ])("%j", (s, want) => {
    expect(parsePveManagerVersion(s)).toEqual(want);
  });
});
