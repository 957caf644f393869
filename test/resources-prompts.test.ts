// Resources, prompts and MCP log messages through the real MCP client: the
// resources carry the same (redacted) data as the tools and are not audited,
// completion finds targets and snapshots by prefix, prompts name the right tools
// and carry real data where they say so, and run_discovery sends source
// warnings and host failures as notifications/message.
import { LoggingMessageNotificationSchema, type LoggingMessageNotification } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { fleetFactory, fleetSource, type HostSpec } from "./support/fleet.js";
import { auditRows, startHarness, text, type Harness, callOk } from "./support/harness.js";
import { startSimHost, type SimHost } from "./support/ssh-sim.js";

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SECRET = "s3cret-token-value-91";
let h: Harness | undefined;
const sims: SimHost[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

const T0 = new Date("2026-11-23T08:00:00Z");
const localSources = (ids: string[]) => ids.map((id) => ({ kind: "local" as const, id, timeout_ms: 5000, max_output_bytes: 4 * 1024 * 1024 }));

let fleet: HostSpec[] = [];
async function startFleet(extra: { warnings?: string[] } = {}) {
  const base = fleetFactory({ lab: () => fleet });
  h = await startHarness({
    now: () => T0,
    config: { sources: localSources(["lab"]), secretValues: [SECRET] },
    sourceFactory: extra.warnings
      ? (cfg) => {
          const src = fleetSource(cfg.id, () => fleet);
          return {
            ...src,
            async discover(ctx) {
              const r = await src.discover(ctx);
              return { ...r, warnings: extra.warnings! };
            },
          };
        }
      : base,
  });
  return h;
}

const call = (name: string, args: Record<string, unknown> = {}) => callOk(h!, name, args);

async function readJson(uri: string) {
  const r = await h!.client.readResource({ uri });
  expect(r.contents).toHaveLength(1);
  expect(r.contents[0]!.mimeType).toBe("application/json");
  expect(r.contents[0]!.uri).toBe(uri);
  return JSON.parse((r.contents[0] as { text: string }).text) as S;
}

const complete = async (uri: string, name: string, value: string) =>
  (await h!.client.complete({ ref: { type: "ref/resource", uri }, argument: { name, value } })).completion.values;

describe("resources", () => {
  it("lists the overview and the templates, and reads the overview as get_fleet_overview returns it, without an audit row", async () => {
    fleet = [{ name: "web-1" }, { name: "web-2" }, { name: "db-1" }];
    await startFleet();
    await call("run_discovery");
    const { resources } = await h!.client.listResources();
    expect(resources.map((r) => r.uri)).toContain("fleet://overview");
    const { resourceTemplates } = await h!.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(expect.arrayContaining(["fleet://targets/{id}", "fleet://snapshots/{id}"]));

    const overviewTool = await call("get_fleet_overview");
    const audited = auditRows(h!.app).length;
    const overview = await readJson("fleet://overview");
    expect(overview).toEqual(overviewTool);
    expect(overview.targets.total).toBe(3);
    expect(auditRows(h!.app)).toHaveLength(audited);
  });

  it("reads one target by name or id, redacted, and says what to do for an unknown one", async () => {
    fleet = [{ name: "web-1" }, { name: "broken", status: "unreachable", error: `connect failed (token ${SECRET})` }];
    await startFleet();
    await call("run_discovery");
    const t = await readJson("fleet://targets/web-1");
    expect(t.target.name).toBe("web-1");
    expect(t.services.items.length).toBeLessThanOrEqual(25);
    expect((await readJson(`fleet://targets/${t.target.id}`)).target.id).toBe(t.target.id);

    const raw = await h!.client.readResource({ uri: "fleet://targets/broken" });
    const body = (raw.contents[0] as { text: string }).text;
    expect(JSON.parse(body).target.last_error).toContain("connect failed");
    expect(body).not.toContain(SECRET);

    await expect(h!.client.readResource({ uri: "fleet://targets/nosuch" })).rejects.toThrow(/No target "nosuch"/);
  });

  it("completes target names by prefix, in name order, and a full id", async () => {
    fleet = ["web-3", "Web-1", "web-2", "db-1", "xweb"].map((name) => ({ name }));
    await startFleet();
    await call("run_discovery");
    expect(await complete("fleet://targets/{id}", "id", "we")).toEqual(["Web-1", "web-2", "web-3"]);
    expect(await complete("fleet://targets/{id}", "id", "WEB-2")).toEqual(["web-2"]);
    expect(await complete("fleet://targets/{id}", "id", "zzz")).toEqual([]);
    expect(await complete("fleet://targets/{id}", "id", "")).toHaveLength(5);
    const id = (h!.app.db.$client.prepare("SELECT id FROM targets WHERE name = 'db-1'").get() as { id: string }).id;
    expect(await complete("fleet://targets/{id}", "id", id)).toEqual([id]);
  });

  it("reads a snapshot's metadata and counts by id, name or latest, and completes its ids and names", async () => {
    fleet = [{ name: "web-1", services: [] }, { name: "web-2" }];
    await startFleet();
    await call("run_discovery");
    const snap = await call("create_snapshot", { name: "before-upgrade" });
    const s = await readJson(`fleet://snapshots/${snap.id}`);
    expect(s).toMatchObject({ id: snap.id, name: "before-upgrade", type: "manual", target_count: 2 });
    expect(s.counts.target).toBe(2);
    expect(Object.values(s.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(s.entity_count);
    expect((await readJson("fleet://snapshots/before-upgrade")).id).toBe(snap.id);
    expect((await readJson("fleet://snapshots/latest")).id).toBe(snap.id);
    expect(await complete("fleet://snapshots/{id}", "id", "bef")).toEqual(["before-upgrade"]);
    expect(await complete("fleet://snapshots/{id}", "id", String(snap.id))).toContain(String(snap.id));
    const { resources } = await h!.client.listResources();
    expect(resources.map((r) => r.uri)).toContain(`fleet://snapshots/${snap.id}`);
    await expect(h!.client.readResource({ uri: "fleet://snapshots/9999" })).rejects.toThrow(/Snapshot "9999" not found\. Call list_snapshots/);
  });
});

describe("report resources", () => {
  it("reads each report kind as the markdown generate_fleet_report renders, lists and completes the kinds", async () => {
    fleet = [{ name: "web-1" }, { name: "db-1" }];
    await startFleet();
    await call("run_discovery");
    const { resources } = await h!.client.listResources();
    expect(resources.filter((r) => r.uri.startsWith("fleet://reports/")).map((r) => r.uri)).toEqual(
      ["summary", "health", "security", "resources"].map((k) => `fleet://reports/${k}`),
    );
    for (const kind of ["summary", "health", "security", "resources"]) {
      const r = await h!.client.readResource({ uri: `fleet://reports/${kind}` });
      expect(r.contents[0]!.mimeType).toBe("text/markdown");
      const md = (r.contents[0] as { text: string }).text;
      const tool = await call("generate_fleet_report", { kind, format: "markdown" });
      expect(md).toBe(tool.markdown);
      expect(md.length).toBeGreaterThan(50);
    }
    expect(await complete("fleet://reports/{kind}", "kind", "s")).toEqual(["summary", "security"]);
    await expect(h!.client.readResource({ uri: "fleet://reports/costs" })).rejects.toThrow(
      /No report kind "costs"\. Kinds: summary, health, security, resources/,
    );
  });
});

describe("prompts", () => {
  it("lists the three prompts with their arguments", async () => {
    fleet = [];
    await startFleet();
    const { prompts } = await h!.client.listPrompts();
    const byName = Object.fromEntries(prompts.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(["diagnose_access", "fleet_health_review", "what_changed"]);
    expect(byName.what_changed!.arguments).toEqual([expect.objectContaining({ name: "since", required: true })]);
    expect(byName.fleet_health_review!.arguments).toEqual([expect.objectContaining({ name: "role", required: false })]);
  });

  it("fleet_health_review names the workflow, with the role filter when given", async () => {
    fleet = [];
    await startFleet();
    const all = await h!.client.getPrompt({ name: "fleet_health_review", arguments: {} });
    const t = (all.messages[0]!.content as { text: string }).text;
    for (const tool of ["run_health_check", "list_targets", "health_below", "get_target"]) expect(t).toContain(tool);
    expect(t).not.toContain("role=");
    const prod = await h!.client.getPrompt({ name: "fleet_health_review", arguments: { role: "production" } });
    expect((prod.messages[0]!.content as { text: string }).text).toContain('role="production"');
    await expect(h!.client.getPrompt({ name: "fleet_health_review", arguments: { role: "nope" } })).rejects.toThrow();
  });

  it("what_changed resolves a snapshot to compare_snapshots, a time to get_change_events, and refuses an unknown ref", async () => {
    fleet = [{ name: "web-1" }];
    await startFleet();
    await expect(h!.client.getPrompt({ name: "what_changed", arguments: { since: "nosuch" } })).rejects.toThrow(/none are stored/);
    await call("run_discovery");
    const snap = await call("create_snapshot", { name: "monday" });
    const bySnap = (await h!.client.getPrompt({ name: "what_changed", arguments: { since: "monday" } })).messages[0]!.content as { text: string };
    expect(bySnap.text).toContain(`snapshot ${snap.id} "monday"`);
    expect(bySnap.text).toContain(`compare_snapshots with a="${snap.id}" and b="live"`);
    expect(bySnap.text).toContain(`get_change_events with since="${T0.toISOString()}"`);
    const byTime = (await h!.client.getPrompt({ name: "what_changed", arguments: { since: "2026-11-20T00:00:00Z" } })).messages[0]!.content as {
      text: string;
    };
    expect(byTime.text).toContain('get_change_events with since="2026-11-20T00:00:00.000Z"');
    await expect(h!.client.getPrompt({ name: "what_changed", arguments: { since: "tuesday" } })).rejects.toThrow(
      new RegExp(`No snapshot "tuesday"\\. Recent snapshot ids: ${snap.id}`),
    );
  });

  it("diagnose_access carries the doctor's real findings for the configured sources, without secrets", async () => {
    const sim = await startSimHost({ name: "locked", users: { root: { password: "right-password-1" } } });
    sims.push(sim);
    h = await startHarness({
      configJson: {
        sources: [
          { kind: "local", id: "here" },
          {
            kind: "ssh",
            id: "lab",
            hosts: [{ address: sim.address, port: sim.port }],
            auth: { agent: false, password_env: "P" },
            timeout_ms: 2000,
            retries: 0,
          },
        ],
      },
      env: { P: "wrong-password-2" },
    });
    const all = (await h.client.getPrompt({ name: "diagnose_access", arguments: {} })).messages[0]!.content as { text: string };
    expect(all.text).toContain("[ok] here (local) local config: probes this machine directly");
    expect(all.text).toMatch(new RegExp(`\\[error\\] lab \\(ssh\\) [^\\n]*${sim.port}[^\\n]*`));
    expect(all.text).toContain("Explain each error and warning");
    expect(all.text).not.toContain("wrong-password-2");

    const one = (await h.client.getPrompt({ name: "diagnose_access", arguments: { target: "here" } })).messages[0]!.content as { text: string };
    expect(one.text).toContain("checked source here (1 check(s): 0 error(s), 0 warning(s))");
    expect(one.text).toContain("Every check passed");
    expect(one.text).not.toContain("lab (ssh)");
  });
});

describe("MCP log messages", () => {
  it("run_discovery sends source warnings and host failures as warnings, and honours the client's level", async () => {
    fleet = [{ name: "ok-1" }, { name: "down-1", status: "unreachable", error: "connect ECONNREFUSED 10.0.0.9:22" }];
    await startFleet({ warnings: ["tailscale peer list truncated"] });
    const got: LoggingMessageNotification["params"][] = [];
    h!.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      got.push(n.params);
    });
    const out = await call("run_discovery");
    expect(out.status).toBe("partial");
    expect(got.every((m) => m.level === "warning" && m.logger === "fleet-mcp")).toBe(true);
    const messages = got.map((m) => (m.data as { message: string }).message);
    expect(messages).toContain("source lab: tailscale peer list truncated");
    expect(messages).toContain("host down-1 (lab) unreachable: connect ECONNREFUSED 10.0.0.9:22");
    expect(messages.some((m) => m.includes("ok-1"))).toBe(false);
    const down = got.find((m) => (m.data as { message: string }).message.startsWith("host down-1"))!;
    expect(down.data).toMatchObject({ run_id: out.run_id, source: "lab", target_id: out.problems[0].target_id });

    got.length = 0;
    await h!.client.setLoggingLevel("error");
    await call("run_discovery");
    expect(got).toEqual([]);
  });
});
