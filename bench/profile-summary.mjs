#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function
// and per package, optionally split into phases by monotonic timestamps.
//
//   node bench/profile-summary.mjs <file.cpuprofile> [--top 25] [--split <us>]
//
// Used by bench/run.mjs --profile, which splits at the moment the last host
// finished probing (everything after it is the SQLite write).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Where a function lives: "ssh2", "drizzle-orm", "dist/inventory/store.js", "node:internal", "(native)". */
export function packageOf(url) {
  if (!url) return "(native)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return `dist/${dist[1]}`;
  if (url.startsWith("node:")) return "node:internal";
  const bench = /\/bench\/(.+)$/.exec(url);
  if (bench) return `bench/${bench[1]}`;
  return url;
}

function shortUrl(url) {
  if (!url) return "";
  const nm = /node_modules\/(.+)$/.exec(url);
  if (nm) return nm[1];
  const dist = /\/(dist\/.+)$/.exec(url);
  if (dist) return dist[1];
  return url.replace(/^file:\/\//, "");
}

/**
 * Self time (ms) per function and per package. `splitUs` (monotonic µs, the
 * profile's own clock) divides the samples into phases [start, split[0]),
 * [split[0], split[1]), ...
 */
export function summarizeCpuProfile(profile, { top = 25, splitUs = [] } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const boundaries = [...splitUs].filter((x) => typeof x === "number").sort((a, b) => a - b);
  const phases = Array.from({ length: boundaries.length + 1 }, () => ({ totalMs: 0, fn: new Map(), pkg: new Map() }));
  let t = profile.startTime;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    // The time until the next sample is spent where this sample was taken.
    const dtUs = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    if (dtUs <= 0) continue;
    const node = byId.get(samples[i]);
    if (!node) continue;
    let p = 0;
    while (p < boundaries.length && t >= boundaries[p]) p++;
    const phase = phases[p];
    const cf = node.callFrame;
    const name = cf.functionName || "(anonymous)";
    const key = cf.url ? `${name} ${shortUrl(cf.url)}:${cf.lineNumber + 1}` : name;
    const ms = dtUs / 1000;
    phase.totalMs += ms;
    phase.fn.set(key, (phase.fn.get(key) ?? 0) + ms);
    const pkg = cf.url ? packageOf(cf.url) : name.startsWith("(") ? name : "(native)";
    phase.pkg.set(pkg, (phase.pkg.get(pkg) ?? 0) + ms);
  }
  const ranked = (m, total, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, selfMs: Math.round(ms), pct: total ? Math.round((ms / total) * 1000) / 10 : 0 }));
  return phases.map((ph) => ({
    totalMs: Math.round(ph.totalMs),
    functions: ranked(ph.fn, ph.totalMs, top),
    packages: ranked(ph.pkg, ph.totalMs, 15),
  }));
}

export function formatSummary(phase, title) {
  const lines = [`${title}: ${phase.totalMs} ms of samples`, "  top self time by function:"];
  for (const f of phase.functions) lines.push(`    ${String(f.selfMs).padStart(6)} ms ${String(f.pct).padStart(5)}%  ${f.name}`);
  lines.push("  by package:");
  for (const f of phase.packages) lines.push(`    ${String(f.selfMs).padStart(6)} ms ${String(f.pct).padStart(5)}%  ${f.name}`);
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" }, split: { type: "string", multiple: true } },
  });
  if (!positionals[0]) {
    process.stderr.write("usage: node bench/profile-summary.mjs <file.cpuprofile> [--top 25] [--split <monotonic us>]...\n");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
  const phases = summarizeCpuProfile(profile, { top: Number(values.top), splitUs: (values.split ?? []).map(Number) });
  phases.forEach((ph, i) => process.stdout.write(`${formatSummary(ph, phases.length > 1 ? `phase ${i + 1}` : "profile")}\n\n`));
}
