// Maps validated source config onto discovery sources. Kept here, not in
// src/discovery, because discovery must not know our config types or database.
import { readFileSync } from "node:fs";
import { cliSourceId, guestSourceId, type FleetConfig, type SourceConfig } from "../config.js";
import type { Db } from "../db/open.js";
import { checkKnownHosts, parseKnownHosts } from "../discovery/known-hosts.js";
import { globMatch } from "../discovery/patterns.js";
import { resolveSshConfigHost, sshConfigAliases } from "../discovery/ssh-config.js";
import { createLocalSource } from "../discovery/sources/local.js";
import { createProxmoxSource } from "../discovery/sources/proxmox.js";
import { discoverViaCli } from "../discovery/proxmox/cli-discovery.js";
import { createSshSource, endpointKey, type SshHostSpec, type SshSourceOptions } from "../discovery/sources/ssh.js";
import { sweepHitsToHosts, sweepSsh } from "../discovery/sources/network.js";
import { tailscaleHosts } from "../discovery/sources/tailscale.js";
import { LocalRunner } from "../discovery/runners/local.js";
import { SshRunner, type PresentedHostKey, type SshAuth } from "../discovery/runners/ssh.js";
import type { CommandRunner } from "../discovery/runner.js";
import type { DiscoverySource, TargetObservation } from "../discovery/types.js";
import { loadEndpointStates, pinHostKeyOnFirstUse } from "../inventory/endpoints.js";

export interface SourceDeps {
  db: Db;
  config: FleetConfig;
  /** Only these hosts (by name or address), for targeted runs. */
  only?: string[];
}

export type SourceFactory = (cfg: SourceConfig, deps: SourceDeps) => DiscoverySource;

