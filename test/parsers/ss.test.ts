import { describe, it, expect } from "vitest";
import { parseNetstat, parseProcNetTcp, parseSs } from "../../src/discovery/parsers/ss.js";
import type { PortObs } from "../../src/discovery/types.js";
import { fixture } from "./fixture.js";

const tcp = (address: string, port: number, process: string | null = null, pid: number | null = null): PortObs => ({
  protocol: "tcp",
  address,
  port,
  process,
  pid,
});
const udp = (address: string, port: number, process: string | null = null, pid: number | null = null): PortObs => ({
  protocol: "udp",
  address,
  port,
  process,
  pid,
});

// Both captures were taken at the same moment (see their .src files).
const capturedListeners = [
  tcp("0.0.0.0", 2222, "python3", 7861),
  tcp("0.0.0.0", 2024),
  tcp("127.0.0.1", 8080, "python3", 7863),
  tcp("*", 3000, "node", 7873),
  tcp("::", 2222, "python3", 7861),
  tcp("::1", 8081, "python3", 7868),
];

describe("parseSs", () => {
  it.each([["ss-Htlnp.txt"], ["ss-tlnp-with-header.txt"]])("%s", (file) => {
    expect(parseSs(fixture(file))).toEqual(capturedListeners);
  });

  it("ss -Htulnp with a Netid column, interface suffixes, several processes, dedupe", () => {
    const text = [
      'udp   UNCONN 0      0          127.0.0.53%lo:53        0.0.0.0:*    users:(("systemd-resolve",pid=612,fd=13))',
      'udp   UNCONN 0      0         0.0.0.0%enp0s3:68        0.0.0.0:*    users:(("systemd-network",pid=600,fd=20))',
      'udp   UNCONN 0      0   [fe80::a00:27ff:fe4e:66a1]%enp0s3:546 [::]:*    users:(("systemd-network",pid=600,fd=21))',
      'udp   UNCONN 0      0                   [::]:5353         [::]:*    users:(("avahi-daemon",pid=700,fd=13))',
      'tcp   LISTEN 0      4096       127.0.0.53%lo:53        0.0.0.0:*    users:(("systemd-resolve",pid=612,fd=14))',
      'tcp   LISTEN 0      511              0.0.0.0:80        0.0.0.0:*    users:(("nginx",pid=812,fd=6),("nginx",pid=811,fd=6))',
      'tcp   LISTEN 0      128              0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=900,fd=3),("systemd",pid=1,fd=50))',
      "tcp   LISTEN 0      128                 [::]:22           [::]:*   ",
      'tcp   LISTEN 0      128                 [::]:22           [::]:*    users:(("sshd",pid=900,fd=4))',
      'tcp   LISTEN 0      511              0.0.0.0:80        0.0.0.0:*    users:(("nginx",pid=812,fd=7))',
      "tcp   ESTAB  0      0           10.0.0.5:22      10.0.0.9:51234",
      "u_str LISTEN 0      4096   /run/systemd/private 13787            * 0",
      "garbage",
      "",
    ].join("\r\n");
    expect(parseSs(text)).toEqual([
      udp("127.0.0.53", 53, "systemd-resolve", 612),
      udp("0.0.0.0", 68, "systemd-network", 600),
      udp("fe80::a00:27ff:fe4e:66a1", 546, "systemd-network", 600),
      udp("::", 5353, "avahi-daemon", 700),
      tcp("127.0.0.53", 53, "systemd-resolve", 612),
      tcp("0.0.0.0", 80, "nginx", 812),
      tcp("0.0.0.0", 22, "sshd,systemd", 900),
      tcp("::", 22, "sshd", 900),
    ]);
  });

  it("with a header and Netid column; without Netid UNCONN means udp (ss -Hulnp)", () => {
    const withHeader = [
      "Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess",
      "udp   UNCONN 0      0            0.0.0.0:123        0.0.0.0:*",
      "tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*",
    ].join("\n");
    expect(parseSs(withHeader)).toEqual([udp("0.0.0.0", 123), tcp("0.0.0.0", 22)]);
    expect(parseSs("UNCONN 0 0 0.0.0.0:161 0.0.0.0:*\n")).toEqual([udp("0.0.0.0", 161)]);
  });

  it("empty input", () => {
    expect(parseSs("")).toEqual([]);
  });
});

