// The PVE simulator, proven with the REAL npm `proxmox-api` client over real TLS
// (undici, verified against the sim's CA; never NODE_TLS_REJECT_UNAUTHORIZED):
// pveproxy's framing, the version drift from the captures, ticket and token auth,
// 401/403/501/595 as the client reports them, faults, CA verification and
// fingerprint pinning. Loopback only; every wait is bounded.
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import { gunzipSync } from "node:zlib";
import proxmoxApi from "proxmox-api";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clusterFromFixtures, startPveSim, type PveSim, type PveSimOptions, type PveVersion } from "./support/pve-sim.js";

const TOKEN_ID = "fleet@pve!inventory";
const TOKEN_SECRET = "12345678-1234-1234-1234-1234567890ab";
const PRIVSEP_ID = "audit@pve!bare";
const PRIVSEP_SECRET = "0f0e0d0c-0b0a-4909-8807-060504030201";
const PASSWORD = "correct horse battery staple";
const VERSIONS: PveVersion[] = ["6.2", "7.4", "8.4", "9.0"];

type Row = Record<string, unknown>;

function baseline(version: PveVersion = "8.4", offline = false): PveSimOptions {
  return {
    version,
    ...clusterFromFixtures(version, { offline }),
    tokens: { [TOKEN_ID]: { secret: TOKEN_SECRET }, [PRIVSEP_ID]: { secret: PRIVSEP_SECRET, privsep: true } },
    users: { "root@pam": PASSWORD },
    authFailDelayMs: 0,
  };
}

let sim: PveSim;
let caAgent: Agent;
const agents: Agent[] = [];

function agent(opts: ConstructorParameters<typeof Agent>[0]): Agent {
  const a = new Agent(opts);
  agents.push(a);
  return a;
}

beforeAll(async () => {
  sim = await startPveSim(baseline());
  caAgent = agent({ connect: { ca: sim.caPem } });
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.destroy()));
  await sim?.close();
});

beforeEach(() => {
  sim.set({ ...baseline(), fault: undefined, latencyMs: 0, ticketTtlMs: undefined });
  sim.requests.length = 0;
});

type Auth = { tokenID: string; tokenSecret: string } | { username?: string; password: string };

/** The real client, TLS verified against the sim's CA through a custom undici fetch. */
function pve(
  auth: Auth = { tokenID: TOKEN_ID, tokenSecret: TOKEN_SECRET },
  dispatcher: Agent = caAgent,
  timeouts: { queryTimeout?: number; authTimeout?: number } = {},
) {
  return proxmoxApi({
    host: sim.host,
    port: sim.port,
    queryTimeout: 5000,
    authTimeout: 5000,
    ...timeouts,
    ...auth,
    fetch: (url, init) => undiciFetch(url, { ...init, dispatcher }),
  });
}

type ClientError = Error & { cause?: { message?: string; cause?: { code?: string; message?: string } } };

async function failure(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    return e as ClientError;
  }
  throw new Error("expected the call to fail");
}

interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One plain HTTPS request (CA-verified), to look at the framing the client hides. */
function raw(path: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: sim.host, port: sim.port, path, method, headers, ca: sim.caPem, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        const text = res.headers["content-encoding"] === "gzip" ? gunzipSync(buf).toString("utf8") : buf.toString("utf8");
        resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? "", headers: res.headers, body: text });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("raw request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

const tokenHeader = { Authorization: `PVEAPIToken=${TOKEN_ID}=${TOKEN_SECRET}` };

describe("pveproxy framing on the wire", () => {
  it("200: exact JSON content type, {data} envelope, pve-api-daemon server, keep-alive", async () => {
    const r = await raw("/api2/json/version", tokenHeader);
    expect(r.status).toBe(200);
    expect(r.reason).toBe("OK");
    expect(r.headers["content-type"]).toBe("application/json;charset=UTF-8");
    expect(r.headers.server).toBe("pve-api-daemon/3.0");
    expect(r.headers["cache-control"]).toBe("max-age=0");
    expect(r.headers.pragma).toBe("no-cache");
    expect(String(r.headers.connection).toLowerCase()).toBe("keep-alive");
    expect(JSON.parse(r.body)).toEqual({ data: { release: "8.4", version: "8.4.14", repoid: "b502d23c55afcba1" } });
  });

  it("401 without credentials: reason 'No ticket', empty body, no Content-Type, Connection: close", async () => {
    const r = await raw("/api2/json/nodes");
    expect(r.status).toBe(401);
    expect(r.reason).toBe("No ticket");
    expect(r.body).toBe("");
    expect(r.headers["content-type"]).toBeUndefined();
    expect(r.headers.connection).toBe("close");
    expect(sim.requests).toEqual([{ method: "GET", path: "/api2/json/nodes", auth: "none", csrf: false }]);
  });

  it("errors carry the message in the reason phrase; `message` in the body only from 8.4", async () => {
    const r = await raw("/api2/json/nope", tokenHeader);
    expect([r.status, r.reason]).toEqual([501, "Method 'GET /nope' not implemented"]);
    expect(r.headers["content-type"]).toBe("application/json;charset=UTF-8");
    expect(r.headers.connection).toBe("close");
    expect(JSON.parse(r.body)).toEqual({ data: null, message: "Method 'GET /nope' not implemented\n" });

    sim.set({ version: "7.4" });
    const old = await raw("/api2/json/nodes/node1/qemu/999/config", tokenHeader);
    expect([old.status, old.reason]).toEqual([500, "Configuration file 'nodes/node1/qemu-server/999.conf' does not exist"]);
    expect(JSON.parse(old.body)).toEqual({ data: null });

    const param = await raw("/api2/json/cluster/resources?type=bogus", tokenHeader);
    expect([param.status, param.reason]).toEqual([400, "Parameter verification failed."]);
    expect(JSON.parse(param.body)).toEqual({
      data: null,
      errors: { type: "value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'\n" },
    });
  });

  it("gzips bodies over 1 KiB when the client accepts it", async () => {
    const r = await raw("/api2/json/cluster/resources", { ...tokenHeader, "Accept-Encoding": "gzip" });
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect((JSON.parse(r.body) as { data: Row[] }).data.length).toBeGreaterThan(10);
    const plain = await raw("/api2/json/cluster/resources", tokenHeader);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body).toBe(r.body);
  });

  it("POST /access/ticket with a wrong password: 401 'authentication failure' WITH a JSON body", async () => {
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    const r = await raw("/api2/json/access/ticket", form, "POST", "username=root%40pam&password=nope");
    expect([r.status, r.reason]).toEqual([401, "authentication failure"]);
    expect(r.headers["content-type"]).toBe("application/json;charset=UTF-8");
    expect(JSON.parse(r.body)).toEqual({ data: null, message: "authentication failure\n" });

    sim.set({ clusterName: null });
    const ok = await raw("/api2/json/access/ticket", form, "POST", `username=root%40pam&password=${encodeURIComponent(PASSWORD)}`);
    const data = (JSON.parse(ok.body) as { data: Row }).data;
    expect(data.username).toBe("root@pam");
    expect(data.ticket).toMatch(/^PVE:root@pam:[0-9A-F]{8}::[A-Za-z0-9+/]+=*$/);
    expect(data.CSRFPreventionToken).toMatch(/^[0-9A-F]{8}:[A-Za-z0-9+/]{43}$/);
    expect(data).toHaveProperty(["cap", "vms", "VM.Audit"], 1);
    expect(data).not.toHaveProperty("clustername");
  });
});

