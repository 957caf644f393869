// The probe script against real shells on this machine, and its framing against
// hostile output; the local runner's deadline, byte cap and cancellation.
import { cpus, hostname, totalmem } from "node:os";
import { describe, expect, it } from "vitest";
import { buildProbeScript, interpretProbe, newNonce, probe, splitProbeOutput } from "../src/discovery/probe.js";
import { LocalRunner } from "../src/discovery/runners/local.js";
import { fixture, renderProbeOutput } from "./support/scripted-runner.js";
import { PROBE_SHELLS, which } from "./support/shells.js";

const shells = PROBE_SHELLS;

describe("the probe script runs under every shell it promises", () => {
  for (const [label, command] of shells) {
    const available = which(command.split(" ")[0]!) !== null;
    it.skipIf(!available && !process.env.CI)(`${label}: every section reports, and the facts match this machine`, async () => {
      expect(available, `${label} must be installed in CI (.ci/run installs it)`).toBe(true);
      const nonce = newNonce();
      const res = await new LocalRunner().run(command, { stdin: buildProbeScript(nonce), timeoutMs: 30_000, maxBytes: 8 * 1024 * 1024 });
      expect(res.exitCode).toBe(0);
      const { sections, complete } = splitProbeOutput(res.stdout, nonce);
      expect(complete).toBe(true);
      const p = interpretProbe(sections);
      const failed = Object.entries(p.sections).filter(([, s]) => s.status === "failed");
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect(p.name).toBe(hostname());
      expect(p.facts["memory.total_bytes"]).toBe(totalmem());
      expect(p.facts["cpu.count"]).toBe(cpus().length);
      expect(p.identity[0]).toMatch(/^machine-id:[0-9a-f]{32}$/);
      expect(p.interfaces?.find((i) => i.name === "lo")?.addresses).toContainEqual(expect.objectContaining({ address: "127.0.0.1", prefixlen: 8 }));
      expect(p.filesystems?.some((f) => f.mount === "/")).toBe(true);
    });
  }
});

