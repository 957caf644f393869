// The probe script against real shells on this machine, and its framing against
// hostile output; the local runner's deadline, byte cap and cancellation; the
// systemd and docker sections' second commands (list-unit-files, docker inspect)
// through the real shells, the real docker CLI, and a host over SSH.
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, hostname, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseSystemctlText } from "../src/discovery/parsers/index.js";
import { buildProbeScript, interpretProbe, newNonce, probe, splitProbeOutput, type ProbeSection } from "../src/discovery/probe.js";
import { LocalRunner } from "../src/discovery/runners/local.js";
import type { ServiceObs } from "../src/discovery/types.js";
import { startDockerStub, type DockerStub } from "./support/docker-stub.js";
import { startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, fixture, renderProbeOutput } from "./support/scripted-runner.js";
import { PROBE_SHELLS, which } from "./support/shells.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

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
        body: [
          "#text",
          "ssh.service loaded active running OpenBSD Secure Shell server",
          "cron.service loaded failed failed Regular background program processing daemon",
          "#@unit-files text 0",
          "cron.service                           enabled  enabled",
          "ssh.service                            enabled  enabled",
          "sshd.service                           alias    -",
        ].join("\n"),
      },
      cpu: { body: "processor\t: 0\nmodel name\t: AMD EPYC 7302 16-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7302 16-Core Processor\n" },
    });
    const p = interpretProbe(splitProbeOutput(out, nonce).sections);
    expect(p.services).toEqual([
      { name: "ssh.service", load: "loaded", active: "active", sub: "running", description: "OpenBSD Secure Shell server", enabled: "enabled" },
      {
        name: "cron.service",
        load: "loaded",
        active: "failed",
        sub: "failed",
        description: "Regular background program processing daemon",
        enabled: "enabled",
      },
    ]);
    expect(p.sections.systemd).toEqual({ status: "ok", exitCode: 0 });
    expect(p.facts["cpu.model"]).toBe("AMD EPYC 7302 16-Core Processor");
  });
});

const WEB_ID = "3f1a9c2b77de5e0a1c4b0d6b7f7e0c8a9d2e4f60718293a4b5c6d7e8f9a0b1c2";
const DB_ID = "9cd87474be90c0ffee1234567890abcdef1234567890abcdef1234567890abcd";
const JOB_ID = "d9f5c4922862aa11bb22cc33dd44ee55ff66007788990011223344556677889a";
const INSPECT_FIELDS = ["imageId", "restartCount", "health", "exitCode", "privileged", "networkMode"] as const;
const inspectFields = (c: object) => INSPECT_FIELDS.map((k) => (c as Record<string, unknown>)[k]);

