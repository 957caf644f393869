// The bundled end-of-life table: lookups by os-release ID and VERSION_ID, the
// warning window around the date, and versions the table does not know, which
// are reported as unknown, never guessed.
import { describe, expect, it } from "vitest";
import { EOL_TABLE, eolStatus } from "../src/inventory/eol.js";

const NOW = new Date("2026-11-23T12:00:00Z");

describe("eol table", () => {
  it("cites a source and a check date for every distribution, with well-formed, ordered dates", () => {
    expect(EOL_TABLE.map((d) => d.id).sort()).toEqual(["almalinux", "alpine", "centos", "centos-stream", "debian", "rhel", "rocky", "ubuntu"]);
    for (const d of EOL_TABLE) {
      expect(d.source.length).toBeGreaterThan(0);
      for (const s of d.source) expect(s).toMatch(/^https:\/\//);
      expect(d.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(new Set(d.releases.map((r) => r.version)).size).toBe(d.releases.length);
      for (const r of d.releases) {
        expect(Number.isNaN(Date.parse(r.eol)), `${d.id} ${r.version}`).toBe(false);
        if (r.regularEnd) expect(r.regularEnd <= r.eol).toBe(true);
        if (r.extended) expect(r.extended.until > r.eol).toBe(true);
      }
    }
  });

  it("finds past, supported and unknown releases of every family", () => {
    expect(eolStatus("debian", "10", "Debian GNU/Linux 10 (buster)", NOW)).toMatchObject({
      status: "eol",
      distribution: "debian",
      release: "10",
      eol: "2024-06-30",
    });
    expect(eolStatus("debian", "12", null, NOW)).toMatchObject({ status: "supported", eol: "2028-06-30" });
    expect(eolStatus("ubuntu", "18.04", "Ubuntu 18.04.6 LTS", NOW)).toMatchObject({
      status: "eol",
      release: "18.04",
      extended: { name: "ESM", until: "2028-04-30" },
    });
    expect(eolStatus("ubuntu", "24.04", null, NOW)).toMatchObject({ status: "supported", approximate: true });
    // RHEL family: the major version names the release.
    expect(eolStatus("rhel", "7.9", null, NOW)).toMatchObject({ status: "eol", release: "7" });
    expect(eolStatus("rocky", "9.4", null, NOW)).toMatchObject({ status: "supported", release: "9", eol: "2032-05-31" });
    expect(eolStatus("almalinux", "8.10", null, NOW)).toMatchObject({ status: "supported", release: "8", eol: "2029-03-01" });
    // CentOS: Linux or Stream by the name; 9 was only ever Stream.
    expect(eolStatus("centos", "8", "CentOS Linux 8", NOW)).toMatchObject({ distribution: "centos", status: "eol", eol: "2021-12-31" });
    expect(eolStatus("centos", "8", "CentOS Stream 8", NOW)).toMatchObject({ distribution: "centos-stream", status: "eol", eol: "2024-05-31" });
    expect(eolStatus("centos", "9", null, NOW)).toMatchObject({ distribution: "centos-stream", status: "supported" });
    // Alpine: major.minor of a three-part VERSION_ID.
    expect(eolStatus("alpine", "3.18.4", null, NOW)).toMatchObject({ status: "eol", release: "3.18", eol: "2025-05-09" });
    expect(eolStatus("alpine", "3.22.1", null, NOW)).toMatchObject({ status: "supported", release: "3.22" });

    // Not guessed: a version the table lacks, a missing one, a malformed one.
    expect(eolStatus("debian", "99", null, NOW)).toMatchObject({ status: "unknown", distribution: "debian", release: "99", eol: null });
    expect(eolStatus("debian", null, "Debian GNU/Linux trixie/sid", NOW)).toMatchObject({ status: "unknown", release: null });
    expect(eolStatus("ubuntu", "22", null, NOW)).toMatchObject({ status: "unknown", release: null });
    expect(eolStatus("alpine", "edge", null, NOW)).toMatchObject({ status: "unknown" });
    // Distributions the table does not cover.
    expect(eolStatus("arch", null, null, NOW)).toMatchObject({ status: "untracked", distribution: null, source: null });
    expect(eolStatus(null, "12", null, NOW).status).toBe("untracked");
  });

  it("warns within the window and counts the eol day itself as supported", () => {
    // Debian 12: LTS ends 2028-06-30.
    const at = (iso: string, window = 90) => eolStatus("debian", "12", null, new Date(iso), window);
    expect(at("2028-04-01T00:00:00Z")).toMatchObject({ status: "supported", daysLeft: 91 });
    expect(at("2028-04-02T00:00:00Z")).toMatchObject({ status: "eol_soon", daysLeft: 90 });
    expect(at("2028-06-30T23:59:59Z")).toMatchObject({ status: "eol_soon", daysLeft: 0 });
    expect(at("2028-07-01T00:00:00Z")).toMatchObject({ status: "eol", daysLeft: 0 });
    expect(at("2028-08-01T00:00:00Z")).toMatchObject({ status: "eol", daysLeft: -31 });
    // The window is the caller's.
    expect(at("2028-04-02T00:00:00Z", 0).status).toBe("supported");
    expect(at("2027-07-01T00:00:00Z", 366).status).toBe("eol_soon");
    // Debian 11's LTS ended 2026-08-31: past by NOW.
    expect(eolStatus("debian", "11", null, NOW)).toMatchObject({ status: "eol", daysLeft: -84 });
  });
});
