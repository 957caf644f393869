// search_fleet through the MCP client against fleets discovered by the real
// discovery service: ranking, prefixes, every filter, filter-only queries, the
// index following a second discovery and a role change, hostile FTS syntax,
// retired targets, pagination over tied scores without gaps or repeats, and
// words too common to rank (grouped, unscored, bounded filter checks).
import { afterEach, describe, expect, it } from "vitest";
import { FILTER_SCAN_LIMIT, RANK_LIMIT, verifySearchIndex } from "../src/inventory/search.js";
import { container, fleetHarnessOptions, port, service, type HostSpec } from "./support/fleet.js";
import { lastAudit, startHarness, text, type Harness } from "./support/harness.js";

const T0 = new Date("2026-11-23T10:00:00.000Z");
const DAY = 24 * 3600_000;
const NODE = "pve-node:lab/pve1";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(name: string, args: Record<string, unknown> = {}): Promise<Json> {
  const res = await h!.client.callTool({ name, arguments: args });
  if (res.isError) throw new Error(`${name} failed: ${text(res)}\n${h!.logs.filter((l) => l.includes('"error"')).join("\n")}`);
  return res.structuredContent;
}

const search = (query: string, extra: Record<string, unknown> = {}) => call("search_fleet", { query, limit: 200, ...extra });
/** type:name@target of every match, in order. */
const keys = (out: Json) => out.matches.map((m: Json) => `${m.type}:${m.name}@${m.target.name}`);

interface World {
  web: HostSpec;
  db: HostSpec;
  node: HostSpec;
  guest: HostSpec;
  old: HostSpec | null;
}

function world(): World {
  return {
    web: {
      name: "web-1",
      address: "10.0.0.10",
      facts: { tags: "web,eu" },
      services: [service("nginx", { description: "A high performance web server and a reverse proxy server" }), service("ssh"), service("cron")],
      containers: [
        container("proxy", "nginx:1.25-alpine", { composeProject: "shop", composeService: "proxy", ports: "0.0.0.0:443->443/tcp" }),
        container("cache", "redis:7"),
        container("shopdb", "postgres:16", { state: "exited", status: "Exited (1) 2 hours ago", composeProject: "shop", composeService: "db" }),
      ],
      stacks: [{ name: "shop", status: "running(1), exited(1)", configFiles: ["/opt/shop/docker-compose.yml"] }],
      ports: [port(22, "sshd"), port(443, "nginx"), port(6379, "redis-server", { address: "127.0.0.1" })],
    },
    db: {
      name: "db-1",
      address: "10.0.0.20",
      facts: { tags: "db", "os.id": "alpine", "os.pretty_name": "Alpine Linux v3.20" },
      services: [
        service("postgresql", { description: "PostgreSQL RDBMS" }),
        service("log-shipper", { description: "Ships nginx access logs" }),
        service("backup", { description: "Nightly backup", active: "failed", sub: "failed" }),
        service("ssh"),
      ],
      ports: [port(22, "sshd"), port(5432, "postgres")],
    },
    node: {
      name: "pve1",
      kind: "proxmox_node",
      identity: [NODE],
      address: "10.0.1.1",
      services: [service("pveproxy", { description: "PVE API Proxy Server" })],
    },
    guest: {
      name: "ct-100",
      kind: "lxc",
      parentIdentity: NODE,
      identity: ["pve-guest:lab/100"],
      address: "10.0.1.100",
      containers: [container("app", "ghcr.io/acme/app:1")],
      ports: [port(8080, "app")],
    },
    old: { name: "old-1", address: "10.0.0.99", services: [service("legacy-nginx", { description: "Old nginx front end" })] },
  };
}

async function start(w: World, now: () => Date = () => T0) {
  h = await startHarness({
    ...fleetHarnessOptions({ lab: () => [w.web, w.db, w.node, w.guest, ...(w.old ? [w.old] : [])] }),
    configJson: { roles: [{ role: "production", tag: "web" }], lifecycle: { stale_after_hours: 1, retire_after_days: 1 } },
    now,
  });
  await call("run_discovery");
}

