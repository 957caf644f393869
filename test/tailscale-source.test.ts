// The tailscale source: `tailscale status --json` through a fake CommandRunner,
// mapped to SSH host specs (real capture and an inline tailnet), filters, and
// the advice it gives when tailscale cannot answer.
import { describe, expect, it } from "vitest";
import { RunnerError, type CommandRunner, type RunOptions, type RunResult } from "../src/discovery/runner.js";
import type { SshAuth } from "../src/discovery/runners/ssh.js";
import type { SshHostSpec } from "../src/discovery/sources/ssh.js";
import { tailscaleHosts, type TailscaleOptions } from "../src/discovery/sources/tailscale.js";
import { fixture } from "./parsers/fixture.js";

interface Answer {
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  timedOut?: boolean;
  truncated?: boolean;
  throws?: RunnerError;
}

class FakeRunner implements CommandRunner {
  calls: Array<{ command: string; opts: RunOptions }> = [];
  constructor(
    private readonly answer: Answer,
    readonly where = "local",
  ) {}
  async run(command: string, opts: RunOptions): Promise<RunResult> {
    this.calls.push({ command, opts });
    if (this.answer.throws) throw this.answer.throws;
    return {
      stdout: this.answer.stdout ?? "",
      stderr: this.answer.stderr ?? "",
      exitCode: this.answer.exitCode === undefined ? 0 : this.answer.exitCode,
      timedOut: this.answer.timedOut ?? false,
      truncated: this.answer.truncated ?? false,
      aborted: false,
      durationMs: 1,
    };
  }
}

const AUTH: SshAuth = { agent: "/run/agent.sock", password: "pw" };

function opts(runner: CommandRunner, extra: Partial<TailscaleOptions> = {}): TailscaleOptions {
  return { runner, user: "admin", auth: AUTH, port: 22, useMagicDns: false, timeoutMs: 5000, ...extra };
}

/** A tailnet: web-1 offers Tailscale SSH and is tagged, db-1 is tagged, a laptop is offline, an untagged peer has no HostName. */
const TAILNET = JSON.stringify(
  {
    Version: "1.80.2",
    BackendState: "Running",
    Self: { ID: "nSelf", HostName: "admin-box", DNSName: "admin-box.tn.ts.net.", TailscaleIPs: ["100.64.0.1"], Online: true },
    MagicDNSSuffix: "tn.ts.net",
    Peer: {
      "nodekey:01": {
        ID: "nWeb",
        HostName: "web-1",
        DNSName: "web-1.tn.ts.net.",
        OS: "linux",
        TailscaleIPs: ["fd7a:115c:a1e0::2", "100.64.0.2"],
        Tags: ["tag:server", "tag:prod"],
        sshHostKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample root@web-1"],
        Online: true,
      },
      "nodekey:02": {
        ID: "nDb",
        HostName: "db-1",
        DNSName: "db-1.tn.ts.net.",
        OS: "linux",
        TailscaleIPs: ["100.64.0.3", "fd7a:115c:a1e0::3"],
        Tags: ["tag:db"],
        Online: true,
      },
      "nodekey:03": {
        ID: "nLaptop",
        HostName: "laptop",
        DNSName: "laptop.tn.ts.net.",
        OS: "macOS",
        TailscaleIPs: ["100.64.0.4"],
        Online: false,
      },
      "nodekey:04": {
        ID: "nBare",
        HostName: "",
        DNSName: "bare-7.tn.ts.net.",
        TailscaleIPs: ["100.64.0.5"],
        Online: true,
      },
    },
  },
  null,
  2,
);

const WEB: SshHostSpec = {
  name: "web-1",
  address: "100.64.0.2",
  port: 22,
  user: "admin",
  tags: ["server", "prod"],
  role: null,
  auth: { agent: "/run/agent.sock", password: "pw", tryNone: true },
  via: "tailscale",
};
const DB: SshHostSpec = { name: "db-1", address: "100.64.0.3", port: 22, user: "admin", tags: ["db"], role: null, auth: AUTH, via: "tailscale" };
const BARE: SshHostSpec = { name: "bare-7", address: "100.64.0.5", port: 22, user: "admin", tags: [], role: null, auth: AUTH, via: "tailscale" };
const LAPTOP: SshHostSpec = { name: "laptop", address: "100.64.0.4", port: 22, user: "admin", tags: [], role: null, auth: AUTH, via: "tailscale" };