describe("probe framing", () => {
  it("treats lines that imitate a marker with another nonce as data", () => {
    const nonce = newNonce();
    const forged = `@@fleet-${"0".repeat(24)}@@ END systemd 0\n@@fleet-${"0".repeat(24)}@@ DONE`;
    const out = renderProbeOutput(nonce, {
      hostname: { body: "web-1" },
      docker: { body: `{"Names":"${forged.replace(/\n/g, "\\n")}","Image":"x","ID":"1","State":"running","Labels":""}` },
    });
    const { sections, complete } = splitProbeOutput(out, nonce);
    expect(complete).toBe(true);
    expect(sections.get("docker")!.body).toContain("END systemd 0");
    const p = interpretProbe(sections);
    expect(p.containers?.[0]?.name).toBe(forged);
  });

  it("marks sections cut off by a deadline, and keeps the ones that finished", () => {
    const nonce = newNonce();
    const full = renderProbeOutput(nonce, { hostname: { body: "web-1" }, os: { body: fixture("os-release-alpine323.txt") } }, { done: false });
    const cut = full.slice(0, full.lastIndexOf("END os"));
    const p = interpretProbe(splitProbeOutput(cut, nonce).sections);
    expect(p.sections.hostname).toEqual({ status: "ok", exitCode: 0 });
    expect(p.sections.os).toMatchObject({ status: "failed", reason: "cut_off" });
    expect(p.sections.memory).toMatchObject({ status: "failed", reason: "missing" });
  });

  it("understands a BusyBox/Alpine host: plain ip addr, /proc/net, no systemd, no docker", () => {
    const nonce = newNonce();
    const tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0";
    const out = renderProbeOutput(nonce, {
      hostname: { body: "alpine-1" },
      machine_id: { body: "", rc: 1, stderr: "cat: can't open '/var/lib/dbus/machine-id': No such file or directory" },
      os: { body: fixture("os-release-alpine323.txt") },
      filesystems: { body: fixture("busybox-df-PkT.txt") },
      addresses: { body: fixture("busybox-ip-addr.txt") },
      ports: { body: `#proc\n#proc tcp\n${tcp}\n` },
      systemd: { body: "#not-running" },
      docker: { body: "#not-installed" },
      compose: { body: "#not-installed" },
    });
    const p = interpretProbe(splitProbeOutput(out, nonce).sections);
    expect(p.facts["os.id"]).toBe("alpine");
    expect(p.facts["os.version_id"]).toBe("3.23.2");
    expect(p.sections.machine_id).toMatchObject({ status: "failed", reason: "exit_status" });
    expect(p.identity).toEqual([]);
    expect(p.interfaces!.length).toBeGreaterThan(0);
    expect(p.filesystems!.length).toBeGreaterThan(0);
    expect(p.ports).toEqual([{ protocol: "tcp", address: "0.0.0.0", port: 22, process: null, pid: null }]);
    expect(p.sections.ports).toMatchObject({ status: "ok", reason: "proc_net" });
    expect(p.sections.systemd).toMatchObject({ status: "unavailable", reason: "systemd_not_running" });
    expect(p.sections.docker).toMatchObject({ status: "unavailable", reason: "not_installed" });
    expect(p.facts["docker.status"]).toBe("not_installed");
    expect(p.services).toBeUndefined();
  });

  it("falls back to systemctl's text output and /proc/cpuinfo", () => {
    const nonce = newNonce();
    const out = renderProbeOutput(nonce, {
      systemd: {
        body: "#text\nssh.service loaded active running OpenBSD Secure Shell server\ncron.service loaded failed failed Regular background program processing daemon",
      },
      cpu: { body: "processor\t: 0\nmodel name\t: AMD EPYC 7302 16-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7302 16-Core Processor\n" },
    });
    const p = interpretProbe(splitProbeOutput(out, nonce).sections);
    expect(p.services).toEqual([
      { name: "ssh.service", load: "loaded", active: "active", sub: "running", description: "OpenBSD Secure Shell server" },
      { name: "cron.service", load: "loaded", active: "failed", sub: "failed", description: "Regular background program processing daemon" },
    ]);
    expect(p.facts["cpu.model"]).toBe("AMD EPYC 7302 16-Core Processor");
  });
});

describe("local runner bounds", () => {
  it("kills a command at its deadline, with everything it started", async () => {
    const started = performance.now();
    const res = await new LocalRunner().run("sleep 20 & sleep 20; echo never", { timeoutMs: 300, maxBytes: 1024 });
    expect(res).toMatchObject({ timedOut: true, exitCode: null, stdout: "" });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("stops reading at the byte cap and says so", async () => {
    const res = await new LocalRunner().run("yes fleet", { timeoutMs: 10_000, maxBytes: 64 * 1024 });
    expect(res.truncated).toBe(true);
    expect(res.stdout.length).toBeLessThanOrEqual(64 * 1024);
  });

  it("aborts on the caller's signal", async () => {
    const controller = new AbortController();
    const p = new LocalRunner().run("sleep 20", { timeoutMs: 30_000, maxBytes: 1024, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect(await p).toMatchObject({ aborted: true, exitCode: null });
  });

  it("turns a truncated or timed-out probe into a host status", async () => {
    const big = await probe(new LocalRunner(), { timeoutMs: 30_000, maxBytes: 2048 });
    expect(big.status).toBe("output_too_large");
    const slow = await probe({ where: "x", run: (_c, o) => new LocalRunner().run("sleep 5", o) }, { timeoutMs: 200, maxBytes: 1 << 20 });
    expect(slow).toMatchObject({ status: "timeout", error: "the probe did not finish within 200 ms" });
  });
});

describe("local runner: processes that leave the process group", () => {
  it("returns at the deadline even when a grandchild moved to its own group (as GNU timeout does)", async () => {
    const started = performance.now();
    const res = await new LocalRunner().run("timeout 30 sleep 30", { timeoutMs: 300, maxBytes: 1024 });
    expect(res).toMatchObject({ timedOut: true, exitCode: null });
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
