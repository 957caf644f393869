import { z } from "zod";
import { endpointsOfTarget } from "../inventory/endpoints.js";
import { getTargetDetail } from "../inventory/queries.js";
import { resolveOneTarget } from "./targets.js";
import { defineTool, ToolError } from "./tool.js";

const FactValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const page = <T extends z.ZodType>(item: T) => z.object({ total: z.number().int(), items: z.array(item) });

export const getTarget = defineTool({
  name: "get_target",
  title: "Get one target",
  description:
    "Returns everything known about one machine (by id, name or address): its facts with the source and time each was seen, services, containers, stacks, interfaces and addresses, listening ports and filesystems. Use get_fleet_overview to find targets, and run_discovery to refresh one that is out of date.",
  input: z
    .object({
      target: z.string().min(1).max(256).describe("Target id (e.g. h-3fa9c1d2e4b5), name (hostname, case-insensitive) or IP address."),
      limit: z
        .number()
        .int()
        .min(1)
        .max(200)
        .default(25)
        .describe(
          "Most items returned per collection (services, containers, ports, ...; 1-200, default 25); totals are always given. Page through one collection with list_services(target=...).",
        ),
    })
    .strict(),
  output: z.object({
    target: z.object({
      id: z.string(),
      kind: z.string(),
      name: z.string(),
      lifecycle: z.string(),
      role: z.string(),
      role_source: z.string().nullable().describe("manual (set_target_role), config (a host entry), rule (a role rule), or null."),
      tags: z.array(z.string()),
      health_score: z.number().nullable().describe("0.0-1.0; null until the first health check. Its deductions are in health_issues."),
      health_issues: z.array(z.object({ code: z.string(), severity: z.string(), message: z.string() })),
      address: z.string().nullable(),
      parent: z.object({ id: z.string(), name: z.string(), kind: z.string() }).nullable(),
      first_seen_at: z.string(),
      last_seen_at: z.string().nullable(),
      last_attempt_at: z.string(),
      last_status: z.string().nullable(),
      last_error: z.string().nullable(),
      os: z.string().nullable(),
      kernel: z.string().nullable(),
      arch: z.string().nullable(),
      cpu_count: z.number().int().nullable(),
      memory_total_bytes: z.number().int().nullable(),
      memory_available_bytes: z.number().int().nullable(),
      disk_total_bytes: z.number().int().nullable(),
      disk_used_bytes: z.number().int().nullable(),
      uptime_seconds: z.number().nullable(),
    }),
    facts: z.array(
      z.object({
        key: z.string(),
        value: FactValue,
        source: z.string(),
        observed_at: z.string(),
        since: z.string().describe("When this value was first seen."),
      }),
    ),
    issues: z
      .array(z.object({ type: z.string(), severity: z.enum(["info", "warning", "critical"]), message: z.string() }))
      .describe("Problems that need a person, e.g. host_key_changed (then accept_host_key once the change is confirmed)."),
    ssh_endpoints: z.array(
      z.object({
        endpoint: z.string(),
        pinned_fingerprint: z.string().nullable(),
        pending_fingerprint: z.string().nullable().describe("A different key the host presented; connections are refused until it is accepted."),
        consecutive_failures: z.number().int(),
        last_success_at: z.string().nullable(),
        last_failure_at: z.string().nullable(),
        last_error: z.string().nullable(),
      }),
    ),
    last_probe: z
      .object({
        run_id: z.number().int(),
        source: z.string(),
        status: z.string(),
        error: z.string().nullable(),
        sections: z.record(
          z.string(),
          z.object({ status: z.string(), exit_code: z.number().int().nullable(), reason: z.string().nullable(), detail: z.string().nullable() }),
        ),
      })
      .nullable(),
    services: page(
      z.object({
        name: z.string(),
        description: z.string().nullable(),
        load: z.string().nullable(),
        active: z.string().nullable(),
        sub: z.string().nullable(),
        enabled: z.string().nullable().describe("Unit file state (enabled, disabled, static, masked), when known."),
        source: z.string(),
        observed_at: z.string(),
      }),
    ),
    containers: page(
      z.object({
        name: z.string(),
        id: z.string(),
        image: z.string(),
        state: z.string(),
        status: z.string().nullable(),
        ports: z.string().nullable(),
        compose_project: z.string().nullable(),
        compose_service: z.string().nullable(),
        image_id: z.string().nullable(),
        health: z.string().nullable().describe("healthy | unhealthy | starting, when the image has a health check."),
        exit_code: z.number().int().nullable(),
        restart_count: z.number().int().nullable(),
        privileged: z.boolean().nullable(),
        network_mode: z.string().nullable(),
        source: z.string(),
        observed_at: z.string(),
      }),
    ),
    stacks: page(z.object({ name: z.string(), status: z.string(), config_files: z.array(z.string()), source: z.string(), observed_at: z.string() })),
    interfaces: page(
      z.object({
        name: z.string(),
        mac: z.string().nullable(),
        mtu: z.number().int().nullable(),
        state: z.string().nullable(),
        master: z.string().nullable(),
        addresses: z.array(z.object({ family: z.string(), address: z.string(), prefixlen: z.number().int(), scope: z.string().nullable() })),
      }),
    ),
    ports: page(
      z.object({
        protocol: z.string(),
        address: z.string(),
        port: z.number().int(),
        process: z.string().nullable(),
        pid: z.number().int().nullable(),
        source: z.string(),
      }),
    ),
    filesystems: page(
      z.object({
        mount: z.string(),
        device: z.string(),
        fstype: z.string(),
        size_bytes: z.number().int(),
        used_bytes: z.number().int(),
        avail_bytes: z.number().int(),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db } = ctx.app;
    const target = resolveOneTarget(db, args.target);
    const d = getTargetDetail(db, target.id, { collectionLimit: args.limit });
    if (!d) throw new ToolError(`Target ${target.id} was removed meanwhile. Call get_fleet_overview.`);
    const t = d.target;
    const endpoints = endpointsOfTarget(db, t.id);
    const sections = d.lastProbe
      ? (JSON.parse(d.lastProbe.sections) as Record<string, { status: string; exitCode: number | null; reason?: string; detail?: string }>)
      : {};
    return {
      target: {
        id: t.id,
        kind: t.kind,
        name: t.name,
        lifecycle: t.lifecycle,
        role: t.role,
        role_source: t.roleSource,
        tags: JSON.parse(t.tags) as string[],
        health_score: t.healthScore,
        health_issues: (JSON.parse(t.healthIssues) as Array<{ code: string; severity: string; message: string }>).map((i) => ({
          code: i.code,
          severity: i.severity,
          message: i.message,
        })),
        address: t.address,
        parent: d.parent,
        first_seen_at: t.firstSeenAt,
        last_seen_at: t.lastSeenAt,
        last_attempt_at: t.lastAttemptAt,
        last_status: t.lastStatus,
        last_error: t.lastError,
        os: t.osName,
        kernel: t.kernel,
        arch: t.arch,
        cpu_count: t.cpuCount,
        memory_total_bytes: t.memTotalBytes,
        memory_available_bytes: t.memAvailableBytes,
        disk_total_bytes: t.diskTotalBytes,
        disk_used_bytes: t.diskUsedBytes,
        uptime_seconds: t.uptimeSeconds,
      },
      facts: d.facts.map((f) => ({
        key: f.key,
        value: JSON.parse(f.value) as z.infer<typeof FactValue>,
        source: f.sourceId,
        observed_at: d.observedAt.get(`${f.sourceId}|facts`) ?? f.firstObservedAt,
        since: f.firstObservedAt,
      })),
      issues: endpoints
        .filter((e) => e.pendingFingerprint)
        .map((e) => ({
          type: "host_key_changed",
          severity: "critical" as const,
          message: `${e.endpoint} presented host key ${e.pendingFingerprint} instead of ${e.pinnedFingerprint ?? "the known_hosts key"} (since ${e.pendingAt}); probes are refused. If the change is legitimate, call accept_host_key with that fingerprint (listed with the full tool preset: tools.preset "full" or FLEET_TOOL_PRESET=full).`,
        })),
      ssh_endpoints: endpoints.map((e) => ({
        endpoint: e.endpoint,
        pinned_fingerprint: e.pinnedFingerprint,
        pending_fingerprint: e.pendingFingerprint,
        consecutive_failures: e.consecutiveFailures,
        last_success_at: e.lastSuccessAt,
        last_failure_at: e.lastFailureAt,
        last_error: e.lastError,
      })),
      last_probe: d.lastProbe
        ? {
            run_id: d.lastProbe.runId,
            source: d.lastProbe.sourceId,
            status: d.lastProbe.status,
            error: d.lastProbe.error,
            sections: Object.fromEntries(
              Object.entries(sections).map(([k, s]) => [k, { status: s.status, exit_code: s.exitCode, reason: s.reason ?? null, detail: s.detail ?? null }]),
            ),
          }
        : null,
      services: {
        total: d.servicesTotal,
        items: d.services.map((s) => ({
          name: s.name,
          description: s.description,
          load: s.loadState,
          active: s.activeState,
          sub: s.subState,
          enabled: s.enabled,
          source: s.sourceId,
          observed_at: d.observedAt.get(`${s.sourceId}|services`) ?? s.firstObservedAt,
        })),
      },
      containers: {
        total: d.containersTotal,
        items: d.containers.map((c) => ({
          name: c.name,
          id: c.containerId,
          image: c.image,
          state: c.state,
          status: c.status,
          ports: c.ports,
          compose_project: c.composeProject,
          compose_service: c.composeService,
          image_id: c.imageId,
          health: c.health,
          exit_code: c.exitCode,
          restart_count: c.restartCount,
          privileged: c.privileged,
          network_mode: c.networkMode,
          source: c.sourceId,
          observed_at: d.observedAt.get(`${c.sourceId}|containers`) ?? c.firstObservedAt,
        })),
      },
      stacks: {
        total: d.stacksTotal,
        items: d.stacks.map((s) => ({
          name: s.name,
          status: s.status,
          config_files: JSON.parse(s.configFiles) as string[],
          source: s.sourceId,
          observed_at: d.observedAt.get(`${s.sourceId}|stacks`) ?? s.firstObservedAt,
        })),
      },
      interfaces: {
        total: d.interfacesTotal,
        items: d.interfaces.map((i) => ({
          name: i.name,
          mac: i.mac,
          mtu: i.mtu,
          state: i.state,
          master: i.master,
          addresses: d.addresses
            .filter((a) => a.interfaceName === i.name && a.sourceId === i.sourceId)
            .map((a) => ({ family: a.family, address: a.address, prefixlen: a.prefixlen, scope: a.scope })),
        })),
      },
      ports: {
        total: d.portsTotal,
        items: d.ports.map((p) => ({ protocol: p.protocol, address: p.address, port: p.port, process: p.process, pid: p.pid, source: p.sourceId })),
      },
      filesystems: {
        total: d.filesystemsTotal,
        items: d.filesystems.map((f) => ({
          mount: f.mount,
          device: f.device,
          fstype: f.fstype,
          size_bytes: f.sizeBytes,
          used_bytes: f.usedBytes,
          avail_bytes: f.availBytes,
        })),
      },
    };
  },
  summarize(o) {
    const t = o.target;
    const gib = (b: number | null) => (b === null ? "?" : `${(b / 2 ** 30).toFixed(1)} GiB`);
    const issues = o.issues.length ? ` ${o.issues.length} issue(s): ${o.issues[0]!.type}.` : "";
    return `${t.name} (${t.id}, ${t.kind}, ${t.lifecycle}): ${t.os ?? "unknown OS"}, ${t.cpu_count ?? "?"} CPUs, ${gib(t.memory_total_bytes)} memory; ${o.services.total} services, ${o.containers.total} containers, ${o.ports.total} listening ports. Last seen ${t.last_seen_at ?? "never"}.${issues}`;
  },
});
