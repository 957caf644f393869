// Architecture rules for src/: imports only point down the layers, the MCP SDK
// stays at the edge, only config.ts reads the environment, and nothing but the
// CLI writes to stdout (it belongs to the MCP transport). Sources are parsed with
// the TypeScript compiler, so comments and strings never count as code.
//
// Layers (a layer may always import within itself):
//   entry      src/cli.ts, src/cli/**, src/index.ts, src/server.ts      anything
//              src/http/server.ts (serve --http: one MCP server per session)
//   app        src/app/**        inventory, discovery, db, leaf
//   tools      src/tools/**, src/mcp/**   app, inventory, discovery, leaf; db with `import type` only
//   inventory  src/inventory/**  db, leaf; discovery with `import type` only
//   discovery  src/discovery/**  nothing of ours outside src/discovery
//   db         src/db/**         nothing of ours outside src/db
//   sim        src/sim/**        nothing of ours outside src/sim (simulated PVE/SSH peers for `fleet-mcp demo` and tests);
//                                only entry points and src/demo may import it
//   demo       src/demo/**       app, inventory, discovery, db, sim, leaf (not tools, not an entry point)
//   leaf       src/log.ts, src/redact.ts, src/version.ts, src/config.ts
//                                nothing of ours, except config.ts -> log.ts
//
// "Type-only" means `import type ...` / `export type ... from` / `typeof import("...")`:
// under verbatimModuleSyntax, `import { type X } from "..."` is still emitted as a
// runtime `import {} from "..."`, so it counts as a runtime import.
import { readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

type Layer = "entry" | "app" | "tools" | "inventory" | "discovery" | "db" | "leaf" | "sim" | "demo";

const ENTRY_FILES = new Set(["src/cli.ts", "src/index.ts", "src/server.ts", "src/http/server.ts"]);
const LEAF_FILES = new Set(["src/log.ts", "src/redact.ts", "src/version.ts", "src/config.ts"]);
const DIR_LAYERS: ReadonlyArray<[prefix: string, layer: Layer]> = [
  // The CLI's commands: entry points like src/cli.ts.
  ["src/cli/", "entry"],
  ["src/app/", "app"],
  ["src/tools/", "tools"],
  // MCP-facing pieces besides tools (resources, prompts): the same layer as tools.
  ["src/mcp/", "tools"],
  ["src/inventory/", "inventory"],
  ["src/discovery/", "discovery"],
  ["src/db/", "db"],
  // Prometheus metrics fed by app.events: an app-layer module.
  ["src/metrics.ts", "app"],
  ["src/sim/", "sim"],
  ["src/demo/", "demo"],
];
const MCP_SDK_ALLOWED = new Set([
  "src/server.ts",
  "src/cli.ts",
  "src/cli/commands/serve.ts",
  "src/cli/commands/demo.ts",
  "src/http/server.ts",
  "src/tools/registry.ts",
  "src/mcp/resources.ts",
  "src/mcp/prompts.ts",
]);
/** src/cli/output.ts reads NO_COLOR and TERM: how to print, not configuration. */
const PROCESS_ENV_ALLOWED = new Set(["src/config.ts", "src/cli/output.ts"]);
/** The CLI writes to stdout only through src/cli/output.ts (and never in serve mode, where stdout is the transport's). */
const STDOUT_ALLOWED = new Set(["src/cli.ts", "src/cli/output.ts"]);
/** Properties of process.stdout that only read its state. */
const STDOUT_HARMLESS_READS = new Set(["isTTY", "columns", "rows", "fd"]);
/** Console methods that do not write to stdout in Node. Every other one does. */
const CONSOLE_STDERR_METHODS = new Set(["error", "warn", "trace", "assert"]);

export function layerOf(path: string): Layer | null {
  if (ENTRY_FILES.has(path)) return "entry";
  if (LEAF_FILES.has(path)) return "leaf";
  for (const [prefix, layer] of DIR_LAYERS) if (path.startsWith(prefix)) return layer;
  return null;
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
  /** How it appeared, for messages. */
  form: string;
}

interface Finding {
  line: number;
  what: string;
}

interface Scan {
  imports: ImportRef[];
  /** Dynamic imports/requires whose argument is not a string literal: cannot be checked. */
  unresolvable: Finding[];
  processEnv: Finding[];
  stdout: Finding[];
}

function isProcessRef(node: ts.Expression): boolean {
  // process, globalThis.process, global.process
  if (ts.isIdentifier(node)) return node.text === "process";
  if (ts.isPropertyAccessExpression(node)) return node.name.text === "process";
  return false;
}

function accessName(node: ts.Node): { object: ts.Expression; name: string } | null {
  if (ts.isPropertyAccessExpression(node)) return { object: node.expression, name: node.name.text };
  if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
    return { object: node.expression, name: node.argumentExpression.text };
  }
  return null;
}