function expandHome(path: string, home: string): string {
  return path.replace(/^~(?=\/|$)/, home);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

type SshProbingConfig = Extract<SourceConfig, { kind: "ssh" | "tailscale" | "network" }>;

/**
 * Running guests to probe over SSH: those with a configured address, and with
 * auto_register those with a global IPv4 address the API reported.
 */
export function guestProbeSpecs(
  targets: readonly TargetObservation[],
  mapping: Record<string, string>,
  autoRegister: boolean,
  pctExec = false,
): Array<Pick<SshHostSpec, "name" | "address" | "kind" | "extraIdentity" | "parentIdentity" | "pctExec">> {
  const out: Array<Pick<SshHostSpec, "name" | "address" | "kind" | "extraIdentity" | "parentIdentity" | "pctExec">> = [];
  const nodeAddress = new Map(targets.filter((t) => t.kind === "proxmox_node" && t.address).map((t) => [t.identity[0]!, t.address!]));
  for (const t of targets) {
    if ((t.kind !== "lxc" && t.kind !== "vm") || t.facts["pve.status"] !== "running") continue;
    const vmid = String(t.facts["pve.vmid"] ?? "");
    const discovered = t.interfaces
      ?.flatMap((i) => i.addresses)
      .find((a) => a.family === "inet" && !a.address.startsWith("127.") && !a.address.startsWith("169.254."))?.address;
    const address = mapping[vmid] ?? (autoRegister ? discovered : undefined);
    if (!address) {
      // No address to log into: an LXC guest can still be probed from its node.
      const node = t.parentIdentity ? nodeAddress.get(t.parentIdentity) : undefined;
      if (pctExec && t.kind === "lxc" && node) {
        out.push({
          name: t.name,
          address: node,
          kind: t.kind,
          extraIdentity: [t.identity[0]!],
          parentIdentity: t.parentIdentity!,
          pctExec: { vmid: Number(vmid) },
        });
      }
      continue;
    }
    out.push({ name: t.name, address, kind: t.kind, extraIdentity: [t.identity[0]!], ...(t.parentIdentity ? { parentIdentity: t.parentIdentity } : {}) });
  }
  return out;
}

/** Auth, host key policy, bounds and breaker shared by every source that probes over SSH. */
export function sshProbing(cfg: SshProbingConfig, deps: SourceDeps) {
  const { config } = deps;
  const secrets = config.secrets.get(cfg.id) ?? {};
  const keyCache = new Map<string, string>();
  const key = (path: string) => {
    const full = expandHome(path, config.home);
    if (!keyCache.has(full)) keyCache.set(full, readText(full, "private key file"));
    return keyCache.get(full)!;
  };
  const authFor = (identityFile?: string): SshAuth => {
    const file = identityFile ?? cfg.auth.private_key_file;
    return {
      ...(secrets.agentSocket ? { agent: secrets.agentSocket } : {}),
      ...(file ? { privateKey: key(file) } : {}),
      ...(secrets.passphrase !== undefined ? { passphrase: secrets.passphrase } : {}),
      ...(secrets.password !== undefined ? { password: secrets.password } : {}),
    };
  };
  const knownHosts =
    cfg.host_key_policy === "strict" ? parseKnownHosts(readText(expandHome(cfg.known_hosts_file, config.home), "known_hosts file")) : undefined;
  const endpoints = loadEndpointStates(deps.db);
  const options = (id: string, kind: SshProbingConfig["kind"], hosts: SshSourceOptions["hosts"]): SshSourceOptions => ({
    id,
    kind,
    hosts,
    hostKeyPolicy: cfg.host_key_policy,
    ...(knownHosts ? { knownHosts } : {}),
    endpoints,
    timeoutMs: cfg.timeout_ms,
    maxOutputBytes: cfg.max_output_bytes,
    concurrency: cfg.concurrency ?? config.limits.maxConcurrentProbes,
    sudo: cfg.sudo,
    retries: cfg.retries,
    retryMinDelayMs: cfg.retry_min_delay_ms,
    breaker: { threshold: cfg.circuit_breaker.failures, cooldownMs: cfg.circuit_breaker.cooldown_s * 1000 },
    ...(deps.only?.length ? { only: deps.only } : {}),
  });
  /** Host key check for a helper connection (the tailscale `via` host), by the same policy. */
  /**
   * Host key check for a helper connection (the tailscale `via` host, the Proxmox CLI
   * node), by the same policy. Under tofu the first key is pinned right away: these
   * connections produce no observation that would pin it later.
   */
  const verifierFor =
    (address: string, port: number, pinOnFirstUse = true) =>
    (k: PresentedHostKey) => {
      if (cfg.host_key_policy === "off") return true;
      if (knownHosts) return checkKnownHosts(knownHosts, address, port, k.fingerprint).trusted;
      const ep = endpointKey(address, port);
      const pinned = endpoints.get(ep)?.pinnedFingerprints ?? [];
      if (pinned.length === 0) {
        if (!pinOnFirstUse) return true;
        pinHostKeyOnFirstUse(deps.db, ep, k, new Date());
        endpoints.set(ep, { pinnedFingerprints: [k.fingerprint], consecutiveFailures: 0, lastFailureAt: null, everReached: false });
        return true;
      }
      return pinned.includes(k.fingerprint);
    };
  return { authFor, key, options, verifierFor };
}

/** Where an SSH-probing source finds its hosts: its list, ~/.ssh/config, a tailnet, a sweep. */
export function sshHostProvider(cfg: SshProbingConfig, deps: SourceDeps, p = sshProbing(cfg, deps)): SshSourceOptions["hosts"] {
  const { config } = deps;
  switch (cfg.kind) {
    case "ssh":
      return async () => {
        const hosts: SshHostSpec[] = cfg.hosts.map((h) => ({
          name: h.name ?? h.address,
          address: h.address,
          port: h.port ?? cfg.port,
          user: h.user ?? cfg.user,
          tags: h.tags,
          role: h.role ?? null,
          auth: p.authFor(),
        }));
        if (cfg.ssh_config) {
          const text = readText(expandHome(cfg.ssh_config.path, config.home), "ssh_config");
          const wanted = cfg.ssh_config.hosts;
          for (const alias of sshConfigAliases(text)) {
            if (wanted && !wanted.some((w) => globMatch(w, alias))) continue;
            const r = resolveSshConfigHost(text, alias, config.home);
            const identity = r.identityFiles.find((f) => {
              try {
                p.key(f);
                return true;
              } catch {
                return false;
              }
            });
            hosts.push({
              name: alias,
              address: r.hostName,
              port: r.port ?? cfg.port,
              user: r.user ?? cfg.user,
              tags: [],
              role: null,
              auth: p.authFor(identity),
              via: "ssh_config",
            });
          }
        }
        return hosts;
      };
    case "tailscale": {
      const via = cfg.via;
      const runner: CommandRunner = via
        ? new SshRunner({
            endpoint: { host: via.address, port: via.port, username: via.user ?? cfg.user },
            auth: p.authFor(),
            verifyHostKey: p.verifierFor(via.address, via.port),
          })
        : new LocalRunner();
      return (ctx) =>
        tailscaleHosts({
          runner,
          user: cfg.user,
          auth: p.authFor(),
          port: cfg.port,
          useMagicDns: cfg.use_magic_dns,
          includeOffline: cfg.include_offline,
          ...(cfg.tags ? { tags: cfg.tags } : {}),
          timeoutMs: cfg.timeout_ms,
          signal: ctx.signal,
        });
    }
    case "network": {
      const autoRegister = cfg.auto_register ?? config.autoRegister;
      return async (ctx, warn) => {
        const hits = await sweepSsh({
          cidrs: cfg.cidrs,
          ports: cfg.ports,
          concurrency: cfg.sweep_concurrency,
          timeoutMs: cfg.connect_timeout_ms,
          maxAddresses: cfg.max_addresses,
          signal: ctx.signal,
        });
        if (!autoRegister) {
          if (hits.length) {
            const found = hits.slice(0, 20).map((x) => `${x.address}:${x.port}`);
            warn(
              `${cfg.id}: ${hits.length} SSH server(s) answered (${found.join(", ")}${hits.length > 20 ? ", ..." : ""}); set auto_register (or FLEET_AUTO_REGISTER=true) to probe them`,
            );
          }
          return [];
        }
        return sweepHitsToHosts(hits, { user: cfg.user, auth: p.authFor(), tags: cfg.tags });
      };
    }
  }
}

type ProxmoxCliFields = Extract<SourceConfig, { kind: "proxmox-cli" }>;

/** A cluster read with pvesh (or pct/qm) over SSH to one node: the same targets as the API path. */
function proxmoxCliSource(id: string, fields: Omit<ProxmoxCliFields, "kind" | "id">, deps: SourceDeps): DiscoverySource {
  // One connection, one node: no retries, breaker or concurrency to configure.
  const p = sshProbing({ ...fields, kind: "ssh", id, hosts: [], retries: 0, retry_min_delay_ms: 0, circuit_breaker: { failures: 3, cooldown_s: 300 } }, deps);
  return {
    id,
    kind: "proxmox-cli",
    async discover(ctx) {
      const startedAt = ctx.now();
      const where = `${fields.user}@${fields.address}:${fields.port}`;
      const warnings: string[] = [];
      if (fields.host_key_policy === "off") {
        warnings.push(`${id}: host key checking is OFF (host_key_policy: off); any machine answering at ${fields.address} is trusted`);
        ctx.log.warn(warnings[0]!);
      }
      const runner = new SshRunner({
        endpoint: { host: fields.address, port: fields.port, username: fields.user },
        auth: p.authFor(),
        verifyHostKey: p.verifierFor(fields.address, fields.port),
      });
      try {
        const r = await discoverViaCli({
          runner,
          timeoutMs: fields.timeout_ms,
          maxBytes: fields.max_output_bytes,
          signal: ctx.signal,
          now: ctx.now,
          ...(fields.sudo ? { wrap: "sudo -n" } : {}),
        });
        ctx.onHostDone?.(r.targets.length, r.targets.length, where);
        for (const w of r.warnings) ctx.log.warn(w);
        const bad = r.targets.filter((t) => t.status !== "ok");
        return {
          sourceId: id,
          kind: "proxmox-cli",
          status: bad.length ? "partial" : "ok",
          startedAt,
          finishedAt: ctx.now(),
          targets: r.targets,
          warnings: r.warnings,
        };
      } catch (err) {
        return {
          sourceId: id,
          kind: "proxmox-cli",
          status: "failed",
          startedAt,
          finishedAt: ctx.now(),
          targets: [],
          warnings: [],
          error: `${where}: ${(err as Error).message}`,
        };
      }
    },
  };
}

export const createSource: SourceFactory = (cfg, deps) => {
  const { config } = deps;
  switch (cfg.kind) {
    case "local":
      return createLocalSource({ id: cfg.id, timeoutMs: cfg.timeout_ms, maxOutputBytes: cfg.max_output_bytes, ...(deps.only ? { only: deps.only } : {}) });
    case "ssh":
    case "tailscale":
    case "network": {
      const p = sshProbing(cfg, deps);
      return createSshSource(p.options(cfg.id, cfg.kind, sshHostProvider(cfg, deps, p)));
    }
    case "proxmox-cli":
      return proxmoxCliSource(cfg.id, cfg, deps);
    case "proxmox": {
      const secrets = config.secrets.get(cfg.id) ?? {};
      const tls = cfg.fingerprint
        ? ({ mode: "fingerprint", sha256: cfg.fingerprint } as const)
        : cfg.insecure
          ? ({ mode: "insecure" } as const)
          : ({ mode: "verify", ...(cfg.ca_file ? { ca: readText(expandHome(cfg.ca_file, config.home), "ca_file") } : {}) } as const);
      const api = createProxmoxSource({
        id: cfg.id,
        ...(cfg.token_id ? { tokenId: cfg.token_id } : {}),
        client: {
          host: cfg.host,
          port: cfg.port,
          auth: cfg.token_id
            ? { kind: "token", tokenId: cfg.token_id, secret: secrets.tokenSecret ?? "" }
            : { kind: "password", username: cfg.username ?? "root@pam", password: secrets.password ?? "" },
          tls,
          timeoutMs: cfg.timeout_ms,
          concurrency: cfg.concurrency,
          requestsPerSecond: cfg.requests_per_second,
        },
      });
      const fallback = cfg.cli_fallback ? proxmoxCliSource(cliSourceId(cfg.id), cfg.cli_fallback, deps) : null;
      const guests = cfg.guests;
      if (!guests && !fallback) return api;
      // Guests found by the API become SSH probe targets in the same run: a follow-up source
      // whose facts merge onto the guest targets through the guest identity.
      const guestCfg = guests ? { ...guests, kind: "ssh" as const, id: guestSourceId(cfg.id), hosts: [] } : null;
      const p = guestCfg ? sshProbing(guestCfg, deps) : null;
      const autoRegister = guests?.auto_register ?? config.autoRegister;
      return {
        ...api,
        async discover(ctx) {
          const result = await api.discover(ctx);
          if (result.status === "failed" && fallback) {
            return {
              ...result,
              warnings: [...result.warnings, `${cfg.id}: the API failed; reading the cluster over SSH instead (${fallback.id})`],
              followUp: fallback,
            };
          }
          if (!guests) return result;
          const specs: SshHostSpec[] = guestProbeSpecs(result.targets, guests.addresses, autoRegister, guests.pct_exec).map((g) => ({
            ...g,
            port: guests.port,
            user: guests.user,
            auth: p!.authFor(),
            tags: [],
            role: null,
            via: "proxmox",
          }));
          if (specs.length === 0 || !p || !guestCfg) return result;
          return { ...result, followUp: createSshSource(p.options(guestCfg.id, "ssh", async () => specs)) };
        },
      };
    }
  }
};