describe("parseNetstat", () => {
  it("net-tools netstat -tulnp", () => {
    const text = [
      "Active Internet connections (only servers)",
      "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    ",
      "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      900/sshd: /usr/sbin ",
      "tcp        0      0 127.0.0.1:5432          0.0.0.0:*               LISTEN      1200/postgres       ",
      "tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 4321/sshd: root     ",
      "tcp6       0      0 :::22                   :::*                    LISTEN      900/sshd: /usr/sbin ",
      "tcp6       0      0 ::1:631                 :::*                    LISTEN      -                   ",
      "udp        0      0 0.0.0.0:68              0.0.0.0:*                           512/dhclient        ",
      "udp        0      0 10.0.0.5:40000          10.0.0.1:53             ESTABLISHED 777/resolver        ",
      "udp6       0      0 :::5353                 :::*                                700/avahi-daemon: r ",
    ].join("\r\n");
    expect(parseNetstat(text)).toEqual([
      tcp("0.0.0.0", 22, "sshd: /usr/sbin", 900),
      tcp("127.0.0.1", 5432, "postgres", 1200),
      tcp("::", 22, "sshd: /usr/sbin", 900),
      tcp("::1", 631),
      udp("0.0.0.0", 68, "dhclient", 512),
      udp("::", 5353, "avahi-daemon: r", 700),
    ]);
  });

  it("BusyBox netstat -tuln (no PID column)", () => {
    const text = [
      "Active Internet connections (only servers)",
      "Proto Recv-Q Send-Q Local Address           Foreign Address         State       ",
      "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      ",
      "tcp        0      0 :::80                   :::*                    LISTEN      ",
      "udp        0      0 0.0.0.0:514             0.0.0.0:*                           ",
    ].join("\n");
    expect(parseNetstat(text)).toEqual([tcp("0.0.0.0", 22), tcp("::", 80), udp("0.0.0.0", 514)]);
  });

  it("empty input and error text", () => {
    expect(parseNetstat("")).toEqual([]);
    expect(parseNetstat("sh: netstat: not found\n")).toEqual([]);
  });
});

describe("parseProcNetTcp", () => {
  const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

  it("/proc/net/tcp: LISTEN (0A) rows only, little-endian IPv4", () => {
    const text = [
      header,
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0",
      "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0",
      "   2: 0500000A:0016 0900000A:C822 01 00000000:00000000 02:000A7B2D 00000000     0        0 54321 2 0000000000000000 20 4 30 10 -1",
      "   3: 3500007F:0035 00000000:0000 0a 00000000:00000000 00:00000000 00000000   101        0 2222 1 0000000000000000 100 0 0 10 0",
      "",
    ].join("\n");
    expect(parseProcNetTcp(text, "tcp", "inet")).toEqual([tcp("127.0.0.1", 8080), tcp("0.0.0.0", 22), tcp("127.0.0.53", 53)]);
  });

  it("/proc/net/tcp6: per-word little-endian IPv6", () => {
    const text = [
      header,
      "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0",
      "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0",
      "   2: 0000000000000000FFFF00000100007F:0CEA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41236 1 0000000000000000 100 0 0 10 0",
      "   3: 000080FE00000000FF270A02FE4E66A1:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41237 1 0000000000000000 100 0 0 10 0",
    ].join("\n");
    expect(parseProcNetTcp(text, "tcp", "inet6")).toEqual([
      tcp("::", 22),
      tcp("::1", 8080),
      tcp("::ffff:127.0.0.1", 3306),
      tcp("fe80::20a:27ff:a166:4efe", 80),
    ]);
  });

  it("/proc/net/udp keeps state 07 (unconnected)", () => {
    const text = [
      "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
      "  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 2221 2 0000000000000000 0",
      "  200: 0500000A:9C40 0100000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 3333 2 0000000000000000 0",
    ].join("\n");
    expect(parseProcNetTcp(text, "udp", "inet")).toEqual([udp("127.0.0.53", 53)]);
  });

  it("skips rows whose address does not match the family, and empty input", () => {
    expect(parseProcNetTcp("   0: 0100007F:1F90 00000000:0000 0A 0\n", "tcp", "inet6")).toEqual([]);
    expect(parseProcNetTcp("", "tcp", "inet")).toEqual([]);
  });
});
