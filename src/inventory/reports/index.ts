// Fleet reports: pure reads of the inventory that return structured data, and
// a markdown rendering of that data for a person. One entry point per kind;
// each report is built section by section, with a hook between sections for
// progress and cancellation. Each section reads in its own transaction (so a
// long report does not hold one read open, and a cancel is seen between them):
// sections are each consistent, and `generated_at` is when the report began.
import type { FleetConfig } from "../../config.js";
import type { Db } from "../../db/open.js";
import { buildHealthReport, type HealthReport } from "./health.js";
import { buildResourcesReport, type ResourcesReport } from "./resources.js";
import { buildSecurityAccess, buildSecurityContainers, buildSecurityEol, buildSecurityPorts, type SecurityReport } from "./security.js";
import { buildSummaryChanges, buildSummaryHealth, buildSummaryTotals, type SummaryReport } from "./summary.js";

export { renderMarkdown } from "./markdown.js";
export type { HealthReport, ResourcesReport, SecurityReport, SummaryReport };

export const REPORT_KINDS = ["summary", "health", "security", "resources"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface ReportData {
  summary?: SummaryReport;
  health?: HealthReport;
  security?: SecurityReport;
  resources?: ResourcesReport;
}

export interface Report {
  kind: ReportKind;
  generated_at: string;
  data: ReportData;
}

export interface ReportOptions {
  now: Date;
  /** Length of every per-section list (the totals are always complete). */
  limit: number;
  /** Days before an OS's end of life that the security report warns. */
  eolWindowDays: number;
  config: Pick<FleetConfig, "health" | "sources">;
  /** Called before each section with its 0-based index, the section count and its name. */
  onSection?: (index: number, total: number, name: string) => void;
  /** Checked between sections: an aborted signal stops the report with its reason. */
  signal?: AbortSignal;
}

/** Section names of each kind, in build order (what progress reports). */
export const REPORT_SECTIONS: Record<ReportKind, readonly string[]> = {
  summary: ["counts", "health", "changes"],
  health: ["health"],
  security: ["listening ports", "access and updates", "containers", "end of life"],
  resources: ["resources"],
};

export async function buildReport(db: Db, kind: ReportKind, opts: ReportOptions): Promise<Report> {
  const generated_at = opts.now.toISOString();
  const names = REPORT_SECTIONS[kind];
  let index = 0;
  // Yields to the event loop first, so a cancellation that arrived meanwhile is seen.
  const section = async <T>(fn: () => T): Promise<T> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    opts.signal?.throwIfAborted();
    opts.onSection?.(index, names.length, names[index]!);
    index++;
    return fn();
  };
  const data: ReportData = {};
  switch (kind) {
    case "summary": {
      const totals = await section(() => buildSummaryTotals(db));
      const health = await section(() => buildSummaryHealth(db, opts.limit));
      const changes = await section(() => buildSummaryChanges(db, { limit: opts.limit, now: opts.now }));
      data.summary = { ...totals, health, changes };
      break;
    }
    case "health":
      data.health = await section(() => buildHealthReport(db, { limit: opts.limit }));
      break;
    case "security": {
      const o = { limit: opts.limit, now: opts.now, sources: opts.config.sources, eolWindowDays: opts.eolWindowDays };
      const listening_ports = await section(() => buildSecurityPorts(db, o));
      const access = await section(() => buildSecurityAccess(db, o));
      const containers = await section(() => buildSecurityContainers(db, o));
      const os_eol = await section(() => buildSecurityEol(db, o));
      data.security = { listening_ports, ...access, containers, os_eol };
      break;
    }
    case "resources":
      data.resources = await section(() => buildResourcesReport(db, { limit: opts.limit, thresholds: opts.config.health }));
      break;
  }
  opts.signal?.throwIfAborted();
  return { kind, generated_at, data };
}
