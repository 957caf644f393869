// Reads a captured command output from test/fixtures (each file has a .src naming its origin).
import { readFileSync } from "node:fs";

export function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");
}
