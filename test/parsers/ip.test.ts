import { describe, it, expect } from "vitest";
import { parseIpJson, parseIpText } from "../../src/discovery/parsers/ip.js";
import type { InterfaceObs } from "../../src/discovery/types.js";
import { fixture } from "./fixture.js";

const lo = (state: string | null): InterfaceObs => ({
  name: "lo",
  mac: null,
  mtu: 65536,
  state,
  master: null,
  addresses: [
    { family: "inet", address: "127.0.0.1", prefixlen: 8, scope: "host" },
    { family: "inet6", address: "::1", prefixlen: 128, scope: "host" },
  ],
});
const ifb = (name: string, mac: string, state: string | null): InterfaceObs => ({
  name,
  mac,
  mtu: 1500,
  state,
  master: null,
  addresses: [],
});
const eth0 = (state: string | null): InterfaceObs => ({
  name: "eth0",
  mac: "02:fc:00:00:00:01",
  mtu: 1400,
  state,
  master: null,
  addresses: [
    { family: "inet", address: "192.0.2.2", prefixlen: 24, scope: "global" },
    { family: "inet6", address: "fd00::2", prefixlen: 64, scope: "global" },
    { family: "inet6", address: "fe80::fc:ff:fe00:1", prefixlen: 64, scope: "link" },
  ],
});

describe("parseIpJson", () => {
  it("ip -j addr capture (iproute2 6.1.0)", () => {
    expect(parseIpJson(fixture("ip-j-addr.json"))).toEqual([
      lo("UNKNOWN"),
      ifb("ifb0", "32:0e:fb:d0:63:ae", "DOWN"),
      ifb("ifb1", "36:53:ea:f5:18:03", "DOWN"),
      eth0("UP"),
    ]);
  });

  it("reads master (bridge port) and skips malformed entries", () => {
    const text = JSON.stringify([
      { ifname: "eno1", mtu: 1500, operstate: "UP", master: "vmbr0", link_type: "ether", address: "aa:bb:cc:dd:ee:ff", addr_info: [] },
      {
        ifname: "vmbr0",
        mtu: 1500,
        operstate: "UP",
        link_type: "ether",
        address: "aa:bb:cc:dd:ee:ff",
        addr_info: [{ family: "inet", local: "10.0.0.5", prefixlen: 24, scope: "global" }, { family: "inet" }, "x"],
      },
      { mtu: 1500 },
      42,
    ]);
    const ifs = parseIpJson(text);
    expect(ifs.map((i) => [i.name, i.master])).toEqual([
      ["eno1", "vmbr0"],
      ["vmbr0", null],
    ]);
    expect(ifs[1]?.addresses).toEqual([{ family: "inet", address: "10.0.0.5", prefixlen: 24, scope: "global" }]);
  });

  it("throws on BusyBox's usage text (no -j support)", () => {
    expect(() => parseIpJson(fixture("busybox-ip-j-addr.txt"))).toThrow(/JSON/);
  });

  it("throws on a non-array document, returns [] for empty output", () => {
    expect(() => parseIpJson('{"ifname":"lo"}')).toThrow(/array/);
    expect(parseIpJson("")).toEqual([]);
  });
});

describe("parseIpText", () => {
  it("BusyBox ip addr capture gives the same data as ip -j, minus the state", () => {
    expect(parseIpText(fixture("busybox-ip-addr.txt"))).toEqual([
      lo(null),
      ifb("ifb0", "32:0e:fb:d0:63:ae", null),
      ifb("ifb1", "36:53:ea:f5:18:03", null),
      eth0(null),
    ]);
  });

  it("iproute2 text: @ifN suffix, state, master, altname, peer, CRLF", () => {
    const text = [
      "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000",
      "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
      "2: eno1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq master vmbr0 state UP group default qlen 1000",
      "    link/ether 3c:ec:ef:01:02:03 brd ff:ff:ff:ff:ff:ff",
      "    altname enp3s0",
      "3: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP qlen 1000",
      "    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0",
      "    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0",
      "       valid_lft forever preferred_lft forever",
      "    inet6 fe80::42:acff:fe11:2/64 scope link ",
      "       valid_lft forever preferred_lft forever",
      "4: tun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1420 qdisc fq_codel state UNKNOWN group default qlen 500",
      "    link/none ",
      "    inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0",
      "garbage line",
    ].join("\r\n");
    expect(parseIpText(text)).toEqual([
      { name: "lo", mac: null, mtu: 65536, state: "UNKNOWN", master: null, addresses: [] },
      { name: "eno1", mac: "3c:ec:ef:01:02:03", mtu: 1500, state: "UP", master: "vmbr0", addresses: [] },
      {
        name: "eth0",
        mac: "02:42:ac:11:00:02",
        mtu: 1500,
        state: "UP",
        master: null,
        addresses: [
          { family: "inet", address: "172.17.0.2", prefixlen: 16, scope: "global" },
          { family: "inet6", address: "fe80::42:acff:fe11:2", prefixlen: 64, scope: "link" },
        ],
      },
      {
        name: "tun0",
        mac: null,
        mtu: 1420,
        state: "UNKNOWN",
        master: null,
        addresses: [{ family: "inet", address: "10.8.0.1", prefixlen: 32, scope: "global" }],
      },
    ]);
  });

  it("empty input", () => {
    expect(parseIpText("")).toEqual([]);
  });
});
