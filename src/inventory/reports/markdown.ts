// Markdown for a person: a short headline, then one section per topic with a
// real table. Rendered from the structured report only, so the markdown never
// says anything the data does not.
import type { Report } from "./index.js";
import type { HealthReport } from "./health.js";
import type { ResourcesReport } from "./resources.js";
import type { SecurityReport } from "./security.js";
import type { SummaryReport } from "./summary.js";
import type { Listed } from "./common.js";

type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
  if (v === null || v === undefined || v === "") return "-";
  return String(v).replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function table(headers: string[], rows: Cell[][]): string {
  const lines = [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)];
  return lines.join("\n");
}

/** A capped list as a table, with "and N more" under it; `empty` when there is nothing. */
function listTable<T>(l: Listed<T>, headers: string[], row: (item: T) => Cell[], empty: string): string {
  if (l.total === 0) return empty;
  const more = l.total - l.items.length;
  return table(headers, l.items.map(row)) + (more > 0 ? `\n\n...and ${more} more (raise \`limit\`, up to 200).` : "");
}

function countTable(title: string, counts: Record<string, number>): string {
  const rows = Object.entries(counts);
  return rows.length ? table([title, "Targets"], rows) : `No ${title.toLowerCase()} data.`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : `${v}%`;
}

function target(t: { name: string } | null): string {
  return t ? t.name : "(unknown target)";
}

export function renderMarkdown(report: Report): string {
  const d = report.data;
  if (d.summary) return renderSummary(d.summary, report.generated_at);
  if (d.health) return renderHealth(d.health, report.generated_at);
  if (d.security) return renderSecurity(d.security, report.generated_at);
  if (d.resources) return renderResources(d.resources, report.generated_at);
  return `# Fleet report\n\nNothing to report.\n`;
}

function doc(parts: string[]): string {
  return `${parts.filter((p) => p !== "").join("\n\n")}\n`;
}

function renderSummary(s: SummaryReport, at: string): string {
  const c = s.changes;
  const changeLine =
    c.basis === "snapshot"
      ? `${c.total} change(s) since snapshot ${c.snapshot!.id} "${c.snapshot!.name}" (${c.snapshot!.created_at}).`
      : c.basis === "last_run_events"
        ? `No snapshot yet: ${c.total} change event(s) in discovery run ${c.run_id}.`
        : "No snapshot and no discovery run yet.";
  const run = s.last_discovery;
  const headline = [
    `${s.targets.total} target(s), mean health ${s.health.mean ?? "unknown"}${s.health.distribution.unhealthy ? ` (${s.health.distribution.unhealthy} unhealthy)` : ""}.`,
    changeLine,
    run ? `Last discovery: run ${run.run_id}, ${run.status}, started ${run.started_at}.` : "Discovery never ran.",
  ].join(" ");
  return doc([
    "# Fleet summary",
    `Generated ${at}. ${headline}`,
    "## Targets",
    table(
      ["Kind", "Targets"],
      Object.entries(s.targets.by_kind).map(([k, n]) => [k, n]),
    ),
    countTable("Lifecycle", s.targets.by_lifecycle),
    countTable("Role", s.targets.by_role),
    countTable("OS", s.targets.by_os),
    "## Capacity",
    table(
      ["CPUs", "Memory", "Memory available", "Disk", "Disk used", "Services (running / failed)", "Containers (running)", "Compose stacks"],
      [
        [
          s.totals.cpu_count,
          bytes(s.totals.memory_bytes),
          bytes(s.totals.memory_available_bytes),
          bytes(s.totals.disk_bytes),
          bytes(s.totals.disk_used_bytes),
          `${s.services.total} (${s.services.running} / ${s.services.failed})`,
          `${s.containers.total} (${s.containers.running})`,
          s.stacks,
        ],
      ],
    ),
    "## Health",
    `Mean ${s.health.mean ?? "unknown"} over the scored targets${s.health.unscored ? `, ${s.health.unscored} not scored yet` : ""}; ${s.health.issues_total} issue(s). Scores are as last stored (checked ${s.health.checked_at ?? "never"}).`,
    table(
      ["Healthy (>= 0.9)", "Degraded (0.6-0.9)", "Unhealthy (< 0.6)"],
      [[s.health.distribution.healthy, s.health.distribution.degraded, s.health.distribution.unhealthy]],
    ),
    Object.keys(s.health.top_issue_codes).length ? table(["Issue", "Count"], Object.entries(s.health.top_issue_codes)) : "",
    "### Top issues",
    listTable(s.health.worst, ["Target", "Role", "Score", "Largest issue"], (t) => [t.name, t.role, t.score, t.issues[0]?.message], "No target has issues."),
    c.basis === "snapshot" ? `## Changes since snapshot ${c.snapshot!.id} "${c.snapshot!.name}"` : "## Changes in the last discovery run",
    c.basis === "none"
      ? "Nothing to compare yet: run discovery, then create_snapshot."
      : c.total === 0
        ? c.basis === "snapshot"
          ? "Nothing changed (volatile readings such as load and free memory are not changes)."
          : "The last run recorded no changes."
        : table(["Change", "Count"], Object.entries(c.counts)),
    c.critical.total ? "### Critical" : "",
    c.critical.total ? listTable(c.critical, ["Target", "What", "Detail"], (l) => [l.target_name, l.change, l.message], "") : "",
    c.items.total ? "### Changes" : "",
    c.items.total ? listTable(c.items, ["Target", "Change"], (l) => [l.target_name, l.message], "") : "",
    "## Last discovery",
    run
      ? table(
          ["Run", "Status", "Trigger", "Started", "Finished", "Seen", "Added", "Unreachable"],
          [[run.run_id, run.status, run.trigger, run.started_at, run.finished_at, run.targets_seen, run.targets_added, run.targets_unreachable]],
        ) +
        (run.sources.length
          ? `\n\n${table(
              ["Source", "Kind", "Status", "Error"],
              run.sources.map((x) => [x.id, x.kind, x.status, x.error]),
            )}`
          : "")
      : "Discovery never ran: call run_discovery.",
  ]);
}

