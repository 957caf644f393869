// The pure diff of two snapshot documents, on documents built by hand: matching
// by key, volatile fields and entities, dictionary independence, order
// independence, the critical and health rules, and the packed stored form.
import { describe, expect, it } from "vitest";
import {
  compareKeyTuples,
  DocumentBuilder,
  diffDocuments,
  ENTITY_SPECS,
  ENTITY_TYPES,
  packDocument,
  unpackDocument,
  type Scalar,
  type SnapshotDocument,
} from "../src/inventory/diff.js";

type Row = Record<string, Scalar>;

interface Fleet {
  target?: Row[];
  service?: Row[];
  container?: Row[];
  stack?: Row[];
  port?: Row[];
  interface?: Row[];
  filesystem?: Row[];
}

const T = (id: string, over: Row = {}): Row => ({
  id,
  kind: "host",
  name: id,
  role: "unassigned",
  lifecycle: "active",
  tags: "[]",
  os_id: "debian",
  kernel: "6.1.0",
  cpu_count: 4,
  uptime_seconds: 100,
  health_issues: "[]",
  ...over,
});
const svc = (target: string, name: string, over: Row = {}): Row => ({
  target,
  name,
  load: "loaded",
  active: "active",
  sub: "running",
  enabled: "enabled",
  ...over,
});

/** A document from plain rows; `reverse` adds every table's rows backwards, as a foreign producer might. */
function doc(f: Fleet, opts: { reverse?: boolean; seedDict?: string[] } = {}): SnapshotDocument {
  const b = new DocumentBuilder("2026-11-23T08:00:00.000Z");
  // Seeding shifts dictionary indices, so equal values get different numbers in two documents.
  for (const type of ENTITY_TYPES) {
    const t = b.table(type);
    t.specs.forEach((c, i) => {
      if (c.kind === "s") for (const s of opts.seedDict ?? []) t.code(i, s);
    });
  }
  const order = <X>(xs: X[]) => (opts.reverse ? [...xs].reverse() : xs);
  const targets = order([...(f.target ?? [])].sort((x, y) => compareKeyTuples([x.id!], [y.id!])));
  const index = new Map(targets.map((t, i) => [t.id as string, i]));
  for (const t of targets) b.table("target").add([...ENTITY_SPECS.target.key, ...ENTITY_SPECS.target.fields].map((c) => t[c.name] ?? null));
  for (const type of ENTITY_TYPES.filter((t) => t !== "target")) {
    const spec = ENTITY_SPECS[type];
    const cols = [...spec.key, ...spec.fields];
    for (const r of order(f[type] ?? [])) b.table(type).add(cols.map((c, i) => (i === 0 ? index.get(r.target as string)! : (r[c.name] ?? null))));
  }
  return b.build();
}

function lines(a: SnapshotDocument, b: SnapshotDocument, includeVolatile = false): string[] {
  const d = diffDocuments(a, b, { includeVolatile });
  return d.changes.map((ref) => {
    const c = d.describe(ref, false);
    const fields = c.fields.map((x) => `${x.field}:${JSON.stringify(x.before)}->${JSON.stringify(x.after)}`).join(",");
    return `${c.type} ${c.change} ${c.targetName}/${c.entity}${fields ? ` ${fields}` : ""}`;
  });
}

