// A Proxmox VE cluster through the CLIs of one of its nodes, over any runner
// (normally SSH as root, or through "sudo -n"): the fallback when the REST API
// is not reachable or no token is configured. At most two execs, each one
// `sh -s` with a script on stdin whose sections are framed by a per-run nonce
// (the probe's framing, split by splitProbeOutput):
//
//   1. `pvesh get /version`, `/cluster/status`, `/cluster/resources` (JSON);
//      when pvesh is missing: `pct list`, `qm list` (local node only),
//      `hostname`, `pveversion` and `pvecm status` (for the cluster name).
//   2. every online node's `pvesh get /nodes/<n>/status` and every guest's
//      `pvesh get /nodes/<n>/<type>/<vmid>/config` (or `pct config` / `qm config`).
//
// Everything goes through the same mappers as the API source, so both give the
// same identities, kinds, parents and core facts. Runtime guest addresses need
// `pct exec` or the guest agent, which the CLI path does not use: running
// guests get their configured (static) addresses only, and an `interfaces`
// section "unavailable", reason "cli".
import { newNonce, splitProbeOutput, type RawSection, scriptPrelude } from "../probe.js";
import { RunnerError, type CommandRunner, type RunResult } from "../runner.js";
import type { SectionResult, TargetObservation } from "../types.js";
import {
  isNotClusteredError,
  parsePctConfig,
  parsePctList,
  parsePveshJson,
  parsePvecmStatus,
  parsePveversion,
  parseQmConfig,
  parseQmList,
  pctRowToGuest,
  qmRowToGuest,
} from "./cli.js";
import { clusterMember, mapClusterIdentity, mapGuest, mapNode, type PveMapContext } from "./map.js";
import {
  ClusterResourcesSchema,
  ClusterStatusSchema,
  LxcConfigSchema,
  NodeStatusSchema,
  QemuConfigSchema,
  splitResources,
  VersionSchema,
  type ClusterStatus,
  type GuestResource,
  type LxcConfig,
  type NodeStatus,
  type NodesEntry,
  type PveVersionData,
  type QemuConfig,
} from "./schemas.js";

export interface CliDiscoveryOptions {
  /** A runner to one PVE node, as root or able to `sudo -n` (see wrap). */
  runner: CommandRunner;
  /** Deadline of each of the (at most two) execs. */
  timeoutMs: number;
  /** Output cap of each exec. */
  maxBytes: number;
  signal?: AbortSignal;
  now: () => Date;
  /** Prepended to `sh -s`, e.g. "sudo -n" (non-interactive only). */
  wrap?: string;
}

export interface CliDiscoveryResult {
  /** null on a standalone node, or when the fallback path could not tell. */
  clusterName: string | null;
  /** proxmox_node, lxc and vm observations, nodes first. */
  targets: TargetObservation[];
  warnings: string[];
}

/** Seconds one pvesh/pct/qm call may take inside the script (a proxied call to a dead node can hang). */
const CALL_TIMEOUT_S = 20;

/** Node names as PVE allows them (a hostname label); anything else is not put into a script. */
const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

/** The stderr of a proxied pvesh call the cluster could not deliver to its node. */
export function isNodeUnreachableError(stderr: string): boolean {
  return /no route to host|proxy handler failed|host is unreachable|unreachable|connection (?:refused|timed out)|hostname lookup '[^']*' failed/i.test(stderr);
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function firstLine(s: string): string {
  return (s.split("\n").find((l) => l.trim() !== "") ?? "").trim().slice(0, 300);
}

/** One call of a round-2 script: its section id and argv (each word shell-quoted). */
export interface CliStep {
  id: string;
  argv: string[];
}

/** The config section of a guest whose config command failed or never ran. */
function configNotRead(s: RawSection | undefined, roundError: string | null | undefined): SectionResult {
  return {
    status: "failed",
    exitCode: s?.exitCode ?? null,
    reason: s ? "command_failed" : "not_run",
    detail: s ? failure(s) : (roundError ?? "the config was not read"),
  };
}

