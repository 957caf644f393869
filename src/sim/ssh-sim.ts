// In-process SSH peers (tests and `fleet-mcp demo`): each SimHost is a loopback TCP listener that
// hands connections to an ssh2 Server emulating a machine. It answers the probe
// (`sh -s` / `sudo -n sh -s` with the script on stdin) with canned sections in the
// probe's own framing, and can misbehave on demand (refuse, stay silent, hang,
// cut the connection, print garbage or far too much, reject the exec).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import ssh2 from "ssh2";
import type { AuthContext, Connection, ParsedKey, ServerChannel } from "ssh2";
import { debianHost, renderProbeOutput, type CannedHost } from "./canned-hosts.js";

const { Server: SshServer, utils } = ssh2;

export type SimFault = "none" | "refuse" | "no_banner" | "hang_after_auth" | "close_mid_output" | "garbage" | "huge_output" | "exec_fails";

export interface SimHostOptions {
  /** What the probe sees; default debianHost(), with a unique hostname/machine-id/host key per server when `name` is given. */
  host?: CannedHost;
  /** Sets hostname, a derived 32-hex machine_id and host_keys (this server's real host key) in the default canned host. */
  name?: string;
  /** Loopback address to bind; default "127.0.0.1" (may be any 127.0.0.x). */
  bind?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** PEM/OpenSSH private key; default a fresh ed25519 key (see generateEd25519KeyPair). */
  hostKey?: string | Buffer;
  /** More host keys of other types (e.g. RSA), offered too. */
  extraHostKeys?: Array<string | Buffer>;
  /** Default { root: { password: "pw" } }. publicKeys are OpenSSH public key lines. */
  users?: Record<string, { password?: string; publicKeys?: string[] }>;
  /** Latency added before answering each exec. */
  execDelayMs?: number;
  fault?: SimFault;
  /** Bytes printed by huge_output; default 10 MiB. */
  hugeBytes?: number;
  /** Observes every exec request's command (before any fault applies). */
  onExec?(command: string): void;
  /**
   * Answers an exec itself (after reading its stdin to EOF) when it returns non-null;
   * null falls through to the probe behaviour. Faults still apply first.
   */
  exec?: (command: string, stdin: string) => { stdout: string; stderr?: string; code: number } | null;
}

export interface SimHost {
  address: string;
  port: number;
  /** "SHA256:<unpadded base64>" of the public host key blob, as OpenSSH prints it. */
  hostKeyFingerprint: string;
  /** "ssh-ed25519 AAAA..." */
  publicKey: string;
  /** Exec requests received (including rejected ones). */
  execs: number;
  /** Every authentication request, in order (publickey typically appears twice: the query, then the signed request). */
  authAttempts: Array<{ user: string; method: string }>;
  setHost(h: CannedHost): void;
  setFault(f: SimHostOptions["fault"]): void;
  close(): Promise<void>;
}

const GARBAGE_BYTES = 64 * 1024;
const DEFAULT_HUGE_BYTES = 10 * 1024 * 1024;

/** OpenSSH's fingerprint of a public key blob. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** ssh2's parseKey returns an array for OpenSSH private key files holding several keys; the types omit that. */
function parseOne(key: string | Buffer): ParsedKey {
  const parsed = utils.parseKey(key) as ParsedKey | ParsedKey[] | Error;
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new Error(`ssh-sim: cannot parse key: ${k instanceof Error ? k.message : "empty"}`);
  return k;
}

/**
 * A fresh ed25519 key pair in OpenSSH format ({ private, public }) that ssh2 can parse.
 * ssh2 1.17's utils.generateKeyPairSync("ed25519") strips leading zero bytes from the
 * public key, so about 1 key in 256 comes out unparseable ("Malformed OpenSSH private
 * key", mscdex/ssh2#1390, #1513): generate again until it parses.
 */
