// Tool presets through the MCP client: what tools/list shows per preset, allow
// and deny, a hidden tool answering exactly like an unknown one (and audited as
// unknown_tool), and config errors that name the bad tool names.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, loadConfig } from "../src/config.js";
import { ALL_TOOLS } from "../src/tools/index.js";
import { READONLY_EXTRAS, selectTools } from "../src/tools/presets.js";
import { defineTool } from "../src/tools/tool.js";
import { lastAudit, startHarness, text, type Harness } from "./support/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const names = async (hh: Harness) => (await hh.client.listTools()).tools.map((t) => t.name).sort();

// A tool someone adds later that writes: the readonly preset must hide it without anyone listing it.
const writeTool = defineTool({
  name: "wipe_everything_test",
  title: "Writes",
  description: "A writing tool for the preset test. Never call it.",
  input: z.object({}).strict(),
  output: z.object({ ok: z.boolean() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler() {
    return { ok: true };
  },
  summarize: () => "ok",
});

describe("tool presets", () => {
  it("readonly lists the read-only tools plus the extras, and hides every other writer", async () => {
    h = await startHarness({ preset: "readonly", tools: [...ALL_TOOLS, writeTool] });
    const listed = await names(h);
    const expected = ALL_TOOLS.filter((t) => t.annotations.readOnlyHint || READONLY_EXTRAS.includes(t.name))
      .map((t) => t.name)
      .sort();
    expect(listed).toEqual(expected);
    for (const extra of ["run_discovery", "create_snapshot", "run_health_check"]) expect(listed).toContain(extra);
    for (const hidden of ["accept_host_key", "set_target_role", "wipe_everything_test"]) expect(listed).not.toContain(hidden);
    expect(listed).toContain("get_fleet_overview");
  });

  it("readonly answers export_prometheus_targets inline but refuses to write its file", async () => {
    h = await startHarness({ preset: "readonly" });
    const inline = await h.client.callTool({ name: "export_prometheus_targets", arguments: {} });
    expect(inline.isError).toBeFalsy();
    const write = await h.client.callTool({ name: "export_prometheus_targets", arguments: { write_file: true } });
    expect(write.isError).toBe(true);
    expect(text(write)).toContain("full tool preset");
  });

  it("full lists every tool", async () => {
    h = await startHarness({ preset: "full", tools: [...ALL_TOOLS, writeTool] });
    expect(await names(h)).toEqual([...ALL_TOOLS.map((t) => t.name), "wipe_everything_test"].sort());
  });

  it("a hidden tool answers like an unknown one and is audited as unknown_tool", async () => {
    h = await startHarness({ preset: "readonly" });
    const hidden = await h.client.callTool({ name: "set_target_role", arguments: { target: "x", role: "lab" } });
    expect(hidden.isError).toBe(true);
    expect(text(hidden)).toMatch(/^Unknown tool "set_target_role"\. Available tools: /);
    expect(text(hidden)).not.toContain("set_target_role,");
    const row = lastAudit(h.app);
    expect(row.tool).toBe("set_target_role");
    expect(row.outcome).toBe("unknown_tool");

    const unknown = await h.client.callTool({ name: "no_such_tool", arguments: {} });
    expect(text(unknown).replace("no_such_tool", "X")).toBe(text(hidden).replace("set_target_role", "X"));
  });

  it("allow adds tools to the preset and deny removes them", async () => {
    h = await startHarness({ preset: "readonly", config: { tools: { preset: "readonly", allow: ["set_target_role"], deny: ["run_discovery", "doctor"] } } });
    const listed = await names(h);
    expect(listed).toContain("set_target_role");
    expect(listed).not.toContain("accept_host_key");
    expect(listed).not.toContain("run_discovery");
    expect(listed).not.toContain("doctor");
    const denied = await h.client.callTool({ name: "run_discovery", arguments: {} });
    expect(denied.isError).toBe(true);
    expect(lastAudit(h.app).outcome).toBe("unknown_tool");
    const allowed = await h.client.callTool({ name: "set_target_role", arguments: { target: "nothing-here", role: "lab" } });
    expect(lastAudit(h.app).outcome).not.toBe("unknown_tool");
    expect(allowed.isError).toBe(true); // no such target: the tool itself answered
  });

  it("deny wins over allow", () => {
    const out = selectTools(ALL_TOOLS, { preset: "full", allow: ["doctor"], deny: ["doctor"] }).map((t) => t.name);
    expect(out).not.toContain("doctor");
  });

  it("unknown names in allow or deny are a config error naming them and the valid names", async () => {
    const sel = { preset: "readonly" as const, allow: ["set_target_rol"], deny: ["nope"] };
    expect(() => selectTools(ALL_TOOLS, sel)).toThrow(ConfigError);
    expect(() => selectTools(ALL_TOOLS, sel)).toThrow(/unknown tool\(s\): set_target_rol, nope\. Valid tool names: .*set_target_role/);
    await expect(startHarness({ config: { tools: sel } })).rejects.toThrow(/set_target_rol/);
  });
});

describe("tools config", () => {
  const load = (file: unknown, env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "fleet-presets-"));
    try {
      const path = join(dir, "c.json");
      writeFileSync(path, JSON.stringify(file));
      return loadConfig({ env, configPath: path, db: ":memory:", stderrIsTty: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("defaults to readonly with empty allow and deny", () => {
    expect(loadConfig({ env: {}, db: ":memory:", stderrIsTty: false }).tools).toEqual({ preset: "readonly", allow: [], deny: [] });
  });

  it("reads the file's tools section, and FLEET_TOOL_PRESET overrides its preset", () => {
    expect(load({ tools: { preset: "full", deny: ["doctor"] } }).tools).toEqual({ preset: "full", allow: [], deny: ["doctor"] });
    expect(load({ tools: { preset: "full", allow: ["x"] } }, { FLEET_TOOL_PRESET: "readonly" }).tools).toEqual({ preset: "readonly", allow: ["x"], deny: [] });
  });

  it("rejects an unknown preset from the file or the environment", () => {
    expect(() => load({ tools: { preset: "admin" } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { FLEET_TOOL_PRESET: "admin" }, db: ":memory:", stderrIsTty: false })).toThrow(
      /FLEET_TOOL_PRESET="admin" is not a preset; use one of readonly, full/,
    );
  });
});
