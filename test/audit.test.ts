// The seam's promise: exactly one audit row per tools/call, whatever happens,
// with secrets redacted; the log is append-only and its hash chain catches tampering.
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { appendAudit, verifyAuditChain } from "../src/inventory/audit.js";
import { REDACTED, redactValue } from "../src/redact.js";
import { ALL_TOOLS } from "../src/tools/index.js";
import { defineTool, ToolError } from "../src/tools/tool.js";
import { auditRows, lastAudit, startHarness, text, type Harness } from "./support/harness.js";
import { debianHost, ScriptedRunner } from "./support/scripted-runner.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const boom = defineTool({
  name: "explode",
  title: "Explode",
  description: "Throws a bug on purpose, for tests. Nothing to call next.",
  input: z.object({ kind: z.enum(["bug", "expected", "bad_output", "huge", "bad_summary"]).describe("What to do.") }).strict(),
  output: z.object({ ok: z.boolean(), blob: z.string().optional() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args) {
    if (args.kind === "bug") throw new TypeError("cannot read properties of undefined (reading 'x')");
    if (args.kind === "expected") throw new ToolError("Snapshot 42 not found. Known: 40, 41 — call list_snapshots.");
    if (args.kind === "huge") return { ok: true, blob: "x".repeat(200_000) };
    if (args.kind === "bad_summary") return { ok: true, blob: "boom" };
    return { ok: "yes" } as unknown as { ok: boolean };
  },
  summarize: (o) => {
    if (o.blob === "boom") throw new Error("summary failed");
    return "exploded";
  },
});

describe("redaction by key", () => {
  it("hides values under keys that hold a secret, not under keys that only name one", () => {
    const out = redactValue(
      {
        password: "hunter22",
        token_secret: "abc",
        passphrase: "p",
        authorization: "Bearer x",
        password_env: "FLEET_SSH_PASSWORD",
        password_authentication: "yes",
        ssh_password_auth: true,
        host_key_policy: "tofu",
      },
      (t) => t,
    );
    expect(out).toEqual({
      password: REDACTED,
      token_secret: REDACTED,
      passphrase: REDACTED,
      authorization: REDACTED,
      password_env: "FLEET_SSH_PASSWORD",
      password_authentication: "yes",
      ssh_password_auth: true,
      host_key_policy: "tofu",
    });
  });
});

