#!/usr/bin/env node
// One end-to-end discovery run into SQLite, in its own process, timed:
//
//   node bench/discover-child.mjs --config <cfg.json> --db <file.db>
//
// Loads the config and builds the app exactly as the CLI does (dist/, so run
// `npm run build` first), runs discovery once, and prints ONE JSON line:
//   {wallMs, maxRssMB, status, hostsOk, hostsFailed, ...}
// wallMs covers app.discovery.run() (probing every host and the one write
// transaction); startupMs covers loadConfig + createApp (opening the database,
// migrations). probeMs is when the last host finished probing, so
// wallMs - probeMs is roughly the SQLite write; eventLoopMaxBlockMs is the
// longest the event loop was blocked during the run. Logs go to stderr.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createApp } from "../dist/app/context.js";
import { loadConfig } from "../dist/config.js";
import { closeDb } from "../dist/db/open.js";

const { values } = parseArgs({ options: { config: { type: "string" }, db: { type: "string" } } });
if (!values.config || !values.db) {
  process.stderr.write("usage: node bench/discover-child.mjs --config <cfg.json> --db <file.db>\n");
  process.exit(2);
}

const t0 = performance.now();
const config = loadConfig({ configPath: values.config, db: values.db });
const app = createApp({ config });
const startupMs = performance.now() - t0;

// Monotonic microseconds (CLOCK_MONOTONIC, the clock V8's CPU profiles use), so a
// profile's samples can be split into the probing and the write phase.
const monoUs = () => Number(process.hrtime.bigint() / 1000n);
const marks = { runStartUs: monoUs(), probesDoneUs: null, runEndUs: null };
let probeMs = null;
// The longest the event loop was blocked (an MCP server in this process could not answer meanwhile).
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const t1 = performance.now();
let report;
try {
  report = await app.discovery.run({
    trigger: "cli",
    onProgress: (p) => {
      if (p.total > 0 && p.done === p.total && probeMs === null) {
        probeMs = performance.now() - t1;
        marks.probesDoneUs = monoUs();
      }
    },
  });
} catch (err) {
  closeDb(app.db);
  process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
}
const wallMs = performance.now() - t1;
// The histogram records a stall when its timer next fires: let it fire before reading.
await new Promise((r) => setTimeout(r, 50));
loopDelay.disable();
marks.runEndUs = monoUs();

const count = (table) => app.db.$client.prepare(`SELECT count(*) AS n FROM ${table}`).get().n;
const rows = Object.fromEntries(
  ["targets", "target_identities", "facts", "services", "containers", "ports", "interfaces", "addresses", "filesystems", "discovery_host_results"].map((t) => [
    t,
    count(t),
  ]),
);
rows.pinned_endpoints = app.db.$client.prepare("SELECT count(*) AS n FROM ssh_endpoints WHERE pinned_fingerprint IS NOT NULL").get().n;
closeDb(app.db);

const ru = process.resourceUsage();
const problems = {};
for (const p of report.problems) problems[p.status] = (problems[p.status] ?? 0) + 1;
process.stdout.write(
  `${JSON.stringify({
    wallMs: Math.round(wallMs),
    maxRssMB: Math.round((ru.maxRSS / 1024) * 10) / 10,
    status: report.status,
    hostsOk: report.sources.reduce((a, s) => a + s.hostsOk, 0),
    hostsFailed: report.sources.reduce((a, s) => a + s.hostsFailed, 0),
    targetsAdded: report.targetsAdded,
    startupMs: Math.round(startupMs),
    probeMs: probeMs === null ? null : Math.round(probeMs),
    cpuUserMs: Math.round(ru.userCPUTime / 1000),
    cpuSystemMs: Math.round(ru.systemCPUTime / 1000),
    eventLoopMaxBlockMs: Math.round(loopDelay.max / 1e6),
    problems,
    firstProblem: report.problems[0] ? `${report.problems[0].name}: ${report.problems[0].status} ${report.problems[0].error ?? ""}` : null,
    rows,
    marks,
  })}\n`,
);
