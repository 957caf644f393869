import { hostname } from "node:os";

/**
 * Whether the process that owns a discovery run is still there: this process,
 * or a live process on this host. A run owned by another host is assumed alive
 * (we cannot look), so only its own host marks it interrupted.
 */
export function isOwnerAlive(pid: number, host: string): boolean {
  if (host !== hostname()) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