function renderHealth(h: HealthReport, at: string): string {
  const sev = h.issues.by_severity;
  return doc([
    "# Fleet health",
    `Generated ${at}. ${h.targets} target(s), mean score ${h.mean ?? "unknown"}: ${h.distribution.healthy} healthy, ${h.distribution.degraded} degraded, ${h.distribution.unhealthy} unhealthy; ${sev.critical} critical and ${sev.warning} warning issue(s). Scores as last checked (${h.checked_at ?? "never"}); run_health_check recomputes them.`,
    "## Distribution",
    table(
      ["Healthy (>= 0.9)", "Degraded (0.6-0.9)", "Unhealthy (< 0.6)", "Not scored"],
      [[h.distribution.healthy, h.distribution.degraded, h.distribution.unhealthy, h.unscored]],
    ),
    "## Issues",
    table(
      ["Severity", "Issues"],
      [
        ["critical", sev.critical],
        ["warning", sev.warning],
        ["info", sev.info],
      ],
    ),
    Object.keys(h.issues.by_code).length ? table(["Code", "Issues"], Object.entries(h.issues.by_code)) : "",
    "## Worst targets",
    listTable(
      h.worst,
      ["Target", "Kind", "Role", "Lifecycle", "Score", "Issues"],
      (t) => [t.name, t.kind, t.role, t.lifecycle, t.score, t.issues.map((i) => `${i.severity}: ${i.message}`).join("; ")],
      "No target has issues.",
    ),
  ]);
}

