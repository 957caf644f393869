// Parses `lscpu -J` (util-linux) and, as a fallback for hosts without lscpu
// (BusyBox, minimal containers), /proc/cpuinfo. lscpu's JSON is an array of
// {field, data} pairs whose field names keep the trailing ":"; with a TTY it
// nests them under "children", without one it is flat. Both shapes are captured
// in test/fixtures/lscpu-J.json and lscpu-J.tty.json (util-linux 2.38.1).

export interface LscpuInfo {
  model: string | null;
  cpus: number | null;
  sockets: number | null;
  coresPerSocket: number | null;
  threadsPerCore: number | null;
  architecture: string | null;
}

export interface CpuinfoSummary {
  model: string | null;
  count: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function collectFields(entries: unknown, into: Map<string, string>, depth: number): void {
  if (!Array.isArray(entries) || depth > 16) return;
  for (const entry of entries) {
    if (!isRecord(entry)) continue;
    const field = entry["field"];
    const data = entry["data"];
    if (typeof field === "string") {
      const key = field.trim().replace(/:$/, "").trim();
      // First occurrence wins: a top-level field must not be shadowed by a nested one.
      if (typeof data === "string" && !into.has(key)) into.set(key, data.trim());
    }
    collectFields(entry["children"], into, depth + 1);
  }
}

function toInt(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v)) return null;
  return Number(v);
}

export function parseLscpuJson(text: string): LscpuInfo {
  const fields = new Map<string, string>();
  if (text.trim() !== "") {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error('lscpu -J: expected a JSON object with an "lscpu" array');
    }
    if (!isRecord(doc) || !Array.isArray(doc["lscpu"])) {
      throw new Error('lscpu -J: expected a JSON object with an "lscpu" array');
    }
    collectFields(doc["lscpu"], fields, 0);
  }
  const str = (k: string): string | null => {
    const v = fields.get(k);
    return v === undefined || v === "" || v === "-" ? null : v;
  };
  return {
    model: str("Model name"),
    cpus: toInt(fields.get("CPU(s)")),
    sockets: toInt(fields.get("Socket(s)")),
    // Some ARM lscpu builds report clusters instead of sockets.
    coresPerSocket: toInt(fields.get("Core(s) per socket")) ?? toInt(fields.get("Core(s) per cluster")),
    threadsPerCore: toInt(fields.get("Thread(s) per core")),
    architecture: str("Architecture"),
  };
}

/**
 * x86 names the CPU in "model name"; ARM kernels vary: 32-bit ones print
 * "Processor" (capital P) or "Hardware", Raspberry Pi kernels print "Model", and
 * arm64 often has only the numeric "CPU part".
 */
const MODEL_KEYS = ["model name", "Processor", "Hardware", "Model", "cpu model", "CPU part"];

export function parseCpuinfo(text: string): CpuinfoSummary {
  const firstValue = new Map<string, string>();
  let count = 0;
  for (const raw of text.split(/\r?\n/)) {
    const idx = raw.indexOf(":");
    if (idx <= 0) continue;
    const key = raw.slice(0, idx).trim();
    const value = raw.slice(idx + 1).trim();
    if (key === "processor") count++;
    if (value !== "" && !firstValue.has(key)) firstValue.set(key, value);
  }
  let model: string | null = null;
  for (const k of MODEL_KEYS) {
    const v = firstValue.get(k);
    if (v !== undefined) {
      model = v;
      break;
    }
  }
  return { model, count };
}
