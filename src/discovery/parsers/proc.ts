// Parses /proc/uptime, /proc/loadavg and /proc/meminfo. Formats: proc(5);
// captures in test/fixtures/proc-{uptime,loadavg,meminfo}.txt (FORMATS.md §4.2).
// meminfo's "kB" is KiB (the kernel prints pages << (PAGE_SHIFT - 10)), and
// MemAvailable only exists since Linux 3.14, hence the fallback below.

export interface Loadavg {
  load1: number;
  load5: number;
  load15: number;
  running: number | null;
  total: number | null;
}

export interface Meminfo {
  memTotalBytes: number | null;
  memAvailableBytes: number | null;
  memFreeBytes: number | null;
  swapTotalBytes: number | null;
  swapFreeBytes: number | null;
}

const DECIMAL = /^\d+(?:\.\d+)?$/;

function firstLineTokens(text: string): string[] {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  return line
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "");
}

function toNumber(token: string | undefined): number | null {
  if (token === undefined || !DECIMAL.test(token)) return null;
  return Number(token);
}

/** Seconds since boot (first field); the second field, summed idle time of all CPUs, is ignored. */
export function parseProcUptime(text: string): number | null {
  return toNumber(firstLineTokens(text)[0]);
}

export function parseLoadavg(text: string): Loadavg | null {
  const t = firstLineTokens(text);
  const load1 = toNumber(t[0]);
  const load5 = toNumber(t[1]);
  const load15 = toNumber(t[2]);
  if (load1 === null || load5 === null || load15 === null) return null;
  const tasks = /^(\d+)\/(\d+)$/.exec(t[3] ?? "");
  return {
    load1,
    load5,
    load15,
    running: tasks ? Number(tasks[1]) : null,
    total: tasks ? Number(tasks[2]) : null,
  };
}

export function parseMeminfo(text: string): Meminfo {
  const bytes = new Map<string, number>();
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*([^:\s]+):\s+(\d+)(?:\s+(\S+))?\s*$/.exec(raw);
    if (!m) continue;
    const value = Number(m[2]);
    const unit = m[3];
    // Everything with a unit is "kB"; unitless lines (HugePages_*) are counts, not bytes.
    if (unit === undefined) continue;
    if (unit.toLowerCase() !== "kb") continue;
    if (!bytes.has(m[1] as string)) bytes.set(m[1] as string, value * 1024);
  }
  const get = (k: string): number | null => bytes.get(k) ?? null;
  let available = get("MemAvailable");
  const free = get("MemFree");
  if (available === null && free !== null) {
    // Pre-3.14 approximation used by free(1) of that era: free + buffers + page cache.
    available = free + (get("Buffers") ?? 0) + (get("Cached") ?? 0);
  }
  return {
    memTotalBytes: get("MemTotal"),
    memAvailableBytes: available,
    memFreeBytes: free,
    swapTotalBytes: get("SwapTotal"),
    swapFreeBytes: get("SwapFree"),
  };
}
