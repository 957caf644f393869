// Maps validated source config onto discovery sources. Kept here, not in
// src/discovery, because discovery must not know our config types.
import type { SourceConfig } from "../config.js";
import { createLocalSource } from "../discovery/sources/local.js";
import type { DiscoverySource } from "../discovery/types.js";

export type SourceFactory = (cfg: SourceConfig) => DiscoverySource;

export const createSource: SourceFactory = (cfg) => {
  switch (cfg.kind) {
    case "local":
      return createLocalSource({ id: cfg.id, timeoutMs: cfg.timeout_ms, maxOutputBytes: cfg.max_output_bytes });
  }
};