export function generateEd25519KeyPair(): { private: string; public: string } {
  for (let i = 0; i < 32; i++) {
    const pair = utils.generateKeyPairSync("ed25519");
    const priv = utils.parseKey(pair.private);
    if (!(priv instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error("ssh-sim: could not generate a parseable ed25519 key");
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  // Compare against itself on a length mismatch so the timing does not leak the length.
  const ok = a.length === b.length;
  return timingSafeEqual(a, ok ? b : a) && ok;
}

function isProbeCommand(command: string): boolean {
  return /(^|\s)sh -s$/.test(command.trim());
}

export function machineIdFor(name: string): string {
  return createHash("sha256").update(`fleet-sim:${name}`).digest("hex").slice(0, 32);
}

/** Random bytes salted with invalid UTF-8, NULs and ANSI/OSC escapes. */
function garbage(size: number): Buffer {
  const nasties = [
    Buffer.from([0xff, 0xfe, 0xfd]),
    Buffer.from([0xc0, 0x80]), // overlong NUL
    Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
    Buffer.from([0x80, 0x80, 0xbf]), // stray continuation bytes
    Buffer.from([0xe2, 0x82]), // truncated sequence
    Buffer.from([0x00, 0x00, 0x00]),
    Buffer.from("\x1b[31;1mRED\x1b[0m"),
    Buffer.from("\x1b]0;pwned\x07"),
    Buffer.from("\x1b[2J\x1b[H"),
    Buffer.from("\r\n\r"),
  ];
  const parts: Buffer[] = [];
  let len = 0;
  while (len < size) {
    const piece = Math.random() < 0.5 ? nasties[Math.floor(Math.random() * nasties.length)]! : randomBytes(1 + Math.floor(Math.random() * 256));
    parts.push(piece);
    len += piece.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

export async function startSimHost(opts: SimHostOptions = {}): Promise<SimHost> {
  const bind = opts.bind ?? "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bind)) throw new Error(`ssh-sim binds loopback only, not ${bind}`);
  const hostKeyPem = opts.hostKey ?? generateEd25519KeyPair().private;
  const hostKey = parseOne(hostKeyPem);
  const blob = hostKey.getPublicSSH();
  const publicKey = `${hostKey.type} ${blob.toString("base64")}`;
  const users = opts.users ?? { root: { password: "pw" } };
  const userKeys = new Map<string, ParsedKey[]>(Object.entries(users).map(([u, v]) => [u, (v.publicKeys ?? []).map((l) => parseOne(l))]));

  let canned: CannedHost =
    opts.host ??
    (opts.name !== undefined
      ? debianHost({
          hostname: { body: opts.name },
          machine_id: { body: machineIdFor(opts.name) },
          host_keys: { body: `${publicKey} root@${opts.name}` },
        })
      : debianHost());
  let fault: SimFault = opts.fault ?? "none";
  let closing = false;

  const sockets = new Set<Socket>();
  const socketsByPort = new Map<number, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const authenticate = (ctx: AuthContext) => {
    sim.authAttempts.push({ user: ctx.username, method: ctx.method });
    const user = Object.hasOwn(users, ctx.username) ? users[ctx.username] : undefined;
    const methodsLeft: Array<"password" | "publickey"> = ["publickey", "password"];
    if (!user) return ctx.reject(methodsLeft);
    if (ctx.method === "password") {
      if (user.password !== undefined && sameBytes(Buffer.from(ctx.password), Buffer.from(user.password))) return ctx.accept();
      return ctx.reject(methodsLeft);
    }
    if (ctx.method === "publickey") {
      const match = (userKeys.get(ctx.username) ?? []).find((k) => k.type === ctx.key.algo && sameBytes(ctx.key.data, k.getPublicSSH()));
      if (!match) return ctx.reject(methodsLeft);
      // Without a signature the client only asks whether the key would do; accept() answers PK_OK.
      if (!ctx.signature) return ctx.accept();
      if (ctx.blob && match.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      return ctx.reject(methodsLeft);
    }
    return ctx.reject(methodsLeft);
  };

  /** Writes, then sends the exit status only once the data has been handed to the transport (exit() bypasses the write queue). */
  const finish = (stream: ServerChannel, stdout: Buffer | string, code: number, stderr?: string) => {
    if (stderr) stream.stderr.write(stderr);
    const done = () => {
      stream.exit(code);
      stream.end();
    };
    if (stdout.length === 0) return done();
    stream.write(stdout, done);
  };

  const writeHuge = (stream: ServerChannel, total: number) => {
    let closed = false;
    stream.once("close", () => (closed = true));
    const line = Buffer.from(`${"x".repeat(1023)}\n`);
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line)); // 64 KiB
    let sent = 0;
    const pump = () => {
      while (!closed && !closing && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          stream.once("drain", pump);
          return;
        }
      }
      if (!closed && !closing && sent >= total) finish(stream, "", 0);
    };
    pump();
  };

  const answer = (stream: ServerChannel, command: string, script: string, socket: Socket | undefined) => {
    const f = fault;
    if (f === "hang_after_auth") return;
    if (f === "garbage") return finish(stream, garbage(GARBAGE_BYTES), 0);
    if (f === "huge_output") return writeHuge(stream, opts.hugeBytes ?? DEFAULT_HUGE_BYTES);
    let stdout = "";
    let stderr = "";
    let code = 0;
    const custom = opts.exec?.(command, script) ?? null;
    if (custom) {
      stdout = custom.stdout;
      stderr = custom.stderr ?? "";
      code = custom.code;
    } else if (isProbeCommand(command)) {
      const nonce = /M='@@fleet-([0-9a-f]+)@@'/.exec(script)?.[1];
      if (nonce) stdout = renderProbeOutput(nonce, canned);
      else {
        stderr = "sh: ssh-sim: no probe nonce in the script\n";
        code = 2;
      }
    } else {
      stderr = `sh: ${command}: not found\n`;
      code = 127;
    }
    if (f === "close_mid_output") {
      const out = stdout || stderr;
      const half = out.slice(0, Math.floor(out.length / 2));
      const cut = () => {
        // End the TCP connection under the SSH session: no exit status, no channel close, no disconnect message.
        if (!socket) return;
        socket.end();
        later(200, () => socket.destroy());
      };
      if (stdout) stream.write(half, cut);
      else stream.stderr.write(half, cut);
      return;
    }
    finish(stream, stdout, code, stderr);
  };

  const onConnection = (conn: Connection, socket: Socket | undefined) => {
    conn.on("error", () => {});
    conn.on("authentication", authenticate);
    conn.on("ready", () => {
      conn.on("session", (acceptSession) => {
        const session = acceptSession();
        session.on("exec", (accept, reject, info) => {
          sim.execs++;
          opts.onExec?.(info.command);
          if (fault === "exec_fails" || closing) return reject();
          const stream = accept();
          stream.on("error", () => {});
          stream.stderr.on("error", () => {});
          const chunks: Buffer[] = [];
          const respond = () => {
            if (closing) return;
            const script = Buffer.concat(chunks).toString("utf8");
            const go = () => !closing && answer(stream, info.command, script, socket);
            if (opts.execDelayMs) later(opts.execDelayMs, go);
            else go();
          };
          if (opts.exec || isProbeCommand(info.command)) {
            // Like a shell reading its script from stdin: wait for the client's EOF.
            stream.on("data", (d: Buffer) => chunks.push(d));
            stream.once("end", respond);
          } else {
            stream.resume();
            respond();
          }
        });
      });
    });
  };

  const ssh = new SshServer({ hostKeys: [hostKeyPem, ...(opts.extraHostKeys ?? [])] }, (conn, info) => onConnection(conn, socketsByPort.get(info.port)));
  ssh.on("error", () => {});

  // We own the listener and inject each socket into ssh2, so every socket is
  // tracked (close() destroys them) and no_banner can keep a socket silent.
  const tcp: NetServer = createServer({ pauseOnConnect: false }, (socket) => {
    if (closing) return void socket.destroy();
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (socket.remotePort !== undefined && socketsByPort.get(socket.remotePort) === socket) socketsByPort.delete(socket.remotePort);
    });
    if (fault === "no_banner") return;
    if (socket.remotePort !== undefined) socketsByPort.set(socket.remotePort, socket);
    ssh.injectSocket(socket);
  });
  tcp.on("error", () => {});

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const onErr = (err: Error) => reject(err);
      tcp.once("error", onErr);
      tcp.listen({ host: bind, port, exclusive: true }, () => {
        tcp.off("error", onErr);
        const addr = tcp.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  const stopListening = () => new Promise<void>((resolve) => (tcp.listening ? tcp.close(() => resolve()) : resolve()));

  const port = await listen(opts.port ?? 0);
  if (fault === "refuse") {
    // Keep the port number (nothing else on loopback is likely to take it) but stop accepting.
    await stopListening();
  }

  const sim: SimHost = {
    address: bind,
    port,
    hostKeyFingerprint: fingerprint(blob),
    publicKey,
    execs: 0,
    authAttempts: [],
    setHost(h) {
      canned = h;
    },
    setFault(f) {
      const next = f ?? "none";
      const was = fault;
      fault = next;
      if (closing) return;
      // net.Server.close()/listen() bind and unbind synchronously; only their callbacks are deferred.
      if (next === "refuse" && was !== "refuse" && tcp.listening) tcp.close();
      if (next !== "refuse" && was === "refuse" && !tcp.listening) tcp.listen({ host: bind, port, exclusive: true });
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const stopped = stopListening();
      for (const s of sockets) s.destroy();
      sockets.clear();
      socketsByPort.clear();
      await stopped;
    },
  };
  return sim;
}

export async function startSimFleet(n: number, opts?: (i: number) => SimHostOptions): Promise<{ hosts: SimHost[]; close(): Promise<void> }> {
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => {
      const o = opts?.(i) ?? {};
      return startSimHost(o.host || o.name !== undefined ? o : { ...o, name: `sim-${i + 1}` });
    }),
  );
  const hosts = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const close = async () => {
    await Promise.all(hosts.map((h) => h.close()));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { hosts, close };
}
