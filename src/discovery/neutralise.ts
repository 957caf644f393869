// Text from a machine or an API (hostnames, os-release, unit descriptions,
// stderr lines, Proxmox names and notes) may carry terminal control sequences
// (ANSI CSI/OSC: colours, clear screen, set the window title), NULs and other C0/C1
// controls. None of that is stored, returned to an MCP client or printed: each
// such character becomes U+FFFD, the character invalid UTF-8 already decodes to.
// Tab, newline and carriage return are kept. The readable text around them stays.
// A string longer than MAX_REMOTE_TEXT characters is cut, with a marker saying so:
// one megabyte in a unit description would otherwise make every page holding it
// larger than the result cap, whatever limit the caller passes.

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

export const MAX_REMOTE_TEXT = 8192;

export function neutraliseText(s: string): string {
  if (s.length > MAX_REMOTE_TEXT) {
    // Not between the halves of a surrogate pair.
    const end = /[\ud800-\udbff]/.test(s[MAX_REMOTE_TEXT - 1]!) ? MAX_REMOTE_TEXT - 1 : MAX_REMOTE_TEXT;
    s = `${s.slice(0, end)}…[cut: ${s.length - end} more characters]`;
  }
  return CONTROL.test(s) ? s.replace(CONTROL_ALL, "\uFFFD") : s;
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The value with every string in it (object keys too) neutralised, through plain
 * objects and arrays; anything else (dates, numbers, functions) is kept as is.
 * Returns the very same value when there was nothing to change.
 */
export function neutralise<T>(value: T): T {
  if (typeof value === "string") return neutraliseText(value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = neutralise(value[i] as unknown);
      if (v !== value[i]) (out ??= [...value])[i] = v;
    }
    return (out ?? value) as T;
  }
  if (value !== null && typeof value === "object" && isPlainObject(value)) {
    let changed = false;
    const entries = Object.entries(value).map(([k, v]) => {
      const k2 = neutraliseText(k);
      const v2 = neutralise(v);
      if (k2 !== k || v2 !== v) changed = true;
      return [k2, v2] as const;
    });
    return (changed ? Object.fromEntries(entries) : value) as T;
  }
  return value;
}
