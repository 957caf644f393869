import type { z } from "zod";
import { getTarget } from "../../tools/get-target.js";
import { EXIT, UsageError, type Command } from "../command.js";
import { ago, clean, paint, table, type Column, type Output } from "../output.js";
import { bytes, defined, fields, healthStyle, healthText, heading, lifecycleStyle, num, severityStyle, withTools } from "../tools.js";

type Detail = z.output<typeof getTarget.output>;

export const targetCommand: Command = {
  name: "target",
  summary: "Everything known about one target: facts, services, containers, ports, disks",
  usage: "fleet-mcp target NAME|ID|ADDRESS [--limit N] [--json]",
  help: `The detail view of one machine, by name (case-insensitive), target id or address:
its summary and health issues, pending host key changes, services, containers, Compose
stacks, listening ports, filesystems and interfaces, and how the last probe went.

Options:
  --limit N        Most rows per collection (1-200, default 25); the totals are always shown

Calls the MCP tool get_target (audited, client fleet-mcp-cli); --json prints its
structured result.

Examples:
  fleet-mcp target web-1
  fleet-mcp target 10.0.0.12 --limit 200
  fleet-mcp target h-3fa9c1d2e4b5 --json | jq '.containers.items[].image'

Exit: 0 shown, 1 no such target (or a name several targets share: the message lists
their ids), 2 bad usage or no such database.`,
  options: { limit: { type: "string" } },
  async run(ctx) {
    if (ctx.args.length !== 1) throw new UsageError("target needs one NAME, id or address (`fleet-mcp targets` lists them)");
    const args = defined({ target: ctx.args[0], limit: num(ctx, "limit") });
    return withTools(ctx, async (s) => {
      const d = await s.call(getTarget, args, { target: "NAME" });
      if (ctx.out.json) ctx.out.printJson(d);
      else ctx.out.print(render(ctx.out, d));
      return EXIT.OK;
    });
  },
};

function more(out: Output, shown: number, total: number): string {
  return total > shown ? paint(out, "gray", `  (${shown} of ${total} shown; --limit for more)`) : "";
}

