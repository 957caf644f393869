import { describe, it, expect } from "vitest";
import {
  applyUnitFileStates,
  isSystemdNotBooted,
  parseSystemctlJson,
  parseSystemctlText,
  parseSystemctlUnitFilesJson,
  parseSystemctlUnitFilesText,
} from "../../src/discovery/parsers/systemd.js";
import type { ServiceObs } from "../../src/discovery/types.js";
import { fixture } from "./fixture.js";

const svc = (name: string, load: string, active: string, sub: string, description: string | null): ServiceObs => ({
  name,
  description,
  load,
  active,
  sub,
});

describe("parseSystemctlJson", () => {
  it("reads units, keeps .service, maps null/empty cells to null, ignores job", () => {
    // Shape per systemd 252 source: one compact line; "job" only when a unit has one.
    const text =
      JSON.stringify([
        { unit: "ssh.service", load: "loaded", active: "active", sub: "running", description: "OpenBSD Secure Shell server", job: null },
        { unit: "foo.service", load: "not-found", active: "inactive", sub: "dead", description: "foo.service", job: null },
        { unit: "nginx.service", load: "loaded", active: "activating", sub: "start", description: "", job: "start" },
        { load: "loaded" },
        "junk",
      ]) + "\n";
    expect(parseSystemctlJson(text)).toEqual([
      svc("ssh.service", "loaded", "active", "running", "OpenBSD Secure Shell server"),
      svc("foo.service", "not-found", "inactive", "dead", "foo.service"),
      svc("nginx.service", "loaded", "activating", "start", null),
    ]);
  });

  it("throws when the output is not JSON (e.g. systemd < 246 or not booted)", () => {
    expect(() => parseSystemctlJson(fixture("systemctl-list-units-not-booted.txt"))).toThrow(/JSON/);
    expect(() => parseSystemctlJson('{"unit":"x"}')).toThrow(/array/);
    expect(parseSystemctlJson("")).toEqual([]);
  });
});

describe("parseSystemctlText", () => {
  it("default human output capture: skips header, legend and footer", () => {
    const units = parseSystemctlText(fixture("systemctl-list-units-default.txt"));
    expect(units).toHaveLength(14); // "14 loaded units listed."
    expect(units[0]).toEqual(svc("containerd.service", "loaded", "active", "running", "containerd container runtime"));
    expect(units[4]).toEqual(svc("kubelet.service", "loaded", "active", "running", "kubelet: The Kubernetes Node Agent"));
    expect(units[5]).toEqual(svc("minikube-automount.service", "loaded", "active", "exited", "minikube automount"));
    expect(units[13]).toEqual(svc("systemd-update-utmp.service", "loaded", "active", "exited", "Update UTMP about System Boot/Shutdown"));
    expect(units.filter((u) => u.sub === "exited").map((u) => u.name)).toEqual([
      "minikube-automount.service",
      "systemd-journal-flush.service",
      "systemd-remount-fs.service",
      "systemd-sysctl.service",
      "systemd-sysusers.service",
      "systemd-tmpfiles-setup-dev.service",
      "systemd-update-utmp.service",
    ]);
  });

  it("--no-legend --plain --full", () => {
    const text = [
      "cron.service                   loaded    active   running Regular background program processing daemon",
      "foo.service                    not-found inactive dead    foo.service",
      "pvestatd.service               loaded    failed   failed  PVE Status Daemon",
      "",
    ].join("\n");
    expect(parseSystemctlText(text)).toEqual([
      svc("cron.service", "loaded", "active", "running", "Regular background program processing daemon"),
      svc("foo.service", "not-found", "inactive", "dead", "foo.service"),
      svc("pvestatd.service", "loaded", "failed", "failed", "PVE Status Daemon"),
    ]);
  });

  it("older form with the glyph column, a JOB column, CRLF and trailing spaces", () => {
    const text = [
      "  cron.service            loaded    active     running Regular background program processing daemon  ",
      "● foo.service             not-found inactive   dead          foo.service",
      "* bar.service             loaded    failed     failed        Bar Daemon",
      "  nginx.service           loaded    activating start   start A high performance web server",
      "  apache2.service         loaded    inactive   dead          The Apache HTTP Server",
    ].join("\r\n");
    expect(parseSystemctlText(text)).toEqual([
      svc("cron.service", "loaded", "active", "running", "Regular background program processing daemon"),
      svc("foo.service", "not-found", "inactive", "dead", "foo.service"),
      svc("bar.service", "loaded", "failed", "failed", "Bar Daemon"),
      svc("nginx.service", "loaded", "activating", "start", "A high performance web server"),
      svc("apache2.service", "loaded", "inactive", "dead", "The Apache HTTP Server"),
    ]);
  });

  it("yields nothing for the not-booted message or empty input", () => {
    expect(parseSystemctlText(fixture("systemctl-list-units-not-booted.txt"))).toEqual([]);
    expect(parseSystemctlText("")).toEqual([]);
  });
});

