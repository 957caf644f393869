// Migrations are SQL + drizzle journal files that tsc does not copy; the built
// server applies them at start-up from dist/db/migrations.
import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const from = fileURLToPath(new URL("../src/db/migrations", import.meta.url));
const to = fileURLToPath(new URL("../dist/db/migrations", import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });

// The captures the simulators of `fleet-mcp demo` answer with (src/sim/data.ts reads them from dist/sim/data).
const simFrom = fileURLToPath(new URL("../src/sim/data", import.meta.url));
const simTo = fileURLToPath(new URL("../dist/sim/data", import.meta.url));
rmSync(simTo, { recursive: true, force: true });
cpSync(simFrom, simTo, { recursive: true });
