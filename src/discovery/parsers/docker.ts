// Parses `docker ps --all --no-trunc --format '{{json .}}'` (or `--format json`,
// docker CLI >= 23; both print one JSON object per line) and
// `docker compose ls --all --format json`, and classifies docker's stderr.
// Captures: test/fixtures/docker-ps-all-{no-trunc,trunc}.jsonl (real CLI 28.2.2
// against a stub daemon), docker-compose-ls.json (Compose v5.3.1),
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