describe.each(VERSIONS)("token auth against PVE %s", (version) => {
  const v = Number(version.split(".")[0]) * 100 + Number(version.split(".")[1]); // "8.4" → 804
  beforeEach(() => sim.set(baseline(version)));

  it("lists /cluster/resources with that release's typing", async () => {
    const px = pve();
    const vms = (await px.cluster.resources.$get({ type: "vm" })) as unknown as Row[];
    expect(vms.map((r) => r.id)).toEqual(["qemu/100", "qemu/101", "qemu/102", "qemu/103", "lxc/105", "lxc/106", "lxc/107"]);
    for (const r of vms) {
      expect(typeof r.vmid).toBe("number"); // always an integer here ("$vmid + 0")
      expect([0, 1]).toContain(r.template);
      expect("memhost" in r).toBe(version === "9.0");
    }
    const web = vms.find((r) => r.vmid === 100)!;
    expect(web).toMatchObject({ name: "web01", status: "running", tags: "prod;web", pool: "production", hastate: "started", template: 0 });
    expect(vms.find((r) => r.vmid === 101)).toMatchObject({ template: 1, status: "stopped" });
    expect(vms.find((r) => r.vmid === 103)).toMatchObject({ lock: "backup" });

    const nodes = (await px.cluster.resources.$get({ type: "node" })) as unknown as Row[];
    expect(nodes.map((n) => n.id)).toEqual(["node/node1", "node/node2", "node/node3"]);
    for (const n of nodes) expect("cgroup-mode" in n).toBe(version !== "6.2");

    const all = (await px.cluster.resources.$get()) as unknown as Row[];
    expect(new Set(all.map((r) => r.type))).toEqual(new Set(["pool", "qemu", "lxc", "node", "storage", ...(v >= 801 ? ["sdn"] : [])]));
    expect(sim.requests.every((r) => r.auth === "token" && !r.csrf)).toBe(true);
  });

  it("node lists, configs and status drift like the captures", async () => {
    const px = pve();
    expect(await px.version.$get()).toMatchObject({ release: version });

    const lxc = (await px.nodes.$("node1").lxc.$get()) as unknown as Row[];
    expect(lxc).toHaveLength(1);
    expect(lxc[0]).toMatchObject({ type: "lxc", name: "dns01", status: "running", maxmem: 1024 * 1024 * 1024 });
    expect(typeof lxc[0]!.vmid).toBe(v < 802 ? "string" : "number"); // pve-container 81aa4bd (PVE 8.2)
    if (version === "6.2") expect(lxc[0]).toMatchObject({ template: "", lock: "", maxdisk: String(8 * 1024 ** 3) });
    else expect(lxc[0]).not.toHaveProperty("template");

    const qemu = (await px.nodes.$("node1").qemu.$get({ full: true })) as unknown as Row[];
    expect(qemu.map((q) => String(q.vmid))).toEqual(["100", "101"]);
    expect(typeof qemu[0]!.vmid).toBe(version === "6.2" ? "string" : "number"); // qemu-server ad2cad72 (PVE 7.0)
    expect(qemu[0]).not.toHaveProperty("type");
    expect(qemu[0]).toMatchObject({ qmpstatus: "running" });
    expect(qemu[1]).toMatchObject({ template: 1, maxdisk: 64 * 1024 ** 3 });
    expect(qemu[0]!.template).toBe(version === "6.2" ? "" : undefined);

    const qcfg = (await px.nodes.$("node1").qemu.$(100).config.$get()) as unknown as Row;
    expect(qcfg.memory).toEqual(v >= 801 ? "4096" : 4096); // qemu-server 7f8c8087 memory property string
    expect(qcfg).toMatchObject({ name: "web01", ipconfig0: "ip=10.100.1.174/24,gw=10.100.1.1,ip6=auto", onboot: 1 });
    const lcfg = (await px.nodes.$("node1").lxc.$(106).config.$get()) as unknown as Row;
    expect(lcfg.memory).toBe(1024);

    const status = (await px.nodes.$("node2").status.$get()) as unknown as Row;
    expect(status.loadavg).toEqual(expect.arrayContaining([expect.any(String)]));
    expect("current-kernel" in status).toBe(v >= 801);
    expect("boot-info" in status).toBe(v >= 801);
    expect("available" in (status.memory as Row)).toBe(version === "9.0");
    expect(status.pveversion).toMatch(new RegExp(`^pve-manager/${version.replace(".", "\\.")}`));
  });

  it("LXC /interfaces: 501 before 8.1, the old shape until 9.0, ip-addresses from 9.0, null when stopped", async () => {
    const px = pve();
    if (v < 801) {
      const e = await failure(px.nodes.$("node1").lxc.$(106).interfaces.$get());
      expect(e.message).toContain("connection failed with 501 Method 'GET /nodes/node1/lxc/106/interfaces' not implemented");
      return;
    }
    const ifs = (await px.nodes.$("node1").lxc.$(106).interfaces.$get()) as unknown as Row[];
    const eth0 = ifs.find((i) => i.name === "eth0")!;
    expect(eth0).toMatchObject({ hwaddr: "bc:24:11:6a:10:06", inet: "10.1.1.3/24", inet6: "fe80::be24:11ff:fe6a:1006/64" });
    if (version === "9.0") {
      expect(eth0["hardware-address"]).toBe("bc:24:11:6a:10:06");
      expect(eth0["ip-addresses"]).toContainEqual({ "ip-address": "10.1.1.3", "ip-address-type": "inet", prefix: 24 });
    } else {
      expect(eth0).not.toHaveProperty("ip-addresses");
    }
    expect(await px.nodes.$("node3").lxc.$(107).interfaces.$get()).toBeNull();
  });

  it("a missing guest is a 500 the client reports with the body (message only from 8.4)", async () => {
    const e = await failure(pve().nodes.$("node1").qemu.$(999).config.$get());
    expect(e.message).toContain("return Error 500 Configuration file 'nodes/node1/qemu-server/999.conf' does not exist:");
    expect(e.message.includes('"message":"Configuration file')).toBe(v >= 804);
  });
});

