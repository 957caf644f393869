// Prometheus metrics of one running server: its own prom-client Registry (never
// the global default one, so two apps in one process, as in tests, do not share
// counters), the process metrics, counters fed by app.events, and the target
// counts read from the inventory at scrape time.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AppContext } from "./app/context.js";
import type { RunReport } from "./app/discovery-service.js";
import type { ToolCallEvent } from "./app/events.js";
import { targetCountsByLifecycleAndKind } from "./inventory/queries.js";

export interface FleetMetrics {
  readonly registry: Registry;
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  /** The Prometheus text exposition of every metric, read now. */
  render(): Promise<string>;
  /** Stops listening to app.events (the registry stays readable). */
  close(): void;
}

/** Seconds; discovery runs take from well under a second (local) to the run deadline. */
const DISCOVERY_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A tool name a caller invented (unknown_tool) would add one series per name: they share one label value. */
const UNKNOWN_TOOL_LABEL = "(unknown)";

export function createMetrics(app: AppContext): FleetMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const discoveryDuration = new Histogram({
    name: "fleet_discovery_duration_seconds",
    help: "Duration of discovery runs, by final run status.",
    labelNames: ["status"] as const,
    buckets: DISCOVERY_BUCKETS,
    registers: [registry],
  });
  const discoveryRuns = new Counter({
    name: "fleet_discovery_runs_total",
    help: "Discovery runs finished, by final run status (ok, partial, failed, cancelled).",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const probeResults = new Counter({
    name: "fleet_probe_results_total",
    help: "Hosts reported by discovery runs, by probe status (ok, partial, unreachable, timeout, auth_failed, host_key_mismatch, ...).",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const toolCalls = new Counter({
    name: "fleet_tool_calls_total",
    help: "MCP tool calls, by tool and audit outcome (ok, tool_error, rejected, unknown_tool, exception, cancelled).",
    labelNames: ["tool", "outcome"] as const,
    registers: [registry],
  });
  const toolDuration = new Histogram({
    name: "fleet_tool_call_duration_seconds",
    help: "Duration of MCP tool calls, by tool.",
    labelNames: ["tool"] as const,
    buckets: TOOL_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: "fleet_targets",
    help: "Targets in the inventory, by lifecycle state and kind (read from the database at scrape time).",
    labelNames: ["lifecycle", "kind"] as const,
    registers: [registry],
    collect() {
      // A state or kind that has no targets any more must vanish, not keep its last value.
      this.reset();
      for (const row of targetCountsByLifecycleAndKind(app.db)) this.set({ lifecycle: row.lifecycle, kind: row.kind }, row.n);
    },
  });

  const onRun = (r: RunReport) => {
    discoveryRuns.inc({ status: r.status });
    discoveryDuration.observe({ status: r.status }, r.durationMs / 1000);
    for (const [status, n] of probeStatusCounts(r)) probeResults.inc({ status }, n);
  };
  const onTool = (e: ToolCallEvent) => {
    const tool = e.outcome === "unknown_tool" ? UNKNOWN_TOOL_LABEL : e.tool;
    toolCalls.inc({ tool, outcome: e.outcome });
    toolDuration.observe({ tool }, e.durationMs / 1000);
  };
  const off = [app.events.on("run_finished", onRun), app.events.on("tool_call", onTool)];

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      for (const fn of off.splice(0)) fn();
    },
  };
}

/**
 * Hosts per probe status in one run. hostsOk counts ok and partial hosts, and
 * problems lists every host that is not ok (partial included), so partial hosts
 * are taken from problems only.
 */
export function probeStatusCounts(r: RunReport): Map<string, number> {
  const out = new Map<string, number>();
  const partial = r.problems.filter((p) => p.status === "partial").length;
  const ok = r.sources.reduce((n, s) => n + s.hostsOk, 0) - partial;
  if (ok > 0) out.set("ok", ok);
  for (const p of r.problems) out.set(p.status, (out.get(p.status) ?? 0) + 1);
  return out;
}
