import { describe, it, expect } from "vitest";
import { parseLoadavg, parseMeminfo, parseProcUptime } from "../../src/discovery/parsers/proc.js";
import { fixture } from "./fixture.js";

describe("parseProcUptime", () => {
  it("reads seconds since boot from the capture", () => {
    expect(parseProcUptime(fixture("proc-uptime.txt"))).toBe(6422.37);
  });
  it.each([
    ["", null],
    ["garbage 1.0\n", null],
    ["12 34\r\n", 12],
  ])("%j -> %j", (text, expected) => {
    expect(parseProcUptime(text)).toBe(expected);
  });
});

describe("parseLoadavg", () => {
  it("reads the capture", () => {
    expect(parseLoadavg(fixture("proc-loadavg.txt"))).toEqual({
      load1: 0.03,
      load5: 0.03,
      load15: 0.01,
      running: 1,
      total: 85,
    });
  });
  it("tolerates a missing task field and rejects junk", () => {
    expect(parseLoadavg("1.50 0.75 0.25\r\n")).toEqual({ load1: 1.5, load5: 0.75, load15: 0.25, running: null, total: null });
    expect(parseLoadavg("")).toBeNull();
    expect(parseLoadavg("cat: /proc/loadavg: No such file or directory")).toBeNull();
  });
});

describe("parseMeminfo", () => {
  it("converts the capture's kB (KiB) to bytes", () => {
    expect(parseMeminfo(fixture("proc-meminfo.txt"))).toEqual({
      memTotalBytes: 24683656 * 1024, // 25276063744
      memAvailableBytes: 24400336 * 1024,
      memFreeBytes: 24422148 * 1024,
      swapTotalBytes: 0,
      swapFreeBytes: 0,
    });
  });

  it("falls back to MemFree+Buffers+Cached before kernel 3.14", () => {
    const old = fixture("proc-meminfo.txt")
      .split("\n")
      .filter((l) => !l.startsWith("MemAvailable:"))
      .join("\n");
    expect(parseMeminfo(old).memAvailableBytes).toBe((24422148 + 2316 + 179584) * 1024);
  });

  it("ignores unitless HugePages counts, CRLF and odd lines", () => {
    const m = parseMeminfo("MemTotal:  1000 kB\r\nHugePages_Total:  5\r\nnonsense\r\nSwapTotal: 2 kB \r\n");
    expect(m).toEqual({
      memTotalBytes: 1024000,
      memAvailableBytes: null,
      memFreeBytes: null,
      swapTotalBytes: 2048,
      swapFreeBytes: null,
    });
  });

  it("returns nulls for empty input", () => {
    expect(parseMeminfo("")).toEqual({
      memTotalBytes: null,
      memAvailableBytes: null,
      memFreeBytes: null,
      swapTotalBytes: null,
      swapFreeBytes: null,
    });
  });
});