describe("QEMU guest agent", () => {
  it("answers the result array, the Unsupported form, and the 500 reasons", async () => {
    const px = pve();
    const ok = (await px.nodes.$("node1").qemu.$(100).agent["network-get-interfaces"].$get()) as { result: Row[] };
    expect(ok.result.map((i) => i.name)).toEqual(["lo", "eth0", "docker0"]);
    expect(ok.result[1]).toMatchObject({ "hardware-address": "bc:24:11:4e:8f:d1" });

    const win = (await px.nodes.$("node2").qemu.$(102).agent["network-get-interfaces"].$get()) as { result: unknown };
    expect(win).toEqual({ result: { error: { class: "Unsupported", desc: "this feature or command is not currently supported" } } });

    const notRunning = await failure(px.nodes.$("node2").qemu.$(103).agent["network-get-interfaces"].$get());
    expect(notRunning.message).toContain("return Error 500 QEMU guest agent is not running");
    const stopped = await failure(px.nodes.$("node1").qemu.$(101).agent["network-get-interfaces"].$get());
    expect(stopped.message).toContain("return Error 500 VM 101 is not running");

    sim.set({
      guests: [
        { vmid: 150, type: "qemu", node: "node1", name: "noagent", status: "running", config: { memory: 2048, net0: "virtio=BC:24:11:00:00:96,bridge=vmbr0" } },
      ],
    });
    const none = await failure(px.nodes.$("node1").qemu.$(150).agent["network-get-interfaces"].$get());
    expect(none.message).toContain("return Error 500 No QEMU guest agent configured");
  });
});

