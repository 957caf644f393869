// The simulated pveproxy lives in src/sim (it also serves `fleet-mcp demo`).
export * from "../../src/sim/pve-sim.js";
