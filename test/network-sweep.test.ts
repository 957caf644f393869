// The SSH port sweep, on loopback only: two in-process ssh2 servers on
// 127.0.0.2 and 127.0.0.3, an HTTP-ish server on 127.0.0.4 and a silent one on
// 127.0.0.5, all on the same port; 127.0.0.1 and .6 have nothing there.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandCidrs, sweepHitsToHosts, sweepSsh } from "../src/discovery/sources/network.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

describe("expandCidrs", () => {
  it.each<[string, string[], string[]]>([
    ["a /32", ["10.1.2.3/32"], ["10.1.2.3"]],
    ["a bare address is a /32", ["10.1.2.3"], ["10.1.2.3"]],
    ["a /31 has both addresses (RFC 3021)", ["10.0.0.4/31"], ["10.0.0.4", "10.0.0.5"]],
    ["a /30 skips network and broadcast", ["10.0.0.8/30"], ["10.0.0.9", "10.0.0.10"]],
    ["host bits are masked off", ["10.0.0.10/30"], ["10.0.0.9", "10.0.0.10"]],
    ["overlaps are merged and sorted numerically", ["10.0.0.9/32", "9.255.255.255", "10.0.0.8/30"], ["9.255.255.255", "10.0.0.9", "10.0.0.10"]],
    ["none", [], []],
  ])("%s", (_name, cidrs, expected) => {
    expect(expandCidrs(cidrs, 1024)).toEqual(expected);
  });

  it("a /24 has 254 addresses, .1 to .254", () => {
    const a = expandCidrs(["192.168.1.0/24"], 1024);
    expect(a).toHaveLength(254);
    expect([a[0], a[253]]).toEqual(["192.168.1.1", "192.168.1.254"]);
  });

  it("a /22 fits a limit of 1024; a /16 is refused with advice", () => {
    expect(expandCidrs(["10.0.0.0/22"], 1024)).toHaveLength(1022);
    expect(() => expandCidrs(["192.168.0.0/16"], 1024)).toThrow(
      "192.168.0.0/16 has 65536 addresses; the limit is 1024 (a /22) — raise network.max_addresses to sweep it",
    );
  });

  it("0.0.0.0/0 is refused without enumerating it", () => {
    expect(() => expandCidrs(["0.0.0.0/0"], 1024)).toThrow(/0\.0\.0\.0\/0 has 4294967296 addresses/);
  });

  it("several CIDRs that together exceed the limit are refused", () => {
    expect(() => expandCidrs(["10.0.0.0/24", "10.0.1.0/24"], 300)).toThrow(
      /10\.0\.0\.0\/24, 10\.0\.1\.0\/24 have more than 300 addresses together; the limit is 300 \(a \/24\)/,
    );
  });

  it.each([
    ["fd00::/64", /is IPv6/],
    ["::1", /is IPv6/],
    ["10.0.0.0/33", /not an IPv4 CIDR/],
    ["10.0.0/24", /not an IPv4 CIDR/],
    ["10.0.0.256/32", /not an IPv4 CIDR/],
    ["010.0.0.1", /not an IPv4 CIDR/],
    ["10.0.0.0/", /not an IPv4 CIDR/],
    ["10.0.0.0/-1", /not an IPv4 CIDR/],
    ["example.com", /not an IPv4 CIDR/],
    ["", /not an IPv4 CIDR/],
  ])("refuses %j", (cidr, message) => {
    expect(() => expandCidrs([cidr], 1024)).toThrow(message);
  });

  it("refuses a non-positive limit", () => {
    expect(() => expandCidrs(["10.0.0.1"], 0)).toThrow(/max_addresses must be a positive integer/);
  });
});

