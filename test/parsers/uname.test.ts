import { describe, it, expect } from "vitest";
import { parseUname } from "../../src/discovery/parsers/uname.js";

describe("parseUname (uname -s -r -m)", () => {
  it.each([
    ["Linux 6.1.0-13-amd64 x86_64\n", { sysname: "Linux", release: "6.1.0-13-amd64", machine: "x86_64" }],
    ["Linux 6.8.12-15-pve x86_64\r\n", { sysname: "Linux", release: "6.8.12-15-pve", machine: "x86_64" }],
    ["\n  Linux   5.15.0-1049-raspi   aarch64   \n", { sysname: "Linux", release: "5.15.0-1049-raspi", machine: "aarch64" }],
    ["Linux\n", { sysname: "Linux", release: null, machine: null }],
    ["", { sysname: null, release: null, machine: null }],
  ])("%j", (text, expected) => {
    expect(parseUname(text)).toEqual(expected);
  });
});
