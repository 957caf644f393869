// The security report: what the inventory can tell about exposure and hygiene
// — listening ports by role, SSH host key changes, sources that skip TLS or
// host key verification, password and root logins, privileged or host-network
// containers, inactive firewalls, pending security updates, and operating
// systems past (or near) their end of life. It reports what was observed; a
// fact the probe could not read is absent, never assumed.
import { and, desc, eq, gte, isNotNull, or } from "drizzle-orm";
import type { SourceConfig } from "../../config.js";
import type { Db } from "../../db/open.js";
import { containers, discoveryRuns, events, ports, sshEndpoints } from "../../db/schema.js";
import { eolStatus, type EolStatus } from "../eol.js";
import { findSnapshot } from "../snapshots.js";
import {
  freshestSources,
  fromFreshest,
  isLoopback,
  latestFacts,
  listed,
  liveTargets,
  num,
  read,
  ref,
  roleRank,
  type Listed,
  type TargetRef,
} from "./common.js";

export interface PortLine extends TargetRef {
  protocol: string;
  address: string;
  port: number;
  process: string | null;
  /** Bound to an address other than loopback: reachable from the network. */
  exposed: boolean;
  /** Opened since `new_since` (a port_opened event). */
  new: boolean;
}

export interface SecurityReport {
  listening_ports: {
    /** The newest snapshot's time, else the latest discovery run's start: ports opened after it are `new`. */
    new_since: string | null;
    by_role: Array<{ role: string; targets: number; ports: number; exposed: number; new: number }>;
    /** Production first, new and exposed ports first within a role. */
    ports: Listed<PortLine>;
  };
  host_keys: {
    /** Endpoints that presented a key different from the pinned one; probes are refused until accept_host_key. */
    pending: Listed<{ endpoint: string; target: TargetRef | null; pinned: string | null; presented: string; since: string | null }>;
    /** host_key_changed events, newest first. */
    events: Listed<{ ts: string; target: TargetRef | null; message: string }>;
  };
  insecure_sources: Listed<{ source_id: string; kind: string; issue: "tls_verification_off" | "host_key_checking_off" | "password_auth"; detail: string }>;
  ssh_pw_login: Listed<TargetRef & { address: string | null }>;
  root_login: Listed<TargetRef & { permit_root_login: string }>;
  containers: Listed<TargetRef & { container: string; image: string; privileged: boolean; host_network: boolean }>;
  firewall_inactive: Listed<TargetRef>;
  security_updates: { targets: number; packages: number; items: Listed<TargetRef & { pending: number }> };
  os_eol: {
    window_days: number;
    counts: Record<EolStatus, number>;
    /** eol, then eol_soon, then unknown; supported and untracked are only counted. */
    items: Listed<
      TargetRef & {
        status: EolStatus;
        os_id: string | null;
        os_version: string | null;
        os_name: string | null;
        eol: string | null;
        days_left: number | null;
        approximate: boolean;
        extended: { name: string; until: string } | null;
        source: string | null;
      }
    >;
  };
}

export interface SecurityOptions {
  limit: number;
  now: Date;
  sources: readonly SourceConfig[];
  eolWindowDays: number;
}

const FACT_KEYS = ["sshd.password_authentication", "sshd.permit_root_login", "firewall.active", "updates.security_pending"] as const;

