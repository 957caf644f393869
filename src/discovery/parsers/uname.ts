// Parses the output of `uname -s -r -m` (one line: kernel name, release,
// machine), e.g. "Linux 6.1.0-13-amd64 x86_64". `uname -a` is deliberately not
// supported: its version field contains spaces and varies per build (PVE prints
// "#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-15 (2025-09-12T11:02Z)"), see FORMATS.md §4.2.

export interface Uname {
  sysname: string | null;
  release: string | null;
  machine: string | null;
}

export function parseUname(text: string): Uname {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const tokens = line
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "");
  return {
    sysname: tokens[0] ?? null,
    release: tokens[1] ?? null,
    machine: tokens[2] ?? null,
  };
}
