// Finds SSH hosts in a tailnet: runs `tailscale status --json` (locally or on a
// machine reached over SSH) and turns its online peers into SshHostSpecs for the
// SSH source to probe. Peers offering Tailscale SSH get the "none" method first:
// Tailscale SSH authorises by tailnet identity, so no key or password is needed;
// the configured methods stay behind it as the fallback.
import { classifyTailscaleError, parseTailscaleStatus, type TailscalePeer } from "../parsers/tailscale.js";
import { RunnerError, type CommandRunner, type RunResult } from "../runner.js";
import type { SshAuth } from "../runners/ssh.js";
import type { SshHostSpec } from "./ssh.js";

export interface TailscaleOptions {
  /** Local or SSH: runs `tailscale status --json`. */
  runner: CommandRunner;
  user: string;
  auth: SshAuth;
  port: number;
  /** Address = the MagicDNS name instead of the Tailscale IPv4. */
  useMagicDns: boolean;
  includeOffline?: boolean;
  /** Only peers with one of these tags (with or without "tag:"). */
  tags?: string[];
  timeoutMs: number;
  signal?: AbortSignal;
}

export const TAILSCALE_STATUS_COMMAND = "tailscale status --json";
const MAX_BYTES = 4 * 1024 * 1024;

/** What to do when the backend is not "Running", per state. */
const STATE_ADVICE: Record<string, string> = {
  NeedsLogin: "tailscale is logged out (BackendState NeedsLogin): run `tailscale up`",
  NeedsMachineAuth: "tailscale is waiting for this machine to be approved (BackendState NeedsMachineAuth): approve it in the Tailscale admin console",
  Stopped: "tailscale is stopped (BackendState Stopped): run `tailscale up`",
  Starting: "tailscale is still starting (BackendState Starting): try again in a moment",
  NoState: "tailscale has no state yet (BackendState NoState): run `tailscale up`",
};

function on(where: string): string {
  return where === "local" ? "" : ` on ${where}`;
}

function firstLine(s: string): string {
  return (
    s
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== "") ?? ""
  ).slice(0, 300);
}

async function runStatus(opts: TailscaleOptions): Promise<RunResult> {
  const { runner } = opts;
  try {
    return await runner.run(TAILSCALE_STATUS_COMMAND, { timeoutMs: opts.timeoutMs, maxBytes: MAX_BYTES, ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    if (err instanceof RunnerError) {
      const stage = err.stage;
      throw new RunnerError(err.code, `cannot run \`${TAILSCALE_STATUS_COMMAND}\`${on(runner.where)}: ${err.message}`, {
        cause: err,
        transient: err.transient,
        ...(stage ? { stage } : {}),
      });
    }
    throw err;
  }
}

/** Reads the tailnet through `opts.runner` and returns the peers to probe over SSH. */
export async function tailscaleHosts(opts: TailscaleOptions): Promise<SshHostSpec[]> {
  const where = opts.runner.where;
  const res = await runStatus(opts);
  if (res.aborted) throw new RunnerError("aborted", `\`${TAILSCALE_STATUS_COMMAND}\`${on(where)} was cancelled`);
  if (res.timedOut) throw new RunnerError("timeout", `\`${TAILSCALE_STATUS_COMMAND}\`${on(where)} did not finish within ${opts.timeoutMs} ms`);
  if (res.truncated) throw new Error(`\`${TAILSCALE_STATUS_COMMAND}\`${on(where)} printed more than ${MAX_BYTES} bytes; refusing to parse a truncated status`);

  if (res.exitCode !== 0) {
    // The CLI prints the status even for some non-zero exits; a parsable document wins.
    const kind = classifyTailscaleError(res.stderr);
    if (kind === "not_running") {
      throw new Error(`tailscaled is not running${on(where)}: start it (\`sudo systemctl start tailscaled\`), then run \`tailscale up\``);
    }
    if (kind === "not_installed") {
      throw new Error(
        `tailscale is not installed${on(where)} (\`tailscale\`: command not found): install Tailscale there or run this source on a machine that has it`,
      );
    }
    if (!res.stdout.trim().startsWith("{")) {
      const detail = firstLine(res.stderr) || firstLine(res.stdout) || "no output";
      throw new Error(`\`${TAILSCALE_STATUS_COMMAND}\` failed${on(where)} (exit ${res.exitCode ?? "signal"}): ${detail}`);
    }
  }

  let status;
  try {
    status = parseTailscaleStatus(res.stdout);
  } catch (err) {
    throw new Error(`${(err as Error).message}${on(where)}`, { cause: err });
  }
  if (status.backendState !== "Running") {
    const advice = STATE_ADVICE[status.backendState] ?? `tailscale is not running (BackendState ${status.backendState}): run \`tailscale up\``;
    throw new Error(`${advice}${on(where)}`);
  }

  const wanted = (opts.tags ?? []).map((t) => (t.startsWith("tag:") ? t.slice(4) : t)).filter((t) => t !== "");
  const specs: SshHostSpec[] = [];
  for (const peer of status.peers) {
    if (peer.self) continue;
    if (!peer.online && !opts.includeOffline) continue;
    if (wanted.length > 0 && !peer.tags.some((t) => wanted.includes(t))) continue;
    const spec = peerToSpec(peer, opts);
    if (spec) specs.push(spec);
  }
  return specs;
}

function peerToSpec(peer: TailscalePeer, opts: TailscaleOptions): SshHostSpec | null {
  // ips are IPv4 first: a peer without IPv4 falls back to its IPv6 address.
  const address = (opts.useMagicDns ? peer.dnsName : null) ?? peer.ips[0] ?? peer.dnsName;
  if (!address) return null;
  const dnsLabel = peer.dnsName?.split(".")[0] || null;
  return {
    name: peer.hostName || dnsLabel || address,
    address,
    port: opts.port,
    user: opts.user,
    tags: [...peer.tags],
    role: null,
    auth: peer.tailscaleSsh ? { ...opts.auth, tryNone: true } : opts.auth,
    via: "tailscale",
  };
}