describe("enabled states and docker inspect fields from canned sections", () => {
  const interpret = (host: Parameters<typeof renderProbeOutput>[1]) => {
    const nonce = newNonce();
    return interpretProbe(splitProbeOutput(renderProbeOutput(nonce, host), nonce).sections);
  };
  const psBody = fixture("docker-ps-all-no-trunc.jsonl").trimEnd();
  const inspectLines = fixture("docker-inspect-fleet-template.txt").trimEnd().split("\n");

  it("the canned Debian host: every service has its unit file state and every container its inspect fields", () => {
    const p = interpret(debianHost());
    expect(p.services!.map((s) => [s.name, s.enabled])).toEqual([
      ["ssh.service", "enabled"],
      ["nginx.service", "enabled"],
      ["backup.service", "static"],
    ]);
    expect(p.containers!.map((c) => [c.name, ...inspectFields(c)])).toEqual([
      ["homelab-web-1", "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c", 0, "healthy", null, false, "homelab_default"],
      ["homelab-db-1", "sha256:b781f3a53e61df916e97056a7e9e1b0f8e6c0c0f3b4c6c59c2f34a0e5f1b2c3d", 1, null, null, false, "homelab_default"],
      ["old-job", "sha256:91ef0af61f39ece4d6710e465df5ff6de6ca6ac1d8d1ad56a8b2b64a4a4e0d1e", 0, null, 0, false, "bridge"],
    ]);
    expect(p.sections.systemd).toEqual({ status: "ok", exitCode: 0 });
    expect(p.sections.docker).toEqual({ status: "ok", exitCode: 0 });
  });

  it.each([
    {
      label: "a container removed between ps and inspect (exit 1, the others printed)",
      inspect: `#@inspect 1\n${inspectLines.filter((l) => !l.includes(DB_ID)).join("\n")}`,
      stderr: fixture("docker-inspect-no-such-container.txt"),
      reason: "inspect_partial",
      detail: `1 of 3 containers without inspect data: Error response from daemon: No such container: ${DB_ID}`,
      withData: ["homelab-web-1", "old-job"],
    },
    {
      label: "inspect cut off by its timeout, nothing printed",
      inspect: "#@inspect 124\n",
      stderr: "",
      reason: "inspect_failed",
      detail: "3 of 3 containers without inspect data: docker inspect timed out after 10 s",
      withData: [],
    },
    {
      label: "inspect printing something that is not our format",
      inspect: '#@inspect 0\ntemplate parsing error: template: :1:8: executing "" at <.ID>: map has no entry for key "ID"',
      stderr: "",
      reason: "inspect_failed",
      detail: "3 of 3 containers without inspect data: docker inspect: expected one JSON object per line",
      withData: [],
    },
    {
      label: "no container ids found in the ps output",
      inspect: "#@inspect none",
      stderr: "",
      reason: "inspect_failed",
      detail: "3 of 3 containers without inspect data: no container ids found in the docker ps output",
      withData: [],
    },
  ])("$label: the containers stay, the section is ok and says why", ({ inspect, stderr, reason, detail, withData }) => {
    const p = interpret(debianHost({ docker: { body: `${psBody}\n${inspect}`, ...(stderr ? { stderr } : {}) } }));
    expect(p.sections.docker).toEqual({ status: "ok", exitCode: 0, reason, detail });
    expect(p.facts["docker.status"]).toBe("ok");
    expect(p.containers!.map((c) => c.name)).toEqual(["homelab-web-1", "homelab-db-1", "old-job"]);
    expect(p.containers!.filter((c) => c.imageId !== null).map((c) => c.name)).toEqual(withData);
    // Without inspect, health and exit code still come from the ps Status.
    const byName = Object.fromEntries(p.containers!.map((c) => [c.name, c]));
    expect([byName["homelab-web-1"]!.health, byName["old-job"]!.exitCode]).toEqual(["healthy", 0]);
    if (!withData.includes("homelab-db-1")) expect(inspectFields(byName["homelab-db-1"]!)).toEqual([null, null, null, null, null, null]);
  });

  it("no containers: nothing to inspect, an empty list, ok", () => {
    const p = interpret(debianHost({ docker: { body: "#@inspect none" } }));
    expect(p.containers).toEqual([]);
    expect(p.sections.docker).toEqual({ status: "ok", exitCode: 0 });
  });

  it("docker ps failing still fails the section as before, whatever inspect would have said", () => {
    const p = interpret(debianHost({ docker: { body: "", rc: 1, stderr: fixture("docker-ps-permission-denied.txt") } }));
    expect(p.sections.docker).toMatchObject({ status: "unavailable", reason: "permission_denied" });
    expect(p.containers).toBeUndefined();
  });

  it("list-unit-files failing: the services stay with enabled null, the section is ok and says why", () => {
    const units = '#json\n[{"unit":"ssh.service","load":"loaded","active":"active","sub":"running","description":"OpenBSD Secure Shell server"}]';
    const p = interpret(debianHost({ systemd: { body: `${units}\n#@unit-files text 1\n`, stderr: "Failed to list unit files: Access denied" } }));
    expect(p.services).toEqual([
      { name: "ssh.service", load: "loaded", active: "active", sub: "running", description: "OpenBSD Secure Shell server", enabled: null },
    ]);
    expect(p.sections.systemd).toEqual({ status: "ok", exitCode: 0, reason: "unit_files_failed", detail: "Failed to list unit files: Access denied" });
    const timedOut = interpret(debianHost({ systemd: { body: `${units}\n#@unit-files json 124\n` } }));
    expect(timedOut.sections.systemd).toMatchObject({ reason: "unit_files_failed", detail: "systemctl list-unit-files timed out after 10 s" });
  });
});

