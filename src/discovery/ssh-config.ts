// OpenSSH client config (ssh_config(5)): `Host` blocks with HostName, Port,
// User and IdentityFile. For each alias the first value obtained for a keyword
// wins, scanning blocks top to bottom, as ssh does. Match blocks and Include
// are not followed: a `Match` block's settings are skipped.
import { matchPatternList } from "./patterns.js";

export interface SshConfigHost {
  alias: string;
  hostName: string;
  port: number | null;
  user: string | null;
  identityFiles: string[];
}

interface Block {
  patterns: string[];
  settings: Array<[string, string]>;
}

function parseBlocks(text: string): Block[] {
  const blocks: Block[] = [{ patterns: ["*"], settings: [] }];
  let skipping = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim().replace(/^"(.*)"$/, "$1");
    if (key === "host") {
      skipping = false;
      blocks.push({ patterns: value.split(/\s+/), settings: [] });
    } else if (key === "match") {
      skipping = true;
    } else if (!skipping) {
      blocks[blocks.length - 1]!.settings.push([key, value]);
    }
  }
  return blocks;
}

function blockMatches(b: Block, alias: string): boolean {
  return matchPatternList(b.patterns, alias);
}

/** Concrete aliases (no wildcards) defined in the file, in order. */
export function sshConfigAliases(text: string): string[] {
  const out: string[] = [];
  for (const b of parseBlocks(text)) for (const p of b.patterns) if (!/[*?!]/.test(p) && !out.includes(p)) out.push(p);
  return out;
}

export function resolveSshConfigHost(text: string, alias: string, home: string): SshConfigHost {
  const got = new Map<string, string>();
  const identityFiles: string[] = [];
  for (const b of parseBlocks(text)) {
    if (!blockMatches(b, alias)) continue;
    for (const [k, v] of b.settings) {
      if (k === "identityfile")
        identityFiles.push(
          v
            .replace(/^~(?=\/|$)/, home)
            .replace(/%d/g, home)
            .replace(/%h/g, alias),
        );
      else if (!got.has(k)) got.set(k, v);
    }
  }
  const port = Number(got.get("port"));
  return {
    alias,
    hostName: (got.get("hostname") ?? alias).replace(/%h/g, alias),
    port: Number.isInteger(port) && port > 0 && port < 65536 ? port : null,
    user: got.get("user") ?? null,
    identityFiles,
  };
}