describe("diffDocuments", () => {
  const base: Fleet = {
    target: [T("h-a", { name: "alpha" }), T("h-b", { name: "beta" })],
    service: [svc("h-a", "ssh"), svc("h-a", "nginx"), svc("h-b", "ssh")],
    port: [{ target: "h-a", protocol: "tcp", address: "0.0.0.0", port: 22, process: "sshd", pid: 10 }],
  };

  it("finds nothing between equal documents, whatever their dictionaries and row order", () => {
    const a = doc(base);
    expect(lines(a, doc(base))).toEqual([]);
    expect(lines(a, doc(base, { reverse: true, seedDict: ["zzz", "yyy"] }), true)).toEqual([]);
    const d = diffDocuments(a, a, { includeVolatile: true });
    expect(d.total).toBe(0);
    expect(Object.values(d.counts).every((c) => c.created + c.modified + c.deleted === 0)).toBe(true);
  });

  it("reports created, modified (changed fields only) and deleted entities in type, target, key order", () => {
    const after: Fleet = {
      target: [T("h-a", { name: "alpha", kernel: "6.2.0" }), T("h-c", { name: "gamma" })],
      service: [svc("h-a", "ssh", { active: "failed", sub: "failed" }), svc("h-a", "apache"), svc("h-c", "ssh")],
      port: [
        { target: "h-a", protocol: "tcp", address: "0.0.0.0", port: 22, process: "sshd", pid: 99 },
        { target: "h-a", protocol: "tcp", address: "::", port: 443, process: "apache2", pid: 1 },
      ],
    };
    const out = lines(doc(base), doc(after, { reverse: true, seedDict: ["x"] }));
    expect(out).toEqual([
      'target modified alpha/h-a kernel:"6.1.0"->"6.2.0"',
      "target deleted beta/h-b",
      "target created gamma/h-c",
      "service created alpha/apache",
      "service deleted alpha/nginx",
      'service modified alpha/ssh active:"active"->"failed",sub:"running"->"failed"',
      "service deleted beta/ssh",
      "service created gamma/ssh",
      "port created alpha/tcp [::]:443",
    ]);
    const d = diffDocuments(doc(base), doc(after), { includeVolatile: false });
    expect(d.counts.service).toEqual({ created: 2, modified: 1, deleted: 2 });
    expect(d.counts.port).toEqual({ created: 1, modified: 0, deleted: 0 });
    // The change list is in position order, which is what cursors rely on.
    const positions = d.changes.map((r) => d.position(r));
    for (let i = 1; i < positions.length; i++) expect(compareKeyTuples(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    const full = d.describe(
      d.changes.find((r) => r.kind === "created" && r.type === "port")!,
      true,
    );
    expect(full.values).toEqual({ process: "apache2", pid: 1 });
  });

  it("leaves volatile fields and entities out unless asked, including a ZFS dataset's size", () => {
    const fs = (size: number, fstype: string, used: number) => ({
      target: "h-a",
      mount: `/${fstype}`,
      device: `d-${fstype}`,
      fstype,
      size_bytes: size,
      used_bytes: used,
      avail_bytes: size - used,
    });
    const a = doc({
      target: [T("h-a")],
      container: [{ target: "h-a", name: "web", container_id: "abc", image: "nginx", state: "running", status: "Up 2 hours", restart_count: 0 }],
      filesystem: [fs(100, "zfs", 10), fs(100, "ext4", 10)],
      interface: [{ target: "h-a", name: "eth0", mtu: 1500, addresses: '["10.0.0.1/24"]' }],
    });
    const b = doc({
      target: [T("h-a", { uptime_seconds: 5000, memory_available_bytes: 1, health_score: 0.5 })],
      container: [{ target: "h-a", name: "web", container_id: "abc", image: "nginx", state: "running", status: "Up 3 hours", restart_count: 4 }],
      filesystem: [fs(120, "zfs", 30), fs(100, "ext4", 30)],
      interface: [
        { target: "h-a", name: "eth0", mtu: 1500, addresses: '["10.0.0.1/24"]' },
        { target: "h-a", name: "veth12ab", mtu: 1500, addresses: "[]" },
      ],
    });
    expect(lines(a, b)).toEqual([]);
    expect(lines(a, b, true)).toEqual([
      "target modified h-a/h-a memory_available_bytes:null->1,uptime_seconds:100->5000,health_score:null->0.5",
      'container modified h-a/web status:"Up 2 hours"->"Up 3 hours",restart_count:0->4',
      "interface created h-a/veth12ab",
      "filesystem modified h-a//ext4 used_bytes:10->30,avail_bytes:90->70",
      "filesystem modified h-a//zfs size_bytes:100->120,used_bytes:10->30",
    ]);
    // A real resize of a non-ZFS filesystem is a change.
    const grown = doc({ target: [T("h-a")], filesystem: [fs(200, "ext4", 10)] });
    expect(lines(doc({ target: [T("h-a")], filesystem: [fs(100, "ext4", 10)] }), grown)).toEqual(["filesystem modified h-a//ext4 size_bytes:100->200"]);
  });

  it("names the critical changes: production gone or retired, new port on an existing production host, host key, failed service", () => {
    const prod = { role: "production" };
    const a = doc({
      target: [
        T("h-gone", prod),
        T("h-ret", prod),
        T("h-web", prod),
        T("h-key", { host_key: "SHA256:one" }),
        T("h-pend", { host_key: "SHA256:p" }),
        T("h-old", { lifecycle: "retired", ...prod }),
      ],
      service: [svc("h-web", "nginx"), svc("h-web", "cron", { active: "failed" })],
    });
    const b = doc({
      target: [
        T("h-ret", { ...prod, lifecycle: "retired" }),
        T("h-web", prod),
        T("h-key", { host_key: "SHA256:two" }),
        T("h-pend", { host_key: "SHA256:p", host_key_pending: "SHA256:q" }),
        T("h-new", prod),
      ],
      service: [
        svc("h-web", "nginx", { active: "failed" }),
        svc("h-web", "cron", { active: "failed" }),
        svc("h-web", "new", { active: "failed" }),
        svc("h-new", "x", { active: "failed" }),
      ],
      port: [
        { target: "h-web", protocol: "tcp", address: "0.0.0.0", port: 8443, process: "java" },
        { target: "h-new", protocol: "tcp", address: "0.0.0.0", port: 22, process: "sshd" },
      ],
    });
    const d = diffDocuments(a, b, { includeVolatile: false });
    expect(d.critical.map((c) => `${c.kind} ${c.targetName}: ${c.message}`)).toEqual([
      "production_target_gone h-gone: Production target h-gone (h-gone) is gone from the inventory.",
      "production_target_gone h-ret: Production target h-ret (h-ret) was retired.",
      "new_port_on_production h-web: Production target h-web: new listening port tcp 0.0.0.0:8443 (java).",
      "host_key_changed h-key: h-key: the trusted SSH host key changed from SHA256:one to SHA256:two.",
      "host_key_changed h-pend: h-pend: presented a different SSH host key SHA256:q; probes are refused until it is accepted (accept_host_key).",
      // Same kind and target: in entity key order.
      "service_failed h-web: h-web: new service new is failed.",
      "service_failed h-web: h-web: service nginx failed (was active).",
    ]);
  });

  it("lists health drops, largest first, with the issues that are new by code and severity", () => {
    const issues = (...xs: Array<[string, string]>) =>
      JSON.stringify(xs.map(([code, severity]) => ({ code, severity, message: `${code} ${severity}`, deduction: 0.1 })));
    const a = doc({
      target: [
        T("h-1", { health_score: 0.9, health_issues: issues(["fs", "warning"]) }),
        T("h-2", { health_score: 1 }),
        T("h-3", { health_score: 0.5 }),
        T("h-4", { health_score: null }),
      ],
    });
    const b = doc({
      target: [
        T("h-1", { health_score: 0.8, health_issues: issues(["fs", "warning"], ["fs", "warning"]) }),
        T("h-2", { health_score: 0.4, health_issues: issues(["unreachable", "critical"]) }),
        T("h-3", { health_score: 0.7 }),
        T("h-4", { health_score: 0.1 }),
      ],
    });
    const d = diffDocuments(a, b, { includeVolatile: false });
    expect(d.total).toBe(0);
    expect(d.healthDrops.map((x) => [x.targetId, x.before, x.after, x.newIssues.map((i) => `${i.code}/${i.severity}`)])).toEqual([
      ["h-2", 1, 0.4, ["unreachable/critical"]],
      ["h-1", 0.9, 0.8, ["fs/warning"]],
    ]);
  });
});

describe("packed documents", () => {
  it("round-trips through pack, JSON and unpack, run-length packing the repetitive columns", () => {
    const many: Fleet = {
      target: Array.from({ length: 50 }, (_, i) => T(`h-${String(i).padStart(3, "0")}`, { name: `host-${i}` })),
      service: Array.from({ length: 50 }, (_, i) => [svc(`h-${String(i).padStart(3, "0")}`, "cron"), svc(`h-${String(i).padStart(3, "0")}`, "ssh")]).flat(),
    };
    const original = doc(many);
    const packed = packDocument(original);
    expect(packed.tables.service.columns.load).toEqual({ runs: [0, 100] });
    expect(Array.isArray(packed.tables.target.columns.name)).toBe(true);
    const back = unpackDocument(JSON.parse(JSON.stringify(packed)));
    expect(back).toEqual(JSON.parse(JSON.stringify(original)));
    expect(diffDocuments(original, back, { includeVolatile: true }).total).toBe(0);
  });

  it("refuses corrupt or foreign documents with a named reason", () => {
    const packed = JSON.parse(JSON.stringify(packDocument(doc({ target: [T("h-a")], service: [svc("h-a", "x"), svc("h-a", "y")] })))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(() => unpackDocument({ ...packed, format: 2 })).toThrow("snapshot document format 2 is not supported");
    const short = structuredClone(packed);
    short.tables.service.columns.load = { runs: [0, 1] };
    expect(() => unpackDocument(short)).toThrow("column service.load has 1 cells, not 2");
    const missing = structuredClone(packed);
    delete missing.tables.port;
    expect(() => unpackDocument(missing)).toThrow("lacks the port table");
  });
});
