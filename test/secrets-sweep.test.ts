// The secrets sweep (issue 9, item 5). Known, unmistakable secret values are
// configured the only way the product takes them, through environment variables
// named in the config file: a Proxmox API token secret, a Proxmox password, an
// SSH password, an SSH key passphrase (an encrypted ed25519 key the simulated
// host accepts) and the HTTP bearer token, plus wrong ones (a token secret and a
// password the simulators refuse, a wrong passphrase) for the failure paths.
// The built server runs them: `serve --http` (with every tool, resource and
// prompt called through an MCP client, failure paths included: wrong secrets,
// unreachable sources, arguments that carry secret values, wrong bearer tokens),
// `serve` over stdio (raw JSON-RPC, so its stdout is swept byte for byte), and
// the CLI commands. Then every byte they produced is swept: tool results and
// notifications, raw HTTP response bodies, /metrics, /healthz and http_sd, the
// servers' whole stderr at debug level, every CLI stdout/stderr, and every file
// left in the work directory (the database, its WAL, exports, reports, the
// snapshot archive (gunzipped too), known_hosts, the rewritten config file). A
// secret is looked for raw and in the forms a leak could take (JSON-escaped,
// URL-encoded, form-encoded, base64 and base64url at every alignment, hex, and
// its random core alone, so a truncated copy is caught too). The sweep's own
// power is checked first on planted values.
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import Database from "better-sqlite3";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { ALL_TOOLS } from "../src/tools/index.js";
import { CLI, ensureBuilt, runCli, show, type CliResult } from "./support/cli.js";
import { startHarness } from "./support/harness.js";
import { clusterFromFixtures, startPveSim, type PveSim } from "./support/pve-sim.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";
import { sleep, waitFor } from "./support/wait.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---------------------------------------------------------------------------
// The secrets. Random cores, so no code can know them in advance; special
// characters where the channel allows them, so encoded forms differ from raw.

const core = () => randomBytes(12).toString("hex");
/** Proxmox token secrets must be lower-case UUIDs (proxmox-api refuses anything else up front). */
const SECRETS = {
  pve_token_secret: randomUUID(),
  pve_token_secret_wrong: randomUUID(),
  pve_password: `S3CR3T-pve-password-${core()} +/=&%"\\<>`,
  ssh_password: `S3CR3T-ssh-password-${core()} +/=&%"\\'`,
  ssh_password_wrong: `S3CR3T-ssh-wrong-pw-${core()} +/=&%"\\`,
  key_passphrase: `S3CR3T-key-passphrase-${core()} +/="\\`,
  key_passphrase_wrong: `S3CR3T-key-wrong-pp-${core()} +/="\\`,
  // A header value: printable ASCII, no quotes.
  http_token: `S3CR3T-http-bearer-${core()}+/=~.`,
} as const;
type SecretName = keyof typeof SECRETS;

/** The environment variable that holds each secret: the config file names these, never the values. */
const ENV: Record<SecretName, string> = {
  pve_token_secret: "SWEEP_PVE_TOKEN_SECRET",
  pve_token_secret_wrong: "SWEEP_PVE_TOKEN_SECRET_WRONG",
  pve_password: "SWEEP_PVE_PASSWORD",
  ssh_password: "SWEEP_SSH_PASSWORD",
  ssh_password_wrong: "SWEEP_SSH_PASSWORD_WRONG",
  key_passphrase: "SWEEP_KEY_PASSPHRASE",
  key_passphrase_wrong: "SWEEP_KEY_PASSPHRASE_WRONG",
  http_token: "FLEET_HTTP_TOKEN",
};

const TOKEN_ID = "root@pam!fleet";

// ---------------------------------------------------------------------------
// The sweep

interface Needle {
  secret: string;
  form: string;
  bytes: Buffer;
}