/** Parses one file: its module specifiers and the source-text rules' findings. */
export function scanSource(path: string, text: string): Scan {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const scan: Scan = { imports: [], unresolvable: [], processEnv: [], stdout: [] };
  const lineOf = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const add = (node: ts.Node, spec: ts.Expression, typeOnly: boolean, form: string) => {
    if (ts.isStringLiteralLike(spec)) scan.imports.push({ specifier: spec.text, typeOnly, line: lineOf(node), form });
    else scan.unresolvable.push({ line: lineOf(node), what: `${form}(${spec.getText(sf)})` });
  };

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const typeOnly = node.importClause?.isTypeOnly ?? false;
      add(node, node.moduleSpecifier, typeOnly, node.importClause ? (typeOnly ? "import type" : "import") : "side-effect import");
      // import { env, stdout } from "node:process"
      const spec = ts.isStringLiteralLike(node.moduleSpecifier) ? node.moduleSpecifier.text : "";
      const named = node.importClause?.namedBindings;
      if ((spec === "process" || spec === "node:process") && named && ts.isNamedImports(named)) {
        for (const el of named.elements) {
          const imported = (el.propertyName ?? el.name).text;
          if (imported === "env") scan.processEnv.push({ line: lineOf(el), what: `import { env } from "${spec}"` });
          if (imported === "stdout") scan.stdout.push({ line: lineOf(el), what: `import { stdout } from "${spec}"` });
        }
      }
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, node.isTypeOnly, node.isTypeOnly ? "export type ... from" : "export ... from");
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly, "import = require");
    } else if (ts.isImportTypeNode(node)) {
      // typeof import("x") / import("x").T: a type position, erased at runtime.
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteralLike(arg.literal)) {
        scan.imports.push({ specifier: arg.literal.text, typeOnly: true, line: lineOf(node), form: "import() type" });
      }
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isDynamicImport || isRequire) {
        const arg = node.arguments[0];
        if (arg) add(node, arg, false, isDynamicImport ? "import()" : "require");
      }
    }

    const access = accessName(node);
    if (access) {
      if (access.name === "env" && isProcessRef(access.object)) {
        scan.processEnv.push({ line: lineOf(node), what: node.getText(sf) });
      }
      if (access.name === "stdout" && isProcessRef(access.object)) {
        // Reading whether stdout is a terminal is harmless; any other use (write, pipe, passing it on) is not.
        const parent = node.parent;
        const harmless = ts.isPropertyAccessExpression(parent) && parent.expression === node && STDOUT_HARMLESS_READS.has(parent.name.text);
        if (!harmless)
          scan.stdout.push({
            line: lineOf(node),
            what: `${(ts.isPropertyAccessExpression(parent) && parent.expression === node ? parent : node).getText(sf)} (process.stdout)`,
          });
      }
      if (ts.isIdentifier(access.object) && access.object.text === "console" && !CONSOLE_STDERR_METHODS.has(access.name)) {
        scan.stdout.push({ line: lineOf(node), what: `console.${access.name} (writes to stdout)` });
      }
    }
    // const { env } = process
    if (ts.isVariableDeclaration(node) && node.initializer && ts.isObjectBindingPattern(node.name) && isProcessRef(node.initializer)) {
      for (const el of node.name.elements) {
        const key = el.propertyName && ts.isIdentifier(el.propertyName) ? el.propertyName.text : ts.isIdentifier(el.name) ? el.name.text : "";
        if (key === "env") scan.processEnv.push({ line: lineOf(el), what: "const { env } = process" });
        if (key === "stdout") scan.stdout.push({ line: lineOf(el), what: "const { stdout } = process" });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return scan;
}

/** Why `from` may not import `to` (null: allowed). Both are layers of files under src/. */
function layerRule(fromPath: string, from: Layer, toPath: string, to: Layer, typeOnly: boolean): string | null {
  if (from === "entry") return null;
  if (to === "entry") return `${from} must not import an entry point (${[...ENTRY_FILES].join(", ")})`;
  if (to === "sim" && from !== "demo") return `only src/demo and the entry points may import src/sim (the simulators), not ${from}`;
  switch (from) {
    case "app":
      return to === "tools" ? "app may import only inventory, discovery, db and leaf modules (not tools)" : null;
    case "tools":
      if (to === "db" && !typeOnly) return "tools may not import src/db at runtime (use `import type`; go through src/inventory or src/app)";
      return null;
    case "inventory":
      if (to === "discovery")
        return typeOnly ? null : "inventory may import src/discovery only with `import type` (the observation contract), never at runtime";
      if (to === "app" || to === "tools") return `inventory may import only db and leaf modules (not ${to})`;
      return null;
    case "discovery":
      return to === "discovery" ? null : `discovery imports nothing of ours outside src/discovery (not ${to}${to === "leaf" ? `: ${toPath}` : ""})`;
    case "db":
      return to === "db" ? null : `db imports nothing of ours outside src/db (not ${to})`;
    case "sim":
      return to === "sim" ? null : `sim imports nothing of ours outside src/sim (not ${to})`;
    case "demo":
      return to === "tools" ? "demo may import app, inventory, discovery, db, sim and leaf modules (not tools)" : null;
    case "leaf":
      if (fromPath === "src/config.ts" && toPath === "src/log.ts") return null;
      return to === "leaf"
        ? "leaf modules import no other module of ours (only src/config.ts -> src/log.ts is allowed)"
        : `leaf modules must not import app/tools/inventory/discovery/db (not ${to})`;
  }
}

function isMcpSdk(spec: string): boolean {
  return spec === "@modelcontextprotocol/sdk" || spec.startsWith("@modelcontextprotocol/sdk/");
}

/**
 * Checks files (paths relative to the project root, e.g. "src/app/context.ts")
 * and returns one readable line per violation: file:line, the import, the rule.
 */
export function checkImports(files: Array<{ path: string; text: string }>): string[] {
  const known = new Set(files.map((f) => f.path));
  const out: string[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const v = (line: number, what: string, rule: string) => out.push(`${file.path}:${line}: ${what} — ${rule}`);
    const from = layerOf(file.path);
    if (!from) v(1, "(file)", "is in no layer: place it under a layer directory or classify it in test/architecture.test.ts");
    const scan = scanSource(file.path, file.text);

    for (const u of scan.unresolvable) v(u.line, u.what, "module specifier must be a string literal so the layer rules can check it");

    for (const imp of scan.imports) {
      const shown = `${imp.form} "${imp.specifier}"`;
      if (isMcpSdk(imp.specifier)) {
        if (!MCP_SDK_ALLOWED.has(file.path)) v(imp.line, shown, `only ${[...MCP_SDK_ALLOWED].join(", ")} may import @modelcontextprotocol/sdk`);
        continue;
      }
      if (!imp.specifier.startsWith(".")) {
        if (imp.specifier.startsWith("/") || imp.specifier.startsWith("src/")) v(imp.line, shown, "import our own modules by relative path");
        continue;
      }
      if (!imp.specifier.endsWith(".js")) {
        v(imp.line, shown, 'relative imports must end in ".js" (NodeNext)');
        continue;
      }
      const resolved = posix.normalize(posix.join(posix.dirname(file.path), imp.specifier));
      const target = resolved.replace(/\.js$/, ".ts");
      if (!target.startsWith("src/")) {
        v(imp.line, shown, `resolves outside src/ (${resolved})`);
        continue;
      }
      if (!known.has(target)) {
        v(imp.line, shown, `does not resolve to a file under src/ (looked for ${target})`);
        continue;
      }
      const to = layerOf(target);
      if (!to) {
        v(imp.line, shown, `target ${target} is in no layer`);
        continue;
      }
      if (!from || (from === to && from !== "leaf")) continue;
      const rule = layerRule(file.path, from, target, to, imp.typeOnly);
      if (rule) v(imp.line, shown, rule);
    }

    if (!PROCESS_ENV_ALLOWED.has(file.path)) {
      for (const f of scan.processEnv) v(f.line, f.what, "only src/config.ts may read process.env; take values from FleetConfig");
    }
    if (!STDOUT_ALLOWED.has(file.path)) {
      for (const f of scan.stdout) v(f.line, f.what, "stdout belongs to the MCP transport: only src/cli.ts may write to it; log to stderr via src/log.ts");
    }
  }
  return out;
}

function readSources(): Array<{ path: string; text: string }> {
  const files: Array<{ path: string; text: string }> = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(posix.join(ROOT, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && entry.name.endsWith(".ts")) files.push({ path: child, text: readFileSync(posix.join(ROOT, child), "utf8") });
    }
  };
  walk("src");
  return files;
}

