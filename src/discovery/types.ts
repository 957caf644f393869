// The discovery contract: what sources hand to the inventory. Plain data in our
// own vocabulary; upstream shapes (os-release keys, docker JSON, PVE fields) are
// mapped by the parsers and never leak past this file.

export type TargetKind = "host" | "proxmox_node" | "lxc" | "vm";

/** Outcome of probing one host. Later sources (ssh) add their own failure kinds here. */
export type HostStatus =
  "ok" | "partial" | "unreachable" | "timeout" | "auth_failed" | "host_key_mismatch" | "output_too_large" | "skipped_circuit_open" | "cancelled" | "error";

/**
 * ok: the section ran and was parsed. unavailable: the tool or subsystem is not
 * there (docker not installed, systemd not PID 1) — a fact, not a failure.
 * failed: it should have worked and did not (non-zero exit, unparsable output).
 */
export type SectionStatus = "ok" | "unavailable" | "failed";

export interface SectionResult {
  status: SectionStatus;
  /** Exit status of the section's command, when it ran. */
  exitCode: number | null;
  /** Short machine-readable reason, e.g. "not_installed", "permission_denied", "systemd_not_running". */
  reason?: string;
  /** First line(s) of stderr or the parse error, trimmed. */
  detail?: string;
}

export interface ServiceObs {
  name: string;
  description: string | null;
  load: string | null;
  active: string | null;
  sub: string | null;
  /** Unit file state (enabled, disabled, static, masked, ...), when known. */
  enabled?: string | null;
}

export interface ContainerObs {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string | null;
  ports: string | null;
  labels: Record<string, string>;
  composeProject: string | null;
  composeService: string | null;
  createdAt: string | null;
  /** From `docker inspect`, when the probe could run it. */
  imageId?: string | null;
  restartCount?: number | null;
  /** healthy | unhealthy | starting, when the image has a health check. */
  health?: string | null;
  exitCode?: number | null;
  privileged?: boolean | null;
  networkMode?: string | null;
}

export interface StackObs {
  name: string;
  /** Raw compose status, e.g. "exited(2), running(1)". */
  status: string;
  configFiles: string[];
}

export interface AddressObs {
  family: "inet" | "inet6";
  address: string;
  prefixlen: number;
  scope: string | null;
}

export interface InterfaceObs {
  name: string;
  mac: string | null;
  mtu: number | null;
  state: string | null;
  /** Bridge or bond this interface is enslaved to (e.g. eno1 -> vmbr0). */
  master: string | null;
  addresses: AddressObs[];
}

export interface PortObs {
  protocol: "tcp" | "udp";
  address: string;
  port: number;
  process: string | null;
  pid: number | null;
}

export interface FilesystemObs {
  source: string;
  fstype: string;
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
  mount: string;
}

export type FactValue = string | number | boolean | null;

/**
 * Everything one source saw of one machine at one time. A collection that is
 * `undefined` was not observed (its section failed or the source cannot see it):
 * the inventory keeps what it knew. An empty array means "observed: none".
 */
export interface TargetObservation {
  kind: TargetKind;
  /**
   * Identity keys, strongest first, e.g. "machine-id:…", "ssh-hostkey:SHA256:…",
   * "pve-guest:<cluster>/<vmid>". Any key matching an existing target merges
   * onto it; the first key derives the id of a new target.
   */
  identity: string[];
  name: string;
  /** Identity key of the parent (a guest's node), if any. */
  parentIdentity?: string;
  /** How the source reached it (address or "local"). */
  address: string | null;
  status: HostStatus;
  error?: string;
  sections: Record<string, SectionResult>;
  facts: Record<string, FactValue>;
  services?: ServiceObs[];
  containers?: ContainerObs[];
  stacks?: StackObs[];
  interfaces?: InterfaceObs[];
  ports?: PortObs[];
  filesystems?: FilesystemObs[];
  /** How a remote source reached it: the endpoint, and the host key it presented. */
  endpoint?: EndpointObs;
  observedAt: Date;
  durationMs: number;
}

/** mismatch: differs from the TOFU pin (can be accepted); not_in_known_hosts: strict policy refused it (fix known_hosts). */
export type HostKeyCheck = "pinned" | "first_use" | "mismatch" | "not_in_known_hosts" | "known_hosts" | "unchecked";

export interface EndpointObs {
  /** "ssh:<address>:<port>", the key under which host keys are pinned and failures counted. */
  key: string;
  presentedKey: { fingerprint: string; type: string } | null;
  hostKeyCheck: HostKeyCheck | null;
  /** The probe was not attempted (circuit open): failure counters stay as they are. */
  skipped?: boolean;
}

export type SourceKind = "local" | "ssh" | "proxmox-api" | "proxmox-cli" | "tailscale" | "static" | "network";

export type SourceStatus = "ok" | "partial" | "failed" | "cancelled";

export interface SourceResult {
  sourceId: string;
  kind: SourceKind;
  status: SourceStatus;
  startedAt: Date;
  finishedAt: Date;
  targets: TargetObservation[];
  warnings: string[];
  error?: string;
  /**
   * A source to run once this one is done, in the same discovery run, with what
   * this one found (e.g. Proxmox guests to probe over SSH). Its result is its own.
   */
  followUp?: DiscoverySource;
}

export interface DiscoveryLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface DiscoveryContext {
  signal: AbortSignal;
  now(): Date;
  log: DiscoveryLogger;
  /** Called as hosts finish, for progress notifications. */
  onHostDone?(done: number, total: number, host: string): void;
}

export interface DiscoverySource {
  readonly id: string;
  readonly kind: SourceKind;
  discover(ctx: DiscoveryContext): Promise<SourceResult>;
}
