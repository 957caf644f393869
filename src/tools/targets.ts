// How tools turn a target reference (id, name or address) into targets, and
// the one error an unknown reference gets: close or recent names to try next.
import type { Db } from "../db/open.js";
import { findTargets, suggestTargets, type TargetRow } from "../inventory/queries.js";
import { ToolError } from "./tool.js";

/** Every target the reference names (a name several targets share names them all), or a ToolError with suggestions. */
export function findTargetsOrThrow(db: Db, ref: string): TargetRow[] {
  const matches = findTargets(db, ref);
  if (matches.length > 0) return matches;
  const near = suggestTargets(db, ref);
  throw new ToolError(
    near.length
      ? `No target "${ref}". Close or recent ones: ${near.map((t) => `${t.name} (${t.id})`).join(", ")}. Pass one of those ids.`
      : `No target "${ref}" and the inventory is empty. Call run_discovery first.`,
  );
}

/** Exactly one target by id, name or address, or a ToolError that lists the candidates. */
export function resolveOneTarget(db: Db, ref: string): TargetRow {
  const matches = findTargetsOrThrow(db, ref);
  if (matches.length === 1) return matches[0]!;
  throw new ToolError(
    `"${ref}" matches ${matches.length} targets: ${matches
      .slice(0, 10)
      .map((t) => `${t.name} (${t.id}, ${t.kind})`)
      .join(", ")}. Pass the id.`,
  );
}