function render(out: Output, d: Detail): string {
  const t = d.target;
  const lines: string[] = [];
  lines.push(heading(out, `${clean(t.name)}  (${clean(t.id)}, ${clean(t.kind)})`));
  const mem =
    t.memory_total_bytes === null
      ? "-"
      : `${bytes(t.memory_total_bytes)}${t.memory_available_bytes !== null ? ` (${bytes(t.memory_available_bytes)} available)` : ""}`;
  const disk = t.disk_total_bytes === null ? "-" : `${bytes(t.disk_total_bytes)}${t.disk_used_bytes !== null ? ` (${bytes(t.disk_used_bytes)} used)` : ""}`;
  lines.push(
    fields([
      ["lifecycle", paint(out, lifecycleStyle(t.lifecycle) ?? "bold", clean(t.lifecycle))],
      ["role", `${clean(t.role)}${t.role_source ? ` (${clean(t.role_source)})` : ""}`],
      ["health", paint(out, healthStyle(t.health_score), healthText(t.health_score))],
      ["address", clean(t.address)],
      ["parent", t.parent ? `${clean(t.parent.name)} (${clean(t.parent.id)}, ${clean(t.parent.kind)})` : "-"],
      ["tags", t.tags.length ? clean(t.tags.join(", ")) : "-"],
      ["os", `${clean(t.os)}${t.kernel ? `, kernel ${clean(t.kernel)}` : ""}${t.arch ? `, ${clean(t.arch)}` : ""}`],
      ["cpus", clean(t.cpu_count)],
      ["memory", mem],
      ["disk", disk],
      ["uptime", t.uptime_seconds === null ? "-" : `${(t.uptime_seconds / 86400).toFixed(1)} d`],
      ["first seen", clean(t.first_seen_at)],
      ["last seen", `${ago(t.last_seen_at)}${t.last_seen_at ? ` (${clean(t.last_seen_at)})` : ""}`],
      [
        "last attempt",
        `${clean(t.last_attempt_at)}: ${paint(out, t.last_status === "ok" ? "green" : t.last_status === "partial" ? "yellow" : "red", clean(t.last_status))}${t.last_error ? ` — ${clean(t.last_error)}` : ""}`,
      ],
    ]),
  );
  if (t.health_issues.length) {
    lines.push("", heading(out, "Health issues:"));
    for (const i of t.health_issues) lines.push(`  ${paint(out, severityStyle(i.severity) ?? "bold", clean(i.severity).padEnd(8))} ${clean(i.message)}`);
  }
  if (d.issues.length) {
    lines.push("", heading(out, "Needs a person:"));
    for (const i of d.issues) lines.push(`  ${paint(out, severityStyle(i.severity) ?? "bold", clean(i.severity).padEnd(8))} ${clean(i.message)}`);
  }
  if (d.last_probe) {
    const p = d.last_probe;
    const bad = Object.entries(p.sections).filter(([, v]) => v.status !== "ok");
    lines.push(
      "",
      `${heading(out, "Last probe:")} run ${p.run_id} via ${clean(p.source)}: ${paint(out, p.status === "ok" ? "green" : "yellow", clean(p.status))}${p.error ? ` — ${clean(p.error)}` : ""}${
        bad.length ? `; sections not ok: ${bad.map(([k, v]) => `${clean(k)} (${clean(v.status)}${v.reason ? `: ${clean(v.reason)}` : ""})`).join(", ")}` : ""
      }`,
    );
  }
  const section = <T>(title: string, page: { total: number; items: T[] }, cols: Array<Column<T>>) => {
    if (page.total === 0) return;
    lines.push("", `${heading(out, `${title} (${page.total}):`)}${more(out, page.items.length, page.total)}`, table(out, cols, page.items));
  };
  section("Services", d.services, [
    { header: "UNIT", value: (x) => x.name, max: 48 },
    { header: "ACTIVE", value: (x) => x.active, style: (x) => (x.active === "failed" ? "red" : x.active === "active" ? "green" : undefined) },
    { header: "SUB", value: (x) => x.sub },
    { header: "ENABLED", value: (x) => x.enabled },
    { header: "DESCRIPTION", value: (x) => x.description, max: 60 },
  ]);
  section("Containers", d.containers, [
    { header: "NAME", value: (x) => x.name, max: 40 },
    { header: "IMAGE", value: (x) => x.image, max: 48 },
    {
      header: "STATE",
      value: (x) => `${x.state}${x.health ? ` (${x.health})` : ""}`,
      style: (x) =>
        x.health === "unhealthy" || x.state === "restarting" || (x.state === "exited" && x.exit_code !== 0)
          ? "red"
          : x.state === "running"
            ? "green"
            : undefined,
    },
    { header: "STACK", value: (x) => x.compose_project },
    { header: "PORTS", value: (x) => x.ports, max: 60 },
  ]);
  section("Compose stacks", d.stacks, [
    { header: "NAME", value: (x) => x.name, max: 40 },
    { header: "STATUS", value: (x) => x.status },
    { header: "CONFIG FILES", value: (x) => x.config_files.join(", "), max: 80 },
  ]);
  section("Listening ports", d.ports, [
    { header: "PROTO", value: (x) => x.protocol },
    { header: "ADDRESS", value: (x) => x.address },
    { header: "PORT", value: (x) => x.port, align: "right" },
    { header: "PROCESS", value: (x) => (x.process ? `${x.process}${x.pid !== null ? ` (${x.pid})` : ""}` : null), max: 40 },
  ]);
  section("Filesystems", d.filesystems, [
    { header: "MOUNT", value: (x) => x.mount, max: 40 },
    { header: "DEVICE", value: (x) => x.device, max: 40 },
    { header: "TYPE", value: (x) => x.fstype },
    { header: "SIZE", value: (x) => bytes(x.size_bytes), align: "right" },
    {
      header: "USED",
      value: (x) => (x.size_bytes > 0 ? `${Math.round((x.used_bytes * 100) / Math.max(1, x.used_bytes + x.avail_bytes))}%` : "-"),
      align: "right",
    },
  ]);
  section("Interfaces", d.interfaces, [
    { header: "NAME", value: (x) => x.name },
    { header: "STATE", value: (x) => x.state },
    { header: "MAC", value: (x) => x.mac },
    { header: "ADDRESSES", value: (x) => x.addresses.map((a) => `${a.address}/${a.prefixlen}`).join(", "), max: 80 },
  ]);
  return lines.join("\n");
}