export function buildSecurityPorts(db: Db, opts: SecurityOptions): SecurityReport["listening_ports"] {
  return read(db, (tx) => {
    const live = liveTargets(tx);
    const snap = findSnapshot(tx, "latest");
    const lastRun = tx.select({ startedAt: discoveryRuns.startedAt }).from(discoveryRuns).orderBy(desc(discoveryRuns.id)).limit(1).get();
    const since = snap?.createdAt ?? lastRun?.startedAt ?? null;
    const opened = new Set<string>();
    if (since) {
      for (const e of tx
        .select({ t: events.targetId, data: events.data })
        .from(events)
        .where(and(eq(events.type, "port_opened"), gte(events.ts, since)))
        .all()) {
        const d = (JSON.parse(e.data) as { after?: { protocol?: string; address?: string; port?: number } }).after;
        if (d) opened.add(`${e.t}\u0000${d.protocol}\u0000${d.address}\u0000${d.port}`);
      }
    }
    const rows = fromFreshest(
      tx
        .select({
          targetId: ports.targetId,
          sourceId: ports.sourceId,
          protocol: ports.protocol,
          address: ports.address,
          port: ports.port,
          process: ports.process,
        })
        .from(ports)
        .all(),
      freshestSources(tx, "ports"),
    );
    const seen = new Set<string>();
    const lines: PortLine[] = [];
    for (const p of rows) {
      const t = live.get(p.targetId);
      if (!t) continue;
      const key = `${p.targetId}\u0000${p.protocol}\u0000${p.address}\u0000${p.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      lines.push({
        ...ref(t),
        protocol: p.protocol,
        address: p.address,
        port: p.port,
        process: p.process,
        exposed: !isLoopback(p.address),
        new: opened.has(key),
      });
    }
    lines.sort(
      (a, b) =>
        roleRank(a.role) - roleRank(b.role) ||
        Number(b.new) - Number(a.new) ||
        Number(b.exposed) - Number(a.exposed) ||
        a.name.localeCompare(b.name) ||
        a.port - b.port ||
        a.protocol.localeCompare(b.protocol) ||
        a.address.localeCompare(b.address),
    );
    const roles = new Map<string, { targets: Set<string>; ports: number; exposed: number; new: number }>();
    for (const l of lines) {
      let r = roles.get(l.role);
      if (!r) roles.set(l.role, (r = { targets: new Set(), ports: 0, exposed: 0, new: 0 }));
      r.targets.add(l.id);
      r.ports++;
      if (l.exposed) r.exposed++;
      if (l.new) r.new++;
    }
    return {
      new_since: since,
      by_role: [...roles]
        .sort((a, b) => roleRank(a[0]) - roleRank(b[0]) || a[0].localeCompare(b[0]))
        .map(([role, r]) => ({ role, targets: r.targets.size, ports: r.ports, exposed: r.exposed, new: r.new })),
      ports: listed(lines, opts.limit),
    };
  });
}

export function buildSecurityAccess(
  db: Db,
  opts: SecurityOptions,
): Pick<SecurityReport, "host_keys" | "insecure_sources" | "ssh_pw_login" | "root_login" | "firewall_inactive" | "security_updates"> {
  return read(db, (tx) => {
    const live = liveTargets(tx);
    const byName = (a: TargetRef, b: TargetRef) => roleRank(a.role) - roleRank(b.role) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
    const pending = tx
      .select()
      .from(sshEndpoints)
      .where(isNotNull(sshEndpoints.pendingFingerprint))
      .orderBy(sshEndpoints.endpoint)
      .all()
      .map((e) => {
        const t = e.targetId ? live.get(e.targetId) : undefined;
        return { endpoint: e.endpoint, target: t ? ref(t) : null, pinned: e.pinnedFingerprint, presented: e.pendingFingerprint!, since: e.pendingAt };
      });
    const keyEvents = tx
      .select({ ts: events.ts, t: events.targetId, message: events.message })
      .from(events)
      .where(eq(events.type, "host_key_changed"))
      .orderBy(desc(events.id))
      .all()
      .map((e) => {
        const t = e.t ? live.get(e.t) : undefined;
        return { ts: e.ts, target: t ? ref(t) : null, message: e.message };
      });

    const f = latestFacts(tx, FACT_KEYS);
    const password: Array<TargetRef & { address: string | null }> = [];
    const root: Array<TargetRef & { permit_root_login: string }> = [];
    const firewall: TargetRef[] = [];
    const updates: Array<TargetRef & { pending: number }> = [];
    let packages = 0;
    for (const [id, m] of f) {
      const t = live.get(id);
      if (!t) continue;
      if (m.get("sshd.password_authentication") === true) password.push({ ...ref(t), address: t.address });
      // "yes" lets root log in with a password; prohibit-password and the rest need a key (the OpenSSH default).
      const rootLogin = m.get("sshd.permit_root_login");
      if (typeof rootLogin === "string" && rootLogin.toLowerCase() === "yes") root.push({ ...ref(t), permit_root_login: rootLogin });
      if (m.get("firewall.active") === false) firewall.push(ref(t));
      const sec = num(m.get("updates.security_pending"));
      if (sec !== null && sec > 0) {
        updates.push({ ...ref(t), pending: sec });
        packages += sec;
      }
    }
    password.sort(byName);
    root.sort(byName);
    firewall.sort(byName);
    updates.sort((a, b) => roleRank(a.role) - roleRank(b.role) || b.pending - a.pending || a.name.localeCompare(b.name));
    return {
      host_keys: { pending: listed(pending, opts.limit), events: listed(keyEvents, opts.limit) },
      insecure_sources: listed(insecureSources(opts.sources), opts.limit),
      ssh_pw_login: listed(password, opts.limit),
      root_login: listed(root, opts.limit),
      firewall_inactive: listed(firewall, opts.limit),
      security_updates: { targets: updates.length, packages, items: listed(updates, opts.limit) },
    };
  });
}

type SourceIssue = SecurityReport["insecure_sources"]["items"][number];

/** From the configuration: what each source skips or how it logs in. */
export function insecureSources(sources: readonly SourceConfig[]): SourceIssue[] {
  const out: SourceIssue[] = [];
  const ssh = (id: string, kind: string, where: string, s: { host_key_policy?: string; auth?: { password_env?: string | undefined } }) => {
    if (s.host_key_policy === "off")
      out.push({
        source_id: id,
        kind,
        issue: "host_key_checking_off",
        detail: `${where}host_key_policy is "off": any host key is accepted, so a man in the middle goes unnoticed`,
      });
    if (s.auth?.password_env)
      out.push({ source_id: id, kind, issue: "password_auth", detail: `${where}logs in with a password (from ${s.auth.password_env}); a key is safer` });
  };
  for (const s of sources) {
    switch (s.kind) {
      case "ssh":
      case "tailscale":
      case "network":
      case "proxmox-cli":
        ssh(s.id, s.kind, "", s);
        break;
      case "proxmox":
        if (s.insecure)
          out.push({
            source_id: s.id,
            kind: s.kind,
            issue: "tls_verification_off",
            detail: `insecure: true: the API certificate of ${s.host} is not verified (set ca_file or fingerprint)`,
          });
        if (s.password_env)
          out.push({
            source_id: s.id,
            kind: s.kind,
            issue: "password_auth",
            detail: `API login with ${s.username}'s password (from ${s.password_env}); an API token is safer`,
          });
        if (s.cli_fallback) ssh(s.id, s.kind, "cli_fallback: ", s.cli_fallback);
        if (s.guests) ssh(s.id, s.kind, "guests: ", s.guests);
        break;
      case "local":
        break;
    }
  }
  return out;
}