describe("isSystemdNotBooted", () => {
  it("detects the captured message", () => {
    expect(isSystemdNotBooted(fixture("systemctl-list-units-not-booted.txt"))).toBe(true);
    expect(isSystemdNotBooted("Failed to connect to bus: No such file or directory\n")).toBe(true);
  });
  it("is false for real output", () => {
    expect(isSystemdNotBooted(fixture("systemctl-list-units-default.txt"))).toBe(false);
    expect(isSystemdNotBooted("")).toBe(false);
  });
});

describe("systemctl list-unit-files", () => {
  it("JSON capture: unit_file -> unit, null preset kept", () => {
    const files = parseSystemctlUnitFilesJson(fixture("systemctl-list-unit-files.json"));
    expect(files).toHaveLength(107);
    expect(files[0]).toEqual({ unit: "apt-daily-upgrade.service", state: "static", preset: null });
    expect(files.find((f) => f.unit === "postgresql.service")).toEqual({
      unit: "postgresql.service",
      state: "enabled",
      preset: "enabled",
    });
    expect(files.filter((f) => f.state === "masked").map((f) => f.unit)).toEqual([
      "cryptdisks-early.service",
      "cryptdisks.service",
      "hwclock.service",
      "rc.service",
      "rcS.service",
      "x11-common.service",
    ]);
  });

  it("plain text capture ('-' = empty cell) matches the JSON capture row for row", () => {
    expect(parseSystemctlUnitFilesText(fixture("systemctl-list-unit-files-plain.txt"))).toEqual(
      parseSystemctlUnitFilesJson(fixture("systemctl-list-unit-files.json")),
    );
  });

  it("text form skips the header and footer", () => {
    const text = "UNIT FILE       STATE   PRESET\nssh.service     enabled enabled\n\n1 unit files listed.\n";
    expect(parseSystemctlUnitFilesText(text)).toEqual([{ unit: "ssh.service", state: "enabled", preset: "enabled" }]);
  });
});

describe("applyUnitFileStates", () => {
  // Units as list-units reports them (the default-output capture plus a few a
  // Debian 12 host runs), against the Debian 12 list-unit-files captures.
  const units = [
    ...parseSystemctlText(fixture("systemctl-list-units-default.txt")),
    svc("getty@tty1.service", "loaded", "active", "running", "Getty on tty1"),
    svc("postgresql@16-main.service", "loaded", "active", "running", "PostgreSQL Cluster 16-main"),
    svc("serial-getty@ttyS0.service", "loaded", "active", "running", "Serial Getty on ttyS0"),
    svc("postgresql.service", "loaded", "active", "exited", "PostgreSQL RDBMS"),
    svc("e2scrub_reap.service", "loaded", "inactive", "dead", "Remove Stale Online ext4 Metadata Check Snapshots"),
    svc("hwclock.service", "masked", "inactive", "dead", "hwclock.service"),
    svc("run-u42.service", "loaded", "active", "running", "/usr/bin/sleep 600"),
    svc("nosuch.service", "not-found", "inactive", "dead", "nosuch.service"),
  ];

  it.each([
    ["postgresql.service", "enabled"],
    ["e2scrub_reap.service", "enabled"],
    ["hwclock.service", "masked"],
    ["systemd-journal-flush.service", "static"],
    ["systemd-update-utmp.service", "static"],
    // Instances take their template's state.
    ["getty@tty1.service", "enabled"],
    ["postgresql@16-main.service", "disabled"],
    ["serial-getty@ttyS0.service", "disabled"],
    // No unit file: the minikube units of the list-units capture, a transient unit, a missing one.
    ["kubelet.service", null],
    ["containerd.service", null],
    ["run-u42.service", null],
    ["nosuch.service", null],
  ] as const)("%s -> %s (JSON and plain text agree)", (name, enabled) => {
    for (const files of [
      parseSystemctlUnitFilesJson(fixture("systemctl-list-unit-files.json")),
      parseSystemctlUnitFilesText(fixture("systemctl-list-unit-files-plain.txt")),
    ]) {
      expect(applyUnitFileStates(units, files).find((s) => s.name === name)?.enabled).toBe(enabled);
    }
  });

  it("an instance with a unit file of its own keeps it; the rest of the unit is untouched", () => {
    const files = [
      { unit: "getty@.service", state: "enabled", preset: "enabled" },
      { unit: "getty@tty9.service", state: "masked", preset: null },
    ];
    const out = applyUnitFileStates(
      [svc("getty@tty9.service", "masked", "inactive", "dead", null), svc("getty@tty1.service", "loaded", "active", "running", "Getty on tty1")],
      files,
    );
    expect(out).toEqual([
      { ...svc("getty@tty9.service", "masked", "inactive", "dead", null), enabled: "masked" },
      { ...svc("getty@tty1.service", "loaded", "active", "running", "Getty on tty1"), enabled: "enabled" },
    ]);
  });

  it("unknown unit files (list-unit-files failed): every unit gets null", () => {
    expect(applyUnitFileStates(units, null).every((s) => s.enabled === null)).toBe(true);
    expect(applyUnitFileStates(units, null)).toHaveLength(units.length);
  });
});
