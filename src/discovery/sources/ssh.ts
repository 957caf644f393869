// Probes many hosts over SSH with the same probe the local source runs: one
// connection and one exec per host, bounded concurrency, a deadline per host,
// retries only for transient connection faults, a circuit breaker per host,
// and host key checking by policy (tofu, strict known_hosts, off). A host's
// failure is its own: it never fails the run.
import pLimit from "p-limit";
import pRetry, { AbortError } from "p-retry";
import { checkKnownHosts, knownHostKeyTypes, type KnownHostEntry } from "../known-hosts.js";
import { observedCollections, probe } from "../probe.js";
import { RunnerError, type CommandRunner } from "../runner.js";
import { SshRunner, type PresentedHostKey, type SshAuth } from "../runners/ssh.js";
import type { DiscoveryContext, DiscoverySource, FactValue, HostKeyCheck, SourceKind, SourceResult, TargetKind, TargetObservation } from "../types.js";

export interface SshHostSpec {
  /** Display name until the probe reads the real hostname. */
  name: string;
  address: string;
  port: number;
  user: string;
  tags: string[];
  role: string | null;
  auth: SshAuth;
  /** Where this host came from when not listed directly (e.g. "tailscale", "network sweep"). */
  via?: string;
  /** What the host is when another source knows better (a Proxmox guest is an lxc or vm). */
  kind?: TargetKind;
  /** Identity keys another source gave this machine (a Proxmox guest's), so the probe merges onto it. */
  extraIdentity?: string[];
  parentIdentity?: string;
  /**
   * Probe through `pct exec <vmid> -- sh -s` on the host at address:port (the
   * guest's PVE node) instead of logging into the guest itself.
   */
  pctExec?: { vmid: number };
}

/**
 * Runs every command inside an LXC guest through `pct exec` on its node: the
 * same probe, no SSH server in the container needed.
 */
export function pctExecRunner(node: CommandRunner & { presentedHostKey: PresentedHostKey | null }, vmid: number) {
  return {
    get where() {
      return `${node.where} pct exec ${vmid}`;
    },
    get presentedHostKey() {
      return node.presentedHostKey;
    },
    run: (command: string, o: Parameters<CommandRunner["run"]>[1]) => {
      // "sudo -n sh -s" stays outside: pct itself needs root on the node.
      const sudo = command.startsWith("sudo -n ") ? "sudo -n " : "";
      return node.run(`${sudo}pct exec ${vmid} -- ${command.slice(sudo.length)}`, o);
    },
  };
}

export type HostKeyPolicy = "tofu" | "strict" | "off";

/** What the inventory remembers about an endpoint between runs. */
export interface EndpointState {
  pinnedFingerprints: string[];
  consecutiveFailures: number;
  lastFailureAt: Date | null;
  everReached: boolean;
}

export interface SshSourceOptions {
  id: string;
  kind?: SourceKind;
  /** The hosts to probe; a function so that tailscale/network sources can find them at run time. */
  hosts: (ctx: DiscoveryContext, warn: (message: string) => void) => Promise<SshHostSpec[]>;
  hostKeyPolicy: HostKeyPolicy;
  knownHosts?: KnownHostEntry[];
  endpoints: Map<string, EndpointState>;
  timeoutMs: number;
  maxOutputBytes: number;
  concurrency: number;
  sudo: boolean;
  retries: number;
  retryMinDelayMs: number;
  breaker: { threshold: number; cooldownMs: number };
  /** Only hosts whose name or address is in this list (targeted runs). */
  only?: string[];
  /** Tests inject runners; the default is a real SshRunner. */
  makeRunner?: (spec: SshHostSpec, verify: (k: PresentedHostKey) => boolean) => CommandRunner & { presentedHostKey: PresentedHostKey | null };
}