function report(violations: string[]): string {
  return `\n${violations.length} architecture violation(s):\n${violations.map((x) => `  - ${x}`).join("\n")}\n`;
}

describe("architecture of src/", () => {
  it("every src/**/*.ts file respects the layer, SDK, env and stdout rules", () => {
    const files = readSources();
    // The scan must actually see the code base (an empty scan would pass vacuously).
    expect(files.length).toBeGreaterThan(20);
    const cli = files.find((f) => f.path === "src/cli/main.ts");
    expect(cli, "src/cli/main.ts not found by the scan").toBeDefined();
    expect(scanSource(cli!.path, cli!.text).imports.map((i) => i.specifier)).toContain("../config.js");

    const violations = checkImports(files);
    expect(violations, report(violations)).toEqual([]);
  });
});

describe("checkImports self-test (the checker can fail)", () => {
  const one = (path: string, text: string, extra: Array<{ path: string; text: string }> = []) =>
    checkImports([{ path, text }, ...extra, ...STUBS.filter((s) => s.path !== path)]);
  // Targets the synthetic files import, so they resolve.
  const STUBS = [
    "src/inventory/store.ts",
    "src/discovery/types.ts",
    "src/discovery/probe.ts",
    "src/db/open.ts",
    "src/db/schema.ts",
    "src/app/context.ts",
    "src/tools/tool.ts",
    "src/log.ts",
    "src/config.ts",
    "src/redact.ts",
    "src/server.ts",
    "src/sim/pve-sim.ts",
  ].map((path) => ({ path, text: "export {};\n" }));

  it("reports discovery importing inventory, naming file, import and rule", () => {
    const v = one("src/discovery/x.ts", 'import { upsert } from "../inventory/store.js";\nexport const y = upsert;\n');
    expect(v).toHaveLength(1);
    expect(v[0]).toContain("src/discovery/x.ts:1");
    expect(v[0]).toContain('"../inventory/store.js"');
    expect(v[0]).toMatch(/discovery imports nothing of ours outside src\/discovery/);
  });

  it("accepts a clean synthetic tree", () => {
    const v = checkImports([
      ...STUBS,
      {
        path: "src/inventory/ok.ts",
        text: 'import type { Db } from "../db/open.js";\nimport type { T } from "../discovery/types.js";\nimport { auditLog } from "../db/schema.js";\n// process.env and console.log in a comment do not count\nconst s = "process.env.X console.log";\n',
      },
      {
        path: "src/tools/ok.ts",
        text: 'import type { Db } from "../db/open.js";\nimport { createApp } from "../app/context.js";\ntype O = typeof import("../db/open.js");\nconsole.error("to stderr");\n',
      },
      { path: "src/config.ts", text: 'import { createLogger } from "./log.js";\nexport const e = process.env.FLEET_DB;\n' },
      { path: "src/server.ts", text: 'import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";\n' },
      { path: "src/discovery/ok.ts", text: 'import { probe } from "./probe.js";\nimport type { T } from "./types.js";\nexport * from "./types.js";\n' },
    ]);
    expect(v, report(v)).toEqual([]);
  });

  it.each([
    [
      "inventory runtime-imports discovery",
      "src/inventory/y.ts",
      'import { probe } from "../discovery/probe.js";',
      /inventory may import src\/discovery only with `import type`/,
    ],
    ["inline `type` modifiers are still a runtime import", "src/inventory/y.ts", 'import { type T } from "../discovery/types.js";', /only with `import type`/],
    ["tools runtime-import db/open.js", "src/tools/y.ts", 'import { openDb } from "../db/open.js";', /tools may not import src\/db at runtime/],
    [
      "dynamic import crosses a layer",
      "src/discovery/y.ts",
      'export const m = () => import("../db/open.js");',
      /import\(\) "..\/db\/open.js" — discovery imports nothing/,
    ],
    ["export-from crosses a layer", "src/db/y.ts", 'export { createLogger } from "../log.js";', /db imports nothing of ours outside src\/db/],
    ["side-effect import crosses a layer", "src/discovery/y.ts", 'import "../log.js";', /side-effect import "..\/log.js"/],
    ["discovery imports a leaf module", "src/discovery/y.ts", 'import type { Logger } from "../log.js";', /not leaf: src\/log.ts/],
    ["leaf imports a layer", "src/redact.ts", 'import { openDb } from "./db/open.js";', /leaf modules must not import/],
    ["leaf imports another leaf (other than config -> log)", "src/log.ts", 'import { REDACTED } from "./redact.js";', /only src\/config.ts -> src\/log.ts/],
    ["app imports tools", "src/app/y.ts", 'import { x } from "../tools/tool.js";', /not tools/],
    ["a layer imports an entry point", "src/tools/y.ts", 'import { buildServer } from "../server.js";', /must not import an entry point/],
    ["relative import without .js", "src/app/y.ts", 'import { openDb } from "../db/open";', /must end in "\.js"/],
    ["relative import that does not resolve", "src/app/y.ts", 'import { nope } from "../db/nope.js";', /does not resolve/],
    [
      "MCP SDK outside the allowed files",
      "src/app/y.ts",
      'import type { Tool } from "@modelcontextprotocol/sdk/types.js";',
      /may import @modelcontextprotocol\/sdk/,
    ],
    ["process.env outside config.ts", "src/tools/y.ts", "export const d = process.env.FLEET_DB;", /only src\/config.ts may read process.env/],
    ["destructured process.env", "src/app/y.ts", "const { env } = process;\nexport const d = env.HOME;", /only src\/config.ts may read process.env/],
    ["process.stdout.write outside cli.ts", "src/server.ts", 'process.stdout.write("hi\\n");', /stdout belongs to the MCP transport/],
    ["console.log outside cli.ts", "src/discovery/y.ts", 'console.log("hi");', /console\.log \(writes to stdout\)/],
    ["console.info outside cli.ts", "src/inventory/y.ts", 'console.info("hi");', /console\.info/],
    ["file in no layer", "src/misc.ts", "export const a = 1;", /is in no layer/],
    ["sim imports another layer", "src/sim/y.ts", 'import { openDb } from "../db/open.js";', /sim imports nothing of ours outside src\/sim/],
    [
      "a layer other than demo imports sim",
      "src/app/y.ts",
      'import { startPveSim } from "../sim/pve-sim.js";',
      /only src\/demo and the entry points may import src\/sim/,
    ],
  ])("reports: %s", (_name, path, text, rule) => {
    const v = one(path, `${text}\n`);
    expect(v.length, report(v)).toBeGreaterThan(0);
    expect(v.join("\n")).toMatch(rule);
    for (const line of v) expect(line.startsWith(`${path}:`)).toBe(true);
  });
});