function header(nonce: string): string {
  return `# fleet-mcp proxmox cli v1
${scriptPrelude(nonce, CALL_TIMEOUT_S)}
sec() {
  n=$1; shift
  printf '\\n%s BEGIN %s\\n' "$M" "$n"
  $TO "$@" 2>"$T" </dev/null
  rc=$?
  printf '\\n%s END %s %s\\n' "$M" "$n" "$rc"
  if [ -s "$T" ]; then
    printf '%s STDERR %s\\n' "$M" "$n"
    head -c 2048 "$T"
    printf '\\n%s ENDERR %s\\n' "$M" "$n"
  fi
}
`;
}

function secLine(s: CliStep): string {
  return `sec ${s.id} ${s.argv.map(shQuote).join(" ")}`;
}

function done(): string {
  return `printf '\\n%s DONE\\n' "$M"\n`;
}

const pvesh = (path: string): string[] => ["pvesh", "get", path, "--output-format", "json"];

/** Round 1: pvesh if present, else the pct/qm fallback. The `mode` section says which ran. */
export function buildClusterScript(nonce: string): string {
  const api: CliStep[] = [
    { id: "version", argv: pvesh("/version") },
    { id: "cluster_status", argv: pvesh("/cluster/status") },
    { id: "cluster_resources", argv: pvesh("/cluster/resources") },
  ];
  const fallback: CliStep[] = [
    { id: "hostname", argv: ["hostname"] },
    { id: "pveversion", argv: ["pveversion"] },
    { id: "pvecm_status", argv: ["pvecm", "status"] },
    { id: "pct_list", argv: ["pct", "list"] },
    { id: "qm_list", argv: ["qm", "list"] },
  ];
  return `${header(nonce)}if have pvesh; then
  sec mode echo pvesh
${api.map((s) => `  ${secLine(s)}`).join("\n")}
else
  sec mode echo cli
${fallback.map((s) => `  ${secLine(s)}`).join("\n")}
fi
${done()}`;
}

/** Round 2: a flat list of calls. */
export function buildStepsScript(nonce: string, steps: readonly CliStep[]): string {
  return `${header(nonce)}${steps.map(secLine).join("\n")}\n${done()}`;
}

class Round {
  constructor(
    readonly sections: Map<string, RawSection>,
    readonly res: RunResult,
  ) {}
  get(id: string): RawSection | undefined {
    return this.sections.get(id);
  }
}

