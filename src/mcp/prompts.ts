// MCP prompts: short, ready-made workflows a person picks in the client. They
// name the tools to call and in what order; they carry real data only where
// they say so (the snapshot `what_changed` resolved, the doctor output of
// `diagnose_access`), never invented examples.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, type GetPromptResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AppContext } from "../app/context.js";
import { UnknownSourceError } from "../app/discovery-service.js";
import { runDoctor, type DoctorCheck } from "../app/doctor.js";
import { ROLES } from "../config.js";
import { findTargets } from "../inventory/queries.js";
import { findSnapshot, recentSnapshotIds } from "../inventory/snapshots.js";

/** diagnose_access waits this long for the doctor; slower checks are reported as not finished. */
export const DIAGNOSE_TIMEOUT_MS = 15_000;

function user(text: string): GetPromptResult {
  return { messages: [{ role: "user", content: { type: "text", text } }] };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function healthReviewText(role: string | undefined): string {
  const scope = role ? `the ${role} targets` : "the fleet";
  const roleArg = role ? `, role="${role}"` : "";
  return [
    `Review the health of ${scope} with the fleet-mcp tools:`,
    `1. Call run_health_check to score every target now (it lists the issues by severity).`,
    `2. Call list_targets with health_below=0.9${roleArg}, sort="health" to find the degraded and unhealthy ones (worst first).`,
    `3. Call get_target on the worst few (at most 5) to see the failing services, full filesystems, memory and load behind their score.`,
    `4. Summarize: how many targets are healthy, degraded and unhealthy; the top issues with the targets they affect; and for each, the concrete next step a person should take.`,
    `If the inventory is empty or old (get_fleet_overview shows the last discovery), call run_discovery first.`,
  ].join("\n");
}

export function whatChangedText(app: AppContext, since: string): string {
  const s = since.trim();
  if (ISO_TIME.test(s) && !Number.isNaN(Date.parse(s))) {
    const iso = new Date(s).toISOString();
    return [
      `Find out what changed in the fleet since ${iso}:`,
      `1. Call get_change_events with since="${iso}" (page with next_cursor) to list targets added or removed, services started or stopped, images changed, ports opened and so on.`,
      `2. If a snapshot was taken around that time (list_snapshots), call compare_snapshots with a=<that snapshot's id> and b="live" for a structural diff.`,
      `3. Call get_target on the targets with the most important changes.`,
      `4. Summarize the changes by target, most significant first, and say which need a person's attention.`,
    ].join("\n");
  }
  const snap = findSnapshot(app.db, s);
  if (!snap) {
    const known = recentSnapshotIds(app.db, 10);
    throw new McpError(
      ErrorCode.InvalidParams,
      known.total === 0
        ? `No snapshot ${JSON.stringify(app.redact(s))}, and none are stored. Pass an ISO time (e.g. 2026-11-23T00:00:00Z) instead, or call create_snapshot first.`
        : `No snapshot ${JSON.stringify(app.redact(s))}. Recent snapshot ids: ${known.ids.join(", ")}; or pass an ISO time (e.g. 2026-11-23T00:00:00Z).`,
    );
  }
  return [
    `Find out what changed in the fleet since snapshot ${snap.id} "${app.redact(snap.name)}" (${snap.type}, taken ${snap.createdAt}, ${snap.targetCount} targets):`,
    `1. Call compare_snapshots with a="${snap.id}" and b="live" (page with next_cursor; types or change narrow it).`,
    `2. Call get_change_events with since="${snap.createdAt}" for the events in between, in order.`,
    `3. Call get_target on the targets with the most important changes.`,
    `4. Summarize the changes by target, most significant first, and say which need a person's attention.`,
    `If the live inventory may be old, call run_discovery first.`,
  ].join("\n");
}

function formatCheck(c: DoctorCheck): string {
  return `- [${c.status}] ${c.source} (${c.kind}) ${c.target} ${c.check}: ${c.message}${c.fix ? ` — fix: ${c.fix}` : ""}`;
}

export async function diagnoseAccessText(app: AppContext, target: string | undefined, signal: AbortSignal, timeoutMs = DIAGNOSE_TIMEOUT_MS): Promise<string> {
  const t = target?.trim() || undefined;
  const isSource = t !== undefined && app.config.sources.some((s) => s.id === t);
  // A target that is not a source id: check every source and keep the checks naming that machine.
  const known = t && !isSource ? findTargets(app.db, t) : [];
  const needles = t && !isSource ? [t, ...known.flatMap((k) => [k.name, k.address ?? ""])].filter(Boolean).map((n) => n.toLowerCase()) : [];
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  let checks: DoctorCheck[];
  try {
    checks = await runDoctor(app, isSource ? [t!] : undefined, deadline);
  } catch (err) {
    if (err instanceof UnknownSourceError) throw new McpError(ErrorCode.InvalidParams, err.message);
    throw err;
  }
  const matching = needles.length ? checks.filter((c) => needles.some((n) => c.target.toLowerCase().includes(n))) : checks;
  const shown = matching.length ? matching : checks;
  const scope = isSource
    ? `source ${t}`
    : t
      ? matching.length
        ? `${t}`
        : `every source (no check names ${t}; it may not be a configured host)`
      : "every configured source";
  const errors = shown.filter((c) => c.status === "error").length;
  const warnings = shown.filter((c) => c.status === "warning").length;
  return app.redact(
    [
      `fleet-mcp's doctor just checked ${scope} (${shown.length} check(s): ${errors} error(s), ${warnings} warning(s)${deadline.aborted && !signal.aborted ? `; stopped after ${timeoutMs / 1000} s, slower checks did not finish` : ""}):`,
      ...shown.map(formatCheck),
      ``,
      errors + warnings === 0
        ? `Every check passed. If discovery still fails, call get_discovery_status and get_target for the failing host, and explain what its last_error means.`
        : `Explain each error and warning in plain words: what is wrong, why discovery needs it, and the exact change that fixes it (config entry, environment variable, key to install, sudo rule). Then tell the person to apply the fixes, call the doctor tool to confirm, and call run_discovery.`,
    ].join("\n"),
  );
}

export function registerPrompts(server: McpServer, app: AppContext): void {
  server.registerPrompt(
    "fleet_health_review",
    {
      title: "Fleet health review",
      description: "Scores the fleet, finds the worst targets and summarizes what to fix.",
      argsSchema: { role: z.enum(ROLES).optional().describe("Only targets with this role.") },
    },
    ({ role }) => user(healthReviewText(role)),
  );
  server.registerPrompt(
    "what_changed",
    {
      title: "What changed",
      description: "What changed since a snapshot (id or name) or a time (ISO-8601), by target.",
      argsSchema: { since: z.string().min(1).max(253).describe("A snapshot id or name, or an ISO-8601 time such as 2026-11-23T00:00:00Z.") },
    },
    ({ since }) => user(whatChangedText(app, since)),
  );
  server.registerPrompt(
    "diagnose_access",
    {
      title: "Diagnose access",
      description: "Runs the doctor on the configured sources now and asks for an explanation and fixes of what fails.",
      argsSchema: { target: z.string().max(253).optional().describe("A source id, or a host's name or address; every source when omitted.") },
    },
    async ({ target }, extra) => user(await diagnoseAccessText(app, target, extra.signal)),
  );
}
