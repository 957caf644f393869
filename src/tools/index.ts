// The tool list: adding a tool is one file plus one line here.
import { acceptHostKeyTool } from "./accept-host-key.js";
import { doctor } from "./doctor.js";
import { getDiscoveryStatus } from "./get-discovery-status.js";
import { getFleetOverview } from "./get-fleet-overview.js";
import { getTarget } from "./get-target.js";
import { queryAuditLog } from "./query-audit-log.js";
import type { AnyTool } from "./registry.js";
import { runDiscovery } from "./run-discovery.js";

export const ALL_TOOLS: readonly AnyTool[] = [runDiscovery, getDiscoveryStatus, getFleetOverview, getTarget, queryAuditLog, acceptHostKeyTool, doctor];