/** The real probe script with only `sections` run (the rest of it, prelude and functions, unchanged). */
function scriptFor(nonce: string, sections: ProbeSection[]): string {
  return buildProbeScript(nonce).replace(/^sec (\w+) s_\w+$/gm, (line, name: string) => (sections.includes(name as ProbeSection) ? line : ""));
}

async function runSections(shell: string, script: string, env: Record<string, string>, nonce: string) {
  const prefix = Object.entries(env)
    .map(([k, v]) => `${k}='${v}'`)
    .join(" ");
  const res = await new LocalRunner().run(`${prefix} ${shell}`, { stdin: script, timeoutMs: 20_000, maxBytes: 8 * 1024 * 1024 });
  expect(res.exitCode, res.stderr).toBe(0);
  const { sections, complete } = splitProbeOutput(res.stdout, nonce);
  expect(complete).toBe(true);
  return { raw: sections, p: interpretProbe(sections), stdout: res.stdout };
}

describe("the systemd section's shell code under every shell (systemctl replaced by a replay of the captures)", () => {
  // This machine has systemctl but no systemd as PID 1, so the script's "booted?"
  // check is pointed at a directory that exists and `systemctl` on PATH is a small
  // script that replays the captures the way systemd 252 and systemd < 246 print
  // them (older systemctl accepts --output=json but ignores it for tables).
  const extra: ServiceObs[] = [
    { name: "getty@tty1.service", load: "loaded", active: "active", sub: "running", description: "Getty on tty1" },
    { name: "run-u42.service", load: "loaded", active: "active", sub: "running", description: "/usr/bin/sleep 600" },
  ];
  const units = [...parseSystemctlText(fixture("systemctl-list-units-default.txt")), ...extra];
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  function fakeSystemd(mode: "v252" | "v245" | "denied"): string {
    dir = mkdtempSync(join(tmpdir(), "fleet-systemctl-"));
    const json = JSON.stringify(units.map((u) => ({ unit: u.name, load: u.load, active: u.active, sub: u.sub, description: u.description })));
    writeFileSync(join(dir, "units.json"), `${json}\n`);
    writeFileSync(join(dir, "units.txt"), units.map((u) => `${u.name} ${u.load} ${u.active} ${u.sub} ${u.description ?? ""}`).join("\n") + "\n");
    copyFileSync(new URL("./fixtures/systemctl-list-units-default.txt", import.meta.url), join(dir, "units-default.txt"));
    copyFileSync(new URL("./fixtures/systemctl-list-unit-files.json", import.meta.url), join(dir, "files.json"));
    copyFileSync(new URL("./fixtures/systemctl-list-unit-files-plain.txt", import.meta.url), join(dir, "files.txt"));
    writeFileSync(
      join(dir, "systemctl"),
      `#!/bin/sh
d='${dir}'
json=no; legend=yes
for a in "$@"; do case "$a" in --output=json) json=yes ;; --no-legend) legend=no ;; esac; done
[ '${mode}' = v245 ] && json=no
case "$1" in
  list-units)
    [ $json = yes ] && exec cat "$d/units.json"
    [ $legend = no ] && exec cat "$d/units.txt"
    exec cat "$d/units-default.txt" ;;
  list-unit-files)
    [ '${mode}' = denied ] && { echo 'Failed to list unit files: Access denied' >&2; exit 1; }
    [ $json = yes ] && exec cat "$d/files.json"
    [ $legend = no ] && exec cat "$d/files.txt"
    echo 'UNIT FILE STATE PRESET'; cat "$d/files.txt"; echo; echo '107 unit files listed.' ;;
  *) echo "Unknown command verb $1." >&2; exit 1 ;;
esac
`,
    );
    chmodSync(join(dir, "systemctl"), 0o755);
    return dir;
  }

  const expectedEnabled = {
    "systemd-journal-flush.service": "static",
    "systemd-sysctl.service": "static",
    "getty@tty1.service": "enabled",
    "kubelet.service": null,
    "run-u42.service": null,
  };

  for (const [label, command] of PROBE_SHELLS) {
    const available = which(command.split(" ")[0]!) !== null;
    it.skipIf(!available && !process.env.CI)(`${label}: systemd >= 246 (JSON), systemd < 246 (text) and a failing list-unit-files`, async () => {
      const results = [];
      for (const mode of ["v252", "v245", "denied"] as const) {
        const d = fakeSystemd(mode);
        const nonce = newNonce();
        const script = scriptFor(nonce, ["systemd"]).replaceAll("/run/systemd/system", d);
        results.push({ mode, ...(await runSections(command, script, { PATH: `${d}:${process.env.PATH}` }, nonce)) });
        rmSync(d, { recursive: true, force: true });
        dir = "";
      }
      const [v252, v245, denied] = results;
      expect(v252!.raw.get("systemd")!.body).toMatch(/^#json\n[^\n]*\n#@unit-files json 0\n\[/);
      expect(v245!.raw.get("systemd")!.body).toMatch(/^#text\n[\s\S]*\n#@unit-files text 0\napt-daily-upgrade\.service/);
      for (const r of [v252!, v245!]) {
        expect(r.p.sections.systemd).toEqual({ status: "ok", exitCode: 0 });
        expect(r.p.services).toHaveLength(units.length);
        const enabled = Object.fromEntries(r.p.services!.map((s) => [s.name, s.enabled]));
        expect(enabled).toMatchObject(expectedEnabled);
      }
      expect(v245!.p.services).toEqual(v252!.p.services);
      expect(denied!.p.sections.systemd).toEqual({
        status: "ok",
        exitCode: 0,
        reason: "unit_files_failed",
        detail: "Failed to list unit files: Access denied",
      });
      expect(denied!.p.services!.map((s) => s.name)).toEqual(units.map((u) => u.name));
      expect(denied!.p.services!.every((s) => s.enabled === null)).toBe(true);
    });
  }
});

describe("the docker section under every shell, with the real docker CLI against a stub Engine API", () => {
  const haveDocker = which("docker") !== null;
  let stub: DockerStub | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });
  const run = async (command: string, s: DockerStub) => {
    const nonce = newNonce();
    return runSections(command, scriptFor(nonce, ["docker"]), { DOCKER_HOST: s.host, DOCKER_CONFIG: join(tmpdir(), "fleet-no-docker-config") }, nonce);
  };
  const inspects = (s: DockerStub) => s.requests.filter((r) => /\/containers\/[0-9a-f]+\/json/.test(r));

  for (const [label, command] of PROBE_SHELLS) {
    const available = which(command.split(" ")[0]!) !== null;
    it.skipIf(!haveDocker || !available)(`${label}: five containers inspected, one removed meanwhile, none at all`, async () => {
      stub = await startDockerStub();
      const all = await run(command, stub);
      expect(all.p.sections.docker).toEqual({ status: "ok", exitCode: 0 });
      expect(all.p.containers!.map((c) => [c.name, c.state, ...inspectFields(c)])).toEqual([
        ["homelab-web-1", "running", "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c", 0, "healthy", null, false, "homelab_default"],
        ["homelab-db-1", "running", "sha256:b781f3a53e61df916e97056a7e9e1b0f8e6c0c0f3b4c6c59c2f34a0e5f1b2c3d", 1, null, null, false, "homelab_default"],
        ["old-job", "exited", "sha256:91ef0af61f39ece4d6710e465df5ff6de6ca6ac1d8d1ad56a8b2b64a4a4e0d1e", 0, null, 0, false, "bridge"],
        ["node-exporter", "running", "sha256:1e8a0f2c4d6b8a0c2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d", 2, "starting", null, true, "host"],
        ["worker", "restarting", "sha256:c4d2e0f8a6b4c2d0e8f6a4b2c0d8e6f4a2b0c8d6e4f2a0b8c6d4e2f0a8b6c4d2", 42, null, 137, false, `container:${DB_ID}`],
      ]);
      // Only the fields asked for crossed the wire: no environment, no full JSON.
      expect(all.stdout).not.toContain("stub-secret-never-printed");
      expect(all.stdout).not.toContain("QUEUE_TOKEN");
      expect(inspects(stub)).toHaveLength(5);

      stub.gone.add(DB_ID);
      const gone = await run(command, stub);
      expect(gone.p.sections.docker).toEqual({
        status: "ok",
        exitCode: 0,
        reason: "inspect_partial",
        detail: `1 of 5 containers without inspect data: Error response from daemon: No such container: ${DB_ID}`,
      });
      expect(gone.p.containers!.map((c) => c.name)).toEqual(["homelab-web-1", "homelab-db-1", "old-job", "node-exporter", "worker"]);
      expect(inspectFields(gone.p.containers![1]!)).toEqual([null, null, null, null, null, null]);
      expect(gone.p.containers!.map((c) => c.imageId === null)).toEqual([false, true, false, false, false]);
      await stub.close();

      stub = await startDockerStub({ summaries: [], containers: [] });
      const none = await run(command, stub);
      expect(none.raw.get("docker")!.body).toBe("#@inspect none");
      expect(none.p.containers).toEqual([]);
      expect(none.p.sections.docker).toEqual({ status: "ok", exitCode: 0 });
      expect(inspects(stub)).toEqual([]);
      expect(stub.requests.some((r) => r.includes("/containers/json"))).toBe(true);
    });
  }
});