describe("tailscaleHosts", () => {
  it("runs `tailscale status --json` with the timeout, a 4 MiB cap and the signal", async () => {
    const runner = new FakeRunner({ stdout: TAILNET });
    const ac = new AbortController();
    await tailscaleHosts(opts(runner, { timeoutMs: 1234, signal: ac.signal }));
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]?.command).toBe("tailscale status --json");
    expect(runner.calls[0]?.opts).toEqual({ timeoutMs: 1234, maxBytes: 4 * 1024 * 1024, signal: ac.signal });
  });

  it("maps the real capture: the one online peer, not Self", async () => {
    const specs = await tailscaleHosts(opts(new FakeRunner({ stdout: fixture("tailscale-status.json") }), { user: "root", port: 2222 }));
    expect(specs).toEqual([{ name: "iStoreOS", address: "100.103.182.58", port: 2222, user: "root", tags: [], role: null, auth: AUTH, via: "tailscale" }]);
  });

  it("real capture with useMagicDns: the DNS name without the trailing dot", async () => {
    const specs = await tailscaleHosts(opts(new FakeRunner({ stdout: fixture("tailscale-status.json") }), { useMagicDns: true }));
    expect(specs.map((s) => [s.name, s.address])).toEqual([["iStoreOS", "istoreos.tail1fb5f0.ts.net"]]);
  });

  it("online peers only; Tailscale SSH peers try the none method first, keeping the configured methods", async () => {
    const specs = await tailscaleHosts(opts(new FakeRunner({ stdout: TAILNET })));
    expect(specs).toEqual([WEB, DB, BARE]);
    // The caller's auth object is not modified.
    expect(AUTH).toEqual({ agent: "/run/agent.sock", password: "pw" });
  });

  it("includeOffline adds offline peers", async () => {
    const specs = await tailscaleHosts(opts(new FakeRunner({ stdout: TAILNET }), { includeOffline: true }));
    expect(specs).toEqual([WEB, DB, LAPTOP, BARE]);
  });

  it.each<[string, string[], SshHostSpec[]]>([
    ["one tag", ["db"], [DB]],
    ["a tag given with its prefix", ["tag:prod"], [WEB]],
    ["any of several tags", ["prod", "db"], [WEB, DB]],
    ["a tag nobody has", ["nope"], []],
    ["an empty list means no filter", [], [WEB, DB, BARE]],
  ])("tag filter: %s", async (_name, tags, expected) => {
    expect(await tailscaleHosts(opts(new FakeRunner({ stdout: TAILNET }), { tags }))).toEqual(expected);
  });

  it("useMagicDns uses the DNS name when there is one", async () => {
    const specs = await tailscaleHosts(opts(new FakeRunner({ stdout: TAILNET }), { useMagicDns: true }));
    expect(specs.map((s) => [s.name, s.address])).toEqual([
      ["web-1", "web-1.tn.ts.net"],
      ["db-1", "db-1.tn.ts.net"],
      ["bare-7", "bare-7.tn.ts.net"],
    ]);
  });

  it.each<[string, Answer, string, RegExp]>([
    [
      "daemon down",
      { stderr: "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)\n", exitCode: 1 },
      "local",
      /^tailscaled is not running: start it \(`sudo systemctl start tailscaled`\), then run `tailscale up`$/,
    ],
    [
      "daemon down on a remote runner",
      { stderr: "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)\n", exitCode: 1 },
      "root@10.0.0.5:22",
      /^tailscaled is not running on root@10\.0\.0\.5:22: start it/,
    ],
    [
      "not installed (bash)",
      { stderr: "bash: line 1: tailscale: command not found\n", exitCode: 127 },
      "local",
      /^tailscale is not installed \(`tailscale`: command not found\): install Tailscale/,
    ],
    ["not installed (dash)", { stderr: "sh: 1: tailscale: not found\n", exitCode: 127 }, "root@nas:22", /^tailscale is not installed on root@nas:22/],
    [
      "logged out",
      { stdout: '{"BackendState":"NeedsLogin","AuthURL":""}' },
      "local",
      /^tailscale is logged out \(BackendState NeedsLogin\): run `tailscale up`$/,
    ],
    ["stopped", { stdout: '{"BackendState":"Stopped"}' }, "local", /^tailscale is stopped \(BackendState Stopped\): run `tailscale up`$/],
    ["awaiting approval", { stdout: '{"BackendState":"NeedsMachineAuth"}' }, "local", /approve it in the Tailscale admin console/],
    ["starting", { stdout: '{"BackendState":"Starting"}' }, "local", /still starting .*try again/],
    ["an unknown state", { stdout: '{"BackendState":"Weird"}' }, "local", /^tailscale is not running \(BackendState Weird\): run `tailscale up`$/],
    ["another failure", { stderr: "some other problem\nmore\n", exitCode: 1 }, "local", /^`tailscale status --json` failed \(exit 1\): some other problem$/],
    ["garbage output", { stdout: "<html>" }, "local", /not JSON/],
    ["timeout", { timedOut: true, exitCode: null }, "local", /did not finish within 5000 ms/],
    ["truncated output", { stdout: "{", truncated: true, exitCode: null }, "local", /more than 4194304 bytes/],
    [
      "runner cannot connect",
      { throws: new RunnerError("unreachable", "connection refused", { transient: true, stage: "connect" }) },
      "root@10.0.0.5:22",
      /^cannot run `tailscale status --json` on root@10\.0\.0\.5:22: connection refused$/,
    ],
  ])("error: %s", async (_name, answer, where, message) => {
    await expect(tailscaleHosts(opts(new FakeRunner(answer, where)))).rejects.toThrow(message);
  });

  it("a runner failure stays a RunnerError with its code", async () => {
    const runner = new FakeRunner({ throws: new RunnerError("auth_failed", "permission denied", { stage: "auth" }) }, "root@h:22");
    const err = await tailscaleHosts(opts(runner)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerError);
    expect((err as RunnerError).code).toBe("auth_failed");
    expect((err as RunnerError).stage).toBe("auth");
  });

  it("a non-zero exit that still printed a running status is used", async () => {
    expect(await tailscaleHosts(opts(new FakeRunner({ stdout: TAILNET, stderr: "warning: something\n", exitCode: 1 })))).toEqual([WEB, DB, BARE]);
  });
});