function renderSecurity(s: SecurityReport, at: string): string {
  const p = s.listening_ports;
  const exposed = p.by_role.reduce((a, r) => a + r.exposed, 0);
  const newPorts = p.by_role.reduce((a, r) => a + r.new, 0);
  const findings = [
    newPorts ? `${newPorts} new listening port(s)` : "",
    s.host_keys.pending.total ? `${s.host_keys.pending.total} unconfirmed host key change(s)` : "",
    s.insecure_sources.total ? `${s.insecure_sources.total} source setting(s) to review` : "",
    s.ssh_pw_login.total ? `${s.ssh_pw_login.total} host(s) accepting SSH passwords` : "",
    s.root_login.total ? `${s.root_login.total} host(s) allowing root password login` : "",
    s.containers.total ? `${s.containers.total} privileged or host-network container(s)` : "",
    s.firewall_inactive.total ? `${s.firewall_inactive.total} host(s) without an active firewall` : "",
    s.security_updates.targets ? `${s.security_updates.targets} host(s) with pending security updates` : "",
    s.os_eol.counts.eol ? `${s.os_eol.counts.eol} OS past end of life` : "",
    s.os_eol.counts.eol_soon ? `${s.os_eol.counts.eol_soon} OS within ${s.os_eol.window_days} days of it` : "",
  ].filter(Boolean);
  return doc([
    "# Fleet security",
    `Generated ${at}. ${findings.length ? `Findings: ${findings.join("; ")}.` : "No findings."} ${exposed} port(s) listen on non-loopback addresses.`,
    "## Listening ports by role",
    p.new_since ? `A port is new when it opened after ${p.new_since} (the newest snapshot, else the last discovery run).` : "",
    p.by_role.length
      ? table(
          ["Role", "Targets", "Ports", "Non-loopback", "New"],
          p.by_role.map((r) => [r.role, r.targets, r.ports, r.exposed, r.new]),
        )
      : "No listening ports are known.",
    p.ports.total
      ? listTable(
          p.ports,
          ["Target", "Role", "Port", "Address", "Process", "Exposure"],
          (l) => [l.name, l.role, `${l.protocol}/${l.port}`, l.address, l.process, `${l.new ? "NEW, " : ""}${l.exposed ? "network" : "loopback only"}`],
          "",
        )
      : "",
    "## SSH host key changes",
    listTable(
      s.host_keys.pending,
      ["Endpoint", "Target", "Pinned", "Presented", "Since"],
      (k) => [k.endpoint, target(k.target), k.pinned, k.presented, k.since],
      "No endpoint presents an unconfirmed host key.",
    ),
    s.host_keys.events.total ? listTable(s.host_keys.events, ["When", "Target", "Event"], (e) => [e.ts, target(e.target), e.message], "") : "",
    "## Source settings",
    listTable(
      s.insecure_sources,
      ["Source", "Kind", "Issue", "Detail"],
      (x) => [x.source_id, x.kind, x.issue, x.detail],
      "Every source verifies TLS certificates and host keys, and none logs in with a password.",
    ),
    "## SSH password authentication",
    listTable(s.ssh_pw_login, ["Target", "Role", "Address"], (t) => [t.name, t.role, t.address], "No host is known to accept SSH passwords."),
    "## Root login with a password",
    listTable(
      s.root_login,
      ["Target", "Role", "PermitRootLogin"],
      (t) => [t.name, t.role, t.permit_root_login],
      "No host is known to allow root to log in with a password.",
    ),
    "## Privileged and host-network containers",
    listTable(
      s.containers,
      ["Target", "Role", "Container", "Image", "Privileged", "Host network"],
      (c) => [c.name, c.role, c.container, c.image, c.privileged ? "yes" : "no", c.host_network ? "yes" : "no"],
      "No container is known to run privileged or with host networking.",
    ),
    "## Firewall",
    listTable(s.firewall_inactive, ["Target", "Role", "Kind"], (t) => [t.name, t.role, t.kind], "No host is known to run without an active firewall."),
    "## Pending security updates",
    s.security_updates.targets ? `${s.security_updates.packages} package(s) on ${s.security_updates.targets} host(s).` : "",
    listTable(s.security_updates.items, ["Target", "Role", "Security updates"], (t) => [t.name, t.role, t.pending], "No pending security updates are known."),
    "## Operating system end of life",
    table(
      ["Past end of life", `Within ${s.os_eol.window_days} days`, "Supported", "Version unknown", "Not tracked"],
      [[s.os_eol.counts.eol, s.os_eol.counts.eol_soon, s.os_eol.counts.supported, s.os_eol.counts.unknown, s.os_eol.counts.untracked]],
    ),
    listTable(
      s.os_eol.items,
      ["Target", "Role", "OS", "Status", "End of life", "Days left", "Extended support"],
      (t) => [
        t.name,
        t.role,
        t.os_name ?? `${t.os_id} ${t.os_version ?? ""}`.trim(),
        t.status === "eol" ? "past end of life" : t.status === "eol_soon" ? "ending soon" : "version not in the table",
        t.eol ? `${t.eol}${t.approximate ? " (approx.)" : ""}` : null,
        t.days_left,
        t.extended ? `${t.extended.name} until ${t.extended.until}` : null,
      ],
      "Every known operating system is supported.",
    ),
    "End-of-life dates are bundled data (src/inventory/eol.ts, with their sources); an OS version the table does not list is reported as unknown, never guessed.",
  ]);
}

