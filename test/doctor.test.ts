// doctor through the MCP client: each broken source answered with its fix.
import { afterEach, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.js";
import { clusterFromFixtures, startPveSim, type PveSim } from "./support/pve-sim.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TOKEN_ID = "fleet@pve!doctor";
const SECRET = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
let h: Harness | undefined;
let pve: PveSim | undefined;
const sims: SimHost[] = [];
afterEach(async () => {
  if (h) {
    expect(h.logs.join("")).not.toContain(SECRET);
    await h.close();
  }
  h = undefined;
  await pve?.close();
  pve = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function doctor(harness: Harness) {
  const res = await harness.client.callTool({ name: "doctor", arguments: {} });
  expect(res.isError).toBeFalsy();
  return res.structuredContent as S;
}

describe("doctor", () => {
  it("keeps the host key policy: no credentials go to a host whose key changed", async () => {
    const first = await startSimHost({ name: "pinned-host", users: { root: { password: "pw-1234" } } });
    h = await startHarness({
      configJson: {
        sources: [
          { kind: "ssh", id: "lab", hosts: [{ address: first.address, port: first.port }], auth: { agent: false, password_env: "P" }, timeout_ms: 2000 },
        ],
      },
      env: { P: "pw-1234" },
    });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    const port = first.port;
    await first.close();
    const impostor = await startSimHost({ name: "impostor", port, users: { root: { password: "pw-1234" } } });
    sims.push(impostor);
    const d = await doctor(h);
    expect(d.checks[0]).toMatchObject({ check: "ssh", status: "error", fix: expect.stringContaining("accept_host_key") });
    expect(impostor.authAttempts).toEqual([]);
  });

  it("shows the fingerprint to pin, and passes a healthy token", async () => {
    pve = await startPveSim({ ...clusterFromFixtures("8.4"), tokens: { [TOKEN_ID]: { secret: SECRET } } });
    h = await startHarness({
      configJson: {
        sources: [{ kind: "proxmox", id: "pve", host: pve.host, port: pve.port, token_id: TOKEN_ID, token_secret_env: "S", fingerprint: pve.fingerprint }],
      },
      env: { S: SECRET },
    });
    const d = await doctor(h);
    expect(d.errors).toBe(0);
    expect(d.checks.find((c: S) => c.check === "reachability").message).toContain(pve.fingerprint);
    expect(d.checks.map((c: S) => `${c.check}:${c.status}`)).toEqual(["reachability:ok", "tls:ok", "auth:ok", "privileges:ok"]);
  });

  it("names the pin for an unverifiable certificate, and the pveum fix for a privilege-separated token", async () => {
    pve = await startPveSim({ ...clusterFromFixtures("8.4"), tokens: { [TOKEN_ID]: { secret: SECRET, privsep: true } } });
    h = await startHarness({
      configJson: { sources: [{ kind: "proxmox", id: "pve", host: pve.host, port: pve.port, token_id: TOKEN_ID, token_secret_env: "S" }] },
      env: { S: SECRET },
    });
    const tls = (await doctor(h)).checks.find((c: S) => c.check === "tls");
    expect(tls).toMatchObject({ status: "error", fix: expect.stringContaining(`"fingerprint": "${pve.fingerprint}"`) });
    await h.close();
    h = await startHarness({
      configJson: { sources: [{ kind: "proxmox", id: "pve", host: pve.host, port: pve.port, token_id: TOKEN_ID, token_secret_env: "S", insecure: true }] },
      env: { S: SECRET },
    });
    const d = await doctor(h);
    expect(d.checks.find((c: S) => c.check === "tls")).toMatchObject({ status: "warning", fix: expect.stringContaining(pve.fingerprint) });
    expect(d.checks.find((c: S) => c.check === "privileges")).toMatchObject({
      status: "error",
      message: expect.stringContaining("privilege separation"),
      fix: `Grant PVEAuditor on /: pveum acl modify / --tokens '${TOKEN_ID}' --roles PVEAuditor`,
    });
  });

  it("tells a wrong token secret from a bad SSH password and an unreachable host", async () => {
    pve = await startPveSim({ ...clusterFromFixtures("9.0"), tokens: { [TOKEN_ID]: { secret: SECRET } } });
    const good = await startSimHost({ name: "ok-host", users: { root: { password: "right-pw" } } });
    const down = await startSimHost({ name: "down-host", fault: "refuse" });
    sims.push(good, down);
    h = await startHarness({
      configJson: {
        sources: [
          { kind: "proxmox", id: "pve", host: pve.host, port: pve.port, token_id: TOKEN_ID, token_secret_env: "S", fingerprint: pve.fingerprint },
          {
            kind: "ssh",
            id: "lab",
            hosts: [
              { address: good.address, port: good.port },
              { address: down.address, port: down.port },
            ],
            auth: { agent: false, password_env: "P" },
            timeout_ms: 2000,
          },
        ],
      },
      env: { S: "11111111-2222-4333-8444-555555555555", P: "wrong-pw" },
    });
    const d = await doctor(h);
    expect(d.checks.find((c: S) => c.source === "pve" && c.check === "auth")).toMatchObject({ status: "error", fix: expect.stringContaining(TOKEN_ID) });
    const lab = d.checks.filter((c: S) => c.source === "lab");
    expect(lab.find((c: S) => c.target.includes(String(good.port)))).toMatchObject({
      check: "auth",
      status: "error",
      fix: expect.stringContaining("auth.password_env"),
    });
    expect(lab.find((c: S) => c.target.includes(String(down.port)))).toMatchObject({
      check: "reachability",
      status: "error",
      fix: expect.stringContaining("sshd listens"),
    });
  });
});
