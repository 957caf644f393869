// `doctor`: checks every configured source the way discovery will use it and
// answers with concrete fixes — reachability, TLS (with the fingerprint to pin),
// authentication, and the privileges discovery needs.
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import type { SourceConfig } from "../config.js";
import { PveApiError, PveClient, normaliseFingerprint } from "../discovery/proxmox/api-client.js";
import { RunnerError } from "../discovery/runner.js";
import { SshRunner } from "../discovery/runners/ssh.js";
import type { AppContext } from "./context.js";
import { sshHostProvider, sshProbing } from "./sources.js";

export interface DoctorCheck {
  source: string;
  kind: string;
  target: string;
  check: "config" | "reachability" | "tls" | "auth" | "privileges" | "ssh" | "sudo";
  status: "ok" | "warning" | "error";
  message: string;
  fix: string | null;
}

const MAX_HOSTS_PER_SOURCE = 20;
/** A Proxmox CLI node is one connection: checked like an ssh host without retries. */
const NO_RETRY = { retries: 0, retry_min_delay_ms: 0, circuit_breaker: { failures: 3, cooldown_s: 300 } };

export async function runDoctor(app: AppContext, sourceIds: string[] | undefined, signal: AbortSignal): Promise<DoctorCheck[]> {
  const configs = app.discovery.sourceConfigs(sourceIds);
  const results = await Promise.all(configs.map((cfg) => checkSource(app, cfg, signal)));
  return results.flat();
}

async function checkSource(app: AppContext, cfg: SourceConfig, signal: AbortSignal): Promise<DoctorCheck[]> {
  const base = { source: cfg.id, kind: cfg.kind };
  switch (cfg.kind) {
    case "local":
      return [{ ...base, target: "local", check: "config", status: "ok", message: "probes this machine directly, without SSH", fix: null }];
    case "proxmox": {
      const api = await checkProxmox(app, cfg, signal);
      if (!cfg.cli_fallback) return api;
      // The fallback node is reached over SSH like any host; its checks carry the fallback's id.
      const cli = await checkSshHosts(
        app,
        { ...cfg.cli_fallback, ...NO_RETRY, kind: "ssh", id: `${cfg.id}-cli`, hosts: [{ address: cfg.cli_fallback.address, tags: [] }] },
        signal,
      );
      return [...api, ...cli];
    }
    case "proxmox-cli":
      return checkSshHosts(app, { ...cfg, ...NO_RETRY, kind: "ssh", hosts: [{ address: cfg.address, tags: [] }] }, signal);
    default:
      return checkSshHosts(app, cfg, signal);
  }
}

/** Reads the certificate pveproxy presents, without trusting it, to show what to pin. */
function presentedFingerprint(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, servername: /^[\d.]+$/.test(host) ? undefined : host });
    const done = (fp: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(fp);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.once("secureConnect", () => done(socket.getPeerCertificate()?.fingerprint256 ?? null));
    socket.once("error", () => done(null));
  });
}

