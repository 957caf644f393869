// A Proxmox VE cluster through its REST API: the cluster, its nodes (with
// status and storage) and every guest with its config and addresses. One node
// the cluster cannot reach (59x) makes that node and its guests unreachable;
// the rest of the cluster is still discovered. Calls are rate-limited and
// bounded by the client.
import pLimit from "p-limit";
import { PveApiError, PveClient, type PveClientOptions } from "../proxmox/api-client.js";
import { clusterMember, mapClusterIdentity, mapGuest, mapNode, type PveMapContext } from "../proxmox/map.js";
import {
  AgentNetworkReplySchema,
  ClusterResourcesSchema,
  ClusterStatusSchema,
  LxcConfigSchema,
  LxcInterfacesSchema,
  NodeStatusSchema,
  QemuConfigSchema,
  splitResources,
  VersionSchema,
  type AgentNetworkReply,
  type LxcConfig,
  type LxcInterfaces,
  type NodeStatus,
  type QemuConfig,
} from "../proxmox/schemas.js";
import type { DiscoveryContext, DiscoverySource, SectionResult, SourceResult, TargetObservation } from "../types.js";

export interface ProxmoxSourceOptions {
  id: string;
  client: Omit<PveClientOptions, "signal">;
  /** Shown in warnings: the token id, to name the ACL fix. */
  tokenId?: string;
}

export function createProxmoxSource(opts: ProxmoxSourceOptions): DiscoverySource {
  return {
    id: opts.id,
    kind: "proxmox-api",
    async discover(ctx: DiscoveryContext): Promise<SourceResult> {
      const startedAt = ctx.now();
      const warnings: string[] = [];
      const warn = (w: string) => {
        warnings.push(w);
        ctx.log.warn(w);
      };
      if (opts.client.tls.mode === "insecure")
        warn(
          `${opts.id}: TLS verification is OFF for ${opts.client.host} (insecure: true); pin the certificate with \`fingerprint\` or set \`ca_file\` instead`,
        );
      const client = new PveClient({ ...opts.client, signal: ctx.signal });
      const fail = (error: string): SourceResult => ({
        sourceId: opts.id,
        kind: "proxmox-api",
        status: "failed",
        startedAt,
        finishedAt: ctx.now(),
        targets: [],
        warnings,
        error,
      });
      try {
        let version: unknown;
        let status: unknown;
        let resources: unknown;
        try {
          // version first: with ticket auth it logs in once, before the parallel calls.
          version = await client.get("version");
          [status, resources] = await Promise.all([
            // Cluster status (name, quorum, node addresses) needs Sys.Audit; without it the rest still works.
            client.get("cluster/status").catch((err: unknown) => {
              if (err instanceof PveApiError && err.kind === "permission") {
                warn(`${opts.id}: ${err.message}: cluster name and quorum unknown. Grant PVEAuditor on / to see them.`);
                return [];
              }
              throw err;
            }),
            client.get("cluster/resources"),
          ]);
        } catch (err) {
          return fail(
            ctx.signal.aborted
              ? `${opts.client.host}:${opts.client.port}: stopped before the API answered (the discovery deadline passed, or the run was cancelled)`
              : explain(err, opts),
          );
        }
        let parsed;
        try {
          parsed = { version: VersionSchema.parse(version), status: ClusterStatusSchema.parse(status), resources: ClusterResourcesSchema.parse(resources) };
        } catch (err) {
          return fail(`${opts.client.host}: the API answered in a shape fleet-mcp does not know (${(err as Error).message.slice(0, 300)})`);
        }
        const cluster = mapClusterIdentity(parsed.status, parsed.version);
        const { nodes, guests, storages } = splitResources(parsed.resources);
        // A privilege-separated token without an ACL sees no guests and nodes without their figures.
        const bareNodes =
          nodes.length > 0 && nodes.every((n) => (n as { maxmem?: unknown }).maxmem === undefined && (n as { maxcpu?: unknown }).maxcpu === undefined);
        if (guests.length === 0 && (nodes.length === 0 || bareNodes)) {
          warn(
            `${opts.id}: the API returned no nodes or guests. ${opts.tokenId ? `The token ${opts.tokenId} probably has privilege separation and no ACL of its own: grant it PVEAuditor on / (pveum acl modify / --tokens '${opts.tokenId}' --roles PVEAuditor)` : "The user probably lacks Sys.Audit/VM.Audit: grant PVEAuditor on /"}.`,
          );
        }
        const mapCtx = (): PveMapContext => ({ cluster: cluster.clusterName, observedAt: ctx.now() });

        const total = nodes.length + guests.length;
        let done = 0;
        const tick = (name: string) => ctx.onHostDone?.(++done, total, name);
        const limit = pLimit(Math.max(1, opts.client.concurrency));
        const unreachableNodes = new Set<string>();

        const nodeObs = await Promise.all(
          nodes.map((n) =>
            limit(async (): Promise<TargetObservation> => {
              const name = n.node;
              let nodeStatus: NodeStatus | null = null;
              let problem: string | undefined;
              if (n.status === "online") {
                try {
                  nodeStatus = NodeStatusSchema.parse(await client.get(`nodes/${encodeURIComponent(name)}/status`));
                } catch (err) {
                  if (err instanceof PveApiError && err.kind === "node_unreachable") {
                    unreachableNodes.add(name);
                    problem = err.message;
                  } else warn(`${opts.id}: node ${name}: ${(err as Error).message.slice(0, 300)}`);
                }
              } else {
                unreachableNodes.add(name);
              }
              const obs = mapNode(n, mapCtx(), { status: nodeStatus, storages, member: clusterMember(parsed.status, name) });
              tick(name);
              return problem ? { ...obs, status: "unreachable", error: problem } : obs;
            }),
          ),
        );

        const guestObs = await Promise.all(
          guests.map((g) =>
            limit(async (): Promise<TargetObservation> => {
              const node = g.node;
              const vmid = g.vmid;
              const type = g.type === "lxc" ? "lxc" : "qemu";
              const label = `${type}/${vmid} (${g.name ?? ""})`;
              if (unreachableNodes.has(node)) {
                tick(label);
                return { ...mapGuest(g, mapCtx()), status: "unreachable", error: `its node ${node} is unreachable` };
              }
              const base = `nodes/${encodeURIComponent(node)}/${type}/${vmid}`;
              let config: LxcConfig | QemuConfig | null = null;
              let interfaces: LxcInterfaces | AgentNetworkReply | null | undefined;
              const sections: Record<string, SectionResult> = {};
              try {
                const raw = await client.get(`${base}/config`);
                config = type === "lxc" ? LxcConfigSchema.parse(raw) : QemuConfigSchema.parse(raw);
              } catch (err) {
                sections.config = {
                  status: "failed",
                  exitCode: null,
                  reason: err instanceof PveApiError ? err.kind : "parse_error",
                  detail: (err as Error).message.slice(0, 300),
                };
              }
              if (g.status === "running") {
                try {
                  const raw = await client.get(type === "lxc" ? `${base}/interfaces` : `${base}/agent/network-get-interfaces`);
                  interfaces = type === "lxc" ? LxcInterfacesSchema.parse(raw) : AgentNetworkReplySchema.parse(raw);
                } catch (err) {
                  // No agent, agent not running, or an LXC interfaces endpoint older than PVE 8.1: facts, not failures.
                  const kind = err instanceof PveApiError ? err.kind : "parse_error";
                  sections.interfaces = {
                    status: "unavailable",
                    exitCode: null,
                    reason: kind === "not_implemented" ? "pve_too_old" : type === "lxc" ? kind : "no_guest_agent",
                    detail: (err as Error).message.slice(0, 300),
                  };
                }
              }
              tick(label);
              const obs = mapGuest(g, mapCtx(), { config, ...(interfaces !== undefined ? { interfaces } : {}), sections });
              return sections.config?.status === "failed" ? { ...obs, status: "partial", error: sections.config.detail ?? "config unreadable" } : obs;
            }),
          ),
        );

        const targets = [...nodeObs, ...guestObs];
        const bad = targets.filter((t) => t.status !== "ok");
        if (unreachableNodes.size)
          warn(
            `${opts.id}: ${unreachableNodes.size} node(s) unreachable: ${[...unreachableNodes].join(", ")}; their guests are marked unreachable, the rest of the cluster was discovered`,
          );
        return {
          sourceId: opts.id,
          kind: "proxmox-api",
          status: ctx.signal.aborted ? "cancelled" : bad.length === 0 ? "ok" : "partial",
          startedAt,
          finishedAt: ctx.now(),
          targets,
          warnings,
        };
      } finally {
        ctx.log.debug("proxmox api calls", { source: opts.id, requests: client.requests });
        await client.close();
      }
    },
  };
}

