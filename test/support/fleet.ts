// A programmable fleet: plain observations that a test builds, changes between
// runs and hands to the real discovery service through a DiscoverySource. For
// tests of what the inventory does with what it sees (diffs, events, health,
// roles, search, snapshots) without going through a probe.
import type { SourceFactory } from "../../src/app/sources.js";
import type { ContainerObs, DiscoverySource, PortObs, ServiceObs, SourceResult, TargetObservation } from "../../src/discovery/types.js";

export interface HostSpec {
  name: string;
  /** Defaults to machine-id:<name>. */
  identity?: string[];
  kind?: TargetObservation["kind"];
  parentIdentity?: string;
  address?: string | null;
  status?: TargetObservation["status"];
  error?: string;
  facts?: TargetObservation["facts"];
  services?: ServiceObs[];
  containers?: ContainerObs[];
  stacks?: TargetObservation["stacks"];
  ports?: PortObs[];
  interfaces?: TargetObservation["interfaces"];
  filesystems?: TargetObservation["filesystems"];
  /** The SSH endpoint and the host key it presented, as an SSH source reports it. */
  endpoint?: TargetObservation["endpoint"];
}

/** What an SSH source reports of a host whose key no longer matches the pin: refused, nothing read. */
export const HOST_KEY_MISMATCH: Partial<HostSpec> = { status: "host_key_mismatch", error: "host key mismatch" };

export function service(name: string, over: Partial<ServiceObs> = {}): ServiceObs {
  return { name, description: `${name} daemon`, load: "loaded", active: "active", sub: "running", enabled: "enabled", ...over };
}

export function container(name: string, image: string, over: Partial<ContainerObs> = {}): ContainerObs {
  return {
    id: `${name}-id`.padEnd(64, "0"),
    name,
    image,
    state: "running",
    status: "Up 2 hours",
    ports: null,
    labels: {},
    composeProject: null,
    composeService: null,
    createdAt: "2026-11-01 10:00:00 +0000 UTC",
    ...over,
  };
}

export function port(p: number, process: string | null = null, over: Partial<PortObs> = {}): PortObs {
  return { protocol: "tcp", address: "0.0.0.0", port: p, process, pid: null, ...over };
}

/** A reachable Debian host with sane readings; every field can be overridden. */
export function host(spec: HostSpec, at: Date = new Date()): TargetObservation {
  const reached = (spec.status ?? "ok") === "ok" || spec.status === "partial";
  return {
    kind: spec.kind ?? "host",
    identity: spec.identity ?? [`machine-id:${spec.name}`],
    name: spec.name,
    ...(spec.parentIdentity ? { parentIdentity: spec.parentIdentity } : {}),
    address: spec.address === undefined ? `10.0.0.${(hash(spec.name) % 250) + 1}` : spec.address,
    status: spec.status ?? "ok",
    ...(spec.error ? { error: spec.error } : {}),
    sections: {},
    facts: reached
      ? {
          "os.id": "debian",
          "os.version_id": "12",
          "os.pretty_name": "Debian GNU/Linux 12 (bookworm)",
          "kernel.release": "6.1.0-18-amd64",
          arch: "x86_64",
          "cpu.count": 4,
          "load.1m": 0.2,
          "load.5m": 0.1,
          "load.15m": 0.1,
          "memory.total_bytes": 8 * 2 ** 30,
          "memory.available_bytes": 6 * 2 ** 30,
          "swap.total_bytes": 2 ** 30,
          "swap.free_bytes": 2 ** 30,
          uptime_seconds: 86400,
          ...spec.facts,
        }
      : {},
    ...(reached
      ? {
          services: spec.services ?? [service("ssh"), service("cron")],
          containers: spec.containers ?? [],
          stacks: spec.stacks ?? [],
          ports: spec.ports ?? [port(22, "sshd")],
          interfaces: spec.interfaces ?? [],
          filesystems: spec.filesystems ?? [
            { source: "/dev/sda1", fstype: "ext4", sizeBytes: 100 * 2 ** 30, usedBytes: 30 * 2 ** 30, availBytes: 70 * 2 ** 30, mount: "/" },
          ],
        }
      : {}),
    ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
    observedAt: at,
    durationMs: 5,
  };
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

/**
 * A source whose observations are whatever `fleet()` returns at the time of the
 * run: change the array between runs to change the fleet.
 */
export function fleetSource(id: string, fleet: () => HostSpec[], kind: SourceResult["kind"] = "ssh"): DiscoverySource {
  return {
    id,
    kind,
    async discover(ctx) {
      const startedAt = ctx.now();
      const targets = fleet().map((spec) => host(spec, ctx.now()));
      const failed = targets.filter((t) => t.status !== "ok" && t.status !== "partial").length;
      return {
        sourceId: id,
        kind,
        status: failed === 0 ? "ok" : failed === targets.length && targets.length > 0 ? "failed" : "partial",
        startedAt,
        finishedAt: ctx.now(),
        targets,
        warnings: [],
      };
    },
  };
}

/** A SourceFactory for startHarness: every configured source id maps to one programmable fleet. */
export function fleetFactory(fleets: Record<string, () => HostSpec[]>): SourceFactory {
  return (cfg) => {
    const f = fleets[cfg.id];
    if (!f) throw new Error(`no programmable fleet for source ${cfg.id}`);
    return fleetSource(cfg.id, f);
  };
}

/** Harness options for a programmable fleet: one `local`-kind source config per fleet id, served by fleetFactory. */
export function fleetHarnessOptions(fleets: Record<string, () => HostSpec[]>) {
  return {
    sourceFactory: fleetFactory(fleets),
    config: { sources: Object.keys(fleets).map((id) => ({ kind: "local" as const, id, timeout_ms: 5000, max_output_bytes: 4 * 1024 * 1024 })) },
  };
}