describe("a simulated host over SSH, discovered through the MCP tools", () => {
  let h: Harness | undefined;
  let sim: SimHost | undefined;
  afterEach(async () => {
    await h?.close();
    await sim?.close();
    h = sim = undefined;
  });

  it("get_target shows each service's unit file state and each container's inspect fields", async () => {
    sim = await startSimHost({ name: "deb-enabled", users: { root: { password: "pw-probe-test" } } });
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "ssh",
            id: "lab",
            hosts: [{ address: sim.address, port: sim.port, name: "deb-enabled" }],
            auth: { agent: false, password_env: "FLEET_TEST_SSH_PASSWORD" },
            timeout_ms: 5000,
            retry_min_delay_ms: 0,
          },
        ],
      },
      env: { FLEET_TEST_SSH_PASSWORD: "pw-probe-test" },
    });
    const run = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(run.isError, text(run)).toBeFalsy();
    expect(run.structuredContent).toMatchObject({ status: "ok", targets_seen: 1 });
    const got = await h.client.callTool({ name: "get_target", arguments: { target: "deb-enabled" } });
    expect(got.isError, text(got)).toBeFalsy();
    type Row = Record<string, unknown>;
    const t = got.structuredContent as { services: { items: Row[] }; containers: { items: Row[] }; last_probe: { sections: Record<string, Row> } };
    expect(t.services.items.map((s) => [s.name, s.enabled])).toEqual([
      ["backup.service", "static"],
      ["nginx.service", "enabled"],
      ["ssh.service", "enabled"],
    ]);
    const byName = Object.fromEntries(t.containers.items.map((c) => [c.name, c]));
    const cols = ["image_id", "restart_count", "health", "exit_code", "privileged", "network_mode"];
    expect(cols.map((k) => byName["homelab-web-1"]![k])).toEqual([
      "sha256:5ef79149e0ec84a7a9f9284c3f91aa3c20608f8391f5445eabe92ef07dbda03c",
      0,
      "healthy",
      null,
      false,
      "homelab_default",
    ]);
    expect(cols.map((k) => byName["old-job"]![k])).toEqual([
      "sha256:91ef0af61f39ece4d6710e465df5ff6de6ca6ac1d8d1ad56a8b2b64a4a4e0d1e",
      0,
      null,
      0,
      false,
      "bridge",
    ]);
    expect([byName["homelab-web-1"]!.id, byName["homelab-db-1"]!.id, byName["old-job"]!.id]).toEqual([WEB_ID, DB_ID, JOB_ID]);
    expect(byName["homelab-db-1"]).toMatchObject({ restart_count: 1, health: null, exit_code: null });
    expect(t.last_probe.sections.docker).toEqual({ status: "ok", exit_code: 0, reason: null, detail: null });
    expect(t.last_probe.sections.systemd).toEqual({ status: "ok", exit_code: 0, reason: null, detail: null });
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
