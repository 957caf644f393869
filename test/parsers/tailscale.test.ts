import { describe, expect, it } from "vitest";
import { classifyTailscaleError, parseTailscaleStatus, type TailscalePeer } from "../../src/discovery/parsers/tailscale.js";
import { fixture } from "./fixture.js";

/** A tailnet with a tagged Tailscale SSH server, an offline laptop and a peer with nothing but the required keys. */
const SAMPLE_STATUS = {
  Version: "1.80.2-t1234abcd",
  BackendState: "Running",
  TailscaleIPs: ["100.64.0.1", "fd7a:115c:a1e0::1"],
  Self: {
    ID: "nSelf1CNTRL",
    PublicKey: "nodekey:aa",
    HostName: "admin-box",
    DNSName: "admin-box.tailnet-ex.ts.net.",
    OS: "linux",
    TailscaleIPs: ["100.64.0.1", "fd7a:115c:a1e0::1"],
    Online: true,
  },
  MagicDNSSuffix: "tailnet-ex.ts.net",
  CurrentTailnet: { Name: "example.com", MagicDNSSuffix: "tailnet-ex.ts.net", MagicDNSEnabled: true },
  Peer: {
    "nodekey:bb": {
      ID: "nWeb1CNTRL",
      PublicKey: "nodekey:bb",
      HostName: "web-1",
      DNSName: "web-1.tailnet-ex.ts.net.",
      OS: "linux",
      // IPv6 listed first on purpose: the parser puts IPv4 first.
      TailscaleIPs: ["fd7a:115c:a1e0::2", "100.64.0.2"],
      Tags: ["tag:server", "tag:prod"],
      sshHostKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0examplekey root@web-1", "ecdsa-sha2-nistp256 AAAAE2VjZHNh root@web-1"],
      Online: true,
    },
    "nodekey:cc": {
      ID: "nLaptop1CNTRL",
      PublicKey: "nodekey:cc",
      HostName: "Jane's MacBook",
      DNSName: "janes-macbook.tailnet-ex.ts.net.",
      OS: "macOS",
      TailscaleIPs: ["100.64.0.3", "fd7a:115c:a1e0::3"],
      Online: false,
      LastSeen: "2025-06-01T10:00:00Z",
    },
    "nodekey:dd": {
      PublicKey: "nodekey:dd",
      HostName: "",
      DNSName: "",
      Online: true,
      Addrs: null,
    },
  },
  User: {},
};

const capture = () => parseTailscaleStatus(fixture("tailscale-status.json"));

describe("parseTailscaleStatus: real 1.76.1 capture", () => {
  it("top level", () => {
    const st = capture();
    expect(st.backendState).toBe("Running");
    expect(st.version).toBe("1.76.1-ERR-BuildInfo");
    expect(st.magicDnsSuffix).toBe("tail1fb5f0.ts.net");
    expect(st.peers).toHaveLength(1);
    expect(st.peers.filter((p) => p.online)).toHaveLength(1);
  });

  it.each<[string, (st: ReturnType<typeof parseTailscaleStatus>) => TailscalePeer | null | undefined, TailscalePeer]>([
    [
      "Self",
      (st) => st.self,
      {
        id: "nRJT1utJ3i11CNTRL",
        hostName: "iKuai",
        dnsName: "ikuai-1.tail1fb5f0.ts.net",
        os: "linux",
        ips: ["100.104.58.51", "fd7a:115c:a1e0::ef01:3a34"],
        online: true,
        tags: [],
        tailscaleSsh: false,
        self: true,
      },
    ],
    [
      "the one peer",
      (st) => st.peers[0],
      {
        id: "nYNNjYYJCN11CNTRL",
        hostName: "iStoreOS",
        dnsName: "istoreos.tail1fb5f0.ts.net",
        os: "linux",
        ips: ["100.103.182.58", "fd7a:115c:a1e0::f01:b63a"],
        online: true,
        tags: [],
        tailscaleSsh: false,
        self: false,
      },
    ],
  ])("%s", (_name, pick, expected) => {
    expect(pick(capture())).toEqual(expected);
  });
});

describe("parseTailscaleStatus: inline samples", () => {
  const st = parseTailscaleStatus(JSON.stringify(SAMPLE_STATUS, null, 2));

  it("top level", () => {
    expect([st.backendState, st.version, st.magicDnsSuffix]).toEqual(["Running", "1.80.2-t1234abcd", "tailnet-ex.ts.net"]);
    expect(st.self?.hostName).toBe("admin-box");
    expect(st.peers.map((p) => p.id)).toEqual(["nWeb1CNTRL", "nLaptop1CNTRL", "nodekey:dd"]);
  });

  it.each<[string, Partial<TailscalePeer>]>([
    [
      "nWeb1CNTRL",
      {
        hostName: "web-1",
        dnsName: "web-1.tailnet-ex.ts.net",
        ips: ["100.64.0.2", "fd7a:115c:a1e0::2"],
        online: true,
        tags: ["server", "prod"],
        tailscaleSsh: true,
        self: false,
      },
    ],
    ["nLaptop1CNTRL", { hostName: "Jane's MacBook", os: "macOS", ips: ["100.64.0.3", "fd7a:115c:a1e0::3"], online: false, tags: [], tailscaleSsh: false }],
    ["nodekey:dd", { hostName: "", dnsName: null, os: null, ips: [], online: true, tags: [], tailscaleSsh: false }],
  ])("peer %s", (id, expected) => {
    expect(st.peers.find((p) => p.id === id)).toMatchObject(expected);
  });

  it("a stopped backend parses (the source decides what to do with it)", () => {
    const stopped = parseTailscaleStatus(
      JSON.stringify({ Version: "1.80.2", BackendState: "Stopped", TailscaleIPs: null, Self: { ID: "n1", HostName: "me", Online: false }, Peer: null }),
    );
    expect(stopped).toEqual({
      backendState: "Stopped",
      version: "1.80.2",
      magicDnsSuffix: null,
      self: { id: "n1", hostName: "me", dnsName: null, os: null, ips: [], online: false, tags: [], tailscaleSsh: false, self: true },
      peers: [],
    });
  });

  it("NeedsLogin with no Self at all", () => {
    expect(parseTailscaleStatus('{"BackendState":"NeedsLogin","AuthURL":""}')).toEqual({
      backendState: "NeedsLogin",
      version: null,
      magicDnsSuffix: null,
      self: null,
      peers: [],
    });
  });

  it.each([
    ["not JSON", "failed to connect to local tailscaled", /not JSON/],
    ["empty", "", /not JSON/],
    ["an array", "[]", /no BackendState/],
    ["no BackendState", '{"Version":"1.2.3"}', /no BackendState/],
  ])("throws for %s", (_name, text, message) => {
    expect(() => parseTailscaleStatus(text)).toThrow(message);
  });
});

describe("classifyTailscaleError", () => {
  it.each<[string, ReturnType<typeof classifyTailscaleError>]>([
    ["failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)\n", "not_running"],
    ["failed to connect to local Tailscale service; is Tailscale running?\n", "not_running"],
    ["bash: line 1: tailscale: command not found\n", "not_installed"],
    ["sh: 1: tailscale: not found\n", "not_installed"],
    ["sh: tailscale: not found\n", "not_installed"],
    ["unexpected state: boom\n", "error"],
    ["", "error"],
  ])("%j -> %s", (stderr, kind) => {
    expect(classifyTailscaleError(stderr)).toBe(kind);
  });
});
