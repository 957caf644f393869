// A real OpenSSH sshd on 127.0.0.1 for tests, with its own throwaway host key,
// user key and config in a temp dir. Returns null when sshd or ssh-keygen is not
// installed, or when it cannot be started (the reason goes to stderr), so callers
// can skip outside CI.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const SSHD = "/usr/sbin/sshd";
const START_TIMEOUT_MS = 10_000;

export interface Sshd {
  port: number;
  user: string;
  privateKeyPath: string;
  privateKey: string;
  hostKeyFingerprint: string;
  knownHostsLine: string;
  dir: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function which(cmd: string): Promise<string | null> {
  for (const d of (process.env.PATH ?? "/usr/bin:/bin").split(":").concat(["/usr/bin", "/usr/sbin", "/bin"])) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves with the first line the port sends (bounded by timeoutMs), or null. */
function readBanner(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = "";
    const sock = connect({ host: "127.0.0.1", port });
    const done = (v: string | null) => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl).trim());
    });
  });
}

function killAndWait(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const hard = setTimeout(() => signal("SIGKILL"), 3000);
    const give = setTimeout(resolve, 5000);
    child.once("exit", () => {
      clearTimeout(hard);
      clearTimeout(give);
      resolve();
    });
    function signal(sig: NodeJS.Signals) {
      try {
        // sshd was started in its own process group: this also ends its per-connection children.
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    }
    signal("SIGTERM");
  });
}

export async function startSshd(opts: { port?: number } = {}): Promise<Sshd | null> {
  const keygen = await which("ssh-keygen");
  if (!existsSync(SSHD) || !keygen) return null;
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  let stderr = "";
  try {
    dir = await mkdtemp(join(tmpdir(), "fleet-sshd-"));
    const hostKey = join(dir, "ssh_host_ed25519_key");
    const userKey = join(dir, "id_ed25519");
    await run(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-test-host", "-f", hostKey]);
    await run(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-test-user", "-f", userKey]);
    const userPub = await readFile(`${userKey}.pub`, "utf8");
    await writeFile(join(dir, "authorized_keys"), userPub, { mode: 0o600 });
    const hostPub = (await readFile(`${hostKey}.pub`, "utf8")).trim();
    const { stdout: fp } = await run(keygen, ["-lf", `${hostKey}.pub`]);
    const hostKeyFingerprint = /SHA256:\S+/.exec(fp)?.[0];
    if (!hostKeyFingerprint) throw new Error(`ssh-keygen -lf printed no SHA256 fingerprint: ${fp}`);

    const port = opts.port ?? (await freePort());
    const config = join(dir, "sshd_config");
    await writeFile(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin yes",
        "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
        "",
      ].join("\n"),
    );
    // The privilege separation directory sshd insists on.
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 }).catch(() => {});

    const proc = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    child = proc;
    proc.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString("utf8");
    });
    proc.on("error", (err) => (stderr += `\nspawn: ${err.message}`));

    const deadline = Date.now() + START_TIMEOUT_MS;
    let banner: string | null = null;
    while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
      banner = await readBanner(port, Math.min(1000, Math.max(50, deadline - Date.now())));
      if (banner?.startsWith("SSH-2.0")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!banner?.startsWith("SSH-2.0")) {
      const why = proc.exitCode !== null || proc.signalCode !== null ? `sshd exited (${proc.exitCode ?? proc.signalCode})` : "no SSH-2.0 banner within 10 s";
      throw new Error(`${why}${stderr ? `: ${stderr.trim()}` : ""}`);
    }

    const theDir = dir;
    let stopped: Promise<void> | undefined;
    return {
      port,
      user: userInfo().username,
      privateKeyPath: userKey,
      privateKey: await readFile(userKey, "utf8"),
      hostKeyFingerprint,
      knownHostsLine: `[127.0.0.1]:${port} ${hostPub}`,
      dir: theDir,
      stop() {
        stopped ??= killAndWait(proc).then(() => rm(theDir, { recursive: true, force: true }));
        return stopped;
      },
    };
  } catch (err) {
    process.stderr.write(`startSshd: cannot start a test sshd: ${(err as Error).message}\n`);
    if (child) await killAndWait(child);
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    return null;
  }
}
