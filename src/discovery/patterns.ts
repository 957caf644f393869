// OpenSSH's host pattern language (ssh_config(5) PATTERNS), shared by the
// ssh_config and known_hosts readers: `*` and `?` wildcards, and a
// comma/space list where a matching `!pattern` vetoes the whole list.

/** One wildcard pattern against a whole name. */
export function globMatch(pattern: string, name: string, caseInsensitive = false): boolean {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, caseInsensitive ? "i" : "").test(name);
}

/** A pattern list: some positive pattern matches and no negated one does. */
export function matchPatternList(patterns: readonly string[], name: string, caseInsensitive = false): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name, caseInsensitive)) return false;
    } else if (globMatch(p, name, caseInsensitive)) hit = true;
  }
  return hit;
}
