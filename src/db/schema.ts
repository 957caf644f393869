// The inventory's tables. Times are ISO-8601 UTC strings (sortable, readable in
// exports, and portable to the planned PostgreSQL backend). Every observed row
// carries the source that saw it and when; current-state tables are rewritten per
// target and source, history lives in the append-only tables (runs, audit).
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const targets = sqliteTable(
  "targets",
  {
    /** Derived from the first identity key: stable across runs and databases. */
    id: text("id").primaryKey(),
    kind: text("kind").notNull(),
    name: text("name").notNull(),
    parentId: text("parent_id"),
    /** discovered | active | unreachable | stale | retired */
    lifecycle: text("lifecycle").notNull().default("discovered"),
    /** Last probe outcome (HostStatus) and its error, from whichever source last reached or failed to reach it. */
    lastStatus: text("last_status"),
    lastError: text("last_error"),
    address: text("address"),
    firstSeenAt: text("first_seen_at").notNull(),
    /** Last time any source reached it (status ok or partial). */
    lastSeenAt: text("last_seen_at"),
    lastAttemptAt: text("last_attempt_at").notNull(),
    // Summary columns, derived from facts at ingest, so the overview reads one table.
    osId: text("os_id"),
    osVersion: text("os_version"),
    osName: text("os_name"),
    kernel: text("kernel"),
    arch: text("arch"),
    cpuCount: integer("cpu_count"),
    memTotalBytes: integer("mem_total_bytes"),
    memAvailableBytes: integer("mem_available_bytes"),
    diskTotalBytes: integer("disk_total_bytes"),
    diskUsedBytes: integer("disk_used_bytes"),
    uptimeSeconds: real("uptime_seconds"),
    /** production | staging | development | testing | lab | monitoring | gateway | unassigned */
    role: text("role").notNull().default("unassigned"),
    /** Where the role came from: manual (set_target_role, wins until cleared), config (a host entry), rule, or null (unassigned). */
    roleSource: text("role_source"),
    /** The rule or entry that set the role, for explanations. */
    roleReason: text("role_reason"),
    /** JSON array of tags, the union of every source's (config tags, Proxmox tags). */
    tags: text("tags").notNull().default("[]"),
    /** 0.0-1.0, null until the first health check. */
    healthScore: real("health_score"),
    /** JSON array of {code, severity, message, deduction}. */
    healthIssues: text("health_issues").notNull().default("[]"),
    healthCheckedAt: text("health_checked_at"),
    // Counts of the target's collections (all sources), kept at ingest so the
    // fleet overview reads one table, not 300,000 service and container rows.
    serviceCount: integer("service_count").notNull().default(0),
    servicesRunning: integer("services_running").notNull().default(0),
    servicesFailed: integer("services_failed").notNull().default(0),
    containerCount: integer("container_count").notNull().default(0),
    containersRunning: integer("containers_running").notNull().default(0),
    stackCount: integer("stack_count").notNull().default(0),
  },
  (t) => [
    index("targets_name_idx").on(t.name),
    index("targets_kind_idx").on(t.kind),
    index("targets_parent_idx").on(t.parentId),
    index("targets_role_idx").on(t.role),
    index("targets_lifecycle_idx").on(t.lifecycle),
    index("targets_health_idx").on(t.healthScore),
  ],
);

/** Every key that identifies a target (machine-id, SSH host key, PVE cluster+vmid, ...). */
export const targetIdentities = sqliteTable(
  "target_identities",
  {
    identity: text("identity").primaryKey(),
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    firstSeenAt: text("first_seen_at").notNull(),
  },
  (t) => [index("target_identities_target_idx").on(t.targetId)],
);