/** The part of the base64 of `value` that does not depend on its neighbours, when it starts `pad` bytes into a 3-byte group. */
function base64Middle(value: Buffer, pad: number, url: boolean): string {
  const full = Buffer.concat([Buffer.alloc(pad), value]);
  let b64 = full.toString("base64").slice(pad === 0 ? 0 : 4, Math.floor(full.length / 3) * 4);
  if (url) b64 = b64.replace(/\+/g, "-").replace(/\//g, "_");
  return b64;
}

/** The forms a leaked value could take; `cores` are substrings that alone betray the secret (a truncated copy). */
function needlesFor(secret: string, value: string, cores: string[]): Needle[] {
  const v = Buffer.from(value, "utf8");
  const forms: Array<[string, string]> = [
    ["raw", value],
    ["json-escaped", JSON.stringify(value).slice(1, -1)],
    ["url-encoded", encodeURIComponent(value)],
    ["uri-encoded", encodeURI(value)],
    ["form-encoded", new URLSearchParams({ x: value }).toString().slice(2)],
    ["hex", v.toString("hex")],
    ["upper-case", value.toUpperCase()],
  ];
  for (const pad of [0, 1, 2]) {
    forms.push([`base64@${pad}`, base64Middle(v, pad, false)]);
    forms.push([`base64url@${pad}`, base64Middle(v, pad, true)]);
  }
  for (const c of cores) forms.push([`core ${c.slice(0, 6)}…`, c]);
  const seen = new Set<string>();
  return forms.flatMap(([form, s]) => {
    if (s.length < 12 || seen.has(s)) return [];
    seen.add(s);
    return [{ secret, form, bytes: Buffer.from(s, "utf8") }];
  });
}

function allNeedles(): Needle[] {
  return (Object.entries(SECRETS) as Array<[SecretName, string]>).flatMap(([name, value]) => {
    const cores = /^[0-9a-f-]{36}$/.test(value)
      ? // A UUID: its first and last 18 characters, each enough to identify it.
        [value.slice(0, 18), value.slice(-18), value.replace(/-/g, "")]
      : [/-([0-9a-f]{24})/.exec(value)![1]!];
    return needlesFor(name, value, cores);
  });
}

interface Finding {
  secret: string;
  form: string;
  where: string;
  context: string;
}

interface CorpusItem {
  where: string;
  data: Buffer;
}

/** Every occurrence of every needle in every item (and inside gzip items, decompressed). */
function sweep(corpus: CorpusItem[], needles: Needle[]): Finding[] {
  const out: Finding[] = [];
  const scan = (where: string, data: Buffer) => {
    for (const n of needles) {
      const at = data.indexOf(n.bytes);
      if (at < 0) continue;
      const context = data
        .subarray(Math.max(0, at - 60), Math.min(data.length, at + n.bytes.length + 60))
        .toString("utf8")
        .replace(/[^\x20-\x7e]/g, "·");
      out.push({ secret: n.secret, form: n.form, where, context });
    }
  };
  for (const item of corpus) {
    scan(item.where, item.data);
    if (item.data.length > 2 && item.data[0] === 0x1f && item.data[1] === 0x8b) {
      try {
        scan(`${item.where} (gunzipped)`, gunzipSync(item.data));
      } catch {
        // not gzip after all
      }
    }
  }
  return out;
}

function describeFindings(f: Finding[]): string {
  return f.map((x) => `  SECRET ${x.secret} (${x.form}) in ${x.where}: …${x.context}…`).join("\n");
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() ? [p] : [];
  });
}

