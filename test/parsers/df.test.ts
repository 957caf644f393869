import { describe, it, expect } from "vitest";
import { isPseudoFilesystem, parseDf } from "../../src/discovery/parsers/df.js";
import { fixture } from "./fixture.js";

const KiB = 1024;

describe("parseDf", () => {
  it("GNU df -PkT capture", () => {
    expect(parseDf(fixture("df-PkT.txt"))).toEqual([
      { source: "devtmpfs", fstype: "devtmpfs", sizeBytes: 12334432 * KiB, usedBytes: 0, availBytes: 12334432 * KiB, mount: "/dev" },
      { source: "tmpfs", fstype: "tmpfs", sizeBytes: 24683656 * KiB, usedBytes: 0, availBytes: 24683656 * KiB, mount: "/dev/shm" },
      {
        source: "/dev/vda",
        fstype: "ext4",
        sizeBytes: 270553174016,
        usedBytes: 23330103296,
        availBytes: 85614190592,
        mount: "/",
      },
      { source: "tmpfs", fstype: "tmpfs", sizeBytes: 12341828 * KiB, usedBytes: 0, availBytes: 12341828 * KiB, mount: "/sys/fs/cgroup" },
    ]);
  });

  it("BusyBox df -PkT capture (other padding, duplicate /dev/shm kept as printed)", () => {
    const rows = parseDf(fixture("busybox-df-PkT.txt"));
    expect(rows.map((r) => r.mount)).toEqual(["/dev", "/dev/shm", "/", "/dev/shm", "/sys/fs/cgroup"]);
    expect(rows[2]).toEqual({
      source: "/dev/vda",
      fstype: "ext4",
      sizeBytes: 270553174016,
      usedBytes: 23642144768,
      availBytes: 85302149120,
      mount: "/",
    });
  });

  it("keeps spaces in mount points, tolerates CRLF/trailing spaces, skips odd lines", () => {
    const text = [
      "Filesystem     Type 1024-blocks  Used Available Capacity Mounted on",
      "/dev/sdb1      ext4        1000   200       800      20% /mnt/My Disk  ",
      "rpool/ROOT/pve-1 zfs      2000   100      1900       5% /",
      "df: /mnt/stale: Stale file handle",
      "//nas/share    cifs           -     -         -        - /mnt/nas",
      "",
    ].join("\r\n");
    expect(parseDf(text)).toEqual([
      { source: "/dev/sdb1", fstype: "ext4", sizeBytes: 1024000, usedBytes: 204800, availBytes: 819200, mount: "/mnt/My Disk" },
      { source: "rpool/ROOT/pve-1", fstype: "zfs", sizeBytes: 2048000, usedBytes: 102400, availBytes: 1945600, mount: "/" },
    ]);
    expect(parseDf("")).toEqual([]);
  });
});

describe("isPseudoFilesystem", () => {
  it.each([
    ["tmpfs", true],
    ["devtmpfs", true],
    ["overlay", true],
    ["squashfs", true],
    ["proc", true],
    ["sysfs", true],
    ["cgroup", true],
    ["cgroup2", true],
    ["devpts", true],
    ["fuse.lxcfs", true],
    ["ext4", false],
    ["xfs", false],
    ["zfs", false],
    ["btrfs", false],
    ["nfs4", false],
    ["vfat", false],
  ])("%s -> %s", (fstype, expected) => {
    expect(isPseudoFilesystem(fstype)).toBe(expected);
  });
});
