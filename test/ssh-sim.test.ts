// The SSH peers the SSH runner is tested against, checked with the plain ssh2
// Client (no fleet code): the in-process sim hosts answer the real probe script in
// its framing and misbehave exactly as asked; the real OpenSSH sshd starts, and
// takes a key login and an `sh -s` exec.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import ssh2 from "ssh2";
import type { Client as SshClient, ClientChannel, ConnectConfig } from "ssh2";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { buildProbeScript, interpretProbe, newNonce, splitProbeOutput } from "../src/discovery/probe.js";
import { generateEd25519KeyPair, startSimFleet, startSimHost, type SimHost } from "./support/ssh-sim.js";
import { startSshd } from "./support/sshd.js";

const { Client } = ssh2;

const fp = (blob: Buffer) => `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

const clients = new Set<SshClient>();
const sims = new Set<{ close(): Promise<void> }>();

afterEach(async () => {
  for (const c of clients) c.destroy();
  clients.clear();
  await Promise.all([...sims].map((s) => s.close()));
  sims.clear();
});

async function sim(opts: Parameters<typeof startSimHost>[0] = {}): Promise<SimHost> {
  const h = await startSimHost(opts);
  sims.add(h);
  return h;
}

type ClientError = Error & { level?: string; code?: string };

/** Connects; resolves once authenticated. Every path is bounded by readyTimeout. */
function connectTo(cfg: ConnectConfig): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    clients.add(c);
    c.on("ready", () => resolve(c));
    c.on("error", (err) => reject(err));
    c.on("close", () => reject(new Error("closed before ready")));
    c.connect({ readyTimeout: 5000, ...cfg });
  });
}

function connectSim(h: SimHost, cfg: ConnectConfig = {}): Promise<SshClient> {
  return connectTo({ host: h.address, port: h.port, username: "root", password: "pw", ...cfg });
}

function openExec(c: SshClient, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, stream) => (err ? reject(err) : resolve(stream))));
}

interface ExecResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
  /** Why the wait ended: the channel closed, the connection dropped, or we gave up. */
  ended: "close" | "conn_closed" | "timeout";
}

/** Runs one exec with `stdin`, collecting until the channel closes, the connection drops, or `timeoutMs`. */
async function execCollect(c: SshClient, command: string, stdin: string, timeoutMs = 10_000): Promise<ExecResult> {
  const stream = await openExec(c, command);
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let stderr = "";
    let exitCode: number | null = null;
    let settled = false;
    const done = (ended: ExecResult["ended"]) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      resolve({ stdout: Buffer.concat(out), stderr, exitCode, ended });
    };
    const t = setTimeout(() => done("timeout"), timeoutMs);
    stream.on("data", (d: Buffer) => out.push(d));
    stream.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    stream.on("exit", (code: number | null) => (exitCode = code));
    stream.on("close", () => done("close"));
    c.on("close", () => done("conn_closed"));
    stream.end(stdin);
  });
}

describe("sim hosts answer the probe", () => {
  it("answers `sh -s` with framed output that the probe parser reads; the host key is the one the client verifies", async () => {
    const commands: string[] = [];
    const h = await sim({ name: "alpha", onExec: (cmd) => commands.push(cmd) });
    let seen = "";
    const c = await connectSim(h, {
      hostVerifier: (key: Buffer) => {
        seen = fp(key);
        return true;
      },
    });
    expect(seen).toBe(h.hostKeyFingerprint);
    expect(h.publicKey).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);

    const nonce = newNonce();
    const res = await execCollect(c, "sh -s", buildProbeScript(nonce));
    expect(res).toMatchObject({ exitCode: 0, ended: "close", stderr: "" });
    const { sections, complete } = splitProbeOutput(res.stdout.toString("utf8"), nonce);
    expect(complete).toBe(true);
    const p = interpretProbe(sections);
    expect(p.name).toBe("alpha");
    expect(p.identity[0]).toMatch(/^machine-id:[0-9a-f]{32}$/);
    // The canned host_keys section is this server's real host key.
    expect(p.identity).toContain(`ssh-hostkey:${h.hostKeyFingerprint}`);
    expect(Object.values(p.sections).filter((s) => s.status === "failed")).toEqual([]);

    const sudo = await execCollect(c, "sudo -n sh -s", buildProbeScript(nonce));
    expect(sudo.exitCode).toBe(0);
    expect(splitProbeOutput(sudo.stdout.toString("utf8"), nonce).complete).toBe(true);
    expect(commands).toEqual(["sh -s", "sudo -n sh -s"]);
    expect(h.execs).toBe(2);
  });

  it("answers any other command like a shell that lacks it", async () => {
    const h = await sim();
    const c = await connectSim(h);
    const res = await execCollect(c, "uptime", "");
    expect(res).toMatchObject({ exitCode: 127, stderr: "sh: uptime: not found\n", ended: "close" });
    expect(res.stdout.length).toBe(0);
  });

  it("serves the canned host it is given, and a new one after setHost", async () => {
    const h = await sim();
    const c = await connectSim(h);
    let nonce = newNonce();
    let res = await execCollect(c, "sh -s", buildProbeScript(nonce));
    expect(interpretProbe(splitProbeOutput(res.stdout.toString("utf8"), nonce).sections).name).toBe("web-1");
    h.setHost({ hostname: { body: "renamed" } });
    nonce = newNonce();
    res = await execCollect(c, "sh -s", buildProbeScript(nonce));
    expect(interpretProbe(splitProbeOutput(res.stdout.toString("utf8"), nonce).sections).name).toBe("renamed");
  });

  it("adds execDelayMs before answering", async () => {
    const h = await sim({ execDelayMs: 300 });
    const c = await connectSim(h);
    const started = performance.now();
    const res = await execCollect(c, "sh -s", buildProbeScript(newNonce()));
    expect(res.exitCode).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
  });

  it("starts a fleet of distinct hosts", async () => {
    const fleet = await startSimFleet(3);
    sims.add(fleet);
    expect(new Set(fleet.hosts.map((h) => h.port)).size).toBe(3);
    expect(new Set(fleet.hosts.map((h) => h.hostKeyFingerprint)).size).toBe(3);
    const names: string[] = [];
    for (const h of fleet.hosts) {
      const c = await connectSim(h);
      const nonce = newNonce();
      const res = await execCollect(c, "sh -s", buildProbeScript(nonce));
      const p = interpretProbe(splitProbeOutput(res.stdout.toString("utf8"), nonce).sections);
      names.push(p.name);
      expect(p.identity[0]).toMatch(/^machine-id:/);
    }
    expect(names).toEqual(["sim-1", "sim-2", "sim-3"]);
  });
});

describe("sim host authentication", () => {
  it("accepts the right password and refuses a wrong one", async () => {
    const h = await sim({ users: { ops: { password: "s3cret" } } });
    await expect(connectSim(h, { username: "ops", password: "s3cret" })).resolves.toBeDefined();
    const err = (await connectSim(h, { username: "ops", password: "wrong" }).catch((e: unknown) => e)) as ClientError;
    expect(err.level).toBe("client-authentication");
    const unknownUser = (await connectSim(h, { username: "nobody", password: "s3cret" }).catch((e: unknown) => e)) as ClientError;
    expect(unknownUser.level).toBe("client-authentication");
    expect(h.authAttempts).toContainEqual({ user: "ops", method: "password" });
  });

  it("accepts an authorized public key (signature verified) and refuses another key", async () => {
    const good = generateEd25519KeyPair();
    const other = generateEd25519KeyPair();
    const h = await sim({ users: { deploy: { publicKeys: [good.public] } } });
    const c = await connectSim(h, { username: "deploy", password: undefined, privateKey: good.private });
    const res = await execCollect(c, "sh -s", buildProbeScript(newNonce()));
    expect(res.exitCode).toBe(0);
    expect(h.authAttempts).toContainEqual({ user: "deploy", method: "publickey" });

    const err = (await connectSim(h, { username: "deploy", password: undefined, privateKey: other.private }).catch((e: unknown) => e)) as ClientError;
    expect(err.level).toBe("client-authentication");
  });
});

describe("sim host faults", () => {
  it("refuse: the connection is refused, on the reported port", async () => {
    const h = await sim({ fault: "refuse" });
    expect(h.port).toBeGreaterThan(0);
    const err = (await connectSim(h).catch((e: unknown) => e)) as ClientError;
    expect(err.code).toBe("ECONNREFUSED");
    // and it can come back on the same port
    h.setFault("none");
    await expect(connectSim(h)).resolves.toBeDefined();
  });

  it("no_banner: TCP connects but the handshake never starts", async () => {
    const h = await sim({ fault: "no_banner" });
    const started = performance.now();
    const err = (await connectSim(h, { readyTimeout: 500 }).catch((e: unknown) => e)) as ClientError;
    expect(err.level).toBe("client-timeout");
    expect(err.message).toMatch(/handshake/i);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("hang_after_auth: the exec is accepted but nothing comes back", async () => {
    const h = await sim({ fault: "hang_after_auth" });
    const c = await connectSim(h);
    const res = await execCollect(c, "sh -s", buildProbeScript(newNonce()), 500);
    expect(res).toMatchObject({ ended: "timeout", exitCode: null, stderr: "" });
    expect(res.stdout.length).toBe(0);
    expect(h.execs).toBe(1);
  });

  it("close_mid_output: about half the output, then the connection drops without an exit status", async () => {
    const h = await sim({ fault: "close_mid_output" });
    const c = await connectSim(h);
    const nonce = newNonce();
    const res = await execCollect(c, "sh -s", buildProbeScript(nonce));
    expect(res.ended).not.toBe("timeout");
    expect(res.exitCode).toBeNull();
    expect(res.stdout.length).toBeGreaterThan(0);
    const { sections, complete } = splitProbeOutput(res.stdout.toString("utf8"), nonce);
    expect(complete).toBe(false);
    expect(sections.size).toBeGreaterThan(0);
  });

  it("garbage: bounded binary junk with exit 0", async () => {
    const h = await sim({ fault: "garbage" });
    const c = await connectSim(h);
    const nonce = newNonce();
    const res = await execCollect(c, "sh -s", buildProbeScript(nonce));
    expect(res.exitCode).toBe(0);
    expect(res.stdout.length).toBe(64 * 1024);
    expect(res.stdout.includes(0)).toBe(true);
    expect(res.stdout.includes(Buffer.from("\x1b["))).toBe(true);
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(res.stdout)).toThrow();
    expect(splitProbeOutput(res.stdout.toString("utf8"), nonce).complete).toBe(false);
  });

  it("huge_output: at least hugeBytes arrive, then exit 0", async () => {
    const h = await sim({ fault: "huge_output", hugeBytes: 1024 * 1024 });
    const c = await connectSim(h);
    const res = await execCollect(c, "sh -s", buildProbeScript(newNonce()));
    expect(res.exitCode).toBe(0);
    expect(res.stdout.length).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it("exec_fails: the exec request is rejected", async () => {
    const h = await sim({ fault: "exec_fails" });
    const c = await connectSim(h);
    await expect(openExec(c, "sh -s")).rejects.toThrow(/exec/i);
    expect(h.execs).toBe(1);
  });

  it("close() ends open connections promptly", async () => {
    const h = await sim({ fault: "hang_after_auth" });
    const c = await connectSim(h);
    const pending = execCollect(c, "sh -s", buildProbeScript(newNonce()), 5000);
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await h.close();
    expect((await pending).ended).not.toBe("timeout");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

// Top-level await so the skip decision is known when tests are collected.
const sshd = await startSshd();
afterAll(async () => {
  await sshd?.stop();
});

describe("real OpenSSH sshd", () => {
  it.skipIf(!sshd && !process.env.CI)("takes a key login and runs `sh -s` with a script on stdin", async () => {
    expect(sshd, "sshd and ssh-keygen must be installed in CI (openssh-server)").not.toBeNull();
    if (!sshd) return;
    expect(sshd.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA`));
    let seen = "";
    const c = await connectTo({
      host: "127.0.0.1",
      port: sshd.port,
      username: sshd.user,
      privateKey: sshd.privateKey,
      hostVerifier: (key: Buffer) => {
        seen = fp(key);
        return seen === sshd.hostKeyFingerprint;
      },
    });
    expect(seen).toBe(sshd.hostKeyFingerprint);
    const res = await execCollect(c, "sh -s", "echo hello; uname -n\n");
    expect(res.stderr).toBe("");
    expect(res.exitCode).toBe(0);
    expect(res.stdout.toString("utf8")).toBe(`hello\n${hostname()}\n`);
  });
});