describe("ticket auth", () => {
  it("logs in with POST /access/ticket, then sends the cookie and CSRF header", async () => {
    const px = pve({ username: "root@pam", password: PASSWORD });
    const nodes = (await px.nodes.$get()) as unknown as Row[];
    expect(nodes.map((n) => n.node)).toEqual(["node1", "node2", "node3"]);
    expect(nodes[0]!.ssl_fingerprint).toBe(sim.fingerprint); // node1 is the node we talk to
    await px.cluster.status.$get();
    expect(sim.requests).toEqual([
      { method: "POST", path: "/api2/json/access/ticket", auth: "none", csrf: false },
      { method: "GET", path: "/api2/json/nodes", auth: "ticket", csrf: true },
      { method: "GET", path: "/api2/json/cluster/status", auth: "ticket", csrf: true },
    ]);
  });

  it("an expired ticket answers 401 'permission denied - invalid PVE ticket' and the client logs in again", async () => {
    const px = pve({ username: "root@pam", password: PASSWORD });
    await px.version.$get();
    sim.set({ ticketTtlMs: 400 });
    await new Promise((r) => setTimeout(r, 500)); // the cached ticket is now stale; a fresh one lives 400 ms
    const before = sim.requests.length;
    // the stale ticket fails; the client drops it, logs in again and retries once
    expect(await px.version.$get()).toMatchObject({ release: "8.4" });
    expect(sim.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api2/json/version",
      "POST /api2/json/access/ticket",
      "GET /api2/json/version",
    ]);
  });

  it("a standalone node has no cluster entry and no clustername", async () => {
    sim.set({ clusterName: null });
    expect(await pve().cluster.status.$get()).toEqual([
      { type: "node", id: "node/node1", name: "node1", ip: "192.168.1.1", local: 1, nodeid: 0, online: 1, level: "" },
    ]);
  });

  it("a wrong password fails the login with the client's own wording", async () => {
    const e = await failure(pve({ username: "root@pam", password: "wrong" }).nodes.$get());
    expect(e.message).toBe(`Auth https://127.0.0.1:${sim.port}/api2/json/access/ticket Failed!`);
    expect(e.cause?.message).toBe('login failed with 401: authentication failure {"data":null,"message":"authentication failure\\n"}');
  });
});

describe("failures the client must classify", () => {
  it("a wrong token → 401 in the message, after authFailDelayMs", async () => {
    sim.set({ authFailDelayMs: 300 });
    const t0 = performance.now();
    const e = await failure(pve({ tokenID: TOKEN_ID, tokenSecret: "00000000-0000-0000-0000-000000000000" }).nodes.$get());
    const took = performance.now() - t0;
    expect(e.message).toBe(`GET https://127.0.0.1:${sim.port}/api2/json/nodes return Error 401 invalid token value!: {"data":null,"errors":""}`);
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(5000);

    sim.set({ authFailDelayMs: 0 });
    const unknown = await failure(pve({ tokenID: "ghost@pve!x", tokenSecret: TOKEN_SECRET }).nodes.$get());
    expect(unknown.message).toContain("return Error 401 no such token 'x' for user 'ghost@pve'");
    sim.set({ version: "9.0" });
    const nine = await failure(pve({ tokenID: TOKEN_ID, tokenSecret: "00000000-0000-0000-0000-000000000000" }).nodes.$get());
    expect(nine.message).toContain("return Error 401 Authentication failed!");
  });

  it("an offline node → 595 on proxied calls; still listed offline, its guests unknown", async () => {
    sim.set(baseline("8.4", true));
    const px = pve();
    const e = await failure(px.nodes.$("node3").lxc.$get());
    expect(e.message).toBe(
      `GET https://127.0.0.1:${sim.port}/api2/json/nodes/node3/lxc connection failed with 595 No route to host return: {"data":null,"errors":""}`,
    );
    const nodes = (await px.nodes.$get()) as unknown as Row[];
    const n3 = nodes.find((n) => n.node === "node3")!;
    expect(n3.status).toBe("offline");
    expect(n3).not.toHaveProperty("uptime");
    const vms = (await px.cluster.resources.$get({ type: "vm" })) as unknown as Row[];
    expect(vms.find((r) => r.vmid === 105)).toEqual({ id: "lxc/105", vmid: 105, node: "node3", type: "lxc", status: "unknown", tags: "tag1;tag2" });
    const status = (await px.cluster.status.$get()) as unknown as Row[];
    expect(status.find((s) => s.name === "node3")).toMatchObject({ online: 0, local: 0 });
    expect(status[0]).toMatchObject({ type: "cluster", name: "pve-cluster", nodes: 3, quorate: 1 });
    // node1/node2 still answer
    expect(await px.nodes.$("node2").qemu.$get()).toHaveLength(2);
  });

  it("a privilege-separated token without ACLs sees [] (bare node entries) and 403 on audited paths", async () => {
    const px = pve({ tokenID: PRIVSEP_ID, tokenSecret: PRIVSEP_SECRET });
    expect(await px.cluster.resources.$get({ type: "vm" })).toEqual([]);
    expect(await px.nodes.$("node1").qemu.$get()).toEqual([]);
    expect(await px.nodes.$("node1").lxc.$get()).toEqual([]);
    const all = (await px.cluster.resources.$get()) as unknown as Row[];
    expect(all).toEqual(["node1", "node2", "node3"].map((n) => ({ id: `node/${n}`, node: n, type: "node", status: "online", level: "", "cgroup-mode": 2 })));
    expect(await px.access.permissions.$get()).toEqual({});
    const e = await failure(px.cluster.status.$get());
    expect(e.message).toContain("connection failed with 403 Permission check failed (/, Sys.Audit)");
  });

  it("a non-PVE content type makes the client throw 'unexpected contentType'", async () => {
    sim.set({ fault: { contentType: "application/json" } });
    const e = await failure(pve().nodes.$get());
    expect(e.message).toMatch(/^GET https:\/\/127\.0\.0\.1:\d+\/api2\/json\/nodes unexpected contentType "application\/json" status Line:200/);
  });

  it("malformed JSON is swallowed by the client: the call resolves to null", async () => {
    sim.set({ fault: { malformedJson: true } });
    expect(await pve().nodes.$get()).toBeNull();
  });

  it("a status fault applies to matching paths only", async () => {
    sim.set({ fault: { path: /\/cluster\/resources/, status: 500, reason: "got timeout" } });
    const e = await failure(pve().cluster.resources.$get());
    expect(e.message).toContain("return Error 500 got timeout:");
    expect(await pve().version.$get()).toMatchObject({ release: "8.4" });
  });

  it("a hung server fails after about two queryTimeouts", async () => {
    sim.set({ fault: { hang: true } });
    const hangAgent = agent({ connect: { ca: sim.caPem } });
    const t0 = performance.now();
    const e = await failure(pve(undefined, hangAgent, { queryTimeout: 250 }).version.$get());
    const took = performance.now() - t0;
    expect(e.message).toBe(`FaILED to call GET https://127.0.0.1:${sim.port}/api2/json/version`);
    expect(String(e.cause)).toMatch(/AbortError|aborted/);
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(5000);
    expect(sim.requests).toHaveLength(2); // the client's one retry
  });

  it("latencyMs delays every answer", async () => {
    sim.set({ latencyMs: 120 });
    const t0 = performance.now();
    await pve().version.$get();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
  });
});