const PVEPROXY_AUTH_FAIL_DELAY_MS = 3000;

function explain(err: unknown, opts: ProxmoxSourceOptions): string {
  const e = err instanceof PveApiError ? err : null;
  const where = `${opts.client.host}:${opts.client.port}`;
  switch (e?.kind) {
    case "auth":
      return `${where}: authentication failed. ${opts.tokenId ? `Check the token id ${opts.tokenId} and its secret (token_secret_env).` : "Check username and password (password_env)."}`;
    case "tls":
      return `${where}: ${e.message}. For a self-signed cluster set \`fingerprint\` to the SHA-256 shown under Datacenter > Certificates (or by \`fleet-mcp doctor\`), or \`ca_file\`.`;
    case "permission":
      return `${where}: ${e.message}. Grant the user or token PVEAuditor on /.`;
    case "protocol":
      return `${where}: ${e.message}. Is ${where} really pveproxy (the API listens on 8006)?`;
    case "node_unreachable":
      return `${where}: ${e.message}: pveproxy on ${opts.client.host} could not forward the call to the daemon that serves it. Check \`systemctl status pvedaemon pveproxy\` there, or set \`host\` to another node of the cluster.`;
    case "server":
      return `${where}: ${e.message}. The cluster failed the call itself: see \`journalctl -u pveproxy -u pvedaemon\` on ${opts.client.host}.`;
    case "timeout":
      return `${where}: ${e.message} (timeout_ms: ${opts.client.timeoutMs} ms per request, tried twice). Is pveproxy overloaded, or is a firewall dropping port ${opts.client.port}?${
        // pveproxy answers a failed login only after 3 s.
        opts.client.timeoutMs < PVEPROXY_AUTH_FAIL_DELAY_MS + 500
          ? ` pveproxy delays every 401 by 3 s, so with timeout_ms under ${PVEPROXY_AUTH_FAIL_DELAY_MS + 500} a wrong token or password also ends here: raise timeout_ms to see which it is.`
          : ""
      }`;
    default:
      return `${where}: ${(err as Error).message}`;
  }
}