async function checkProxmox(app: AppContext, cfg: Extract<SourceConfig, { kind: "proxmox" }>, signal: AbortSignal): Promise<DoctorCheck[]> {
  const target = `${cfg.host}:${cfg.port}`;
  const base = { source: cfg.id, kind: cfg.kind, target };
  const out: DoctorCheck[] = [];
  const fp = await presentedFingerprint(cfg.host, cfg.port, cfg.timeout_ms);
  if (!fp) {
    return [
      {
        ...base,
        check: "reachability",
        status: "error",
        message: `no TLS answer from ${target}`,
        fix: `Check that pveproxy runs on ${target} and that this machine can reach it (port 8006 by default).`,
      },
    ];
  }
  out.push({
    ...base,
    check: "reachability",
    status: "ok",
    message: `pveproxy answers on ${target}; its certificate's SHA-256 fingerprint is ${fp}`,
    fix: null,
  });
  if (cfg.insecure) {
    out.push({
      ...base,
      check: "tls",
      status: "warning",
      message: "TLS verification is off for this source (insecure: true)",
      fix: `Pin the certificate instead: "fingerprint": "${fp}"`,
    });
  } else if (cfg.fingerprint) {
    const pinned = normaliseFingerprint(cfg.fingerprint);
    out.push(
      pinned === fp
        ? { ...base, check: "tls", status: "ok", message: "the certificate matches the pinned fingerprint", fix: null }
        : {
            ...base,
            check: "tls",
            status: "error",
            message: `the certificate (${fp}) does not match the pinned ${pinned}`,
            fix: `If the certificate was renewed on purpose, set "fingerprint": "${fp}"; otherwise find out who answers on ${target}.`,
          },
    );
  }
  const secrets = app.config.secrets.get(cfg.id) ?? {};
  let client: PveClient;
  try {
    client = new PveClient({
      host: cfg.host,
      port: cfg.port,
      auth: cfg.token_id
        ? { kind: "token", tokenId: cfg.token_id, secret: secrets.tokenSecret ?? "" }
        : { kind: "password", username: cfg.username ?? "root@pam", password: secrets.password ?? "" },
      tls: cfg.fingerprint
        ? { mode: "fingerprint", sha256: cfg.fingerprint }
        : cfg.insecure
          ? { mode: "insecure" }
          : { mode: "verify", ...(cfg.ca_file ? { ca: readCa(cfg.ca_file, app) } : {}) },
      timeoutMs: cfg.timeout_ms,
      concurrency: 2,
      requestsPerSecond: cfg.requests_per_second,
      signal,
    });
  } catch (err) {
    // proxmox-api refuses a malformed token secret or an empty password up front.
    out.push({
      ...base,
      check: "auth",
      status: "error",
      message: (err as Error).message,
      fix: cfg.token_id ? `${cfg.token_secret_env} must hold the token's secret: a lower-case UUID.` : `${cfg.password_env} must hold the password.`,
    });
    return out;
  }
  try {
    try {
      const v = (await client.get("version")) as { version?: string } | null;
      out.push({ ...base, check: "auth", status: "ok", message: `authenticated as ${cfg.token_id ?? cfg.username}; PVE ${v?.version ?? "?"}`, fix: null });
    } catch (err) {
      const e = err as PveApiError;
      if (e.kind === "tls") {
        out.push({
          ...base,
          check: "tls",
          status: "error",
          message: e.message,
          fix: `For a self-signed cluster pin it: "fingerprint": "${fp}" (or set ca_file to the cluster's CA).`,
        });
      } else if (e.kind === "auth") {
        out.push({
          ...base,
          check: "auth",
          status: "error",
          message: e.message,
          fix: cfg.token_id
            ? `Check that ${cfg.token_id} exists (Datacenter > Permissions > API Tokens) and that ${cfg.token_secret_env} holds its secret.`
            : `Check the user ${cfg.username} and the password in ${cfg.password_env}; the realm must match (e.g. root@pam).`,
        });
      } else out.push({ ...base, check: "auth", status: "error", message: e.message, fix: null });
      return out;
    }
    let perms: Record<string, Record<string, number>> = {};
    try {
      perms = ((await client.get("access/permissions", { path: "/" })) ?? {}) as Record<string, Record<string, number>>;
    } catch (err) {
      out.push({ ...base, check: "privileges", status: "warning", message: `cannot read permissions: ${(err as Error).message}`, fix: null });
      return out;
    }
    const root = perms["/"] ?? {};
    const missing = ["Sys.Audit", "VM.Audit", "Datastore.Audit"].filter((p) => !root[p]);
    if (missing.length === 0) {
      out.push({ ...base, check: "privileges", status: "ok", message: "Sys.Audit, VM.Audit and Datastore.Audit on /", fix: null });
    } else {
      const who = cfg.token_id ? `token ${cfg.token_id}` : `user ${cfg.username}`;
      const privsep = cfg.token_id && Object.keys(perms).length === 0;
      out.push({
        ...base,
        check: "privileges",
        status: "error",
        message: privsep
          ? `${who} has privilege separation and no ACL of its own: it sees nothing`
          : `${who} lacks ${missing.join(", ")} on /: discovery will see only part of the cluster`,
        fix: cfg.token_id
          ? `Grant PVEAuditor on /: pveum acl modify / --tokens '${cfg.token_id}' --roles PVEAuditor`
          : `Grant PVEAuditor on /: pveum acl modify / --users '${cfg.username}' --roles PVEAuditor`,
      });
    }
    return out;
  } finally {
    await client.close();
  }
}

function readCa(path: string, app: AppContext): string {
  // The same file the source reads; an unreadable one shows as a TLS failure.
  try {
    return readFileSync(path.replace(/^~(?=\/|$)/, app.config.home), "utf8");
  } catch {
    return "";
  }
}