// ---------------------------------------------------------------------------
// Helpers

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** An ed25519 key pair whose private half is encrypted with `passphrase` (OpenSSH format), made in-process: no passphrase on any command line. */
function encryptedKeyPair(passphrase: string): { private: string; public: string } {
  for (let i = 0; i < 32; i++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { passphrase, cipher: "aes256-ctr", rounds: 16 });
    // ssh2 sometimes makes an unparseable ed25519 key (see generateEd25519KeyPair): retry.
    if (!(ssh2.utils.parseKey(pair.private, passphrase) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error("could not generate a parseable encrypted ed25519 key");
}

interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function raw(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${opts.path}: no answer`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

function text(result: unknown): string {
  const content = (result as { content?: Array<{ text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("\n");
}

// ---------------------------------------------------------------------------
// The fleet, the config and the corpus

let work = "";
let cfgPath = "";
let dbPath = "";
const corpus: CorpusItem[] = [];
const add = (where: string, data: unknown) =>
  corpus.push({ where, data: Buffer.isBuffer(data) ? data : Buffer.from(typeof data === "string" ? data : (JSON.stringify(data) ?? "undefined"), "utf8") });
const figures: Record<string, unknown> = {};
const toolsCalled = new Map<string, number>();

let pveToken: PveSim | undefined;
let pvePass: PveSim | undefined;
const sims: SimHost[] = [];

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: join(work, "home"),
    XDG_CONFIG_HOME: join(work, "xdg-config"),
    XDG_DATA_HOME: join(work, "xdg-data"),
    FLEET_LOG_LEVEL: "debug",
    FLEET_CONFIG: cfgPath,
    FLEET_DB: dbPath,
    FLEET_DISCOVERY_INTERVAL: "0",
    FLEET_HEALTH_CHECK_INTERVAL: "5",
  };
  for (const [name, v] of Object.entries(ENV)) env[v] = SECRETS[name as SecretName];
  return env;
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "fleet-sweep-"));
  cfgPath = join(work, "fleet.config.yaml");
  dbPath = join(work, "db", "fleet.db");
  mkdirSync(join(work, "home"), { recursive: true });
  mkdirSync(join(work, "file_sd"), { recursive: true });

  pveToken = await startPveSim({ version: "8.4", ...clusterFromFixtures("8.4"), tokens: { [TOKEN_ID]: { secret: SECRETS.pve_token_secret } } });
  pvePass = await startPveSim({ version: "7.4", ...clusterFromFixtures("7.4"), clusterName: "pve-other", users: { "root@pam": SECRETS.pve_password } });
  const key = encryptedKeyPair(SECRETS.key_passphrase);
  const keyFile = join(work, "id_ed25519");
  writeFileSync(keyFile, key.private, { mode: 0o600 });
  const pwUsers = { fleet: { password: SECRETS.ssh_password } };
  sims.push(
    await startSimHost({ name: "pw-host-1", users: pwUsers }),
    await startSimHost({ name: "pw-host-2", users: pwUsers }),
    await startSimHost({ name: "key-host", users: { fleet: { publicKeys: [key.public] } } }),
  );
  const [pw1, pw2, keyHost] = sims as [SimHost, SimHost, SimHost];
  const down = await closedPort();
  const caFile = join(work, "pve-ca.pem");
  writeFileSync(caFile, pvePass.caPem);
  const knownHosts = join(work, "known_hosts");
  writeFileSync(knownHosts, "", { mode: 0o600 });
  const ssh = (id: string, hosts: SimHost[] | Array<{ address: string; port: number; name: string }>, auth: Record<string, unknown>) => ({
    kind: "ssh",
    id,
    user: "fleet",
    hosts: hosts.map((h, i) => ({ address: h.address, port: h.port, name: "name" in h ? h.name : `${id}-${i + 1}` })),
    auth: { agent: false, ...auth },
    known_hosts_file: knownHosts,
    timeout_ms: 10_000,
    retries: 0,
  });
  const config = {
    log_level: "debug",
    tools: { preset: "full" },
    snapshots: { auto: true, retention_days: 1, min_keep: 1, archive_dir: join(work, "snapshot-archive"), on_expire: "archive" },
    prometheus: { file_sd_path: join(work, "file_sd", "fleet.json") },
    sources: [
      {
        kind: "proxmox",
        id: "pve-token",
        host: "127.0.0.1",
        port: pveToken.port,
        token_id: TOKEN_ID,
        token_secret_env: ENV.pve_token_secret,
        fingerprint: pveToken.fingerprint,
        timeout_ms: 10_000,
      },
      {
        kind: "proxmox",
        id: "pve-pass",
        host: "127.0.0.1",
        port: pvePass.port,
        username: "root@pam",
        password_env: ENV.pve_password,
        ca_file: caFile,
        timeout_ms: 10_000,
      },
      // The token secret the simulator does not know: a 401 and its error text.
      {
        kind: "proxmox",
        id: "pve-wrong",
        host: "127.0.0.1",
        port: pveToken.port,
        token_id: TOKEN_ID,
        token_secret_env: ENV.pve_token_secret_wrong,
        fingerprint: pveToken.fingerprint,
        timeout_ms: 10_000,
      },
      // Nobody listens; the CLI fallback then logs in over SSH to a host without pvesh.
      {
        kind: "proxmox",
        id: "pve-down",
        host: "127.0.0.1",
        port: down,
        username: "root@pam",
        password_env: ENV.pve_password,
        fingerprint: pveToken.fingerprint,
        timeout_ms: 3000,
        cli_fallback: {
          address: pw1.address,
          port: pw1.port,
          user: "fleet",
          auth: { agent: false, password_env: ENV.ssh_password },
          known_hosts_file: knownHosts,
          timeout_ms: 10_000,
        },
      },
      ssh(
        "ssh-pw",
        [
          { address: pw1.address, port: pw1.port, name: "pw-host-1" },
          { address: pw2.address, port: pw2.port, name: "pw-host-2" },
        ],
        { password_env: ENV.ssh_password },
      ),
      ssh("ssh-key", [{ address: keyHost.address, port: keyHost.port, name: "key-host" }], { private_key_file: keyFile, passphrase_env: ENV.key_passphrase }),
      ssh("ssh-wrong", [{ address: pw2.address, port: pw2.port, name: "pw-host-2-wrong" }], { password_env: ENV.ssh_password_wrong }),
      ssh("ssh-key-wrong", [{ address: keyHost.address, port: keyHost.port, name: "key-host-wrong" }], {
        private_key_file: keyFile,
        passphrase_env: ENV.key_passphrase_wrong,
      }),
      ssh("ssh-down", [{ address: "127.0.0.1", port: down, name: "nobody-home" }], { password_env: ENV.ssh_password }),
    ],
  };
  writeFileSync(cfgPath, toYaml(config), { mode: 0o600 });
  chmodSync(cfgPath, 0o600);
}, 120_000);

afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
  await pveToken?.close();
  await pvePass?.close();
  if (Object.keys(figures).length) console.log(`[secrets-sweep] figures ${JSON.stringify(figures, null, 2)}`);
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// The servers

interface HttpServerProc {
  port: number;
  url: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

async function startHttpServerProc(): Promise<HttpServerProc> {
  const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", "0"], { cwd: work, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const m = await waitFor(
    "the HTTP server's address on stderr",
    () => /serving MCP on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/.exec(stderr) ?? (child.exitCode !== null ? "exited" : null),
  ).catch((err: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${err.message}\n${stderr}`);
  });
  if (m === "exited") throw new Error(`serve --http exited early:\n${stderr}`);
  return {
    port: Number(m[2]),
    url: m[1]!,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      const code = await Promise.race([exited, sleep(20_000).then(() => "timeout" as const)]);
      if (code === "timeout") {
        child.kill("SIGKILL");
        throw new Error("serve --http did not stop on SIGTERM");
      }
      add("serve --http: stdout", stdout);
      return code;
    },
  };
}

