// Which tools a server lists. A tool outside the selection is not merely
// refused: it is absent, so tools/list never shows it and calling it is the
// same as calling a name that does not exist (audited as unknown_tool).
import { ConfigError, type FleetConfig } from "../config.js";
import type { AnyTool } from "./registry.js";

/**
 * Tools that write but only add or recompute data (a discovery run, a snapshot,
 * health scores): safe enough for the read-only preset. Everything else that is
 * not readOnlyHint (roles, host keys, config, file exports) needs `full` or `allow`.
 */
// export_prometheus_targets is listed in readonly for its inline answer; writing
// its file (a file export) needs the full preset, and the tool says so.
export const READONLY_EXTRAS: readonly string[] = ["run_discovery", "create_snapshot", "run_health_check", "export_prometheus_targets"];

export function inPreset(tool: AnyTool, preset: FleetConfig["tools"]["preset"]): boolean {
  return preset === "full" || tool.annotations.readOnlyHint || READONLY_EXTRAS.includes(tool.name);
}

/** The preset's tools, plus `allow`, minus `deny`, in the order of `all`. Unknown names in allow/deny are a ConfigError. */
export function selectTools(all: readonly AnyTool[], selection: FleetConfig["tools"]): AnyTool[] {
  const names = new Set(all.map((t) => t.name));
  const unknown = [...selection.allow, ...selection.deny].filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw new ConfigError(
      `tools.allow/tools.deny name unknown tool(s): ${[...new Set(unknown)].join(", ")}. Valid tool names: ${[...names].sort().join(", ")}.`,
    );
  }
  const allow = new Set(selection.allow);
  const deny = new Set(selection.deny);
  return all.filter((t) => !deny.has(t.name) && (allow.has(t.name) || inPreset(t, selection.preset)));
}