describe("search_fleet", () => {
  it("ranks words by relevance, a name match above a description match, with prefixes and each match's target", async () => {
    await start(world());
    const out = await search("nginx");
    expect(keys(out)).toEqual(
      expect.arrayContaining(["service:nginx@web-1", "service:log-shipper@db-1", "service:legacy-nginx@old-1", "container:proxy@web-1", "port:tcp/443@web-1"]),
    );
    expect(out.total).toBe(out.matches.length);
    expect(out.total_is_lower_bound).toBe(false);
    // The unit named nginx outranks the unit that only mentions nginx in its description.
    const rank = (k: string) => keys(out).indexOf(k);
    expect(rank("service:nginx@web-1")).toBeLessThan(rank("service:log-shipper@db-1"));
    expect(out.matches.every((m: Json, i: number) => i === 0 || m.score <= out.matches[i - 1].score)).toBe(true);
    const svc = out.matches.find((m: Json) => m.type === "service" && m.name === "nginx");
    expect(svc).toEqual({
      type: "service",
      name: "nginx",
      state: "active/running",
      source: "lab",
      fields: { description: "A high performance web server and a reverse proxy server", enabled: "enabled" },
      target: { id: expect.stringMatching(/^h-/), name: "web-1", kind: "host", role: "production", lifecycle: "active" },
      score: expect.any(Number),
    });
    expect(svc.score).toBeGreaterThan(0);
    const p = out.matches.find((m: Json) => m.type === "port");
    expect(p.fields).toEqual({ protocol: "tcp", address: "0.0.0.0", port: 443, process: "nginx", pid: null });
    expect(out.interpreted).toEqual({ words: ["nginx"], filters: {}, entity_types: ["target", "service", "container", "stack", "port"] });
    expect(lastAudit(h!.app)).toMatchObject({ tool: "search_fleet", outcome: "ok" });

    // Words of 3+ characters match as prefixes; shorter ones only whole.
    expect(keys(await search("ngin")).sort()).toEqual(keys(out).sort());
    expect(keys(await search("postg")).sort()).toEqual(["container:shopdb@web-1", "port:tcp/5432@db-1", "service:postgresql@db-1"]);
    expect((await search("ng")).matches).toEqual([]);
    // Words are AND-ed, case-insensitive, across the columns of one entity.
    expect(keys(await search("REVERSE Proxy"))).toEqual(["service:nginx@web-1"]);
    // Targets by name, address, OS, tag and role.
    expect(keys(await search("web-1", { entity_type: "target" }))).toEqual(["target:web-1@web-1"]);
    expect(keys(await search("10.0.0.20"))).toEqual(["target:db-1@db-1"]);
    expect(keys(await search("eu"))).toEqual(["target:web-1@web-1"]);
    expect(keys(await search("alpine", { entity_type: "target" }))).toEqual(["target:db-1@db-1"]);
    // Stacks by name and compose file path.
    expect(keys(await search("docker-compose"))).toEqual(["stack:shop@web-1"]);
    expect((await search("docker-compose")).matches[0].fields).toEqual({ config_files: "/opt/shop/docker-compose.yml" });
    verifySearchIndex(h!.app.db);
  });

  it("applies each filter, alone and with words, and treats unknown prefixes as words", async () => {
    await start(world());
    expect(keys(await search("port:443"))).toEqual(["port:tcp/443@web-1"]);
    expect(keys(await search("port:443 port:5432")).sort()).toEqual(["port:tcp/443@web-1", "port:tcp/5432@db-1"]);
    const img = await search("image:nginx");
    expect(keys(img)).toEqual(["container:proxy@web-1"]);
    expect(img.matches[0].score).toBeNull();
    // image: is a substring, not a word.
    expect(keys(await search("image:ginx:1.2"))).toEqual(["container:proxy@web-1"]);
    expect(keys(await search("image:acme"))).toEqual(["container:app@ct-100"]);
    // Target-level filters alone return targets.
    expect(keys(await search("role:production"))).toEqual(["target:web-1@web-1"]);
    expect(keys(await search("os:alpine"))).toEqual(["target:db-1@db-1"]);
    expect(keys(await search("os:linux")).sort()).toEqual([
      "target:ct-100@ct-100",
      "target:db-1@db-1",
      "target:old-1@old-1",
      "target:pve1@pve1",
      "target:web-1@web-1",
    ]);
    expect(keys(await search("tag:EU"))).toEqual(["target:web-1@web-1"]);
    expect(keys(await search("kind:lxc"))).toEqual(["target:ct-100@ct-100"]);
    expect(keys(await search("node:pve1")).sort()).toEqual(["target:ct-100@ct-100", "target:pve1@pve1"]);
    const nodeId = (await search("pve1", { entity_type: "target" })).matches[0].target.id;
    expect(keys(await search(`node:${nodeId} type:container`))).toEqual(["container:app@ct-100"]);
    // Entity-level filters restrict the entities.
    expect(keys(await search("state:failed"))).toEqual(["service:backup@db-1"]);
    expect(keys(await search("state:exited"))).toEqual(["container:shopdb@web-1"]);
    expect(keys(await search("state:running type:container")).sort()).toEqual(["container:app@ct-100", "container:cache@web-1", "container:proxy@web-1"]);
    // Words and filters together.
    expect(keys(await search("nginx role:production")).sort()).toEqual(["container:proxy@web-1", "port:tcp/443@web-1", "service:nginx@web-1"]);
    expect(keys(await search("nginx os:alpine"))).toEqual(["service:log-shipper@db-1"]);
    expect(keys(await search("postgres state:exited"))).toEqual(["container:shopdb@web-1"]);
    expect(keys(await search("nginx type:port"))).toEqual(["port:tcp/443@web-1"]);
    expect(keys(await search("nginx", { entity_type: "container" }))).toEqual(["container:proxy@web-1"]);
    expect(keys(await search("ssh tag:db type:service"))).toEqual(["service:ssh@db-1"]);
    const both = await search("ssh tag:db type:service");
    expect(both.interpreted).toEqual({ words: ["ssh"], filters: { tag: ["db"], type: ["service"] }, entity_types: ["service"] });

    // An unknown key: prefix is a word; punctuation inside it is text.
    const unknown = await search("colour:blue");
    expect(unknown.interpreted.words).toEqual(["colour:blue"]);
    expect(unknown.matches).toEqual([]);
    // Filters no entity type can satisfy at once: empty, with the reason.
    const none = await search("port:443 image:nginx");
    expect(none.matches).toEqual([]);
    expect(none.notes.join(" ")).toMatch(/No entity type satisfies every filter/);

    // A known key with a value it cannot take is the caller's to fix.
    for (const [query, message] of [
      ["port:https", 'port: takes a port number from 1 to 65535, e.g. port:443 (got "https").'],
      ["port:70000", 'port: takes a port number from 1 to 65535, e.g. port:443 (got "70000").'],
      ["type:vm", 'type: takes one of target, service, container, stack, port (got "vm").'],
    ]) {
      const res = await h!.client.callTool({ name: "search_fleet", arguments: { query } });
      expect(res.isError, query).toBe(true);
      expect(text(res)).toBe(message);
      expect(lastAudit(h!.app)).toMatchObject({ tool: "search_fleet", outcome: "tool_error" });
    }
  });

  it("follows the inventory: removed, renamed and re-roled entities are found as they are now", async () => {
    const w = world();
    let now = T0;
    await start(w, () => now);
    expect(keys(await search("nginx", { entity_type: "service" }))).toContain("service:nginx@web-1");
    expect(keys(await search("cache"))).toEqual(["container:cache@web-1"]);

    // Second discovery: nginx.service gone, container cache renamed to memo, a new port.
    w.web = {
      ...w.web,
      services: w.web.services!.filter((s) => s.name !== "nginx"),
      containers: w.web.containers!.map((c) => (c.name === "cache" ? { ...c, name: "memo", id: "memo".padEnd(64, "0") } : c)),
      ports: [...w.web.ports!, port(9100, "node_exporter")],
    };
    now = new Date(T0.getTime() + 60_000);
    await call("run_discovery");
    verifySearchIndex(h!.app.db);
    expect(keys(await search("nginx", { entity_type: "service" })).sort()).toEqual(["service:legacy-nginx@old-1", "service:log-shipper@db-1"]);
    expect((await search("cache")).matches).toEqual([]);
    expect(keys(await search("memo"))).toEqual(["container:memo@web-1"]);
    expect(keys(await search("node_exporter"))).toEqual(["port:tcp/9100@web-1"]);
    expect(keys(await search("port:9100"))).toEqual(["port:tcp/9100@web-1"]);

    // A write outside discovery (a manual role) is in the index by the next search.
    expect(keys(await search("monitoring"))).toEqual([]);
    await call("set_target_role", { target: "db-1", role: "monitoring" });
    expect(keys(await search("monitoring"))).toEqual(["target:db-1@db-1"]);
    expect(keys(await search("role:monitoring"))).toEqual(["target:db-1@db-1"]);
    verifySearchIndex(h!.app.db);
  });

  it("answers hostile FTS syntax and huge input without an error", async () => {
    await start(world());
    const hostile = [
      '"',
      '""',
      "*",
      "nginx*",
      "NEAR(",
      "NEAR(nginx ssh, 2)",
      "AND OR",
      "nginx AND",
      "OR nginx",
      "NOT nginx",
      "-nginx",
      "^nginx",
      "col:",
      "name:nginx",
      "{name description}: nginx",
      ")(",
      "(nginx",
      'nginx"',
      '"nginx',
      'ngi"nx',
      "'; DROP TABLE targets; --",
      "%_\\",
      "café ☕ 日本語 🚀",
      "\u200b\u0000\u00ad",
      "x ".repeat(5_000),
      "y".repeat(10_240),
      `nginx ${"(".repeat(3_000)}`,
    ];
    for (const query of hostile) {
      const res = await h!.client.callTool({ name: "search_fleet", arguments: { query } });
      expect(res.isError, `${JSON.stringify(query.slice(0, 40))}: ${text(res)}`).toBeFalsy();
      expect(Array.isArray((res.structuredContent as Json).matches)).toBe(true);
    }
    // Syntax in a word is text: nginx* finds nginx, "nginx finds nginx.
    expect(keys(await search("nginx*"))).toContain("service:nginx@web-1");
    expect(keys(await search('"nginx'))).toContain("service:nginx@web-1");
    // Words past the sixteenth are ignored, and the result says so.
    const many = await search("x ".repeat(5_000));
    expect(many.interpreted.words).toEqual(["x"]);
    const long = await search(Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "));
    expect(long.interpreted.words).toHaveLength(16);
    expect(long.notes.join(" ")).toMatch(/Only the first 16 words are searched; ignored: w16 w17/);
    // Only punctuation: nothing to search, said plainly.
    const empty = await search(")(");
    expect(empty.matches).toEqual([]);
    expect(empty.notes.join(" ")).toMatch(/no searchable words or filters/);
    // The database is untouched.
    expect(keys(await search("web-1", { entity_type: "target" }))).toEqual(["target:web-1@web-1"]);
  });

  it("leaves retired targets and what ran on them out unless asked", async () => {
    const w = world();
    let now = T0;
    await start(w, () => now);
    w.old = null;
    now = new Date(T0.getTime() + 3 * DAY);
    await call("run_discovery");
    const def = await search("nginx");
    expect(keys(def)).not.toContain("service:legacy-nginx@old-1");
    expect(keys(await search("old-1"))).toEqual([]);
    const incl = await search("nginx", { include_retired: true });
    expect(keys(incl)).toContain("service:legacy-nginx@old-1");
    expect(incl.matches.find((m: Json) => m.target.name === "old-1").target.lifecycle).toBe("retired");
    expect(incl.total).toBe(def.total + 1);
    expect(keys(await search("nginx lifecycle:retired"))).toEqual(["service:legacy-nginx@old-1"]);
    expect(keys(await search("lifecycle:retired"))).toEqual(["target:old-1@old-1"]);
  });

  it("pages through tied scores and filter-only results without gaps or repeats", async () => {
    const hosts: HostSpec[] = Array.from({ length: 30 }, (_, i) => ({
      name: `host-${String(i).padStart(2, "0")}`,
      address: `10.5.0.${i + 1}`,
      facts: { tags: i % 3 === 0 ? "web" : "db" },
      services: ["alpha", "beta", "gamma", "delta", "epsilon"].map((s) => service(`worker-${s}`, { description: "Queue worker" })),
      ports: [port(22, "sshd")],
    }));
    h = await startHarness({ ...fleetHarnessOptions({ lab: () => hosts }), configJson: { roles: [{ role: "production", tag: "web" }] }, now: () => T0 });
    await call("run_discovery");

    async function walk(args: Record<string, unknown>, limit: number): Promise<Json[]> {
      const items: Json[] = [];
      let cursor: string | undefined;
      let first: Json;
      for (let pages = 0; ; pages++) {
        if (pages > 200) throw new Error("pagination does not end");
        const page = await call("search_fleet", { ...args, limit, ...(cursor ? { cursor } : {}) });
        first ??= page;
        expect(page.total).toBe(first.total);
        items.push(...page.matches);
        cursor = page.next_cursor ?? undefined;
        if (!cursor) break;
        expect(page.matches).toHaveLength(limit);
      }
      return items;
    }
    const id = (m: Json) => `${m.type}:${m.name}@${m.target.id}`;

    // 150 units, all with one of two scores per name: nearly every page boundary falls inside a tie.
    const ranked = await walk({ query: "worker" }, 7);
    expect(ranked).toHaveLength(150);
    expect(new Set(ranked.map(id)).size).toBe(150);
    expect(ranked.every((m, i) => i === 0 || m.score <= ranked[i - 1].score)).toBe(true);
    const onePage = (await call("search_fleet", { query: "worker", limit: 200 })).matches;
    expect(ranked.map(id)).toEqual(onePage.map(id));

    // Filter-only results page by type, then discovery order.
    const filtered = await walk({ query: "type:service role:production" }, 13);
    expect(filtered).toHaveLength(50);
    expect(new Set(filtered.map(id)).size).toBe(50);
    expect(filtered.every((m) => m.type === "service" && m.target.role === "production" && m.score === null)).toBe(true);
    const mixed = await walk({ query: "port:22 type:port" }, 4);
    expect(mixed).toHaveLength(30);
    // A word and a target filter: each page counts with lookups, and still no gaps or repeats.
    const filteredWords = await walk({ query: "worker role:production" }, 7);
    expect(filteredWords.map(id)).toEqual(ranked.filter((m) => m.target.role === "production").map(id));

    // A word and a target filter: counted exactly below the cap.
    expect(await call("search_fleet", { query: "worker role:production", limit: 5 })).toMatchObject({ total: 50, total_is_lower_bound: false });

    // A cursor belongs to its query.
    const first = await call("search_fleet", { query: "worker", limit: 5 });
    const other = await h!.client.callTool({ name: "search_fleet", arguments: { query: "queue", cursor: first.next_cursor } });
    expect(other.isError).toBe(true);
    expect(text(other)).toMatch(/^This cursor belongs to another query/);
    const garbage = await h!.client.callTool({ name: "search_fleet", arguments: { query: "worker", cursor: "garbage" } });
    expect(text(garbage)).toMatch(/^Invalid cursor/);
  });

  it("counts exactly where it is cheap and says 'at least' where counting would need a lookup per match past 1,000", async () => {
    const hosts: HostSpec[] = Array.from({ length: 60 }, (_, i) => ({
      name: `node-${String(i).padStart(2, "0")}`,
      address: `10.6.0.${i + 1}`,
      facts: { tags: "web" },
      // Two scores, 600 units each: the first page's boundary falls inside the better one.
      services: Array.from({ length: 20 }, (_, j) =>
        service(`worker-${j}`, {
          description: j % 2 ? "Queue worker" : "Queue worker for the nightly batch jobs",
          ...(j % 4 === 3 ? { active: "inactive", sub: "dead" } : {}),
        }),
      ),
    }));
    h = await startHarness({ ...fleetHarnessOptions({ lab: () => hosts }), configJson: { roles: [{ role: "production", tag: "web" }] }, now: () => T0 });
    await call("run_discovery");
    // The words alone: the FTS count, exact.
    expect(await call("search_fleet", { query: "worker", limit: 1 })).toMatchObject({ total: 1200, total_is_lower_bound: false });
    // With a target filter each match needs a lookup: counted to 1,000, then "at least".
    expect(await call("search_fleet", { query: "worker role:production", limit: 1 })).toMatchObject({ total: 1000, total_is_lower_bound: true });
    expect(await call("search_fleet", { query: "type:service", limit: 1 })).toMatchObject({ total: 1000, total_is_lower_bound: true });
    // Paging a filtered word past the count cap: every match once, in score order.
    const seen: Json[] = [];
    let cursor: string | undefined;
    do {
      const page = await call("search_fleet", { query: "worker role:production", limit: 200, ...(cursor ? { cursor } : {}) });
      expect(page).toMatchObject({ total: 1000, total_is_lower_bound: true });
      seen.push(...page.matches);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(1200);
    expect(new Set(seen.map((m) => `${m.name}@${m.target.id}`)).size).toBe(1200);
    expect(seen.every((m, i) => i === 0 || m.score <= seen[i - 1].score)).toBe(true);
    expect(new Set(seen.map((m) => m.score)).size).toBe(2);
    // A filter no index serves (a sub state) on more matches than counting may check: the matches are
    // ranked unfiltered and each page checks its candidates in order. Every match once, in score order.
    const running: Json[] = [];
    do {
      const page = await call("search_fleet", { query: "worker state:running", limit: 150, ...(cursor ? { cursor } : {}) });
      expect(page.total_is_lower_bound).toBe(true);
      expect(page.total).toBeLessThan(900);
      running.push(...page.matches);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    const byId = (m: Json) => `${m.name}@${m.target.id}`;
    expect(running.map(byId)).toEqual(seen.filter((m) => m.state === "active/running").map(byId));
    expect(running).toHaveLength(900);
    const res = await h!.client.callTool({ name: "search_fleet", arguments: { query: "worker role:production", limit: 2 } });
    expect(text(res)).toBe(
      `2 of 1000+ match(es): ${(res.structuredContent as Json).matches.map((m: Json) => `${m.name} (service on ${m.target.name})`).join(", ")}. More: pass next_cursor.`,
    );
  });

  describe("a word matching more entities of one type than RANK_LIMIT", () => {
    // 110 hosts with 20 units each that all match "queue": 19 by name, 1 by
    // description only. One host is named queue-master, one listens with a
    // process named queue, one runs a dead container of a queue image, and one
    // queue unit (on a late host) has exited.
    const HOSTS = 110;
    const NAMED = HOSTS * 19;
    const fleet = (): HostSpec[] =>
      Array.from({ length: HOSTS }, (_, i) => ({
        name: i === 0 ? "queue-master" : `h-${String(i).padStart(3, "0")}`,
        address: `10.7.0.${i + 1}`,
        facts: { tags: i < 4 ? "eu" : "us" },
        services: [
          ...Array.from({ length: 19 }, (_, j) =>
            service(`queue-${j}`, { description: "Job runner", ...(i === HOSTS - 3 && j === 18 ? { active: "inactive", sub: "exited" } : {}) }),
          ),
          service("runner", { description: "Queue consumer" }),
        ],
        ports: i === 3 ? [port(7000, "queue")] : [],
        containers: i === 5 ? [container("worker", "queue/worker:1", { state: "dead", status: "Dead" })] : [],
      }));

    async function pages(query: string, limit: number): Promise<{ items: Json[]; pages: Json[] }> {
      const items: Json[] = [];
      const seen: Json[] = [];
      let cursor: string | undefined;
      for (;;) {
        if (seen.length > 100) throw new Error("pagination does not end");
        const page = await call("search_fleet", { query, limit, ...(cursor ? { cursor } : {}) });
        seen.push(page);
        expect(page.total).toBe(seen[0].total);
        items.push(...page.matches);
        cursor = page.next_cursor ?? undefined;
        if (!cursor) return { items, pages: seen };
      }
    }
    const id = (m: Json) => `${m.type}:${m.name}@${m.target.id}`;
    /** The order as runs of kinds: [kind, how many in a row]. */
    const runs = (items: Json[]) => {
      const out: Array<[string, number]> = [];
      for (const m of items) {
        const kind = m.type === "service" ? m.name.replace(/-\d+$/, "") : `${m.type}:${m.name}`;
        const last = out[out.length - 1];
        if (last && last[0] === kind) last[1]++;
        else out.push([kind, 1]);
      }
      return out;
    };

    it("puts name matches first, leaves the unranked type unscored, and pages every match once whatever the page size", async () => {
      expect(NAMED).toBeGreaterThan(RANK_LIMIT);
      let hosts = fleet();
      let now = T0;
      h = await startHarness({
        ...fleetHarnessOptions({ lab: () => hosts }),
        configJson: { lifecycle: { stale_after_hours: 1, retire_after_days: 1 } },
        now: () => now,
      });
      await call("run_discovery");

      const first = await call("search_fleet", { query: "queue", limit: 50 });
      // Counting reads only the index: still exact.
      expect(first).toMatchObject({ total: HOSTS * 20 + 3, total_is_lower_bound: false });
      expect(first.notes.join(" ")).toMatch(/More than 2,000 services match these words, too many to rank/);
      // The ranked target named queue-master leads its group; the services named queue-* follow, unscored.
      expect(first.matches[0]).toMatchObject({ type: "target", name: "queue-master" });
      expect(first.matches[0].score).toBeGreaterThan(0);
      expect(first.matches.slice(1).every((m: Json) => m.type === "service" && /^queue-\d+$/.test(m.name) && m.score === null)).toBe(true);

      const all = await pages("queue", 200);
      expect(all.items).toHaveLength(HOSTS * 20 + 3);
      expect(new Set(all.items.map(id)).size).toBe(HOSTS * 20 + 3);
      // Group 0 (every word in the name): the ranked target, then the unranked services;
      // group 1: the ranked port (its process matches, not its number) and container (its image) by score,
      // then the units that only mention queue.
      const order = runs(all.items);
      expect(order.slice(0, 2)).toEqual([
        ["target:queue-master", 1],
        ["queue", NAMED],
      ]);
      expect(
        order
          .slice(2, 4)
          .map(([kind]) => kind)
          .sort(),
      ).toEqual(["container:worker", "port:tcp/7000"]);
      expect(order.slice(4)).toEqual([["runner", HOSTS]]);
      const scored = all.items.filter((m) => m.score !== null);
      expect(scored.map((m) => m.type).sort()).toEqual(["container", "port", "target"]);
      expect(scored[1].score).toBeGreaterThanOrEqual(scored[2].score);
      // Another page size walks the same order: page boundaries fall anywhere, nothing moves.
      const odd = await pages("queue", 37);
      expect(odd.items.map(id)).toEqual(all.items.map(id));
      expect(odd.pages.slice(0, -1).every((p) => p.matches.length === 37)).toBe(true);
      // Below the bound nothing changes: runner alone is 110 units, ranked.
      const few = await call("search_fleet", { query: "consumer", limit: 200 });
      expect(few.matches).toHaveLength(HOSTS);
      expect(few.matches.every((m: Json) => m.score > 0)).toBe(true);
      expect(few.notes).toEqual([]);
      verifySearchIndex(h!.app.db);

      // Two hosts (queue-master among them) gone long enough to be retired: left out, and still counted exactly.
      hosts = hosts.slice(2);
      now = new Date(T0.getTime() + 3 * DAY);
      await call("run_discovery");
      const left = await pages("queue", 200);
      expect(left.pages[0]).toMatchObject({ total: (HOSTS - 2) * 20 + 2, total_is_lower_bound: false });
      expect(new Set(left.items.map(id)).size).toBe((HOSTS - 2) * 20 + 2);
      expect(left.items.every((m) => m.target.lifecycle !== "retired")).toBe(true);
      expect(runs(left.items)[0]).toEqual(["queue", (HOSTS - 2) * 19]);
      const incl = await call("search_fleet", { query: "queue", include_retired: true, limit: 1 });
      expect(incl).toMatchObject({ total: HOSTS * 20 + 3, matches: [{ type: "target", name: "queue-master", target: { lifecycle: "retired" } }] });
    });

    it("filters an unranked type by an indexed set or by bounded checks, without gaps or repeats", async () => {
      expect(NAMED).toBeGreaterThan(FILTER_SCAN_LIMIT);
      h = await startHarness({ ...fleetHarnessOptions({ lab: () => fleet() }), now: () => T0 });
      await call("run_discovery");

      // A narrow target filter (4 hosts): tested against the set of their rows, counted exactly.
      const eu = await pages("queue tag:eu", 30);
      expect(eu.pages[0]).toMatchObject({ total: 82, total_is_lower_bound: false });
      expect(new Set(eu.items.map(id)).size).toBe(82);
      expect(runs(eu.items)).toEqual([
        ["target:queue-master", 1],
        ["queue", 4 * 19],
        ["port:tcp/7000", 1],
        ["runner", 4],
      ]);
      expect(eu.items.every((m) => m.target.name === "queue-master" || ["h-001", "h-002", "h-003"].includes(m.target.name))).toBe(true);
      // On one page, the name matches found whole let the rest be walked without them: still each once.
      const onePage = await call("search_fleet", { query: "queue tag:eu", limit: 200 });
      expect(onePage.matches.map(id)).toEqual(eu.items.map(id));

      // A sub state has no index: each match is checked by a lookup, most pass, pages fill, the count says "at least".
      const running = await pages("queue state:running", 200);
      expect(running.pages[0]).toMatchObject({ total: 1000, total_is_lower_bound: true });
      expect(running.items).toHaveLength(HOSTS * 20 - 1);
      expect(new Set(running.items.map(id)).size).toBe(HOSTS * 20 - 1);
      expect(running.pages.slice(0, -1).every((p) => p.matches.length === 200)).toBe(true);

      // A filter no unit passes: a page checks at most FILTER_SCAN_LIMIT of the unranked units, then ends
      // early with a cursor and says why; the dead container (ranked, in the later group) waits for its turn.
      const dead = await pages("queue state:dead", 25);
      expect(dead.items.map(id)).toEqual([expect.stringMatching(/^container:worker@/)]);
      expect(dead.pages.length).toBeGreaterThan(1);
      expect(dead.pages[0]).toMatchObject({ matches: [], total: 1, total_is_lower_bound: true });
      expect(dead.pages[0].next_cursor).toEqual(expect.any(String));
      expect(dead.pages[0].notes.join(" ")).toMatch(/Checked the filters on 2,000 matches .* and none passed: pass next_cursor/);
      const res = await h!.client.callTool({ name: "search_fleet", arguments: { query: "queue state:dead" } });
      expect(text(res)).toBe("No matches yet: pass next_cursor to check more.");
      // The one exited unit sits past the first checks; walking the cursor finds it exactly once.
      const exited = await pages("queue state:exited", 25);
      expect(exited.items.map((m) => `${m.name}@${m.target.name}`)).toEqual([`queue-18@h-${HOSTS - 3}`]);
      expect(exited.items[0]).toMatchObject({ state: "inactive/exited", score: null });
    });
  });
});