export function buildSecurityContainers(db: Db, opts: SecurityOptions): SecurityReport["containers"] {
  return read(db, (tx) => {
    const live = liveTargets(tx);
    const rows = fromFreshest(
      tx
        .select({
          targetId: containers.targetId,
          sourceId: containers.sourceId,
          name: containers.name,
          image: containers.image,
          privileged: containers.privileged,
          networkMode: containers.networkMode,
        })
        .from(containers)
        .where(or(eq(containers.privileged, true), eq(containers.networkMode, "host")))
        .all(),
      freshestSources(tx, "containers"),
    );
    const seen = new Set<string>();
    const items: SecurityReport["containers"]["items"] = [];
    for (const c of rows) {
      const t = live.get(c.targetId);
      if (!t || seen.has(`${c.targetId}\u0000${c.name}`)) continue;
      seen.add(`${c.targetId}\u0000${c.name}`);
      items.push({ ...ref(t), container: c.name, image: c.image, privileged: c.privileged === true, host_network: c.networkMode === "host" });
    }
    items.sort((a, b) => roleRank(a.role) - roleRank(b.role) || a.name.localeCompare(b.name) || a.container.localeCompare(b.container));
    return listed(items, opts.limit);
  });
}

const EOL_ORDER: Record<EolStatus, number> = { eol: 0, eol_soon: 1, unknown: 2, supported: 3, untracked: 4 };

export function buildSecurityEol(db: Db, opts: SecurityOptions): SecurityReport["os_eol"] {
  return read(db, (tx) => {
    const counts: Record<EolStatus, number> = { eol: 0, eol_soon: 0, supported: 0, unknown: 0, untracked: 0 };
    const items: SecurityReport["os_eol"]["items"]["items"] = [];
    for (const t of liveTargets(tx).values()) {
      // A machine whose OS was never read (a stopped guest, an unreachable host) has nothing to judge.
      if (!t.osId) continue;
      const v = eolStatus(t.osId, t.osVersion, t.osName, opts.now, opts.eolWindowDays);
      counts[v.status]++;
      if (v.status === "supported" || v.status === "untracked") continue;
      items.push({
        ...ref(t),
        status: v.status,
        os_id: t.osId,
        os_version: t.osVersion,
        os_name: t.osName,
        eol: v.eol,
        days_left: v.daysLeft,
        approximate: v.approximate,
        extended: v.extended,
        source: v.source?.[0] ?? null,
      });
    }
    items.sort((a, b) => EOL_ORDER[a.status] - EOL_ORDER[b.status] || roleRank(a.role) - roleRank(b.role) || a.name.localeCompare(b.name));
    return { window_days: opts.eolWindowDays, counts, items: listed(items, opts.limit) };
  });
}
