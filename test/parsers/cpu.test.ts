import { describe, it, expect } from "vitest";
import { parseCpuinfo, parseLscpuJson } from "../../src/discovery/parsers/cpu.js";
import { fixture } from "./fixture.js";

const captured = {
  model: "AMD EPYC",
  cpus: 2,
  sockets: 1,
  coresPerSocket: 2,
  threadsPerCore: 1,
  architecture: "x86_64",
};

describe("parseLscpuJson", () => {
  it.each([
    ["lscpu-J.json", "flat (no TTY)"],
    ["lscpu-J.tty.json", "nested children (TTY)"],
  ])("%s — %s", (file) => {
    expect(parseLscpuJson(fixture(file))).toEqual(captured);
  });

  it("maps '-' and missing fields to null (ARM without sockets)", () => {
    const text = JSON.stringify({
      lscpu: [
        { field: "Architecture:", data: "aarch64" },
        { field: "CPU(s):", data: "4" },
        { field: "Model name:", data: "Cortex-A72" },
        { field: "Core(s) per cluster:", data: "4" },
        { field: "Socket(s):", data: "-" },
        "junk",
        { field: 7, data: "x" },
      ],
    });
    expect(parseLscpuJson(text)).toEqual({
      model: "Cortex-A72",
      cpus: 4,
      sockets: null,
      coresPerSocket: 4,
      threadsPerCore: null,
      architecture: "aarch64",
    });
  });

  it("returns nulls for empty input and throws on non-JSON", () => {
    expect(parseLscpuJson("")).toEqual({
      model: null,
      cpus: null,
      sockets: null,
      coresPerSocket: null,
      threadsPerCore: null,
      architecture: null,
    });
    expect(() => parseLscpuJson("lscpu: invalid option -- 'J'")).toThrow(/lscpu/);
    expect(() => parseLscpuJson("[1,2]")).toThrow(/lscpu/);
  });
});

describe("parseCpuinfo", () => {
  it("x86: model name, one processor line per logical CPU", () => {
    const text = [
      "processor\t: 0",
      "vendor_id\t: GenuineIntel",
      "model\t\t: 85",
      "model name\t: Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz",
      "",
      "processor\t: 1",
      "model\t\t: 85",
      "model name\t: Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz",
      "",
    ].join("\n");
    expect(parseCpuinfo(text)).toEqual({ model: "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz", count: 2 });
  });

  it("Raspberry Pi (arm64): falls back to Hardware before Model and CPU part", () => {
    const text = [
      "processor\t: 0",
      "BogoMIPS\t: 108.00",
      "CPU part\t: 0xd08",
      "",
      "processor\t: 1",
      "CPU part\t: 0xd08",
      "",
      "Hardware\t: BCM2835",
      "Revision\t: c03114",
      "Model\t\t: Raspberry Pi 4 Model B Rev 1.4",
    ].join("\r\n");
    expect(parseCpuinfo(text)).toEqual({ model: "BCM2835", count: 2 });
  });

  it("arm64 with only CPU part", () => {
    expect(parseCpuinfo("processor\t: 0\nCPU part\t: 0xd0c\n")).toEqual({ model: "0xd0c", count: 1 });
  });

  it("empty input", () => {
    expect(parseCpuinfo("")).toEqual({ model: null, count: 0 });
  });
});
