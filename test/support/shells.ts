// The shells the probe promises to run under, and whether this machine has them.
import { execFileSync } from "node:child_process";

export function which(cmd: string): string | null {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

/** [label, command that runs a script from stdin]. */
export const PROBE_SHELLS: ReadonlyArray<[string, string]> = [
  ["dash", "dash -s"],
  ["bash", "bash -s"],
  ["busybox ash", "busybox sh -s"],
];
