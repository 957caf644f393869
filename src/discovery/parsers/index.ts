// Pure text -> data parsers for the machine probe, one module per command.

export * from "./os-release.js";
export * from "./uname.js";
export * from "./proc.js";
export * from "./cpu.js";
export * from "./df.js";
export * from "./ip.js";
export * from "./ss.js";
export * from "./systemd.js";
export * from "./docker.js";
export * from "./security.js";
