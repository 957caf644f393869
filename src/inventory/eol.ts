// End-of-life dates of Linux distribution releases, bundled as data so the
// security report can say "this host runs an OS that no longer gets security
// fixes" without reaching the network.
//
// These are BUNDLED DATA AS OF each distribution's `checked` date: they go out of
// date. To update: open the distribution's `source` page(s), add or correct the
// releases (dates as YYYY-MM-DD), set `checked` to the day you read them, and
// extend test/eol.test.ts when a rule changes. Where a page only names a month
// ("April 2027"), the first day of that month is recorded and `approximate` is
// set: a report then warns early rather than late.
//
// What `eol` means, per distribution (the end of the no-cost security support
// the distribution's own project gives):
// - Debian: the end of Debian LTS (run by the Debian project); `regularEnd` is
//   when the Debian security team stopped (LTS follows it).
// - Ubuntu: the end of standard support; `extended` is Ubuntu Pro / ESM.
// - RHEL: the end of the Maintenance Support phase; `extended` is paid ELS.
// - Rocky Linux, AlmaLinux, CentOS: the end of security updates.
// - Alpine: the end of support of the `main` repository.

export interface EolRelease {
  /** The normalised version this entry matches (see EolDistribution.versionPart). */
  version: string;
  codename?: string;
  eol: string;
  /** Debian: end of regular security support, before LTS. */
  regularEnd?: string;
  /** Paid or subscription support beyond `eol` (not counted as supported). */
  extended?: { name: string; until: string };
  /** The source gives only a month (or an estimate): `eol` is the first day of it. */
  approximate?: boolean;
}

export interface EolDistribution {
  /** Our key; matches os-release ID except CentOS Stream (ID=centos, NAME "CentOS Stream"). */
  id: string;
  name: string;
  /** How many dot-separated parts of VERSION_ID name a release: 1 ("12", "9.4" -> "9"), 2 ("22.04", "3.18.4" -> "3.18"). */
  versionParts: 1 | 2;
  /** The distribution's own release or lifecycle pages these dates come from. */
  source: string[];
  /** When the dates were last read from `source`. */
  checked: string;
  releases: EolRelease[];
}

export const EOL_TABLE: readonly EolDistribution[] = [
  {
    id: "debian",
    name: "Debian",
    versionParts: 1,
    source: ["https://www.debian.org/releases/", "https://wiki.debian.org/LTS"],
    checked: "2026-11-23",
    releases: [
      { version: "8", codename: "jessie", regularEnd: "2018-06-17", eol: "2020-06-30" },
      { version: "9", codename: "stretch", regularEnd: "2020-07-06", eol: "2022-06-30" },
      { version: "10", codename: "buster", regularEnd: "2022-09-10", eol: "2024-06-30" },
      { version: "11", codename: "bullseye", regularEnd: "2024-08-14", eol: "2026-08-31" },
      { version: "12", codename: "bookworm", regularEnd: "2026-06-10", eol: "2028-06-30" },
      { version: "13", codename: "trixie", eol: "2030-06-30" },
    ],
  },
  {
    id: "ubuntu",
    name: "Ubuntu",
    versionParts: 2,
    source: ["https://ubuntu.com/about/release-cycle", "https://wiki.ubuntu.com/Releases"],
    checked: "2026-11-23",
    releases: [
      { version: "14.04", codename: "trusty", eol: "2019-04-30", extended: { name: "ESM", until: "2024-04-30" } },
      { version: "16.04", codename: "xenial", eol: "2021-04-30", extended: { name: "ESM", until: "2026-04-30" } },
      { version: "18.04", codename: "bionic", eol: "2023-05-31", extended: { name: "ESM", until: "2028-04-30" } },
      { version: "20.04", codename: "focal", eol: "2025-05-31", extended: { name: "ESM", until: "2030-04-30" } },
      { version: "20.10", codename: "groovy", eol: "2021-07-22" },
      { version: "21.04", codename: "hirsute", eol: "2022-01-20" },
      { version: "21.10", codename: "impish", eol: "2022-07-14" },
      { version: "22.04", codename: "jammy", eol: "2027-04-01", approximate: true, extended: { name: "ESM", until: "2032-04-01" } },
      { version: "22.10", codename: "kinetic", eol: "2023-07-20" },
      { version: "23.04", codename: "lunar", eol: "2024-01-25" },
      { version: "23.10", codename: "mantic", eol: "2024-07-11" },
      { version: "24.04", codename: "noble", eol: "2029-04-01", approximate: true, extended: { name: "ESM", until: "2034-04-01" } },
      { version: "24.10", codename: "oracular", eol: "2025-07-10" },
      { version: "25.04", codename: "plucky", eol: "2026-01-01", approximate: true },
      { version: "25.10", codename: "questing", eol: "2026-07-01", approximate: true },
    ],
  },
  {
    id: "rhel",
    name: "Red Hat Enterprise Linux",
    versionParts: 1,
    source: ["https://access.redhat.com/support/policy/updates/errata"],
    checked: "2026-11-23",
    releases: [
      { version: "7", eol: "2024-06-30", extended: { name: "ELS", until: "2028-06-30" } },
      { version: "8", eol: "2029-05-31" },
      { version: "9", eol: "2032-05-31" },
      { version: "10", eol: "2035-05-31" },
    ],
  },
  {
    id: "rocky",
    name: "Rocky Linux",
    versionParts: 1,
    source: ["https://wiki.rockylinux.org/rocky/version/"],
    checked: "2026-11-23",
    releases: [
      { version: "8", eol: "2029-05-31" },
      { version: "9", eol: "2032-05-31" },
      { version: "10", eol: "2035-05-31" },
    ],
  },
  {
    id: "almalinux",
    name: "AlmaLinux",
    versionParts: 1,
    source: ["https://wiki.almalinux.org/release-notes/"],
    checked: "2026-11-23",
    releases: [
      { version: "8", eol: "2029-03-01" },
      { version: "9", eol: "2032-05-31" },
      { version: "10", eol: "2035-05-31" },
    ],
  },
  {
    id: "centos",
    name: "CentOS Linux",
    versionParts: 1,
    source: ["https://www.centos.org/centos-linux-eol/"],
    checked: "2026-11-23",
    releases: [
      { version: "7", eol: "2024-06-30" },
      { version: "8", eol: "2021-12-31" },
    ],
  },
  {
    id: "centos-stream",
    name: "CentOS Stream",
    versionParts: 1,
    source: ["https://www.centos.org/centos-stream/"],
    checked: "2026-11-23",
    releases: [
      { version: "8", eol: "2024-05-31" },
      // "End of RHEL 9/10 full support phase": the project gives estimates.
      { version: "9", eol: "2027-05-31", approximate: true },
      { version: "10", eol: "2030-01-01", approximate: true },
    ],
  },
  {
    id: "alpine",
    name: "Alpine Linux",
    versionParts: 2,
    source: ["https://alpinelinux.org/releases/"],
    checked: "2026-11-23",
    releases: [
      { version: "3.14", eol: "2023-05-01" },
      { version: "3.15", eol: "2023-11-01" },
      { version: "3.16", eol: "2024-05-23" },
      { version: "3.17", eol: "2024-11-22" },
      { version: "3.18", eol: "2025-05-09" },
      { version: "3.19", eol: "2025-11-01" },
      { version: "3.20", eol: "2026-04-01" },
      { version: "3.21", eol: "2026-11-01" },
      { version: "3.22", eol: "2027-05-01" },
      { version: "3.23", eol: "2027-11-01" },
    ],
  },
];

