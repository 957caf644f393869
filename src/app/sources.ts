// Maps validated source config onto discovery sources. Kept here, not in
// src/discovery, because discovery must not know our config types or database.
import { readFileSync } from "node:fs";
import { minimatch } from "./glob.js";
import type { FleetConfig, SourceConfig } from "../config.js";
import type { Db } from "../db/open.js";
import { parseKnownHosts } from "../discovery/known-hosts.js";
import { resolveSshConfigHost, sshConfigAliases } from "../discovery/ssh-config.js";
import { createLocalSource } from "../discovery/sources/local.js";
import { createSshSource, type SshHostSpec } from "../discovery/sources/ssh.js";
import type { DiscoverySource } from "../discovery/types.js";
import { loadEndpointStates } from "../inventory/endpoints.js";

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

export const createSource: SourceFactory = (cfg, deps) => {
  switch (cfg.kind) {
    case "local":
      return createLocalSource({ id: cfg.id, timeoutMs: cfg.timeout_ms, maxOutputBytes: cfg.max_output_bytes, ...(deps.only ? { only: deps.only } : {}) });
    case "ssh": {
      const { config } = deps;
      const secrets = config.secrets.get(cfg.id) ?? {};
      const keyCache = new Map<string, string>();
      const key = (path: string) => {
        const full = expandHome(path, config.home);
        if (!keyCache.has(full)) keyCache.set(full, readText(full, "private key file"));
        return keyCache.get(full)!;
      };
      const authFor = (identityFile?: string) => ({
        ...(secrets.agentSocket ? { agent: secrets.agentSocket } : {}),
        ...((identityFile ?? cfg.auth.private_key_file) ? { privateKey: key((identityFile ?? cfg.auth.private_key_file)!) } : {}),
        ...(secrets.passphrase !== undefined ? { passphrase: secrets.passphrase } : {}),
        ...(secrets.password !== undefined ? { password: secrets.password } : {}),
      });
      return createSshSource({
        id: cfg.id,
        hosts: async () => {
          const hosts: SshHostSpec[] = cfg.hosts.map((h) => ({
            name: h.name ?? h.address,
            address: h.address,
            port: h.port ?? cfg.port,
            user: h.user ?? cfg.user,
            tags: h.tags,
            role: h.role ?? null,
            auth: authFor(),
          }));
          if (cfg.ssh_config) {
            const text = readText(expandHome(cfg.ssh_config.path, config.home), "ssh_config");
            const wanted = cfg.ssh_config.hosts;
            for (const alias of sshConfigAliases(text)) {
              if (wanted && !wanted.some((w) => minimatch(w, alias))) continue;
              const r = resolveSshConfigHost(text, alias, config.home);
              const identity = r.identityFiles.find((f) => {
                try {
                  key(f);
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
                auth: authFor(identity),
                via: "ssh_config",
              });
            }
          }
          return hosts;
        },
        hostKeyPolicy: cfg.host_key_policy,
        ...(cfg.host_key_policy === "strict"
          ? { knownHosts: parseKnownHosts(readText(expandHome(cfg.known_hosts_file, config.home), "known_hosts file")) }
          : {}),
        endpoints: loadEndpointStates(deps.db),
        timeoutMs: cfg.timeout_ms,
        maxOutputBytes: cfg.max_output_bytes,
        concurrency: cfg.concurrency ?? config.limits.maxConcurrentProbes,
        sudo: cfg.sudo,
        retries: cfg.retries,
        retryMinDelayMs: cfg.retry_min_delay_ms,
        breaker: { threshold: cfg.circuit_breaker.failures, cooldownMs: cfg.circuit_breaker.cooldown_s * 1000 },
        ...(deps.only?.length ? { only: deps.only } : {}),
      });
    }
  }
};
