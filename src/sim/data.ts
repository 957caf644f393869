// The captured command and API outputs the simulators answer with: copies of
// the captures in test/fixtures (each with its .src saying where it came from),
// kept next to the code so that they ship in the package (the build copies
// src/sim/data to dist/sim/data). test/demo.test.ts checks the copies still
// match test/fixtures byte for byte.
import { readFileSync } from "node:fs";

const DATA = new URL("./data/", import.meta.url);
const cache = new Map<string, string>();

/** A capture's text, as recorded. */
export function simData(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`sim data: bad file name ${JSON.stringify(name)}`);
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(name, DATA), "utf8");
    cache.set(name, text);
  }
  return text;
}

/** A JSON capture, parsed afresh on every call (callers may change it). */
export function simDataJson(name: string): unknown {
  return JSON.parse(simData(name));
}
