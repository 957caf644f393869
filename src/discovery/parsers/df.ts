// Parses `df -PkT` (GNU coreutils and BusyBox). The POSIX (-P) format keeps
// each filesystem on one line: Filesystem Type 1024-blocks Used Available
// Capacity "Mounted on". Captures: test/fixtures/df-PkT.txt (GNU) and
// busybox-df-PkT.txt (BusyBox 1.35, other padding); FORMATS.md §4.3. Mount
// points may contain spaces, so only the first six columns are split.

import type { FilesystemObs } from "../types.js";

const ROW = /^(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.+)$/;

export function parseDf(text: string): FilesystemObs[] {
  const out: FilesystemObs[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // The header is recognised by shape rather than position: its numeric columns are words.
    const m = ROW.exec(line);
    if (!m) continue;
    out.push({
      source: m[1] as string,
      fstype: m[2] as string,
      sizeBytes: Number(m[3]) * 1024,
      usedBytes: Number(m[4]) * 1024,
      availBytes: Number(m[5]) * 1024,
      mount: m[7] as string,
    });
  }
  return out;
}

/** Kernel-virtual and in-memory filesystems that say nothing about a machine's storage. */
const PSEUDO = new Set([
  "autofs",
  "binfmt_misc",
  "bpf",
  "configfs",
  "debugfs",
  "devfs",
  "devpts",
  "devtmpfs",
  "efivarfs",
  "fuse.gvfsd-fuse",
  "fuse.lxcfs",
  "fuse.portal",
  "fuse.snapfuse",
  "fusectl",
  "hugetlbfs",
  "mqueue",
  "nsfs",
  "overlay",
  "overlayfs",
  "proc",
  "pstore",
  "ramfs",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "shm",
  "squashfs",
  "sysfs",
  "tmpfs",
  "tracefs",
]);

export function isPseudoFilesystem(fstype: string): boolean {
  const t = fstype.trim().toLowerCase();
  return PSEUDO.has(t) || t.startsWith("cgroup");
}
