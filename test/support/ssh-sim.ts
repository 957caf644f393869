// The simulated SSH hosts live in src/sim (they also serve `fleet-mcp demo`).
export * from "../../src/sim/ssh-sim.js";
