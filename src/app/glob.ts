/** Shell-style glob (`*`, `?`) match of a whole name, for host alias filters. */
export function minimatch(pattern: string, name: string): boolean {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  ).test(name);
}
