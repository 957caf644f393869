// Secrets never reach tool output, logs or the audit log. Two rules: a value
// under a key that names a secret is replaced, and every configured secret value
// is replaced wherever it appears inside any string.
export const REDACTED = "[REDACTED]";

const SECRET_KEY = /pass(word|phrase)?|secret|token|private[_-]?key|credential|authorization|cookie/i;
/**
 * Keys that mention a secret without holding one: the NAME of the environment
 * variable that holds it (`password_env`), whether password logins are allowed
 * (`password_authentication`, `ssh_password_auth`), a host-key policy.
 */
const NOT_A_SECRET = /(_env|_authentication|_auth|_login|_logins|_policy)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !NOT_A_SECRET.test(key);
}

export type Redactor = (text: string) => string;

/**
 * A secret as it may appear once escaped: inside JSON text, or percent-encoded in
 * a URL path, query or form body (a log line records a request path as the URL
 * parser normalised it). Each form is redacted like the value itself.
 */
function escapedForms(v: string): string[] {
  const pct = encodeURIComponent(v);
  return [
    v,
    JSON.stringify(v).slice(1, -1),
    pct,
    pct.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    encodeURI(v),
    new URLSearchParams({ v }).toString().slice(2),
  ];
}

/** Replaces each configured secret value (ignoring trivially short ones), raw or escaped, wherever it occurs. */
export function secretValueRedactor(secretValues: readonly string[]): Redactor {
  const values = [...new Set(secretValues.filter((v) => v.length >= 4).flatMap(escapedForms))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return (s) => s;
  return (text) => {
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  };
}

/** Deep copy of a JSON-like value with secret keys and secret values redacted. */
export function redactValue(value: unknown, redact: Redactor, depth = 0): unknown {
  if (depth > 32) return "[too deep]";
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact, depth + 1));
  if (value && typeof value === "object") {
    // fromEntries defines own properties, so a "__proto__" key stays plain data.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [redact(k), isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redactValue(v, redact, depth + 1)]),
    );
  }
  return value;
}

/**
 * Deep copy of a JSON-like value with every configured secret value replaced in
 * its strings and keys, whatever the key is called. For tool arguments before a
 * handler sees them: no tool takes a secret, so a secret pasted into a search, a
 * snapshot name or a target reference is neither echoed back nor stored.
 */
export function redactSecretValues(value: unknown, redact: Redactor, depth = 0): unknown {
  if (depth > 32) return "[too deep]";
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactSecretValues(v, redact, depth + 1));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k), redactSecretValues(v, redact, depth + 1)]));
  return value;
}
