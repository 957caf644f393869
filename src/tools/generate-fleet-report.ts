import { z } from "zod";
import { EOL_STATUSES } from "../inventory/eol.js";
import { HEALTH_SEVERITIES } from "../inventory/health.js";
import { buildReport, renderMarkdown, REPORT_KINDS, REPORT_SECTIONS } from "../inventory/reports/index.js";
import { defineTool } from "./tool.js";

const Int = z.number().int();
const Counts = z.record(z.string(), Int);
const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ total: Int.describe("How many there are; `items` holds at most `limit` of them."), items: z.array(item) });
const Ref = { id: z.string(), name: z.string(), kind: z.string(), role: z.string() };
const TargetRef = z.object(Ref);
const Issue = z.object({ code: z.string(), severity: z.enum(HEALTH_SEVERITIES), message: z.string(), deduction: z.number() });
const Distribution = z.object({ healthy: Int.describe("score >= 0.9"), degraded: Int.describe("0.6 <= score < 0.9"), unhealthy: Int.describe("score < 0.6") });
const Worst = listOf(TargetRef.extend({ lifecycle: z.string(), score: z.number(), issues: z.array(Issue) }));
const ChangeLine = z.object({ target_id: z.string().nullable(), target_name: z.string().nullable(), change: z.string(), message: z.string() });
const Capacity = { cpu_count: Int, memory_bytes: Int, memory_used_bytes: Int, disk_bytes: Int, disk_used_bytes: Int };
const Allocation = {
  guests: Int,
  running: Int,
  allocated_cpu: Int.describe("CPUs configured for running guests."),
  allocated_memory_bytes: Int.describe("Memory configured for running guests."),
  cpu_ratio: z.number().nullable().describe("Allocated / capacity; above 1.0 is overcommitted."),
  memory_ratio: z.number().nullable(),
};
const MachineUse = TargetRef.extend({
  lifecycle: z.string(),
  cpu_count: Int.nullable(),
  memory_bytes: Int.nullable(),
  memory_used_pct: z.number().nullable(),
  load_per_cpu: z.number().nullable().describe("5-minute load average per CPU."),
  fullest_filesystem: z.object({ mount: z.string(), used_pct: z.number() }).nullable(),
});

const HealthData = z.object({
  checked_at: z.string().nullable(),
  targets: Int,
  unscored: Int,
  mean: z.number().nullable(),
  distribution: Distribution,
  issues: z.object({ total: Int, by_severity: z.object({ info: Int, warning: Int, critical: Int }), by_code: Counts }),
  worst: Worst,
});

const SummaryData = z.object({
  targets: z.object({ total: Int, by_kind: Counts, by_lifecycle: Counts, by_role: Counts, by_os: Counts }),
  totals: z.object({ cpu_count: Int, memory_bytes: Int, memory_available_bytes: Int, disk_bytes: Int, disk_used_bytes: Int }),
  services: z.object({ total: Int, running: Int, failed: Int }),
  containers: z.object({ total: Int, running: Int }),
  stacks: Int,
  health: z.object({
    checked_at: z.string().nullable(),
    mean: z.number().nullable(),
    distribution: Distribution,
    unscored: Int,
    issues_total: Int,
    top_issue_codes: Counts,
    worst: Worst,
  }),
  changes: z.object({
    basis: z
      .enum(["snapshot", "last_run_events", "none"])
      .describe("snapshot: newest snapshot vs the inventory now; last_run_events: no snapshot, so the latest run's change events; none: nothing yet."),
    since: z.string().nullable(),
    snapshot: z.object({ id: Int, name: z.string(), created_at: z.string() }).nullable(),
    run_id: Int.nullable(),
    total: Int,
    counts: Counts,
    critical: listOf(ChangeLine),
    items: listOf(ChangeLine),
  }),
  last_discovery: z
    .object({
      run_id: Int,
      status: z.string(),
      trigger: z.string(),
      started_at: z.string(),
      finished_at: z.string().nullable(),
      targets_seen: Int,
      targets_added: Int,
      targets_unreachable: Int,
      sources: z.array(z.object({ id: z.string(), kind: z.string(), status: z.string(), error: z.string().nullable() })),
    })
    .nullable(),
});