/** Scalar facts, one row per target, source and key: several sources may know the same key. */
export const facts = sqliteTable(
  "facts",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    key: text("key").notNull(),
    /** JSON-encoded value. */
    value: text("value").notNull(),
    firstObservedAt: text("first_observed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.key] }), index("facts_key_idx").on(t.key)],
);

export const services = sqliteTable(
  "services",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    loadState: text("load_state"),
    activeState: text("active_state"),
    subState: text("sub_state"),
    /** Unit file state (enabled, disabled, static, masked, ...), when the probe could read it. */
    enabled: text("enabled"),
    firstObservedAt: text("first_observed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.name] }), index("services_active_state_idx").on(t.activeState)],
);

export const containers = sqliteTable(
  "containers",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    name: text("name").notNull(),
    containerId: text("container_id").notNull(),
    image: text("image").notNull(),
    state: text("state").notNull(),
    status: text("status"),
    ports: text("ports"),
    /** JSON object of labels. */
    labels: text("labels").notNull(),
    composeProject: text("compose_project"),
    composeService: text("compose_service"),
    createdAt: text("created_at"),
    imageId: text("image_id"),
    restartCount: integer("restart_count"),
    /** healthy | unhealthy | starting, when the image defines a health check. */
    health: text("health"),
    exitCode: integer("exit_code"),
    privileged: integer("privileged", { mode: "boolean" }),
    networkMode: text("network_mode"),
    firstObservedAt: text("first_observed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.name] }), index("containers_state_idx").on(t.state)],
);

export const stacks = sqliteTable(
  "stacks",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    name: text("name").notNull(),
    status: text("status").notNull(),
    /** JSON array of paths. */
    configFiles: text("config_files").notNull(),
    firstObservedAt: text("first_observed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.name] })],
);

export const interfaces = sqliteTable(
  "interfaces",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    name: text("name").notNull(),
    mac: text("mac"),
    mtu: integer("mtu"),
    state: text("state"),
    master: text("master"),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.name] })],
);

export const addresses = sqliteTable(
  "addresses",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    interfaceName: text("interface_name").notNull(),
    family: text("family").notNull(),
    address: text("address").notNull(),
    prefixlen: integer("prefixlen").notNull(),
    scope: text("scope"),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.interfaceName, t.address] }), index("addresses_address_idx").on(t.address)],
);

export const ports = sqliteTable(
  "ports",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    protocol: text("protocol").notNull(),
    address: text("address").notNull(),
    port: integer("port").notNull(),
    process: text("process"),
    pid: integer("pid"),
    firstObservedAt: text("first_observed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.protocol, t.address, t.port] }), index("ports_port_idx").on(t.port)],
);

export const filesystems = sqliteTable(
  "filesystems",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    mount: text("mount").notNull(),
    device: text("device").notNull(),
    fstype: text("fstype").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    usedBytes: integer("used_bytes").notNull(),
    availBytes: integer("avail_bytes").notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.mount] })],
);

export const discoveryRuns = sqliteTable(
  "discovery_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    correlationId: text("correlation_id").notNull(),
    /** tool | cli | scheduler */
    trigger: text("trigger").notNull(),
    /** running | ok | partial | failed | cancelled | interrupted */
    status: text("status").notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at"),
    durationMs: integer("duration_ms"),
    /** The process that owns a running run, so a restart can tell a crash from a live run. */
    ownerPid: integer("owner_pid").notNull(),
    ownerHost: text("owner_host").notNull(),
    targetsSeen: integer("targets_seen").notNull().default(0),
    targetsAdded: integer("targets_added").notNull().default(0),
    targetsUnreachable: integer("targets_unreachable").notNull().default(0),
    error: text("error"),
  },
  (t) => [index("discovery_runs_status_idx").on(t.status), index("discovery_runs_started_idx").on(t.startedAt)],
);

export const discoverySourceResults = sqliteTable(
  "discovery_source_results",
  {
    runId: integer("run_id")
      .notNull()
      .references(() => discoveryRuns.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    kind: text("kind").notNull(),
    status: text("status").notNull(),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    targets: integer("targets").notNull(),
    hostsOk: integer("hosts_ok").notNull(),
    hostsFailed: integer("hosts_failed").notNull(),
    /** JSON array of strings. */
    warnings: text("warnings").notNull(),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.sourceId] })],
);

export const discoveryHostResults = sqliteTable(
  "discovery_host_results",
  {
    runId: integer("run_id")
      .notNull()
      .references(() => discoveryRuns.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    targetId: text("target_id").notNull(),
    address: text("address"),
    status: text("status").notNull(),
    error: text("error"),
    /** JSON object: section -> {status, exitCode, reason?, detail?}. */
    sections: text("sections").notNull(),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.sourceId, t.targetId] }), index("discovery_host_results_target_idx").on(t.targetId)],
);