/** `serve` over stdio, spoken to in raw JSON-RPC lines so that every byte of its stdout is kept. */
async function rawStdioSession(calls: Array<{ method: string; params: unknown }>): Promise<{ stdout: string; stderr: string; responses: S[] }> {
  const child = spawn(process.execPath, [CLI, "serve"], { cwd: work, env: childEnv(), stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiting = new Map<number, (msg: S) => void>();
  let buf = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as S;
      if (typeof msg.id === "number" && waiting.has(msg.id)) waiting.get(msg.id)!(msg);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let id = 0;
  const send = (method: string, params: unknown): Promise<S> => {
    const myId = ++id;
    const p = new Promise<S>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`stdio ${method}: no answer\n${stderr.slice(-4000)}`)), 120_000);
      waiting.set(myId, (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: myId, method, params })}\n`);
    return p;
  };
  const responses: S[] = [];
  try {
    const init = await send("initialize", { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "sweep-stdio", version: "1" } });
    expect(init.result?.serverInfo?.name).toBe("fleet-mcp");
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
    for (const c of calls) responses.push(await send(c.method, c.params));
  } finally {
    child.stdin.end();
    await Promise.race([exited, sleep(20_000).then(() => child.kill("SIGKILL"))]);
  }
  return { stdout, stderr, responses };
}

// ---------------------------------------------------------------------------

describe("secrets sweep", () => {
  it("the sweep finds a planted value in every form it looks for, and nothing in clean text", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-sweep-plant-"));
    try {
      const needles = allNeedles();
      expect(needles.length).toBeGreaterThanOrEqual(Object.keys(SECRETS).length * 10);
      // Each form of each secret, planted inside other text (base64 forms inside a longer base64 string at their alignment).
      const plants: Array<{ secret: string; form: string; file: string }> = [];
      for (const n of needles) {
        const file = join(dir, `plant-${plants.length}.txt`);
        let body: Buffer;
        const b64 = /^base64(url)?@(\d)$/.exec(n.form);
        if (b64) {
          // The value inside a larger blob, starting `pad` bytes into a 3-byte group, base64-encoded as a whole.
          const pad = Number(b64[2]);
          const blob = Buffer.concat([randomBytes(30 + pad), Buffer.from(SECRETS[n.secret as SecretName], "utf8"), randomBytes(17)]);
          let enc = blob.toString("base64");
          if (b64[1]) enc = enc.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
          body = Buffer.from(`token: ${enc}\n`);
        } else body = Buffer.concat([Buffer.from("some log line ... "), n.bytes, Buffer.from(" ... more\n")]);
        writeFileSync(file, body);
        plants.push({ secret: n.secret, form: n.form, file });
      }
      for (const p of plants) {
        const found = sweep([{ where: p.file, data: readFileSync(p.file) }], needles);
        expect(
          found.some((f) => f.secret === p.secret),
          `${p.secret} planted as ${p.form} in ${p.file}`,
        ).toBe(true);
      }
      // Inside a gzip file (like a snapshot archive).
      writeFileSync(join(dir, "archive.json.gz"), gzipSync(Buffer.from(JSON.stringify({ note: SECRETS.ssh_password }))));
      expect(sweep([{ where: "gz", data: readFileSync(join(dir, "archive.json.gz")) }], needles).map((f) => f.where)).toContain("gz (gunzipped)");
      // A truncated copy (the random core survives).
      expect(
        sweep([{ where: "cut", data: Buffer.from(SECRETS.pve_password.slice(0, SECRETS.pve_password.indexOf(" "))) }], needles).map((f) => f.secret),
      ).toContain("pve_password");
      // Clean text: names of the variables, redaction markers, other random values.
      const clean = `${Object.values(ENV).join(" ")} [REDACTED] ${randomUUID()} ${randomBytes(64).toString("base64")} S3CR3T-ssh-password-`;
      expect(sweep([{ where: "clean", data: Buffer.from(clean) }], needles)).toEqual([]);
      figures.needles = { secrets: Object.keys(SECRETS).length, needles: needles.length, forms: [...new Set(needles.map((n) => n.form.replace(/ .*/, "")))] };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in process: secret values in tool arguments never reach a handler, and escaped forms are redacted like the value", async () => {
    const secret = SECRETS.ssh_password;
    const h = await startHarness({
      configJson: { sources: [{ kind: "ssh", id: "lab", hosts: [{ address: "127.0.0.1" }], auth: { agent: false, password_env: "LAB_PW" } }] },
      env: { LAB_PW: secret },
    });
    try {
      const needles = needlesFor("ssh_password", secret, [/-([0-9a-f]{24})/.exec(secret)![1]!]);
      const leaks = (where: string, data: unknown) => sweep([{ where, data: Buffer.from(typeof data === "string" ? data : JSON.stringify(data)) }], needles);
      // A search echoes its words back: split into words, a secret with spaces would no longer match the redactor; the handler gets [REDACTED] instead.
      const search = await h.client.callTool({ name: "search_fleet", arguments: { query: `nginx ${secret}` } });
      expect((search.structuredContent as S).interpreted.words).toEqual(["nginx", "[REDACTED]"]);
      expect(leaks("search_fleet", search)).toEqual([]);
      // A snapshot stores its name and description: not the secret.
      const snap = await h.client.callTool({ name: "create_snapshot", arguments: { name: `snap ${secret}`, description: `pw ${secret}`, tags: [secret] } });
      expect(snap.isError, text(snap)).toBeFalsy();
      const row = h.app.db.$client.prepare("SELECT name, description, tags FROM snapshots").get() as S;
      expect(row).toEqual({ name: "snap [REDACTED]", description: "pw [REDACTED]", tags: '["[REDACTED]"]' });
      // A prompt's error names what it was given.
      const prompt = await h.client.getPrompt({ name: "what_changed", arguments: { since: secret } }).catch((err: Error) => err.message);
      expect(String(prompt)).toContain("No snapshot");
      expect(leaks("what_changed", prompt)).toEqual([]);
      // Log lines and texts carrying the value percent-encoded or JSON-escaped.
      h.app.log.warn("http request refused", { path: `/${encodeURIComponent(secret)}`, query: new URLSearchParams({ t: secret }).toString() });
      expect(leaks("log", h.logs.join("\n"))).toEqual([]);
      expect(h.logs.join("\n")).toContain("[REDACTED]");
      for (const form of [
        JSON.stringify({ secret }),
        encodeURIComponent(secret),
        encodeURI(secret),
        encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      ])
        expect(leaks(form, h.app.redact(form)), form).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("every tool, resource, prompt, HTTP endpoint and CLI command, failure paths included, leaves no secret value anywhere", { timeout: 360_000 }, async () => {
    // ---- serve --http, through an MCP client ------------------------------
    const srv = await startHttpServerProc();
    const pending: Array<Promise<unknown>> = [];
    let rawBodies = 0;
    const tee = async (url: string | URL, init?: RequestInit): Promise<Response> => {
      const res = await fetch(url, init);
      if (res.body) {
        const n = ++rawBodies;
        pending.push(
          res
            .clone()
            .arrayBuffer()
            .then((b) => add(`http ${init?.method ?? "GET"} /mcp response body #${n}`, Buffer.from(b)))
            .catch(() => {}),
        );
      }
      return res;
    };
    const client = new Client({ name: "sweep-client", version: "1.0.0" }, { capabilities: {} });
    let notifications = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      notifications++;
      add("mcp log notification", n);
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(srv.url), { fetch: tee as never, requestInit: { headers: { Authorization: `Bearer ${SECRETS.http_token}` } } }),
    );
    await client.setLoggingLevel("debug");

    const results: Array<{ name: string; isError: boolean; text: string }> = [];
    let badErrors = 0;
    const call = async (name: string, args: Record<string, unknown> = {}): Promise<S> => {
      toolsCalled.set(name, (toolsCalled.get(name) ?? 0) + 1);
      const r = await client.callTool({ name, arguments: args }, undefined, {
        timeout: 180_000,
        onprogress: (p) => add(`progress of ${name}`, p),
      });
      add(`tool ${name} ${JSON.stringify(Object.keys(args))}`, r);
      results.push({ name, isError: Boolean(r.isError), text: text(r) });
      return r as S;
    };
    const ok = async (name: string, args: Record<string, unknown> = {}): Promise<S> => {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${text(r)}`);
      return r.structuredContent as S;
    };

    try {
      const { tools } = await client.listTools();
      add("tools/list", tools);
      expect(tools.map((t) => t.name).sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());

      // Discovery: every source, the secrets at work.
      const run = await ok("run_discovery");
      const byId = Object.fromEntries((run.sources as S[]).map((s) => [s.id, s]));
      // The secrets really were used: the right ones got in, the wrong ones were refused.
      expect(byId["pve-token"]).toMatchObject({ status: "ok" });
      expect(byId["pve-token"].targets).toBeGreaterThan(3);
      expect(byId["pve-pass"]).toMatchObject({ status: "ok" });
      expect(byId["ssh-pw"]).toMatchObject({ status: "ok", hosts_ok: 2 });
      expect(byId["ssh-key"]).toMatchObject({ status: "ok", hosts_ok: 1 });
      expect(byId["pve-wrong"].status).toBe("failed");
      expect(byId["pve-wrong"].error).toMatch(/authentication failed|401/i);
      expect(byId["pve-down"].status).toBe("failed");
      for (const id of ["ssh-wrong", "ssh-key-wrong", "ssh-down"]) expect(byId[id], id).toMatchObject({ status: "failed", hosts_failed: 1 });
      const problems = run.problems as S[];
      expect(problems.find((p) => p.source === "ssh-wrong")?.status).toBe("auth_failed");
      expect(problems.find((p) => p.source === "ssh-down")?.status).toMatch(/unreachable|timeout/);
      figures.discovery = Object.fromEntries((run.sources as S[]).map((s) => [s.id, `${s.status}${s.error ? `: ${String(s.error).slice(0, 100)}` : ""}`]));

      await ok("run_discovery", { sources: ["ssh-pw"], targets: ["pw-host-1"] });
      await ok("get_discovery_status", { limit: 10 });
      const cfg = await ok("get_discovery_config");
      // The config names the variables (never their values).
      expect(JSON.stringify(cfg)).toContain(ENV.pve_token_secret);
      await ok("get_fleet_overview");
      const list = await ok("list_targets", { detail: "full", limit: 200 });
      expect(list.total).toBeGreaterThan(8);
      await ok("list_targets", { limit: 5, sort: "health" });
      const someTargets = (list.items as S[]).filter((t, i) => i % 3 === 0 || t.name.startsWith("pw-host") || t.name === "key-host");
      for (const t of someTargets) await ok("get_target", { target: t.id, limit: 50 });
      await ok("get_target", { target: "nobody-home" });
      await ok("run_health_check", { limit: 50 });
      for (const kind of ["summary", "health", "security", "resources"])
        for (const format of ["markdown", "json"]) await ok("generate_fleet_report", { kind, format, limit: 200 });
      await ok("set_target_role", { target: "pw-host-1", role: "production" });
      await ok("get_change_events", { limit: 200 });
      for (const query of ["nginx", "port:22", "state:failed", "type:service ssh", "pw-host"]) await ok("search_fleet", { query, limit: 50 });
      await ok("list_services", { limit: 200 });
      const snapA = await ok("create_snapshot", { name: "sweep-a", description: "before the second run", tags: ["sweep"] });
      await ok("list_snapshots");
      await ok("compare_snapshots", { a: "sweep-a", b: "live", include_volatile: true, detail: "full", limit: 200 });
      await ok("get_inventory_statistics");
      await ok("export_prometheus_targets", { write_file: true, limit: 200 });
      await ok("export_prometheus_targets", { format: "http_sd", group_by: "role" });
      const pwHost = (list.items as S[]).find((t) => t.name === "pw-host-1")!;
      await call("accept_host_key", { target: pwHost.id, fingerprint: `SHA256:${randomBytes(32).toString("base64").replace(/=+$/, "")}` });
      await ok("doctor");
      await ok("update_discovery_config", {
        upsert_sources: [
          { kind: "ssh", id: "lab", hosts: [{ address: "127.0.0.1", port: sims[0]!.port }], auth: { agent: false, password_env: ENV.ssh_password } },
        ],
        dry_run: true,
      });
      // A real write of the config file (roles only); the file is swept below.
      await ok("update_discovery_config", { roles: [{ role: "lab", name: "pw-host-*" }] });

      // Failure paths whose input carries secret values.
      const bad: Array<[string, Record<string, unknown>]> = [
        ["get_target", { target: SECRETS.pve_password }],
        ["get_target", { target: "pw-host-1", password: SECRETS.ssh_password, [SECRETS.key_passphrase]: "as a key" }],
        ["search_fleet", { query: `${SECRETS.ssh_password} ${SECRETS.pve_token_secret}` }],
        ["search_fleet", { query: `${SECRETS.http_token} `.repeat(200) }],
        ["run_discovery", { sources: [SECRETS.pve_token_secret] }],
        ["run_discovery", { targets: [SECRETS.key_passphrase.slice(0, 200)] }],
        ["compare_snapshots", { a: SECRETS.ssh_password_wrong, b: "live" }],
        ["get_change_events", { target: SECRETS.pve_password, since: SECRETS.ssh_password }],
        ["list_targets", { text: SECRETS.ssh_password, limit: 5 }],
        ["set_target_role", { target: SECRETS.key_passphrase_wrong, role: "lab" }],
        ["query_audit_log", { tool: SECRETS.http_token }],
        ["doctor", { sources: [SECRETS.pve_token_secret_wrong] }],
        [
          "update_discovery_config",
          {
            upsert_sources: [
              { kind: "ssh", id: "leaky", hosts: [{ address: "127.0.0.1" }], auth: { password: SECRETS.ssh_password, passphrase: SECRETS.key_passphrase } },
            ],
            dry_run: true,
          },
        ],
        [
          "update_discovery_config",
          {
            upsert_sources: [{ kind: "proxmox", id: "pve-leak", host: "127.0.0.1", token_id: TOKEN_ID, token_secret: SECRETS.pve_token_secret }],
            dry_run: true,
          },
        ],
        ["update_discovery_config", { roles: [{ role: "lab", name: SECRETS.ssh_password }], dry_run: true }],
        // Valid calls that would store what they are given.
        [
          "create_snapshot",
          { name: `snap ${SECRETS.pve_password}`, description: `the password is ${SECRETS.ssh_password}`, tags: [SECRETS.http_token.slice(0, 64)] },
        ],
        ["create_snapshot", { name: "sweep-b", description: `key ${SECRETS.key_passphrase}` }],
        [`leak_${SECRETS.http_token}`, { secret: SECRETS.pve_password }],
      ];
      for (const [name, args] of bad) await call(name, args);
      // Most are refused (unknown ids, names and keys, inline secrets); the rest are valid calls that find nothing.
      badErrors = results.slice(-bad.length).filter((r) => r.isError).length;
      expect(badErrors).toBeGreaterThanOrEqual(10);

      // Snapshot retention: an expired snapshot is archived (gzip JSON) after the next run.
      {
        const db = new Database(dbPath);
        db.pragma("busy_timeout = 5000");
        db.prepare("UPDATE snapshots SET created_at = ? WHERE id = ?").run(new Date(Date.now() - 10 * 86400_000).toISOString(), snapA.id);
        db.close();
      }
      await ok("run_discovery");
      await ok("compare_snapshots", { a: "latest", b: "live", detail: "full" });

      // Resources and prompts (not tool calls: they do not pass the tool seam's redaction).
      const { resources } = await client.listResources();
      add("resources/list", resources);
      for (const r of resources) add(`resource ${r.uri}`, await client.readResource({ uri: r.uri }));
      const { resourceTemplates } = await client.listResourceTemplates();
      add("resources/templates/list", resourceTemplates);
      for (const t of resourceTemplates) {
        const uri = t.uriTemplate.replace(/\{[^}]+\}/g, encodeURIComponent(pwHost.id));
        const r = await client.readResource({ uri }).catch((err: Error) => ({ error: err.message }));
        add(`resource ${uri}`, r);
        const leaky = t.uriTemplate.replace(/\{[^}]+\}/g, encodeURIComponent(SECRETS.pve_password));
        add(`resource ${t.uriTemplate} (secret argument)`, await client.readResource({ uri: leaky }).catch((err: Error) => ({ error: err.message })));
      }
      const { prompts } = await client.listPrompts();
      add("prompts/list", prompts);
      for (const p of prompts) {
        const args: Record<string, string> = {};
        for (const a of p.arguments ?? []) if (a.required) args[a.name] = a.name === "since" ? "sweep-a" : "pw-host-1";
        add(`prompt ${p.name}`, await client.getPrompt({ name: p.name, arguments: args }).catch((err: Error) => ({ error: err.message })));
        // Every argument set to a secret value.
        const leaky = Object.fromEntries((p.arguments ?? []).map((a) => [a.name, SECRETS.ssh_password]));
        add(`prompt ${p.name} (secret arguments)`, await client.getPrompt({ name: p.name, arguments: leaky }).catch((err: Error) => ({ error: err.message })));
      }

      await ok("query_audit_log", { limit: 200 });
      await ok("get_discovery_status");

      // Every tool was called.
      expect(ALL_TOOLS.map((t) => t.name).filter((n) => !toolsCalled.has(n))).toEqual([]);

      // ---- the HTTP endpoints, right and wrong tokens ---------------------
      const auth = { Authorization: `Bearer ${SECRETS.http_token}` };
      const endpoints: Array<[string, { method?: string; path: string; headers?: Record<string, string>; body?: string }]> = [
        ["healthz", { path: "/healthz" }],
        ["metrics", { path: "/metrics", headers: auth }],
        ["http_sd", { path: "/prometheus/targets", headers: auth }],
        ["metrics, wrong token", { path: "/metrics", headers: { Authorization: `Bearer ${SECRETS.http_token}x` } }],
        ["http_sd, a password as token", { path: "/prometheus/targets", headers: { Authorization: `Bearer ${SECRETS.pve_password}` } }],
        ["metrics, basic auth", { path: "/metrics", headers: { Authorization: `Basic ${Buffer.from(`u:${SECRETS.http_token}`).toString("base64")}` } }],
        ["token in the path", { path: `/${encodeURIComponent(SECRETS.http_token)}` }],
        [
          "token in the query",
          { path: `/mcp?access_token=${encodeURIComponent(SECRETS.http_token)}`, method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" },
        ],
        ["metrics, token in the query", { path: `/metrics?token=${encodeURIComponent(SECRETS.http_token)}` }],
        [
          "foreign Host with the token",
          { path: "/mcp", method: "POST", headers: { ...auth, Host: "evil.example", "Content-Type": "application/json" }, body: "{}" },
        ],
        [
          "mcp, wrong token",
          {
            path: "/mcp",
            method: "POST",
            headers: {
              Authorization: `Bearer ${SECRETS.http_token.slice(0, -1)}`,
              "Content-Type": "application/json",
              Accept: "application/json, text/event-stream",
            },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 1,
              method: "initialize",
              params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "x", version: "1" } },
            }),
          },
        ],
      ];
      const statuses: Record<string, number> = {};
      for (const [what, req] of endpoints) {
        const r = await raw(srv.port, req);
        statuses[what] = r.status;
        add(`http ${what}`, r);
      }
      expect(statuses).toMatchObject({
        healthz: 200,
        metrics: 200,
        http_sd: 200,
        "metrics, wrong token": 401,
        "http_sd, a password as token": 401,
        "mcp, wrong token": 401,
      });
      figures.http_statuses = statuses;
    } finally {
      await client.close().catch(() => {});
      await Promise.race([Promise.allSettled(pending), sleep(10_000)]);
      // The database as the running server left it: its WAL is checkpointed away once it stops.
      for (const suffix of ["", "-wal", "-shm"])
        if (existsSync(dbPath + suffix)) add(`file db/fleet.db${suffix} (server running)`, readFileSync(dbPath + suffix));
      await srv.stop();
      add("serve --http: stderr", srv.stderr());
    }
    figures.http_session = {
      tool_calls: results.length,
      tool_errors: results.filter((r) => r.isError).length,
      refused_calls_with_secret_arguments: badErrors,
      tools_called: toolsCalled.size,
      raw_http_bodies: rawBodies,
      mcp_log_notifications: notifications,
      server_stderr_bytes: srv.stderr().length,
    };
    // The debug log ran (the sweep read real log traffic).
    expect(srv.stderr()).toMatch(/"level":"debug"/);

    // ---- serve over stdio, raw ----------------------------------------------
    const stdio = await rawStdioSession([
      { method: "tools/call", params: { name: "run_discovery", arguments: { sources: ["ssh-key", "ssh-wrong", "ssh-key-wrong", "pve-pass", "pve-wrong"] } } },
      { method: "tools/call", params: { name: "get_discovery_config", arguments: {} } },
      { method: "tools/call", params: { name: "doctor", arguments: { sources: ["ssh-key-wrong", "pve-wrong", "pve-down"] } } },
      { method: "tools/call", params: { name: "search_fleet", arguments: { query: SECRETS.key_passphrase } } },
      { method: "tools/call", params: { name: `x${SECRETS.pve_token_secret}`, arguments: {} } },
      { method: "tools/call", params: { name: "get_target", arguments: { target: SECRETS.ssh_password, extra: SECRETS.http_token } } },
      { method: "prompts/get", params: { name: "diagnose_access", arguments: { target: SECRETS.pve_password } } },
      { method: "tools/call", params: { name: "query_audit_log", arguments: { limit: 50 } } },
    ]);
    add("serve (stdio): stdout", stdio.stdout);
    add("serve (stdio): stderr", stdio.stderr);
    expect(stdio.responses).toHaveLength(8);
    expect(stdio.responses[0]!.result?.isError).toBeFalsy();
    figures.stdio = { responses: stdio.responses.length, stdout_bytes: stdio.stdout.length, stderr_bytes: stdio.stderr.length };

    // ---- the CLI ------------------------------------------------------------
    const cli: CliResult[] = [];
    const cliRun = async (args: string[]) => {
      const r = await runCli(args, { cwd: work, home: join(work, "cli"), env: childEnv(), timeoutMs: 180_000 });
      add(`cli ${args.join(" ")}: stdout`, r.stdout);
      add(`cli ${args.join(" ")}: stderr`, r.stderr);
      expect(r.timedOut, show(r)).toBe(false);
      cli.push(r);
      return r;
    };
    const out = (name: string) => join(work, "out", name);
    mkdirSync(join(work, "out"), { recursive: true });
    await cliRun(["config", "check", "--json"]);
    await cliRun(["config", "check"]);
    await cliRun(["config", "path", "--json"]);
    await cliRun(["doctor", "--json"]);
    await cliRun(["doctor"]);
    await cliRun(["discover", "--json"]);
    await cliRun(["discover", "--source", "ssh-wrong", "--source", "pve-wrong"]);
    await cliRun(["export", "--out", out("inventory.json")]);
    await cliRun(["export", "prometheus", "--out", out("prometheus.json")]);
    await cliRun(["export", "prometheus", "--format", "http_sd"]);
    await cliRun(["report", "summary", "--out", out("summary.md")]);
    await cliRun(["report", "security", "--json"]);
    await cliRun(["report", "health"]);
    await cliRun(["report", "resources", "--json"]);
    await cliRun(["overview", "--json"]);
    await cliRun(["targets", "--json"]);
    await cliRun(["events", "--json"]);
    await cliRun(["health", "--json"]);
    await cliRun(["diff", "--json"]);
    const verify = await cliRun(["audit", "verify", "--json"]);
    expect(verify.code, show(verify)).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    expect(existsSync(out("inventory.json")) && existsSync(out("prometheus.json")) && existsSync(out("summary.md"))).toBe(true);
    figures.cli = { commands: cli.length, exit_codes: Object.fromEntries(cli.map((r) => [r.args.join(" "), r.code])) };

    // ---- the audit log, read directly ---------------------------------------
    const db = new Database(dbPath, { readonly: true });
    const audit = db.prepare("SELECT * FROM audit_log ORDER BY id").all() as S[];
    db.close();
    add("audit_log rows", audit);
    // The calls with secret arguments are there, redacted.
    expect(audit.length).toBeGreaterThanOrEqual(results.length);
    expect(audit.filter((r) => String(r.arguments).includes("[REDACTED]")).length).toBeGreaterThanOrEqual(10);
    expect(audit.some((r) => r.outcome === "unknown_tool")).toBe(true);
    expect(audit.some((r) => r.outcome === "rejected")).toBe(true);

    // ---- every file left behind ---------------------------------------------
    const files = filesUnder(work);
    for (const f of files) add(`file ${f.slice(work.length + 1)}`, readFileSync(f));
    const names = files.map((f) => f.slice(work.length + 1));
    expect(names).toEqual(expect.arrayContaining(["db/fleet.db", "known_hosts", "fleet.config.yaml", "file_sd/fleet.json", "out/inventory.json"]));
    const archives = names.filter((n) => n.startsWith("snapshot-archive/"));
    expect(archives.length).toBeGreaterThanOrEqual(1);
    // The config file was rewritten by update_discovery_config (TOFU pins live in the database; known_hosts is only read).
    expect(readFileSync(cfgPath, "utf8")).toContain("pw-host-*");

    // ---- the sweep ------------------------------------------------------------
    const all = Buffer.concat(corpus.map((c) => c.data));
    const corpusText = all.toString("utf8");
    // Not vacuous: large, from every channel, and it names the variables.
    expect(all.length).toBeGreaterThan(1_000_000);
    for (const v of Object.values(ENV)) if (v !== "FLEET_HTTP_TOKEN") expect(corpusText, `the corpus names ${v}`).toContain(v);
    expect(corpusText).toContain("[REDACTED]");
    const findings = sweep(corpus, allNeedles());
    figures.corpus = {
      items: corpus.length,
      bytes: all.length,
      files: names.length,
      file_bytes: files.reduce((n, f) => n + statSync(f).size, 0),
      snapshot_archives: archives.length,
      file_names: names,
      findings: findings.length,
    };
    if (findings.length > 0) throw new Error(`secret values found (${findings.length}):\n${describeFindings(findings)}`);
  });
});
