// The tool list: adding a tool is one file plus one line here.
import { acceptHostKeyTool } from "./accept-host-key.js";
import { compareSnapshots } from "./compare-snapshots.js";
import { createSnapshot } from "./create-snapshot.js";
import { doctor } from "./doctor.js";
import { exportPrometheusTargets } from "./export-prometheus-targets.js";
import { generateFleetReport } from "./generate-fleet-report.js";
import { getChangeEvents } from "./get-change-events.js";
import { getDiscoveryConfig } from "./get-discovery-config.js";
import { getDiscoveryStatus } from "./get-discovery-status.js";
import { getFleetOverview } from "./get-fleet-overview.js";
import { getInventoryStatisticsTool } from "./get-inventory-statistics.js";
import { getTarget } from "./get-target.js";
import { listServices } from "./list-services.js";
import { listSnapshotsTool } from "./list-snapshots.js";
import { listTargetsTool } from "./list-targets.js";
import { queryAuditLog } from "./query-audit-log.js";
import type { AnyTool } from "./registry.js";
import { runDiscovery } from "./run-discovery.js";
import { runHealthCheck } from "./run-health-check.js";
import { searchFleet } from "./search-fleet.js";
import { setTargetRoleTool } from "./set-target-role.js";
import { updateDiscoveryConfig } from "./update-discovery-config.js";

export const ALL_TOOLS: readonly AnyTool[] = [
  runDiscovery,
  getDiscoveryStatus,
  getDiscoveryConfig,
  updateDiscoveryConfig,
  getFleetOverview,
  getTarget,
  listTargetsTool,
  runHealthCheck,
  generateFleetReport,
  setTargetRoleTool,
  getChangeEvents,
  searchFleet,
  listServices,
  createSnapshot,
  listSnapshotsTool,
  compareSnapshots,
  queryAuditLog,
  getInventoryStatisticsTool,
  exportPrometheusTargets,
  acceptHostKeyTool,
  doctor,
];