const SecurityData = z.object({
  listening_ports: z.object({
    new_since: z.string().nullable(),
    by_role: z.array(z.object({ role: z.string(), targets: Int, ports: Int, exposed: Int, new: Int })),
    ports: listOf(
      TargetRef.extend({
        protocol: z.string(),
        address: z.string(),
        port: Int,
        process: z.string().nullable(),
        exposed: z.boolean().describe("Bound to a non-loopback address."),
        new: z.boolean().describe("Opened after new_since."),
      }),
    ),
  }),
  host_keys: z.object({
    pending: listOf(
      z.object({ endpoint: z.string(), target: TargetRef.nullable(), pinned: z.string().nullable(), presented: z.string(), since: z.string().nullable() }),
    ),
    events: listOf(z.object({ ts: z.string(), target: TargetRef.nullable(), message: z.string() })),
  }),
  insecure_sources: listOf(
    z.object({
      source_id: z.string(),
      kind: z.string(),
      issue: z.enum(["tls_verification_off", "host_key_checking_off", "password_auth"]),
      detail: z.string(),
    }),
  ),
  ssh_pw_login: listOf(TargetRef.extend({ address: z.string().nullable() })).describe(
    "Hosts whose sshd accepts password authentication (named so no key-based redaction hides it).",
  ),
  root_login: listOf(TargetRef.extend({ permit_root_login: z.string() })),
  containers: listOf(TargetRef.extend({ container: z.string(), image: z.string(), privileged: z.boolean(), host_network: z.boolean() })),
  firewall_inactive: listOf(TargetRef),
  security_updates: z.object({ targets: Int, packages: Int, items: listOf(TargetRef.extend({ pending: z.number() })) }),
  os_eol: z.object({
    window_days: Int,
    counts: z.object(Object.fromEntries(EOL_STATUSES.map((s) => [s, Int])) as Record<(typeof EOL_STATUSES)[number], typeof Int>),
    items: listOf(
      TargetRef.extend({
        status: z.enum(EOL_STATUSES),
        os_id: z.string().nullable(),
        os_version: z.string().nullable(),
        os_name: z.string().nullable(),
        eol: z.string().nullable(),
        days_left: Int.nullable(),
        approximate: z.boolean(),
        extended: z.object({ name: z.string(), until: z.string() }).nullable(),
        source: z.string().nullable(),
      }),
    ),
  }),
});

const ResourcesData = z.object({
  thresholds: z.object({
    memory_over_pct: z.number(),
    filesystem_over_pct: z.number(),
    load_per_cpu_over: z.number(),
    memory_under_pct: z.number(),
    load_per_cpu_under: z.number(),
  }),
  totals: z.object({ targets: Int, ...Capacity }).describe("Hosts and nodes; guests with a known node count in their node's capacity, not twice."),
  clusters: z.array(z.object({ name: z.string(), nodes: Int, ...Capacity, ...Allocation })),
  nodes: listOf(
    TargetRef.extend({
      cluster: z.string().nullable(),
      lifecycle: z.string(),
      load_per_cpu: z.number().nullable(),
      memory_used_pct: z.number().nullable(),
      ...Capacity,
      ...Allocation,
    }),
  ),
  machines: listOf(MachineUse),
  over_used: listOf(MachineUse.extend({ reasons: z.array(z.string()) })),
  under_used: listOf(MachineUse),
});

