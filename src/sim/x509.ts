// Throw-away TLS material for the simulated pveproxy: a CA and a leaf for
// 127.0.0.1/localhost signed by it, both ECDSA P-256, built with node:crypto
// alone (a minimal DER encoder), so the simulators need no openssl binary
// (macOS ships LibreSSL, Windows usually nothing). The certificates carry what
// OpenSSL's verifier checks: basicConstraints, keyUsage, extKeyUsage serverAuth,
// subjectAltName, and the key identifiers that link leaf to CA.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";

// ---------------------------------------------------------------------------
// DER

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
/** [n] EXPLICIT (constructed, context-specific). */
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
/** [n] IMPLICIT primitive (context-specific). */
const implicit = (n: number, content: Buffer) => tlv(0x80 | n, content);

/** A non-negative INTEGER from big-endian bytes (a leading zero when the high bit is set, no redundant zeros). */
function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && (bytes[i + 1]! & 0x80) === 0) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out = [40 * a + b];
  for (const v of rest) {
    const groups: number[] = [];
    let x = v;
    do {
      groups.unshift(x & 0x7f);
      x = Math.floor(x / 128);
    } while (x > 0);
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING of whole bytes (no unused bits), e.g. a signature or a public key. */
const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii")) : tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn, "utf8")))));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

// ---------------------------------------------------------------------------
// Certificates

const ECDSA_WITH_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

interface Issued {
  key: KeyObject;
  certPem: string;
  keyId: Buffer;
}

/** The subject key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
function keyIdOf(spki: Buffer): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }: the key is the last
  // BIT STRING, for a P-256 key the 65-byte uncompressed point after the unused-bits byte.
  return createHash("sha1")
    .update(spki.subarray(spki.length - 65))
    .digest();
}

function issue(opts: {
  cn: string;
  ca: boolean;
  days: number;
  issuer?: { cn: string; key: KeyObject; keyId: Buffer };
  altNames?: { ips: string[]; dns: string[] };
}): Issued {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const keyId = keyIdOf(spki);
  const now = Date.now();
  const exts: Buffer[] = [
    extension("2.5.29.19", true, opts.ca ? seq(bool(true)) : seq()),
    // keyUsage: CA keyCertSign(5) + cRLSign(6) → 0000 0110, 1 unused bit; leaf digitalSignature(0) → 1000 0000, 7 unused
    extension("2.5.29.15", true, opts.ca ? tlv(0x03, Buffer.from([1, 0x06])) : tlv(0x03, Buffer.from([7, 0x80]))),
    extension("2.5.29.14", false, octets(keyId)),
  ];
  if (!opts.ca) exts.push(extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))));
  if (opts.issuer) exts.push(extension("2.5.29.35", false, seq(implicit(0, opts.issuer.keyId))));
  if (opts.altNames) {
    const ips = opts.altNames.ips.map((ip) => implicit(7, Buffer.from(ip.split(".").map(Number))));
    const dns = opts.altNames.dns.map((d) => implicit(2, Buffer.from(d, "ascii")));
    exts.push(extension("2.5.29.17", false, seq(...ips, ...dns)));
  }
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(serial),
    ECDSA_WITH_SHA256,
    name(opts.issuer?.cn ?? opts.cn),
    seq(time(new Date(now - 3600_000)), time(new Date(now + opts.days * 86400_000))),
    name(opts.cn),
    spki,
    explicit(3, seq(...exts)),
  );
  const signature = sign("sha256", tbs, opts.issuer?.key ?? privateKey); // ECDSA: DER (r, s)
  const der = seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  return { key: privateKey, certPem: `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`, keyId };
}

export interface TlsMaterial {
  /** The leaf's private key, PKCS#8 PEM. */
  key: string;
  /** The leaf certificate for 127.0.0.1 and localhost. */
  certPem: string;
  /** The CA that signed it. */
  caPem: string;
  /** SHA-256 of the leaf's DER, colon-separated upper-case hex (as pveproxy and `openssl x509 -fingerprint -sha256` show it). */
  fingerprint: string;
}

/** A fresh CA and a leaf for 127.0.0.1/localhost signed by it, valid from an hour ago for `days` days. */
export function makeLoopbackTls(opts: { caName?: string; leafName?: string; days?: number } = {}): TlsMaterial {
  const days = opts.days ?? 30;
  const ca = issue({ cn: opts.caName ?? "pve-sim-ca", ca: true, days });
  const leaf = issue({
    cn: opts.leafName ?? "pve-sim",
    ca: false,
    days,
    issuer: { cn: opts.caName ?? "pve-sim-ca", key: ca.key, keyId: ca.keyId },
    altNames: { ips: ["127.0.0.1"], dns: ["localhost"] },
  });
  const cert = new X509Certificate(leaf.certPem);
  if (!cert.verify(new X509Certificate(ca.certPem).publicKey)) throw new Error("pve-sim: the generated leaf does not verify against its CA");
  return {
    key: leaf.key.export({ type: "pkcs8", format: "pem" }) as string,
    certPem: leaf.certPem,
    caPem: ca.certPem,
    fingerprint: cert.fingerprint256,
  };
}