async function checkSshHosts(
  app: AppContext,
  cfg: Extract<SourceConfig, { kind: "ssh" | "tailscale" | "network" }>,
  signal: AbortSignal,
): Promise<DoctorCheck[]> {
  const base = { source: cfg.id, kind: cfg.kind };
  // Resolve hosts exactly as discovery would (ssh_config, tailscale status, a sweep).
  let specs;
  const probing = sshProbing(cfg, { db: app.db, config: app.config });
  try {
    specs = await sshHostProvider(cfg, { db: app.db, config: app.config }, probing)({ signal, now: app.now, log: app.log }, () => undefined);
  } catch (err) {
    return [{ ...base, target: "-", check: "config", status: "error", message: `cannot list the hosts: ${(err as Error).message}`, fix: null }];
  }
  if (specs.length === 0)
    return [
      {
        ...base,
        target: "-",
        check: "config",
        status: "warning",
        message: "no hosts to check",
        fix: cfg.kind === "network" ? "Set auto_register (or FLEET_AUTO_REGISTER=true) so responders become targets." : null,
      },
    ];
  const checks = await Promise.all(
    specs.slice(0, MAX_HOSTS_PER_SOURCE).map(async (spec): Promise<DoctorCheck[]> => {
      const target = `${spec.user}@${spec.address}:${spec.port}`;
      // The same host key policy as discovery: never send credentials to a host whose key is not trusted.
      const runner = new SshRunner({
        endpoint: { host: spec.address, port: spec.port, username: spec.user },
        auth: spec.auth,
        verifyHostKey: probing.verifierFor(spec.address, spec.port, false),
      });
      try {
        const res = await runner.run(cfg.sudo ? "sudo -n true && echo fleet-ok" : "echo fleet-ok", { timeoutMs: cfg.timeout_ms, maxBytes: 4096, signal });
        const key = runner.presentedHostKey?.fingerprint ?? "?";
        const out: DoctorCheck[] = [{ ...base, target, check: "ssh", status: "ok", message: `connected and authenticated; host key ${key}`, fix: null }];
        if (cfg.sudo) {
          out.push(
            res.stdout.includes("fleet-ok")
              ? { ...base, target, check: "sudo", status: "ok", message: "sudo -n works", fix: null }
              : {
                  ...base,
                  target,
                  check: "sudo",
                  status: "error",
                  message: `sudo -n failed: ${res.stderr.trim().split("\n")[0] ?? ""}`,
                  fix: `Allow ${spec.user} passwordless sudo for sh (e.g. a sudoers line '${spec.user} ALL=(root) NOPASSWD: /bin/sh'), or set sudo: false.`,
                },
          );
        }
        return out;
      } catch (err) {
        const e = err instanceof RunnerError ? err : null;
        const fix =
          e?.code === "host_key_mismatch"
            ? `The host presented ${runner.presentedHostKey?.fingerprint ?? "a different key"}, not the trusted one. If the change is legitimate (reinstall, key rotation), run discovery once so the key is recorded, then call accept_host_key with that fingerprint (a tool of the full preset: tools.preset "full" or FLEET_TOOL_PRESET=full)${cfg.host_key_policy === "strict" ? ", or update known_hosts" : ""}.`
            : e?.code === "auth_failed"
              ? `Check the user (${spec.user}) and the configured auth: agent at SSH_AUTH_SOCK, private_key_file, or the password in the variable named by auth.password_env.`
              : e?.code === "unreachable"
                ? `Check that sshd listens on ${spec.address}:${spec.port} and that this machine can reach it.`
                : e?.code === "timeout"
                  ? "The host did not answer in time: check the firewall, or raise timeout_ms."
                  : null;
        const check = e?.code === "auth_failed" ? "auth" : e?.code === "host_key_mismatch" ? "ssh" : "reachability";
        return [{ ...base, target, check, status: "error", message: (err as Error).message, fix }];
      }
    }),
  );
  const out = checks.flat();
  if (specs.length > MAX_HOSTS_PER_SOURCE)
    out.push({ ...base, target: "-", check: "config", status: "ok", message: `checked the first ${MAX_HOSTS_PER_SOURCE} of ${specs.length} hosts`, fix: null });
  return out;
}