function renderResources(r: ResourcesReport, at: string): string {
  const t = r.thresholds;
  return doc([
    "# Fleet resources",
    `Generated ${at}. ${r.totals.targets} target(s): ${r.totals.cpu_count} CPUs, ${bytes(r.totals.memory_bytes)} memory (${bytes(r.totals.memory_used_bytes)} used), ${bytes(r.totals.disk_bytes)} disk. ${r.over_used.total} over-used, ${r.under_used.total} under-used.`,
    `Over-used: memory >= ${t.memory_over_pct}%, a filesystem >= ${t.filesystem_over_pct}% or 5-minute load per CPU >= ${t.load_per_cpu_over}. Under-used: memory < ${t.memory_under_pct}% and load per CPU < ${t.load_per_cpu_under}. Unreachable, stale and stopped machines are not judged.`,
    "## Proxmox clusters",
    r.clusters.length
      ? table(
          ["Cluster", "Nodes", "CPUs", "Memory", "Memory used", "Disk", "Disk used", "Guests (running)", "CPU allocated", "Memory allocated"],
          r.clusters.map((c) => [
            c.name,
            c.nodes,
            c.cpu_count,
            bytes(c.memory_bytes),
            bytes(c.memory_used_bytes),
            bytes(c.disk_bytes),
            bytes(c.disk_used_bytes),
            `${c.guests} (${c.running})`,
            `${c.allocated_cpu}${c.cpu_ratio !== null ? ` (${c.cpu_ratio}x)` : ""}`,
            `${bytes(c.allocated_memory_bytes)}${c.memory_ratio !== null ? ` (${c.memory_ratio}x)` : ""}`,
          ]),
        )
      : "No Proxmox cluster is known.",
    r.nodes.total ? "## Proxmox nodes" : "",
    r.nodes.total
      ? listTable(
          r.nodes,
          ["Node", "Cluster", "CPUs", "Load per CPU", "Memory", "Memory used", "Disk used", "Guests (running)", "CPU allocated", "Memory allocated"],
          (n) => [
            n.name,
            n.cluster,
            n.cpu_count,
            n.load_per_cpu,
            bytes(n.memory_bytes),
            percent(n.memory_used_pct),
            n.disk_bytes ? `${bytes(n.disk_used_bytes)} of ${bytes(n.disk_bytes)}` : null,
            `${n.guests} (${n.running})`,
            `${n.allocated_cpu}${n.cpu_ratio !== null ? ` (${n.cpu_ratio}x)` : ""}`,
            `${bytes(n.allocated_memory_bytes)}${n.memory_ratio !== null ? ` (${n.memory_ratio}x)` : ""}`,
          ],
          "",
        )
      : "",
    "## Over-used",
    listTable(r.over_used, ["Target", "Kind", "Role", "Why"], (m) => [m.name, m.kind, m.role, m.reasons.join("; ")], "No machine is over-used."),
    "## Under-used",
    listTable(
      r.under_used,
      ["Target", "Kind", "Role", "CPUs", "Memory", "Memory used", "Load per CPU"],
      (m) => [m.name, m.kind, m.role, m.cpu_count, bytes(m.memory_bytes), percent(m.memory_used_pct), m.load_per_cpu],
      "No machine is under-used.",
    ),
    "## Machines, busiest first",
    listTable(
      r.machines,
      ["Target", "Kind", "Lifecycle", "CPUs", "Load per CPU", "Memory", "Memory used", "Fullest filesystem"],
      (m) => [
        m.name,
        m.kind,
        m.lifecycle,
        m.cpu_count,
        m.load_per_cpu,
        bytes(m.memory_bytes),
        percent(m.memory_used_pct),
        m.fullest_filesystem ? `${m.fullest_filesystem.mount} ${m.fullest_filesystem.used_pct}%` : null,
      ],
      "No machine has readings.",
    ),
  ]);
}