/** Runs one script; throws on anything that leaves its output untrustworthy (transport, timeout, truncation, no DONE). */
async function runScript(opts: CliDiscoveryOptions, build: (nonce: string) => string, what: string): Promise<Round> {
  const nonce = newNonce();
  const res = await opts.runner.run(`${opts.wrap ? `${opts.wrap} ` : ""}sh -s`, {
    stdin: build(nonce),
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const where = opts.runner.where;
  if (res.aborted) throw new RunnerError("aborted", `${where}: ${what}: cancelled`);
  if (res.truncated) throw new Error(`${where}: ${what}: the output exceeded ${opts.maxBytes} bytes`);
  if (res.timedOut) throw new RunnerError("timeout", `${where}: ${what}: no complete answer within ${opts.timeoutMs} ms`);
  const { sections, complete } = splitProbeOutput(res.stdout, nonce);
  if (!complete) throw new Error(`${where}: ${what}: ${firstLine(res.stderr) || `the script ended early (exit status ${res.exitCode})`}`);
  return new Round(sections, res);
}

function failure(s: RawSection | undefined): string {
  if (!s) return "not run";
  if (s.exitCode === null) return "cut off";
  return `exit ${s.exitCode}${s.stderr.trim() ? `: ${firstLine(s.stderr)}` : ""}`;
}

function okBody(s: RawSection | undefined): string | null {
  return s && s.exitCode === 0 ? s.body : null;
}

const missing = (s: RawSection | undefined) => s !== undefined && (s.exitCode === 127 || /not found/i.test(s.stderr));

function cliInterfacesSection(): SectionResult {
  return {
    status: "unavailable",
    exitCode: null,
    reason: "cli",
    detail: "runtime addresses need pct exec or the guest agent; only configured addresses are shown",
  };
}

interface GuestPlan {
  guest: GuestResource;
  stepId: string | null;
}

/**
 * Discovers the cluster the runner's node belongs to (or that node alone).
 * Throws a RunnerError when the node cannot be reached or round 1 times out or
 * is cancelled, and an Error when round 1 is unusable (neither pvesh nor
 * pct/qm, unparseable /cluster/resources). Problems in round 2 become
 * warnings, failed sections and partial/unreachable targets.
 */
export async function discoverViaCli(opts: CliDiscoveryOptions): Promise<CliDiscoveryResult> {
  const where = opts.runner.where;
  const warnings: string[] = [];
  const r1 = await runScript(opts, buildClusterScript, "pvesh/pct");
  const mode = r1.get("mode")?.body.trim();
  if (mode === "pvesh") return viaPvesh(opts, r1, warnings);
  if (mode === "cli") return viaPctQm(opts, r1, warnings);
  throw new Error(`${where}: the discovery script did not run (${firstLine(r1.res.stderr) || `exit status ${r1.res.exitCode}`})`);
}

async function viaPvesh(opts: CliDiscoveryOptions, r1: Round, warnings: string[]): Promise<CliDiscoveryResult> {
  const where = opts.runner.where;
  const warn = (w: string) => warnings.push(`${where}: ${w}`);

  let version: PveVersionData | null = null;
  const vBody = okBody(r1.get("version"));
  if (vBody === null) warn(`pvesh get /version failed (${failure(r1.get("version"))})`);
  else {
    const p = VersionSchema.safeParse(parsePveshJsonSafe(vBody));
    if (p.success) version = p.data;
    else warn(`pvesh get /version: unexpected shape`);
  }

  let status: ClusterStatus = [];
  const sBody = okBody(r1.get("cluster_status"));
  if (sBody === null) warn(`pvesh get /cluster/status failed (${failure(r1.get("cluster_status"))}): cluster name and quorum unknown`);
  else {
    const p = ClusterStatusSchema.safeParse(parsePveshJsonSafe(sBody));
    if (p.success) status = p.data;
    else warn(`pvesh get /cluster/status: unexpected shape (${p.error.message.slice(0, 200)})`);
  }

  const rBody = okBody(r1.get("cluster_resources"));
  if (rBody === null) throw new Error(`${where}: pvesh get /cluster/resources failed (${failure(r1.get("cluster_resources"))})`);
  const resources = ClusterResourcesSchema.safeParse(parsePveshJsonSafe(rBody));
  if (!resources.success)
    throw new Error(`${where}: pvesh get /cluster/resources answered in a shape fleet-mcp does not know (${resources.error.message.slice(0, 300)})`);

  const cluster = mapClusterIdentity(status, version);
  const { nodes, guests, storages } = splitResources(resources.data);
  const mapCtx = (): PveMapContext => ({ cluster: cluster.clusterName, observedAt: opts.now() });

  // Round 2: status of every online node, config of every guest on one.
  const unreachable = new Map<string, string | undefined>();
  const steps: CliStep[] = [];
  const nodeStep = new Map<string, string>();
  for (const n of nodes) {
    if (n.status !== "online") unreachable.set(n.node, undefined);
    else if (!NODE_NAME.test(n.node)) warn(`node name ${JSON.stringify(n.node)} is not a hostname; its status was not read`);
    else {
      const id = `n${nodeStep.size}`;
      nodeStep.set(n.node, id);
      steps.push({ id, argv: pvesh(`/nodes/${n.node}/status`) });
    }
  }
  const plans: GuestPlan[] = guests.map((g, i) => {
    if (unreachable.has(g.node) || !NODE_NAME.test(g.node) || !Number.isInteger(g.vmid)) return { guest: g, stepId: null };
    const id = `g${i}`;
    steps.push({ id, argv: pvesh(`/nodes/${g.node}/${g.type === "lxc" ? "lxc" : "qemu"}/${g.vmid}/config`) });
    return { guest: g, stepId: id };
  });

  let r2: Round | null = null;
  let r2Error: string | null = null;
  if (steps.length > 0) {
    try {
      r2 = await runScript(opts, (nonce) => buildStepsScript(nonce, steps), "node status and guest configs");
    } catch (err) {
      if (err instanceof RunnerError && err.code === "aborted") throw err;
      r2Error = (err as Error).message;
      warn(`node status and guest configs not read: ${r2Error}`);
    }
  }

  const nodeObs: TargetObservation[] = nodes.map((n) => {
    const id = nodeStep.get(n.node);
    let nodeStatus: NodeStatus | null = null;
    let problem: string | undefined;
    if (id !== undefined && r2) {
      const s = r2.get(id);
      const body = okBody(s);
      if (body !== null) {
        const p = NodeStatusSchema.safeParse(parsePveshJsonSafe(body));
        if (p.success) nodeStatus = p.data;
        else warn(`node ${n.node}: pvesh get /nodes/${n.node}/status: unexpected shape`);
      } else if (s && s.exitCode !== null && s.exitCode !== 0 && isNodeUnreachableError(s.stderr)) {
        problem = `pvesh get /nodes/${n.node}/status: the cluster cannot reach that node (${firstLine(s.stderr)})`;
        unreachable.set(n.node, problem);
      } else warn(`node ${n.node}: pvesh get /nodes/${n.node}/status failed (${failure(s)})`);
    }
    const obs = mapNode(n, mapCtx(), { status: nodeStatus, storages, member: clusterMember(status, n.node) });
    return problem ? { ...obs, status: "unreachable", error: problem } : obs;
  });

  const guestObs: TargetObservation[] = plans.map(({ guest: g, stepId }) => {
    if (unreachable.has(g.node)) return { ...mapGuest(g, mapCtx()), status: "unreachable", error: `its node ${g.node} is unreachable` };
    const type = g.type === "lxc" ? "lxc" : "qemu";
    const sections: Record<string, SectionResult> = {};
    let config: LxcConfig | QemuConfig | null = null;
    const s = stepId !== null && r2 ? r2.get(stepId) : undefined;
    const body = okBody(s);
    if (body !== null) {
      try {
        const raw = parsePveshJson(body);
        config = type === "lxc" ? LxcConfigSchema.parse(raw) : QemuConfigSchema.parse(raw);
      } catch (err) {
        sections["config"] = { status: "failed", exitCode: 0, reason: "parse_error", detail: (err as Error).message.slice(0, 300) };
      }
    } else {
      sections["config"] = configNotRead(s, r2Error);
    }
    if (g.status !== "stopped" && g.status !== undefined && g.status !== "unknown") sections["interfaces"] = cliInterfacesSection();
    const obs = mapGuest(g, mapCtx(), { config, sections });
    return sections["config"]?.status === "failed" ? { ...obs, status: "partial", error: sections["config"].detail ?? "config unreadable" } : obs;
  });

  if (unreachable.size)
    warn(
      `${unreachable.size} node(s) unreachable: ${[...unreachable.keys()].join(", ")}; their guests are marked unreachable, the rest of the cluster was discovered`,
    );
  return { clusterName: cluster.clusterName, targets: [...nodeObs, ...guestObs], warnings };
}

async function viaPctQm(opts: CliDiscoveryOptions, r1: Round, warnings: string[]): Promise<CliDiscoveryResult> {
  const where = opts.runner.where;
  const warn = (w: string) => warnings.push(`${where}: ${w}`);
  warn("pvesh not found: read the local node only, through pct/qm");

  const host = okBody(r1.get("hostname"));
  const node = host === null ? null : (firstLine(host).split(".")[0] ?? "");
  if (!node) throw new Error(`${where}: hostname failed (${failure(r1.get("hostname"))})`);

  const pct = r1.get("pct_list");
  const qm = r1.get("qm_list");
  if (missing(pct) && missing(qm)) throw new Error(`${where}: neither pvesh nor pct/qm found: is this a Proxmox VE node?`);

  let clusterName: string | null = null;
  const cm = r1.get("pvecm_status");
  const cmBody = okBody(cm);
  if (cmBody !== null) {
    try {
      clusterName = parsePvecmStatus(cmBody).clusterName;
    } catch (err) {
      warn(`pvecm status: ${(err as Error).message}`);
    }
  } else if (!(cm && isNotClusteredError(cm.stderr))) {
    warn(`pvecm status failed (${failure(cm)}): cluster name unknown, guests are scoped as on a standalone node`);
  }
  const mapCtx = (): PveMapContext => ({ cluster: clusterName, observedAt: opts.now() });

  const guests: GuestResource[] = [];
  const listOf = (s: RawSection | undefined, what: string, parse: (body: string) => GuestResource[]) => {
    const body = okBody(s);
    if (body === null) {
      if (!missing(s)) warn(`${what} failed (${failure(s)})`);
      return;
    }
    try {
      guests.push(...parse(body));
    } catch (err) {
      warn(`${what}: ${(err as Error).message}`);
    }
  };
  listOf(pct, "pct list", (b) => parsePctList(b).map((r) => pctRowToGuest(r, node)));
  listOf(qm, "qm list", (b) => parseQmList(b).map((r) => qmRowToGuest(r, node)));

  const steps: CliStep[] = guests.map((g, i) => ({ id: `g${i}`, argv: [g.type === "lxc" ? "pct" : "qm", "config", String(g.vmid)] }));
  let r2: Round | null = null;
  let r2Error: string | null = null;
  if (steps.length > 0) {
    try {
      r2 = await runScript(opts, (nonce) => buildStepsScript(nonce, steps), "guest configs");
    } catch (err) {
      if (err instanceof RunnerError && err.code === "aborted") throw err;
      r2Error = (err as Error).message;
      warn(`guest configs not read: ${r2Error}`);
    }
  }

  const pv = r1.get("pveversion");
  const pvText = okBody(pv);
  const pvParsed = pvText === null ? null : parsePveversion(pvText);
  if (pvText !== null && pvParsed === null) warn(`pveversion: unexpected output ${JSON.stringify(firstLine(pvText))}`);
  const nodeStatus: NodeStatus | null = pvParsed
    ? {
        pveversion: `pve-manager/${pvParsed.version}${pvParsed.repoid ? `/${pvParsed.repoid}` : ""}`,
        ...(pvParsed.runningKernel ? { kversion: `Linux ${pvParsed.runningKernel}` } : {}),
      }
    : null;
  const entry: NodesEntry = { node, status: "online" };
  const nodeObs = mapNode(entry, mapCtx(), {
    status: nodeStatus,
    sections: { status: { status: "unavailable", exitCode: null, reason: "cli", detail: "pvesh not found: only pveversion was read" } },
  });

  const guestObs = guests.map((g, i): TargetObservation => {
    const s = r2?.get(`g${i}`);
    const sections: Record<string, SectionResult> = {};
    let config: LxcConfig | QemuConfig | null = null;
    const body = okBody(s);
    if (body !== null) {
      try {
        config = g.type === "lxc" ? parsePctConfig(body) : parseQmConfig(body);
      } catch (err) {
        sections["config"] = { status: "failed", exitCode: 0, reason: "parse_error", detail: (err as Error).message.slice(0, 300) };
      }
    } else {
      sections["config"] = configNotRead(s, r2Error);
    }
    if (g.status !== "stopped") sections["interfaces"] = cliInterfacesSection();
    const obs = mapGuest(g, mapCtx(), { config, sections });
    return sections["config"]?.status === "failed" ? { ...obs, status: "partial", error: sections["config"].detail ?? "config unreadable" } : obs;
  });

  return { clusterName, targets: [nodeObs, ...guestObs], warnings };
}

function parsePveshJsonSafe(body: string): unknown {
  try {
    return parsePveshJson(body);
  } catch {
    return undefined;
  }
}
