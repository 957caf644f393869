import { describe, it, expect } from "vitest";
import * as parsers from "../../src/discovery/parsers/index.js";

describe("parsers index", () => {
  it("re-exports every parser", () => {
    for (const name of [
      "parseOsRelease",
      "parseUname",
      "parseProcUptime",
      "parseLoadavg",
      "parseMeminfo",
      "parseLscpuJson",
      "parseCpuinfo",
      "parseDf",
      "isPseudoFilesystem",
      "parseIpJson",
      "parseIpText",
      "parseSs",
      "parseNetstat",
      "parseProcNetTcp",
      "parseSystemctlJson",
      "parseSystemctlText",
      "isSystemdNotBooted",
      "parseSystemctlUnitFilesJson",
      "parseSystemctlUnitFilesText",
      "applyUnitFileStates",
      "parseDockerPs",
      "parseDockerInspect",
      "mergeDockerInspect",
      "parseDockerLabels",
      "classifyDockerError",
      "parseComposeLs",
    ]) {
      expect(typeof (parsers as Record<string, unknown>)[name], name).toBe("function");
    }
  });
});
