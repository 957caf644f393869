// Files the inventory writes outside the database (snapshot archives,
// Prometheus file_sd, config updates) are replaced atomically: a reader or a
// crash sees the old file or the new one, never half of one.
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` so that readers see the old file or the new one, never
 * half of one: a temp file in the same directory, fsynced, then renamed over it.
 * Keeps the mode of an existing file.
 */
export function writeFileAtomic(path: string, data: string | Buffer, defaultMode = 0o644): void {
  let mode = defaultMode;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // a new file: the default mode
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", mode);
  try {
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // openSync's mode is filtered by the umask; the file must keep its own.
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
