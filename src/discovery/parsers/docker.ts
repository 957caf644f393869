// Parses `docker ps --all --no-trunc --format '{{json .}}'` (or `--format json`,
// docker CLI >= 23; both print one JSON object per line), `docker inspect` with
// our own template (DOCKER_INSPECT_FORMAT) and `docker compose ls --all --format
// json`, and classifies docker's stderr.
// Captures: test/fixtures/docker-ps-all-{no-trunc,trunc}.jsonl and
// docker-inspect-fleet-template.txt (real CLI 28.2.2 against a stub daemon),
// docker-inspect-no-such-container.txt, docker-compose-ls.json (Compose v5.3.1),
// docker-ps-no-daemon.txt, docker-ps-permission-denied.txt; FORMATS.md §4.7.

import type { ContainerObs, StackObs } from "../types.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

// The CLI joins sorted "k=v" pairs with "," without escaping, and values may contain
// commas (OCI descriptions like "A privacy-respecting, hackable metasearch engine.").
// Only a comma followed by something shaped like a label key and "=" starts a new pair;
// a value that itself contains ",word=" is still split wrongly, which the format cannot prevent.
const LABEL_SEPARATOR = /,(?=[A-Za-z0-9][A-Za-z0-9._/-]*=)/;

export function parseDockerLabels(joined: string): Record<string, string> {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (joined === "") return labels;
  for (const pair of joined.split(LABEL_SEPARATOR)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

function labelsFrom(v: unknown): Record<string, string> {
  if (typeof v === "string") return parseDockerLabels(v);
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  // Some wrappers hand over the Engine's object form instead of the CLI's string.
  if (isRecord(v)) for (const [k, val] of Object.entries(v)) if (typeof val === "string") labels[k] = val;
  return labels;
}

/** CLIs before 20.10 had no State key; the Status text starts with the state in words. */
function stateFromStatus(status: string | null): string {
  if (status === null) return "unknown";
  if (/^Up\b/.test(status)) return /\(Paused\)/i.test(status) ? "paused" : "running";
  if (/^Exited\b/.test(status)) return "exited";
  if (/^Created\b/.test(status)) return "created";
  if (/^Restarting\b/.test(status)) return "restarting";
  if (/^Removal In Progress/i.test(status)) return "removing";
  if (/^Dead\b/.test(status)) return "dead";
  return "unknown";
}

// Status is the Engine's State.String(): only a running container shows its health
// ("Up 2 hours (healthy)", "(health: starting)"), and only exited and restarting
// ones show an exit code ("Exited (137) 2 days ago", "Restarting (1) 5 seconds ago").
function healthFromStatus(status: string | null): string | null {
  const m = status === null ? null : /^Up\b.*\((healthy|unhealthy|health: starting)\)\s*$/.exec(status);
  if (!m) return null;
  return m[1] === "health: starting" ? "starting" : m[1]!;
}

function exitCodeFromStatus(status: string | null): number | null {
  const m = status === null ? null : /^(?:Exited|Restarting) \((-?\d+)\)/.exec(status);
  return m ? Number(m[1]) : null;
}

function toContainer(row: Record<string, unknown>): ContainerObs | null {
  const id = str(row["ID"]);
  if (id === null) return null;
  const firstName = (str(row["Names"]) ?? "").split(",")[0]?.trim().replace(/^\//, "") ?? "";
  const status = str(row["Status"]);
  const labels = labelsFrom(row["Labels"]);
  return {
    id,
    name: firstName !== "" ? firstName : id.slice(0, 12),
    image: str(row["Image"]) ?? "",
    state: str(row["State"]) ?? stateFromStatus(status),
    status,
    ports: str(row["Ports"]),
    labels,
    composeProject: labels["com.docker.compose.project"] ?? null,
    composeService: labels["com.docker.compose.service"] ?? null,
    createdAt: str(row["CreatedAt"]),
    health: healthFromStatus(status),
    exitCode: exitCodeFromStatus(status),
  };
}

export function parseDockerPs(text: string): ContainerObs[] {
  const out: ContainerObs[] = [];
  let parsed = 0;
  let bad = 0;
  let literalJson = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    if (line === "json") {
      literalJson++;
      continue;
    }
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      bad++;
      continue;
    }
    parsed++;
    if (!isRecord(row)) continue;
    const c = toContainer(row);
    if (c !== null) out.push(c);
  }
  if (parsed === 0 && literalJson > 0) {
    throw new Error("docker ps: got the literal word 'json' instead of JSON; docker CLI < 23 needs --format '{{json .}}'");
  }
  if (parsed === 0 && bad > 0) throw new Error("docker ps: expected one JSON object per line");
  return out;
}

/**
 * The `docker inspect --format` template of the probe: one JSON object per line
 * with only the fields the inventory keeps. Never `{{json .}}` nor anything under
 * .Config: Config.Env holds secrets. Every string goes through {{json}}, so no tab,
 * newline or quote in a value can break the line. `.ID`, not `.Id`: the CLI runs
 * the template on its typed InspectResponse (Go field ID) and, if that fails,
 * silently retries on the raw JSON map, where `.State.Health` of a container
 * without a health check is an error (seen with CLI 28.2.2; see the fixture's .src).
 * It contains no single quote, so the probe can quote it with '...'.
 */
export const DOCKER_INSPECT_FORMAT =
  '{"id":{{json .ID}},"name":{{json .Name}},"image":{{json .Image}},"restarts":{{json .RestartCount}},"exit":{{json .State.ExitCode}},' +
  '"health":{{if .State.Health}}{{json .State.Health.Status}}{{else}}null{{end}},"privileged":{{json .HostConfig.Privileged}},' +
  '"network":{{json .HostConfig.NetworkMode}}}';

export interface DockerInspectObs {
  id: string;
  /** Without the leading "/". */
  name: string | null;
  /** "sha256:…", the image the container was created from. */
  imageId: string | null;
  restartCount: number | null;
  exitCode: number | null;
  /** starting | healthy | unhealthy; null without a health check. */
  health: string | null;
  privileged: boolean | null;
  networkMode: string | null;
}

function int(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

/**
 * Lines of DOCKER_INSPECT_FORMAT. Lines that do not parse are skipped: inspect
 * prints the containers it found even when another one was removed meanwhile.
 */
export function parseDockerInspect(text: string): DockerInspectObs[] {
  const out: DockerInspectObs[] = [];
  let bad = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      bad++;
      continue;
    }
    if (!isRecord(row)) {
      bad++;
      continue;
    }
    const id = str(row["id"]);
    if (id === null) continue;
    const health = str(row["health"]);
    out.push({
      id,
      name: str(row["name"])?.replace(/^\//, "") || null,
      imageId: str(row["image"]),
      restartCount: int(row["restarts"]),
      exitCode: int(row["exit"]),
      // "none" is the Engine's word for a health check disabled in the image.
      health: health === "none" ? null : health,
      privileged: typeof row["privileged"] === "boolean" ? row["privileged"] : null,
      networkMode: str(row["network"]),
    });
  }
  if (out.length === 0 && bad > 0) throw new Error("docker inspect: expected one JSON object per line");
  return out;
}

/**
 * Adds what `docker inspect` saw to the containers `docker ps` listed (ps decides
 * which containers exist), matched by id, by id prefix (a truncated ps) or by
 * name. Containers inspect did not cover keep the health and exit code derived
 * from their ps Status and get null for the rest. Health is kept only for a
 * running container and the exit code only for an exited, restarting or dead one,
 * as ps shows them, so a run where inspect failed records the same values as one
 * where it worked (a running container's State.ExitCode is a meaningless 0).
 */
export function mergeDockerInspect(containers: ContainerObs[], rows: DockerInspectObs[]): { containers: ContainerObs[]; inspected: number } {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const byName = new Map(rows.filter((r) => r.name !== null).map((r) => [r.name!, r]));
  let inspected = 0;
  const merged = containers.map((c): ContainerObs => {
    const r = byId.get(c.id) ?? (c.id.length < 64 ? rows.find((x) => x.id.startsWith(c.id)) : undefined) ?? byName.get(c.name);
    if (r) inspected++;
    const running = c.state === "running";
    const finished = c.state === "exited" || c.state === "restarting" || c.state === "dead";
    return {
      ...c,
      imageId: r?.imageId ?? null,
      restartCount: r?.restartCount ?? null,
      health: running ? (r?.health ?? c.health ?? null) : null,
      exitCode: finished ? (r?.exitCode ?? c.exitCode ?? null) : null,
      privileged: r?.privileged ?? null,
      networkMode: r?.networkMode ?? null,
    };
  });
  return { containers: merged, inspected };
}

export type DockerErrorKind = "daemon_unreachable" | "permission_denied" | "not_installed" | "error";

export function classifyDockerError(stderr: string): DockerErrorKind {
  const s = stderr.toLowerCase();
  // Checked before "daemon": the permission message also mentions the daemon socket.
  if (s.includes("permission denied") && s.includes("docker")) return "permission_denied";
  if (s.includes("cannot connect to the docker daemon") || s.includes("is the docker daemon running") || s.includes("error during connect")) {
    return "daemon_unreachable";
  }
  // bash: "docker: command not found"; dash: "sh: 1: docker: not found"; BusyBox: "sh: docker: not found".
  if (/command not found|\bdocker: not found|executable file not found|applet not found/.test(s)) {
    return "not_installed";
  }
  return "error";
}

export function parseComposeLs(text: string): StackObs[] {
  if (text.trim() === "") return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("docker compose ls: expected a JSON array");
  }
  if (!Array.isArray(doc)) throw new Error("docker compose ls: expected a JSON array");
  const out: StackObs[] = [];
  for (const row of doc) {
    if (!isRecord(row)) continue;
    const name = str(row["Name"]);
    if (name === null) continue;
    const files = str(row["ConfigFiles"]);
    out.push({
      name,
      status: str(row["Status"]) ?? "",
      // "N/A" when any container of the project lacks the config_files label.
      configFiles:
        files === null || files === "N/A"
          ? []
          : files
              .split(",")
              .map((f) => f.trim())
              .filter((f) => f !== ""),
    });
  }
  return out;
}
