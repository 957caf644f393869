import { describe, it, expect } from "vitest";
import { parseOsRelease, type OsRelease } from "../../src/discovery/parsers/os-release.js";
import { fixture } from "./fixture.js";

const cases: Array<[string, OsRelease]> = [
  [
    "os-release-debian12.txt",
    {
      id: "debian",
      idLike: [],
      versionId: "12",
      versionCodename: "bookworm",
      name: "Debian GNU/Linux",
      prettyName: "Debian GNU/Linux 12 (bookworm)",
    },
  ],
  [
    "os-release-debian13.txt",
    {
      id: "debian",
      idLike: [],
      versionId: "13",
      versionCodename: "trixie",
      name: "Debian GNU/Linux",
      prettyName: "Debian GNU/Linux 13 (trixie)",
    },
  ],
  [
    "os-release-ubuntu2404.txt",
    {
      id: "ubuntu",
      idLike: ["debian"],
      versionId: "24.04",
      versionCodename: "noble",
      name: "Ubuntu",
      prettyName: "Ubuntu 24.04.3 LTS",
    },
  ],
  [
    "os-release-alpine323.txt",
    {
      id: "alpine",
      idLike: [],
      versionId: "3.23.2",
      versionCodename: null,
      name: "Alpine Linux",
      prettyName: "Alpine Linux v3.23",
    },
  ],
  [
    "os-release-rocky93.txt",
    {
      id: "rocky",
      idLike: ["rhel", "centos", "fedora"],
      versionId: "9.3",
      versionCodename: null,
      name: "Rocky Linux",
      prettyName: "Rocky Linux 9.3 (Blue Onyx)",
    },
  ],
  [
    "os-release-rhel9.txt",
    {
      id: "rhel",
      idLike: ["fedora"],
      versionId: "9.6",
      versionCodename: null,
      name: "Red Hat Enterprise Linux",
      prettyName: "Red Hat Enterprise Linux 9.6 (Plow)",
    },
  ],
  [
    "os-release-almalinux10.txt",
    {
      id: "almalinux",
      idLike: ["rhel", "centos", "fedora"],
      versionId: "10.0",
      versionCodename: null,
      name: "AlmaLinux",
      prettyName: "AlmaLinux 10.0 (Purple Lion)",
    },
  ],
];

describe("parseOsRelease", () => {
  it.each(cases)("%s", (file, expected) => {
    expect(parseOsRelease(fixture(file))).toEqual(expected);
  });

  it("handles comments, single quotes, escapes, CRLF and trailing spaces", () => {
    const text = [
      "# a comment",
      "",
      "ID='my distro'  ",
      'NAME="Say \\"hi\\" \\\\ \\$HOME"',
      "PRETTY_NAME=Plain\\ Word",
      'ID_LIKE="  arch   debian "',
      "VERSION_ID=",
      "not a line",
    ].join("\r\n");
    expect(parseOsRelease(text)).toEqual({
      id: "my distro",
      idLike: ["arch", "debian"],
      versionId: null,
      versionCodename: null,
      name: 'Say "hi" \\ $HOME',
      prettyName: "Plain Word",
    });
  });

  it("returns nulls for empty input", () => {
    expect(parseOsRelease("")).toEqual({
      id: null,
      idLike: [],
      versionId: null,
      versionCodename: null,
      name: null,
      prettyName: null,
    });
  });
});