describe("one audit row per tools/call", () => {
  it("ok: arguments, duration, client name and version, correlation id", async () => {
    h = await startHarness();
    const res = await h.client.callTool({ name: "get_fleet_overview", arguments: {} });
    expect(res.isError).toBeFalsy();
    const rows = auditRows(h.app);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: 1,
      tool: "get_fleet_overview",
      outcome: "ok",
      arguments: "{}",
      error: null,
      client_name: "fleet-test-client",
      client_version: "9.9.9",
    });
    expect(rows[0]!.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof rows[0]!.duration_ms).toBe("number");
    // The log line of the call carries the same correlation id as the audit row.
    expect(h.logs.some((l) => l.includes(`"cid":"${rows[0]!.correlation_id}"`) && l.includes('"msg":"tool call"'))).toBe(true);
  });

  it("unknown_tool: the call is refused with the list of tools, and audited", async () => {
    h = await startHarness();
    const res = await h.client.callTool({ name: "drop_all_tables", arguments: { really: true } });
    expect(res.isError).toBe(true);
    expect(text(res)).toContain('Unknown tool "drop_all_tables". Available tools: run_discovery');
    expect(auditRows(h.app)).toEqual([expect.objectContaining({ tool: "drop_all_tables", outcome: "unknown_tool", arguments: '{"really":true}' })]);
  });

  it("rejected: invalid arguments get a message naming the field, and are audited", async () => {
    h = await startHarness();
    const wrongType = await h.client.callTool({ name: "get_target", arguments: { target: 42 } });
    expect(wrongType.isError).toBe(true);
    expect(text(wrongType)).toMatch(/^Invalid arguments for get_target: target: /);
    const unknownField = await h.client.callTool({ name: "get_fleet_overview", arguments: { verbose: true } });
    expect(text(unknownField)).toContain("verbose");
    const outOfBounds = await h.client.callTool({ name: "query_audit_log", arguments: { limit: 100000 } });
    expect(text(outOfBounds)).toContain("limit");
    expect(auditRows(h.app).map((r) => [r.tool, r.outcome])).toEqual([
      ["get_target", "rejected"],
      ["get_fleet_overview", "rejected"],
      ["query_audit_log", "rejected"],
    ]);
  });

  it("rejected: a malformed tools/call (name not a string, arguments not an object) still reaches the audit log", async () => {
    h = await startHarness();
    const res = await h.client.request({ method: "tools/call", params: { name: 7 as unknown as string, arguments: {} } }, CallToolResultSchema);
    expect(res.isError).toBe(true);
    expect(text(res)).toContain("`name` must be a string");
    const res2 = await h.client.request(
      { method: "tools/call", params: { name: "get_target", arguments: "web-1" as unknown as Record<string, unknown> } },
      CallToolResultSchema,
    );
    expect(res2.isError).toBe(true);
    expect(auditRows(h.app).map((r) => [r.tool, r.outcome])).toEqual([
      ["(invalid)", "rejected"],
      ["get_target", "rejected"],
    ]);
  });

  it("tool_error: an expected failure passes its actionable text through", async () => {
    h = await startHarness({ tools: [...ALL_TOOLS, boom] });
    const res = await h.client.callTool({ name: "explode", arguments: { kind: "expected" } });
    expect(res).toMatchObject({ isError: true });
    expect(text(res)).toBe("Snapshot 42 not found. Known: 40, 41 — call list_snapshots.");
    expect(lastAudit(h.app)).toMatchObject({ outcome: "tool_error", error: "Snapshot 42 not found. Known: 40, 41 — call list_snapshots." });
  });

  it("exception: a bug gets a generic message with the audit id; the stack goes to the log only", async () => {
    h = await startHarness({ tools: [...ALL_TOOLS, boom] });
    await h.client.callTool({ name: "get_fleet_overview", arguments: {} });
    const res = await h.client.callTool({ name: "explode", arguments: { kind: "bug" } });
    expect(res.isError).toBe(true);
    const row = lastAudit(h.app);
    expect(row).toMatchObject({ id: 2, outcome: "exception", error: "cannot read properties of undefined (reading 'x')" });
    expect(text(res)).toMatch(/^Internal error in explode \(audit id 2, correlation id [0-9a-f-]{36}\)/);
    expect(text(res)).not.toContain("TypeError");
    expect(h.logs.some((l) => l.includes("tool failed with an unexpected error") && l.includes("TypeError"))).toBe(true);
    // The server keeps serving.
    expect((await h.client.callTool({ name: "get_fleet_overview", arguments: {} })).isError).toBeFalsy();
  });

  it("exception: output that does not match the declared outputSchema is a bug, not a result", async () => {
    h = await startHarness({ tools: [...ALL_TOOLS, boom] });
    const res = await h.client.callTool({ name: "explode", arguments: { kind: "bad_output" } });
    expect(res.isError).toBe(true);
    expect(lastAudit(h.app)).toMatchObject({ outcome: "exception", error: expect.stringContaining("does not match its outputSchema") });
  });

  it("exception: a summary that throws still leaves exactly one audit row", async () => {
    h = await startHarness({ tools: [...ALL_TOOLS, boom] });
    const res = await h.client.callTool({ name: "explode", arguments: { kind: "bad_summary" } });
    expect(res.isError).toBe(true);
    expect(auditRows(h.app).map((r) => r.outcome)).toEqual(["exception"]);
  });

  it("cuts an oversized result with a hint to narrow the query", async () => {
    h = await startHarness({
      tools: [...ALL_TOOLS, boom],
      config: { limits: { maxResultBytes: 64 * 1024, discoveryTimeoutMs: 60_000, maxConcurrentProbes: 8, maxFleetSize: null } },
    });
    const res = await h.client.callTool({ name: "explode", arguments: { kind: "huge" } });
    expect(res.isError).toBe(true);
    expect(res.structuredContent).toBeUndefined();
    expect(text(res)).toMatch(/too large \(\d+ bytes; the cap is 65536\)\. Narrow the query/);
    expect(lastAudit(h.app)).toMatchObject({ outcome: "tool_error" });
  });

  it("cancelled: covered for run_discovery in tools.test.ts; here every outcome leaves a verifiable chain", async () => {
    h = await startHarness({ tools: [...ALL_TOOLS, boom], runners: { lab: new ScriptedRunner(() => ({ kind: "answer", host: debianHost() })) } });
    await h.client.callTool({ name: "run_discovery", arguments: {} });
    await h.client.callTool({ name: "nope", arguments: {} });
    await h.client.callTool({ name: "get_target", arguments: {} });
    await h.client.callTool({ name: "explode", arguments: { kind: "bug" } });
    await h.client.callTool({ name: "explode", arguments: { kind: "expected" } });
    expect(auditRows(h.app).map((r) => r.outcome)).toEqual(["ok", "unknown_tool", "rejected", "exception", "tool_error"]);
    expect(verifyAuditChain(h.app.db)).toMatchObject({ ok: true, rows: 5, headHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});

describe("secrets never reach the audit log or tool output", () => {
  it("redacts secret-named keys and configured secret values wherever they appear", async () => {
    const secret = "pve-token-6f1c2d3e-aaaa-bbbb-cccc-1234567890ab";
    const quoted = 'pa"ss\\word-with-quotes';
    h = await startHarness({ config: { secretValues: [secret, quoted] } });
    await h.client.callTool({ name: quoted, arguments: {} });
    await h.client.callTool({ name: "get_target", arguments: { target: 7, note: quoted } });
    expect(h.logs.join("")).not.toContain(JSON.stringify(quoted).slice(1, -1));
    expect(JSON.stringify(auditRows(h.app))).not.toContain(JSON.stringify(quoted).slice(1, -1));
    for (const r of auditRows(h.app)) expect(String(r.error)).not.toContain(quoted);
    const res = await h.client.callTool({ name: "get_target", arguments: { target: `host-${secret}` } });
    expect(text(res)).not.toContain(secret);
    await h.client.callTool({ name: "get_fleet_overview", arguments: { password: "hunter2hunter2", nested: { api_token: "abc123456" } } });
    await h.client.callTool({ name: secret, arguments: {} });
    const all = JSON.stringify(auditRows(h.app));
    expect(all).not.toContain(secret);
    expect(all).not.toContain("hunter2hunter2");
    expect(all).not.toContain("abc123456");
    const rows = auditRows(h.app).slice(2);
    expect(JSON.parse(rows[0]!.arguments as string)).toEqual({ target: `host-${REDACTED}` });
    expect(JSON.parse(rows[1]!.arguments as string)).toEqual({ password: REDACTED, nested: { api_token: REDACTED } });
    expect(rows[2]!.tool).toBe(REDACTED);
    expect(h.logs.join("")).not.toContain(secret);
  });
});

describe("the audit log is append-only and tamper-evident", () => {
  function seed(harness: Harness, n: number) {
    for (let i = 0; i < n; i++) {
      appendAudit(harness.app.db, {
        ts: new Date(Date.UTC(2026, 10, 23, 12, 0, i)),
        correlationId: `c-${i}`,
        tool: "get_fleet_overview",
        arguments: { i },
        outcome: "ok",
        durationMs: 3,
        error: null,
        clientName: "t",
        clientVersion: "1",
      });
    }
  }

  it("refuses UPDATE and DELETE through any connection", async () => {
    h = await startHarness();
    seed(h, 2);
    expect(() => h!.app.db.$client.prepare("UPDATE audit_log SET outcome = 'exception' WHERE id = 1").run()).toThrow(/append-only: UPDATE refused/);
    expect(() => h!.app.db.$client.prepare("DELETE FROM audit_log WHERE id = 1").run()).toThrow(/append-only: DELETE refused/);
    expect(verifyAuditChain(h.app.db).ok).toBe(true);
  });

  it("names the first modified, deleted or reordered row once the triggers are dropped", async () => {
    h = await startHarness();
    seed(h, 5);
    const raw = h.app.db.$client;
    raw.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");

    raw.prepare("UPDATE audit_log SET arguments = '{\"i\":99}' WHERE id = 3").run();
    expect(verifyAuditChain(h.app.db)).toMatchObject({ ok: false, rows: 3, firstBad: { id: 3, reason: expect.stringContaining("was modified") } });
    raw.prepare("UPDATE audit_log SET arguments = '{\"i\":2}' WHERE id = 3").run();
    expect(verifyAuditChain(h.app.db).ok).toBe(true);

    // Swap the content of rows 2 and 4 (a reordering that keeps ids dense).
    const r2 = raw.prepare("SELECT * FROM audit_log WHERE id = 2").get() as Record<string, unknown>;
    const r4 = raw.prepare("SELECT * FROM audit_log WHERE id = 4").get() as Record<string, unknown>;
    const put = raw.prepare(
      "UPDATE audit_log SET ts=@ts, correlation_id=@correlation_id, arguments=@arguments, prev_hash=@prev_hash, hash=@hash WHERE id=@target",
    );
    const clearHashes = () => raw.prepare("UPDATE audit_log SET hash = 'tmp-' || id WHERE id IN (2, 4)").run();
    clearHashes();
    put.run({ ...r4, target: 2 });
    put.run({ ...r2, target: 4 });
    expect(verifyAuditChain(h.app.db).firstBad?.id).toBe(2);
    clearHashes();
    put.run({ ...r4, target: 4 });
    put.run({ ...r2, target: 2 });
    expect(verifyAuditChain(h.app.db).ok).toBe(true);

    raw.prepare("DELETE FROM audit_log WHERE id = 2").run();
    expect(verifyAuditChain(h.app.db)).toMatchObject({ ok: false, rows: 2, firstBad: { id: 3, reason: expect.stringContaining("missing") } });
  });
});
