// Parses `systemctl list-units --type=service --all` in its JSON form
// (`--output=json`, systemd >= 246) and its text forms (`--no-legend --plain
// --full`, the pre-246 glyph-column variant, and the default human table).
// Sources: systemd src/systemctl/systemctl-list-units.c (252); captures in
// test/fixtures/systemctl-list-units-default.txt, -not-booted.txt and the
// list-unit-files JSON/plain pair that shows how systemctl serialises tables
// (keys = lower-cased headers, empty cells null in JSON, "-" in text).
// See FORMATS.md §4.6.

import type { ServiceObs } from "../types.js";

export interface UnitFileObs {
  unit: string;
  state: string | null;
  preset: string | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

function parseJsonArray(text: string, what: string): unknown[] {
  if (text.trim() === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${what}: expected a JSON array`);
  }
  if (!Array.isArray(doc)) throw new Error(`${what}: expected a JSON array`);
  return doc;
}

export function parseSystemctlJson(text: string): ServiceObs[] {
  const out: ServiceObs[] = [];
  for (const row of parseJsonArray(text, "systemctl list-units --output=json")) {
    if (!isRecord(row)) continue;
    const name = str(row["unit"]);
    if (name === null) continue;
    out.push({
      name,
      description: str(row["description"]),
      load: str(row["load"]),
      active: str(row["active"]),
      sub: str(row["sub"]),
    });
  }
  return out;
}

// Known values let us tell data rows from the header, legend and footer without
// relying on column offsets, which differ between the plain and the human form.
const LOAD_STATES = new Set(["loaded", "not-found", "bad-setting", "error", "masked", "merged", "stub"]);
const ACTIVE_STATES = new Set(["active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "refreshing"]);
// The JOB column is blank for units without a pending job, so it can only be
// recognised by its values (systemd src/core/job.c job_type_table).
const JOB_TYPES = new Set(["start", "verify-active", "stop", "reload", "reload-or-start", "restart", "try-restart", "try-reload", "nop"]);

export function parseSystemctlText(text: string): ServiceObs[] {
  const out: ServiceObs[] = [];
  for (const raw of text.split(/\r?\n/)) {
    // Without --plain each row starts with a glyph field: "● " for failed/not-found
    // units ("* " on non-UTF-8 locales), two spaces otherwise.
    const line = raw.trim().replace(/^[●*]\s+/, "");
    const tokens = line.split(/\s+/);
    const [unit, load, active, sub] = tokens;
    if (unit === undefined || load === undefined || active === undefined || sub === undefined) continue;
    if (!unit.includes(".") || !LOAD_STATES.has(load) || !ACTIVE_STATES.has(active)) continue;
    let descStart = 4;
    const maybeJob = tokens[4];
    if (maybeJob !== undefined && JOB_TYPES.has(maybeJob) && tokens.length > 5) descStart = 5;
    const description = tokens.slice(descStart).join(" ");
    out.push({ name: unit, description: description === "" ? null : description, load, active, sub });
  }
  return out;
}

export function isSystemdNotBooted(text: string): boolean {
  return /System has not been booted with systemd|Failed to connect to bus/i.test(text);
}

/** `systemctl list-unit-files --type=service --output=json`: what is installed, not what runs. */
export function parseSystemctlUnitFilesJson(text: string): UnitFileObs[] {
  const out: UnitFileObs[] = [];
  for (const row of parseJsonArray(text, "systemctl list-unit-files --output=json")) {
    if (!isRecord(row)) continue;
    const unit = str(row["unit_file"]);
    if (unit === null) continue;
    out.push({ unit, state: str(row["state"]), preset: str(row["preset"]) });
  }
  return out;
}

/** `systemctl list-unit-files --type=service --no-legend --plain`; "-" marks an empty cell. */
export function parseSystemctlUnitFilesText(text: string): UnitFileObs[] {
  const out: UnitFileObs[] = [];
  const cell = (v: string | undefined): string | null => (v === undefined || v === "-" ? null : v);
  for (const raw of text.split(/\r?\n/)) {
    const tokens = raw.trim().split(/\s+/);
    const unit = tokens[0];
    // Skips the "UNIT FILE STATE PRESET" header and the "N unit files listed." footer.
    if (unit === undefined || !/^[^\s]+\.[a-z]+$/.test(unit) || tokens.length < 2 || tokens.length > 3) continue;
    out.push({ unit, state: cell(tokens[1]), preset: cell(tokens[2]) });
  }
  return out;
}

/**
 * Sets each service's `enabled` to its unit file state from list-unit-files. An
 * instance (foo@bar.service) without a row of its own takes its template's
 * (foo@.service), as `systemctl is-enabled` does. Units without a unit file
 * (transient, not-found) and every unit when the list is unknown (`files` null)
 * get null.
 */
export function applyUnitFileStates(services: ServiceObs[], files: UnitFileObs[] | null): ServiceObs[] {
  const state = new Map((files ?? []).map((f) => [f.unit, f.state]));
  return services.map((s) => {
    let enabled = state.get(s.name);
    const at = s.name.indexOf("@");
    const dot = s.name.lastIndexOf(".");
    if (enabled === undefined && at > 0 && dot > at + 1) enabled = state.get(`${s.name.slice(0, at + 1)}${s.name.slice(dot)}`);
    return { ...s, enabled: enabled ?? null };
  });
}
