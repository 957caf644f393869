// OpenSSH known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): for the `strict`
// host key policy. Lines are `[marker] hostpatterns keytype base64key [comment]`;
// patterns are comma-separated, may be negated with `!`, use `*`/`?` wildcards,
// name non-default ports as `[host]:port`, or be hashed as `|1|salt|hmac-sha1`.
import { createHmac } from "node:crypto";
import { matchPatternList } from "./patterns.js";
import { fingerprintOfBlob } from "./runners/ssh.js";

export interface KnownHostEntry {
  patterns: string[];
  hashed: { salt: Buffer; hash: Buffer } | null;
  keyType: string;
  fingerprint: string;
  revoked: boolean;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | null = null;
    if (fields[0]?.startsWith("@")) marker = fields.shift()!;
    // A CA line vouches for certificates, which we do not check: skip it rather than trust it.
    if (marker === "@cert-authority") continue;
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) continue;
    let blob: Buffer;
    try {
      blob = Buffer.from(key, "base64");
    } catch {
      continue;
    }
    if (blob.length === 0) continue;
    const hashedMatch = /^\|1\|([^|]+)\|([^|]+)$/.exec(hosts);
    entries.push({
      patterns: hashedMatch ? [] : hosts.split(","),
      hashed: hashedMatch ? { salt: Buffer.from(hashedMatch[1]!, "base64"), hash: Buffer.from(hashedMatch[2]!, "base64") } : null,
      keyType,
      fingerprint: fingerprintOfBlob(blob),
      revoked: marker === "@revoked",
    });
  }
  return entries;
}

function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function entryMatches(e: KnownHostEntry, name: string): boolean {
  if (e.hashed) {
    return createHmac("sha1", e.hashed.salt).update(name).digest().equals(e.hashed.hash);
  }
  // Host names in known_hosts compare case-insensitively, as ssh does.
  return matchPatternList(e.patterns, name, true);
}

export interface KnownHostsVerdict {
  trusted: boolean;
  reason: "match" | "revoked" | "mismatch" | "unknown_host";
}

/** Is this key, presented by host:port, one the known_hosts file trusts? */
export function checkKnownHosts(entries: KnownHostEntry[], host: string, port: number, fingerprint: string): KnownHostsVerdict {
  const name = hostName(host, port);
  const mine = entries.filter((e) => entryMatches(e, name));
  if (mine.some((e) => e.revoked && e.fingerprint === fingerprint)) return { trusted: false, reason: "revoked" };
  if (mine.some((e) => !e.revoked && e.fingerprint === fingerprint)) return { trusted: true, reason: "match" };
  return { trusted: false, reason: mine.length ? "mismatch" : "unknown_host" };
}

/** Key types known_hosts trusts for host:port, so the handshake can ask for one of them first (as OpenSSH does). */
export function knownHostKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = hostName(host, port);
  return [...new Set(entries.filter((e) => !e.revoked && entryMatches(e, name)).map((e) => e.keyType))];
}