export const generateFleetReport = defineTool({
  name: "generate_fleet_report",
  title: "Generate a fleet report",
  description:
    "Builds a report of the inventory as it is stored — summary (counts, capacity, health, what changed since the newest snapshot, last discovery), health (stored scores and issues; run_health_check recomputes them), security (listening ports by role, host key changes, insecure source settings, password and root logins, privileged or host-network containers, firewalls, security updates, operating systems past end of life) or resources (Proxmox clusters and nodes with guest allocation, over- and under-used machines) — as markdown for a person plus the same numbers as structured data. Drill in with get_target, list_targets or compare_snapshots; call run_discovery first if the data is old.",
  input: z
    .object({
      kind: z.enum(REPORT_KINDS).describe("summary | health | security | resources."),
      format: z.enum(["markdown", "json"]).default("markdown").describe("markdown: the rendered report in `markdown` plus the data; json: the data only."),
      limit: z.number().int().min(1).max(200).default(25).describe("Rows per list in the report (1-200, default 25); totals always count everything."),
      eol_window_days: z
        .number()
        .int()
        .min(0)
        .max(3650)
        .default(90)
        .describe("Security report: warn about an OS this many days before its end of life (0-3650, default 90)."),
    })
    .strict(),
  output: z.object({
    kind: z.enum(REPORT_KINDS),
    format: z.enum(["markdown", "json"]),
    generated_at: z.string(),
    markdown: z.string().nullable().describe("The report for a person, with format markdown; null with json."),
    data: z
      .object({ summary: SummaryData.optional(), health: HealthData.optional(), security: SecurityData.optional(), resources: ResourcesData.optional() })
      .describe("The structured report: exactly the member named by `kind` is present."),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const sections = REPORT_SECTIONS[args.kind].length;
    const report = await buildReport(ctx.app.db, args.kind, {
      now: ctx.app.now(),
      limit: args.limit,
      eolWindowDays: args.eol_window_days,
      config: ctx.app.config,
      signal: ctx.signal,
      onSection: (i, total, name) => ctx.progress(i, total, `${args.kind} report: ${name}`),
    });
    ctx.progress(sections, sections, `${args.kind} report done`);
    return {
      kind: report.kind,
      format: args.format,
      generated_at: report.generated_at,
      markdown: args.format === "markdown" ? renderMarkdown(report) : null,
      data: report.data,
    };
  },
  summarize(o) {
    const d = o.data;
    const tail = o.format === "markdown" ? " The full report is in structuredContent.markdown." : "";
    if (d.summary) {
      const s = d.summary;
      const ch =
        s.changes.basis === "snapshot"
          ? `${s.changes.total} change(s) since snapshot ${s.changes.snapshot!.id}`
          : s.changes.basis === "last_run_events"
            ? `${s.changes.total} change event(s) in run ${s.changes.run_id} (no snapshot yet)`
            : "no discovery yet";
      return `Fleet summary: ${s.targets.total} target(s), mean health ${s.health.mean ?? "unknown"}, ${s.health.issues_total} issue(s); ${ch}.${tail}`;
    }
    if (d.health) {
      const h = d.health;
      const w = h.worst.items[0];
      return `Fleet health: mean ${h.mean ?? "unknown"} over ${h.targets} target(s); ${h.distribution.unhealthy} unhealthy, ${h.issues.by_severity.critical} critical issue(s).${w ? ` Worst: ${w.name} (${w.score}).` : ""}${tail}`;
    }
    if (d.security) {
      const s = d.security;
      const n = s.listening_ports.by_role.reduce((a, r) => a + r.new, 0);
      return `Fleet security: ${n} new port(s), ${s.host_keys.pending.total} host key change(s), ${s.ssh_pw_login.total} password-auth host(s), ${s.containers.total} privileged/host-network container(s), ${s.os_eol.counts.eol} OS past end of life, ${s.os_eol.counts.eol_soon} near it.${tail}`;
    }
    if (d.resources) {
      const r = d.resources;
      return `Fleet resources: ${r.clusters.length} cluster(s), ${r.nodes.total} node(s); ${r.over_used.total} over-used, ${r.under_used.total} under-used machine(s).${tail}`;
    }
    return `Empty ${o.kind} report.`;
  },
});
