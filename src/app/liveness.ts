import { hostname } from "node:os";

/**
 * Whether a discovery run marked "running" is really still going: its owner is
 * this process, or a live process on this host, and it is not older than the
 * longest a run may take (a reused pid after a reboot must not hold the lock for
 * ever). A run owned by another host is judged by its age alone.
 */
export function isRunAlive(run: { ownerPid: number; ownerHost: string; startedAt: string }, maxAgeMs: number, now: Date): boolean {
  if (now.getTime() - Date.parse(run.startedAt) > maxAgeMs) return false;
  if (run.ownerHost !== hostname()) return true;
  if (run.ownerPid === process.pid) return true;
  try {
    process.kill(run.ownerPid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Grace beyond the discovery deadline before a "running" row is presumed dead. */
export const RUN_GRACE_MS = 60_000;