describe("TLS", () => {
  it("without the CA the handshake fails (leaf signed by an unknown CA)", async () => {
    const e = await failure(pve(undefined, agent({})).version.$get());
    expect(e.message).toMatch(/^FaILED to call GET .* cause by:(unable to verify the first certificate|self[- ]signed certificate)/);
    expect(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN"]).toContain(e.cause?.cause?.code);
    expect(sim.requests).toEqual([]); // no request ever reached the server
  });

  function pinned(fp: string): Agent {
    const base = buildConnector({ rejectUnauthorized: false });
    return agent({
      connect: (options, callback) =>
        base(options, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error("no socket"), null);
          const seen = (socket as TLSSocket).getPeerCertificate().fingerprint256;
          if (seen !== fp) {
            socket.destroy();
            return callback(new Error(`certificate fingerprint ${seen} is not the pinned ${fp}`), null);
          }
          callback(null, socket);
        }),
    });
  }

  it("pinning the SHA-256 fingerprint accepts the sim, and refuses any other pin", async () => {
    expect(sim.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(await pve(undefined, pinned(sim.fingerprint)).version.$get()).toMatchObject({ release: "8.4" });
    const wrong = sim.fingerprint.replace(/^../, sim.fingerprint.startsWith("00") ? "01" : "00");
    const e = await failure(pve(undefined, pinned(wrong)).version.$get());
    expect(e.message).toContain("cause by:certificate fingerprint");
  });

  it("the sim never records a secret", async () => {
    await pve({ username: "root@pam", password: PASSWORD }).nodes.$get();
    await pve().nodes.$get();
    const seen = JSON.stringify(sim.requests);
    expect(seen).not.toContain(TOKEN_SECRET);
    expect(seen).not.toContain(PASSWORD);
    expect(seen).not.toContain("PVE:root@pam");
  });
});