/**
 * eol: past its end of life; eol_soon: within the window; supported; unknown: a
 * tracked distribution whose version is missing or not in the table (never
 * guessed); untracked: a distribution the table does not cover.
 */
export const EOL_STATUSES = ["eol", "eol_soon", "supported", "unknown", "untracked"] as const;
export type EolStatus = (typeof EOL_STATUSES)[number];

export interface EolVerdict {
  status: EolStatus;
  /** The table entry's id (debian, ubuntu, centos-stream, ...), null when untracked. */
  distribution: string | null;
  /** The release key looked up ("12", "22.04"), null when there is none. */
  release: string | null;
  eol: string | null;
  /** Whole days from now until eol (negative: past). */
  daysLeft: number | null;
  approximate: boolean;
  extended: { name: string; until: string } | null;
  source: string[] | null;
  checked: string | null;
}

const DAY_MS = 86_400_000;

function findDistribution(osId: string, osName: string | null, version: string | null): EolDistribution | null {
  const id = osId.trim().toLowerCase();
  const byId = (k: string) => EOL_TABLE.find((d) => d.id === k) ?? null;
  if (id === "centos") {
    if (osName && /stream/i.test(osName)) return byId("centos-stream");
    // Without "Stream" in the name: CentOS Linux where it had that release, else Stream (9 and later were only ever Stream).
    const linux = byId("centos")!;
    const major = version?.split(".")[0];
    return major && !linux.releases.some((r) => r.version === major) && byId("centos-stream")!.releases.some((r) => r.version === major)
      ? byId("centos-stream")
      : linux;
  }
  if (id === "centos-stream") return null;
  return byId(id);
}

/** The release key of an os-release VERSION_ID for this distribution; null when it does not have that shape. */
function releaseKey(d: EolDistribution, version: string): string | null {
  const parts = version.trim().split(".");
  if (parts.length < d.versionParts || parts.slice(0, d.versionParts).some((p) => !/^\d+$/.test(p))) return null;
  return parts.slice(0, d.versionParts).join(".");
}

/**
 * Looks up a target's OS (os-release ID, VERSION_ID and PRETTY_NAME) and says
 * where it stands on `now`, with `windowDays` of warning before the date.
 */
export function eolStatus(osId: string | null, osVersion: string | null, osName: string | null, now: Date, windowDays = 90): EolVerdict {
  const none: EolVerdict = {
    status: "untracked",
    distribution: null,
    release: null,
    eol: null,
    daysLeft: null,
    approximate: false,
    extended: null,
    source: null,
    checked: null,
  };
  if (!osId) return none;
  const d = findDistribution(osId, osName, osVersion);
  if (!d) return none;
  const known = { ...none, distribution: d.id, source: d.source, checked: d.checked };
  const key = osVersion ? releaseKey(d, osVersion) : null;
  const rel = key ? d.releases.find((r) => r.version === key) : undefined;
  if (!rel) return { ...known, status: "unknown", release: key };
  // The eol day itself is the last day of support: past it from the next midnight UTC.
  const end = Date.parse(`${rel.eol}T00:00:00Z`) + DAY_MS;
  const daysLeft = Math.floor((end - now.getTime()) / DAY_MS);
  const status: EolStatus = now.getTime() >= end ? "eol" : end - now.getTime() <= windowDays * DAY_MS ? "eol_soon" : "supported";
  return { ...known, status, release: rel.version, eol: rel.eol, daysLeft, approximate: rel.approximate ?? false, extended: rel.extended ?? null };
}