describe("sweepSsh on loopback", () => {
  const sims: SimHost[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  /** Bytes the plain TCP servers received: a sweep never sends anything. */
  let received = 0;
  let silentConnections = 0;
  let port = 0;

  const listen = (bind: string, p: number, onConn: (s: Socket) => void) =>
    new Promise<Server>((resolve, reject) => {
      const srv = createServer((s) => {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
        s.on("data", (d) => (received += d.length));
        onConn(s);
      });
      srv.once("error", reject);
      srv.listen({ host: bind, port: p, exclusive: true }, () => resolve(srv));
    });

  beforeAll(async () => {
    // The first sim picks a free port; the others bind the same port on their own address.
    // Another process could hold that port on one of them: try a few ports (bounded).
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5 && port === 0; attempt++) {
      const closers: Array<() => Promise<void>> = [];
      try {
        const a = await startSimHost({ bind: "127.0.0.2", name: "sweep-a" });
        closers.push(() => a.close());
        const b = await startSimHost({ bind: "127.0.0.3", name: "sweep-b", port: a.port });
        closers.push(() => b.close());
        const http = await listen("127.0.0.4", a.port, (s) => s.write("HTTP/1.1 400 Bad Request\r\n"));
        closers.push(() => closeServer(http));
        const silent = await listen("127.0.0.5", a.port, () => silentConnections++);
        closers.push(() => closeServer(silent));
        sims.push(a, b);
        servers.push(http, silent);
        port = a.port;
      } catch (err) {
        lastErr = err;
        for (const close of closers) await close();
      }
    }
    if (port === 0) throw new Error(`could not start the loopback servers on one port: ${String(lastErr)}`);
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([...sims.map((s) => s.close()), ...servers.map(closeServer)]);
  });

  it("finds exactly the two SSH servers; HTTP, silent and closed ports are not reported; nothing is sent", async () => {
    const started = performance.now();
    const hits = await sweepSsh({ cidrs: ["127.0.0.0/29"], ports: [port], concurrency: 8, timeoutMs: 700, maxAddresses: 16 });
    const elapsed = performance.now() - started;
    expect(hits.map((h) => [h.address, h.port])).toEqual([
      ["127.0.0.2", port],
      ["127.0.0.3", port],
    ]);
    for (const h of hits) expect(h.banner).toMatch(/^SSH-2\.0-\S+$/);
    // The silent server was reached and the sweep gave up on it after its deadline, not much later.
    expect(silentConnections).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(5000);
    expect(received).toBe(0);
    // The SSH servers saw no authentication: the sweep hangs up after the banner.
    for (const s of sims) expect(s.authAttempts).toEqual([]);
  });

  it("concurrency 1 finds the same hosts, sorted by address then port", async () => {
    const hits = await sweepSsh({ cidrs: ["127.0.0.3/32", "127.0.0.2/32"], ports: [port, port], concurrency: 1, timeoutMs: 700, maxAddresses: 16 });
    expect(hits.map((h) => h.address)).toEqual(["127.0.0.2", "127.0.0.3"]);
  });

  it("an aborted sweep rejects promptly, even while a connection waits on the silent server", async () => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 100);
    const started = performance.now();
    try {
      const err = await sweepSsh({ cidrs: ["127.0.0.5/32"], ports: [port], concurrency: 4, timeoutMs: 10_000, maxAddresses: 16, signal: ac.signal }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe("AbortError");
      expect((err as Error).message).toBe("network sweep cancelled");
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      clearTimeout(timer);
    }
  });

  it("an already-aborted signal connects to nothing", async () => {
    const before = silentConnections;
    await expect(
      sweepSsh({ cidrs: ["127.0.0.5/32"], ports: [port], concurrency: 1, timeoutMs: 1000, maxAddresses: 16, signal: AbortSignal.abort() }),
    ).rejects.toThrow("network sweep cancelled");
    expect(silentConnections).toBe(before);
  });

  it("refuses oversized sweeps and bad ports before connecting", async () => {
    await expect(sweepSsh({ cidrs: ["10.0.0.0/8"], ports: [22], concurrency: 1, timeoutMs: 100, maxAddresses: 1024 })).rejects.toThrow(
      /has 16777216 addresses/,
    );
    await expect(sweepSsh({ cidrs: ["127.0.0.2/32"], ports: [0], concurrency: 1, timeoutMs: 100, maxAddresses: 16 })).rejects.toThrow(/not a TCP port/);
  });
});

describe("sweepHitsToHosts", () => {
  it("maps hits to SSH host specs named by address", () => {
    const auth = { agent: "/run/agent.sock" };
    expect(
      sweepHitsToHosts(
        [
          { address: "10.0.0.7", port: 22, banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2" },
          { address: "10.0.0.7", port: 2222, banner: "SSH-2.0-dropbear" },
        ],
        { user: "root", auth, tags: ["lan"] },
      ),
    ).toEqual([
      { name: "10.0.0.7", address: "10.0.0.7", port: 22, user: "root", tags: ["lan"], role: null, auth, via: "network sweep" },
      { name: "10.0.0.7", address: "10.0.0.7", port: 2222, user: "root", tags: ["lan"], role: null, auth, via: "network sweep" },
    ]);
  });
});

function closeServer(s: Server): Promise<void> {
  return new Promise((resolve) => (s.listening ? s.close(() => resolve()) : resolve()));
}