/**
 * Append-only log of every tools/call. Triggers (in the migration) refuse UPDATE
 * and DELETE; each row's hash covers its content and the previous row's hash.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ts: text("ts").notNull(),
    correlationId: text("correlation_id").notNull(),
    tool: text("tool").notNull(),
    /** JSON of the arguments with secrets redacted. */
    arguments: text("arguments").notNull(),
    /** ok | tool_error | rejected | unknown_tool | exception | cancelled */
    outcome: text("outcome").notNull(),
    durationMs: integer("duration_ms").notNull(),
    error: text("error"),
    clientName: text("client_name"),
    clientVersion: text("client_version"),
    /** Transport session (Streamable HTTP) and the bearer token's name; null on stdio. */
    sessionId: text("session_id"),
    principal: text("principal"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_log_ts_idx").on(t.ts), index("audit_log_tool_idx").on(t.tool), uniqueIndex("audit_log_hash_idx").on(t.hash)],
);

/**
 * What we know of each SSH endpoint between runs: the pinned host key (TOFU),
 * a presented key that did not match and awaits an explicit accept, and the
 * failure count that drives the circuit breaker.
 */
export const sshEndpoints = sqliteTable(
  "ssh_endpoints",
  {
    /** "ssh:<address>:<port>" */
    endpoint: text("endpoint").primaryKey(),
    targetId: text("target_id").references(() => targets.id, { onDelete: "set null" }),
    pinnedFingerprint: text("pinned_fingerprint"),
    pinnedKeyType: text("pinned_key_type"),
    pinnedAt: text("pinned_at"),
    pendingFingerprint: text("pending_fingerprint"),
    pendingKeyType: text("pending_key_type"),
    pendingAt: text("pending_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    lastFailureAt: text("last_failure_at"),
    lastSuccessAt: text("last_success_at"),
    lastError: text("last_error"),
  },
  (t) => [index("ssh_endpoints_target_idx").on(t.targetId)],
);

/**
 * When each source last observed each collection (facts, services, containers,
 * ...) of a target. Rows of the collections themselves are only written when
 * they change, so this is where "when was it seen" lives.
 */
export const observations = sqliteTable(
  "observations",
  {
    targetId: text("target_id")
      .notNull()
      .references(() => targets.id, { onDelete: "cascade" }),
    sourceId: text("source_id").notNull(),
    /** facts | services | containers | stacks | interfaces | ports | filesystems */
    collection: text("collection").notNull(),
    observedAt: text("observed_at").notNull(),
    runId: integer("run_id"),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.sourceId, t.collection] })],
);

/** Point-in-time copies of the inventory, for compare_snapshots. */
export const snapshots = sqliteTable(
  "snapshots",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    description: text("description"),
    /** manual | scheduled | pre_deployment | post_deployment | auto */
    type: text("type").notNull(),
    /** JSON array of strings. */
    tags: text("tags").notNull().default("[]"),
    createdAt: text("created_at").notNull(),
    /** The discovery run the snapshot follows (auto snapshots), if any. */
    runId: integer("run_id"),
    targetCount: integer("target_count").notNull(),
    entityCount: integer("entity_count").notNull(),
    healthMean: real("health_mean"),
    /** Format version of `data`. */
    format: integer("format").notNull(),
    /** gzip-compressed JSON document of the inventory state. */
    data: blob("data", { mode: "buffer" }).notNull(),
    sizeBytes: integer("size_bytes").notNull(),
  },
  (t) => [uniqueIndex("snapshots_name_idx").on(t.name), index("snapshots_created_idx").on(t.createdAt)],
);

/** Append-only log of what happened to targets (host key changed, lifecycle transitions, ...). */
export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ts: text("ts").notNull(),
    targetId: text("target_id"),
    runId: integer("run_id"),
    type: text("type").notNull(),
    /** info | warning | critical */
    severity: text("severity").notNull(),
    message: text("message").notNull(),
    /** JSON object with before/after values. */
    data: text("data").notNull(),
  },
  (t) => [index("events_target_idx").on(t.targetId), index("events_ts_idx").on(t.ts), index("events_type_idx").on(t.type)],
);