export function endpointKey(address: string, port: number): string {
  return `ssh:${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/**
 * The key a probe target is remembered by (pins, breaker, locator identity). A
 * pct exec probe reaches the guest through its node: the locator must name the
 * guest, not the node's SSH endpoint that all its guests share.
 */
function specKey(spec: SshHostSpec): string {
  const ep = endpointKey(spec.address, spec.port);
  return spec.pctExec ? `pct:${ep.slice("ssh:".length)}/${spec.pctExec.vmid}` : ep;
}

export function createSshSource(opts: SshSourceOptions): DiscoverySource {
  return {
    id: opts.id,
    kind: opts.kind ?? "ssh",
    async discover(ctx: DiscoveryContext): Promise<SourceResult> {
      const startedAt = ctx.now();
      const warnings: string[] = [];
      if (opts.hostKeyPolicy === "off") {
        const w = `${opts.id}: host key checking is OFF (host_key_policy: off); any machine answering at these addresses is trusted`;
        warnings.push(w);
        ctx.log.warn(w);
      }
      let hosts: SshHostSpec[];
      try {
        hosts = await opts.hosts(ctx, (w) => {
          warnings.push(w);
          ctx.log.warn(w);
        });
      } catch (err) {
        return {
          sourceId: opts.id,
          kind: opts.kind ?? "ssh",
          status: "failed",
          startedAt,
          finishedAt: ctx.now(),
          targets: [],
          warnings,
          error: (err as Error).message,
        };
      }
      if (opts.only?.length) hosts = hosts.filter((h) => opts.only!.includes(h.name) || opts.only!.includes(h.address));
      const seen = new Set<string>();
      hosts = hosts.filter((h) => {
        const k = specKey(h);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });

      const limit = pLimit(Math.max(1, opts.concurrency));
      let done = 0;
      const targets = await Promise.all(
        hosts.map((spec) =>
          limit(async () => {
            const obs = ctx.signal.aborted ? cancelledObservation(spec, ctx) : await probeHost(spec, opts, ctx);
            ctx.onHostDone?.(++done, hosts.length, spec.name);
            return obs;
          }),
        ),
      );
      const skipped = targets.filter((t) => t.status === "skipped_circuit_open");
      if (skipped.length)
        warnings.push(
          `${opts.id}: ${skipped.length} host(s) skipped while their circuit breaker cools down: ${skipped
            .map((t) => t.name)
            .slice(0, 10)
            .join(", ")}`,
        );
      const failed = targets.filter((t) => t.status !== "ok" && t.status !== "partial");
      const status = ctx.signal.aborted
        ? "cancelled"
        : failed.length === 0 && targets.every((t) => t.status === "ok")
          ? "ok"
          : failed.length === targets.length && targets.length > 0
            ? "failed"
            : "partial";
      return {
        sourceId: opts.id,
        kind: opts.kind ?? "ssh",
        status,
        startedAt,
        finishedAt: ctx.now(),
        targets,
        warnings,
        ...(status === "failed" ? { error: `no host answered (${failed.length} failed)` } : {}),
      };
    },
  };
}

function baseFacts(spec: SshHostSpec): Record<string, FactValue> {
  return {
    "ssh.endpoint": `${spec.user}@${spec.address}:${spec.port}`,
    tags: spec.tags.length ? spec.tags.join(",") : null,
    role: spec.role,
    ...(spec.via ? { "discovered.via": spec.via } : {}),
  };
}

function cancelledObservation(spec: SshHostSpec, ctx: DiscoveryContext): TargetObservation {
  return {
    kind: "host",
    identity: [endpointKey(spec.address, spec.port)],
    name: spec.name,
    address: spec.address,
    status: "cancelled",
    error: "cancelled",
    sections: {},
    facts: {},
    observedAt: ctx.now(),
    durationMs: 0,
  };
}

async function probeHost(spec: SshHostSpec, opts: SshSourceOptions, ctx: DiscoveryContext): Promise<TargetObservation> {
  // A pct exec probe reaches the guest through its node: its breaker and host key are the node's,
  // but the locator must name the guest, not the node's SSH endpoint shared by all its guests.
  const key = specKey(spec);
  const state = opts.endpoints.get(key);
  const started = performance.now();
  const base = {
    kind: spec.kind ?? "host",
    name: spec.name,
    address: spec.address,
    sections: {},
    observedAt: ctx.now(),
    ...(spec.parentIdentity ? { parentIdentity: spec.parentIdentity } : {}),
  };
  const extra = spec.extraIdentity ?? [];

  if (state && state.consecutiveFailures >= opts.breaker.threshold && state.lastFailureAt) {
    const reopensAt = state.lastFailureAt.getTime() + opts.breaker.cooldownMs;
    if (ctx.now().getTime() < reopensAt) {
      return {
        ...base,
        identity: [key, ...extra],
        status: "skipped_circuit_open",
        error: `skipped: ${state.consecutiveFailures} consecutive failures; next attempt after ${new Date(reopensAt).toISOString()}`,
        facts: {},
        endpoint: { key, presentedKey: null, hostKeyCheck: null, skipped: true },
        durationMs: 0,
      };
    }
  }

  let check: HostKeyCheck | null = null;
  const verify = (k: PresentedHostKey): boolean => {
    if (opts.hostKeyPolicy === "off") {
      check = "unchecked";
      return true;
    }
    if (opts.hostKeyPolicy === "strict") {
      const verdict = checkKnownHosts(opts.knownHosts ?? [], spec.address, spec.port, k.fingerprint);
      check = verdict.trusted ? "known_hosts" : "not_in_known_hosts";
      return verdict.trusted;
    }
    // A pct exec probe talks to the guest's node: the node's pin applies.
    const pinned = (spec.pctExec ? opts.endpoints.get(endpointKey(spec.address, spec.port)) : state)?.pinnedFingerprints ?? state?.pinnedFingerprints ?? [];
    if (pinned.length === 0) {
      check = "first_use";
      return true;
    }
    check = pinned.includes(k.fingerprint) ? "pinned" : "mismatch";
    return check === "pinned";
  };
  const runner =
    opts.makeRunner?.(spec, verify) ??
    (spec.pctExec
      ? pctExecRunner(
          new SshRunner({ endpoint: { host: spec.address, port: spec.port, username: spec.user }, auth: spec.auth, verifyHostKey: verify }),
          spec.pctExec.vmid,
        )
      : undefined) ??
    new SshRunner({
      endpoint: { host: spec.address, port: spec.port, username: spec.user },
      auth: spec.auth,
      verifyHostKey: verify,
      ...(opts.hostKeyPolicy === "strict" ? { preferredHostKeyTypes: knownHostKeyTypes(opts.knownHosts ?? [], spec.address, spec.port) } : {}),
    });

  // Retries live in the runner: only connection faults before auth that are
  // likely to pass (reset, unreachable; "refused" only from a host that has
  // answered before) are tried again. Auth, host key and parse errors never are.
  const retrying: CommandRunner = {
    where: runner.where,
    run: (command, runOpts) =>
      pRetry(
        async () => {
          try {
            return await runner.run(command, runOpts);
          } catch (e) {
            if (e instanceof RunnerError && e.transient && e.stage === "connect" && (!/refused/.test(e.message) || state?.everReached === true)) throw e;
            throw new AbortError(e as Error);
          }
        },
        {
          retries: opts.retries,
          minTimeout: opts.retryMinDelayMs,
          maxTimeout: Math.max(opts.retryMinDelayMs, 5000),
          factor: 2,
          randomize: true,
          signal: ctx.signal,
          onFailedAttempt: ({ error, attemptNumber }) =>
            ctx.log.debug("ssh connect failed, retrying", { host: runner.where, attempt: attemptNumber, error: error.message }),
        },
      ),
  };
  const result = await probe(retrying, {
    signal: ctx.signal,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxOutputBytes,
    ...(opts.sudo ? { wrap: "sudo -n" } : {}),
  });
  const presented = runner.presentedHostKey;
  if (result.status !== "ok" && result.status !== "partial" && result.status !== "cancelled") {
    ctx.log.warn("ssh host failed", { host: runner.where, status: result.status, error: result.error });
  }
  const p = result.interpretation;
  return {
    ...base,
    name: p.name || spec.name,
    // A key that failed the check must not become an identity of this target.
    // A key that failed the check is no identity; nor is the node's key for a pct exec probe.
    identity: [
      ...p.identity,
      ...(presented && check !== "mismatch" && check !== "not_in_known_hosts" && !spec.pctExec ? [`ssh-hostkey:${presented.fingerprint}`] : []),
      key,
      ...extra,
    ],
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
    sections: p.sections,
    facts: Object.keys(p.facts).length ? { ...p.facts, ...baseFacts(spec) } : {},
    ...observedCollections(p),
    endpoint: { key, presentedKey: presented, hostKeyCheck: check },
    observedAt: ctx.now(),
    durationMs: performance.now() - started,
  };
}
