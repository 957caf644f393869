import { hostname } from "node:os";

/**
 * Runs this process has started and not yet finished, by correlation id (run ids
 * repeat across databases). A "running" row that carries this process's pid but
 * is not among them was left by a dead process that had the same pid: after a
 * restart in a fresh pid namespace (a container's pid 1) the pid comes back.
 */
const ownRuns = new Map<string, number>();

/** Registers a run this process starts; the returned function unregisters it when the run ends. */
export function holdRun(correlationId: string): () => void {
  ownRuns.set(correlationId, (ownRuns.get(correlationId) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (ownRuns.get(correlationId) ?? 1) - 1;
    if (n > 0) ownRuns.set(correlationId, n);
    else ownRuns.delete(correlationId);
  };
}

/**
 * Whether a discovery run marked "running" is really still going: its owner is
 * this process (and this process started it), or a live process on this host,
 * and it is not older than the longest a run may take (a reused pid after a
 * reboot must not hold the lock for ever). A run owned by another host is judged
 * by its age alone.
 */
export function isRunAlive(run: { ownerPid: number; ownerHost: string; startedAt: string; correlationId?: string }, maxAgeMs: number, now: Date): boolean {
  if (now.getTime() - Date.parse(run.startedAt) > maxAgeMs) return false;
  if (run.ownerHost !== hostname()) return true;
  if (run.ownerPid === process.pid) return run.correlationId === undefined || ownRuns.has(run.correlationId);
  try {
    process.kill(run.ownerPid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Grace beyond the discovery deadline before a "running" row is presumed dead. */
export const RUN_GRACE_MS = 60_000;
