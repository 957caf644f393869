// Parses /etc/os-release (falls back to /usr/lib/os-release on RHEL-likes, where
// /etc/os-release is a symlink). Format: os-release(5), a restricted shell
// variable-assignment syntax; captures of seven distributions live in
// test/fixtures/os-release-*.txt (FORMATS.md §4.1). Quoting differs per vendor
// (Debian writes ID=debian, Rocky ID="rocky"), so values are unquoted the way a
// POSIX shell would, instead of by stripping a fixed pair of quotes.

export interface OsRelease {
  id: string | null;
  idLike: string[];
  versionId: string | null;
  versionCodename: string | null;
  name: string | null;
  prettyName: string | null;
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/** Characters a backslash may escape inside double quotes (os-release(5)). */
const DQ_ESCAPABLE = new Set(["\\", '"', "$", "`"]);

function unquote(raw: string): string {
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i] as string;
    if (ch === '"') {
      i++;
      while (i < raw.length && raw[i] !== '"') {
        const c = raw[i] as string;
        const next = raw[i + 1];
        if (c === "\\" && next !== undefined && DQ_ESCAPABLE.has(next)) {
          out += next;
          i += 2;
        } else {
          out += c;
          i++;
        }
      }
      i++; // closing quote (or end of an unterminated value)
    } else if (ch === "'") {
      const end = raw.indexOf("'", i + 1);
      if (end === -1) {
        out += raw.slice(i + 1);
        break;
      }
      out += raw.slice(i + 1, end);
      i = end + 1;
    } else if (ch === "\\") {
      const next = raw[i + 1];
      if (next !== undefined) out += next;
      i += 2;
    } else if (ch === " " || ch === "\t") {
      // Unquoted whitespace ends the word in shell; anything after is not part of the value.
      break;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v === "" ? null : v;
}

export function parseOsRelease(text: string): OsRelease {
  const vars = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = ASSIGNMENT.exec(line);
    if (!m) continue;
    // The file is sourced by shell scripts, where a repeated key means "last wins".
    vars.set(m[1] as string, unquote(m[2] as string));
  }
  const idLike = (vars.get("ID_LIKE") ?? "").split(/\s+/).filter((s) => s !== "");
  return {
    id: nonEmpty(vars.get("ID")),
    idLike,
    versionId: nonEmpty(vars.get("VERSION_ID")),
    versionCodename: nonEmpty(vars.get("VERSION_CODENAME")),
    name: nonEmpty(vars.get("NAME")),
    prettyName: nonEmpty(vars.get("PRETTY_NAME")),
  };
}
