// Loads the PVE captures in test/fixtures: enveloped HTTP bodies are unwrapped,
// "data-only" files (ansible, pvesh) are the data already.
import { EnvelopeSchema } from "../../src/discovery/proxmox/schemas.js";
import { fixture } from "../parsers/fixture.js";

export { fixture };

/** The `data` of an enveloped capture (`{"data": …}`). */
export function apiData(name: string): unknown {
  return EnvelopeSchema.parse(JSON.parse(fixture(name))).data;
}

/** A data-only capture (no envelope). */
export function rawJson(name: string): unknown {
  return JSON.parse(fixture(name));
}

/** Post-April-2025 LXC interfaces, built from the pve-container source (old keys kept alongside). */
export const POST2025_LXC_INTERFACES = [
  {
    name: "lo",
    hwaddr: "00:00:00:00:00:00",
    "hardware-address": "00:00:00:00:00:00",
    inet: "127.0.0.1/8",
    inet6: "::1/128",
    "ip-addresses": [
      { "ip-address": "127.0.0.1", "ip-address-type": "inet", prefix: 8 },
      { "ip-address": "::1", "ip-address-type": "inet6", prefix: 128 },
    ],
  },
  {
    name: "eth0",
    hwaddr: "bc:24:11:89:67:07",
    "hardware-address": "bc:24:11:89:67:07",
    inet: "192.168.3.96/22",
    inet6: "fe80::be24:11ff:fe89:6707/64",
    "ip-addresses": [
      { "ip-address": "192.168.3.95", "ip-address-type": "inet", prefix: 22 },
      { "ip-address": "192.168.3.96", "ip-address-type": "inet", prefix: 22 },
      { "ip-address": "fe80::be24:11ff:fe89:6707", "ip-address-type": "inet6", prefix: 64 },
    ],
  },
];
