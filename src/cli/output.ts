// What the CLI prints: tables and colour for people (colour only on a terminal,
// never with NO_COLOR), JSON for scripts, a progress bar on a terminal's stderr.
import type { Writable } from "node:stream";

export interface Output {
  stdout: Writable;
  stderr: Writable;
  /** stdout is a terminal and colour is not turned off. */
  color: boolean;
  /** stderr is a terminal: progress may be drawn there. */
  interactive: boolean;
  /** --json */
  json: boolean;
  print(text: string): void;
  /** JSON on stdout, one document. */
  printJson(value: unknown): void;
  /** A message on stderr, prefixed with "fleet-mcp: ". */
  error(text: string): void;
  /** A note on stderr (no prefix). */
  note(text: string): void;
}

export function createOutput(opts: {
  stdout?: Writable & { isTTY?: boolean };
  stderr?: Writable & { isTTY?: boolean };
  json: boolean;
  noColor: boolean;
  env?: NodeJS.ProcessEnv;
}): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const color = !opts.noColor && !opts.json && Boolean((stdout as { isTTY?: boolean }).isTTY) && !env.NO_COLOR && env.TERM !== "dumb";
  return {
    stdout,
    stderr,
    color,
    interactive: Boolean((stderr as { isTTY?: boolean }).isTTY) && env.TERM !== "dumb",
    json: opts.json,
    print: (text) => void stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    printJson: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    error: (text) => void stderr.write(`fleet-mcp: ${text}\n`),
    note: (text) => void stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  };
}

const SGR = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39], cyan: [36, 39], gray: [90, 39] } as const;
export type Style = keyof typeof SGR;

/** Wraps text in an ANSI style when colour is on. */
export function paint(out: Pick<Output, "color">, style: Style, text: string): string {
  if (!out.color) return text;
  const [on, off] = SGR[style];
  return `\u001b[${on}m${text}\u001b[${off}m`;
}

/** Display width: ANSI sequences do not count. */
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\u001b\[[0-9;]*m/g, "")].length;
}

/** Remote text may hold control characters: never let it drive the terminal. */
export function clean(value: unknown): string {
  if (value === null || value === undefined) return "-";
  // eslint-disable-next-line no-control-regex
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  align?: "left" | "right";
  /** Cut to this many characters (with …). */
  max?: number;
  style?: (row: T) => Style | undefined;
}

/** A plain-text table: a header, aligned columns, two spaces between them. */
export function table<T>(out: Pick<Output, "color">, columns: Array<Column<T>>, rows: T[]): string {
  const cells = rows.map((r) =>
    columns.map((c) => {
      let text = clean(c.value(r));
      if (c.max && [...text].length > c.max) text = `${[...text].slice(0, c.max - 1).join("")}…`;
      return text;
    }),
  );
  const widths = columns.map((c, i) => Math.max(width(c.header), ...cells.map((row) => width(row[i]!))));
  const pad = (text: string, i: number) => {
    const gap = " ".repeat(widths[i]! - width(text));
    return columns[i]!.align === "right" ? gap + text : text + gap;
  };
  const header = columns.map((c, i) => paint(out, "bold", pad(c.header, i))).join("  ");
  const body = cells.map((row, r) =>
    row
      .map((text, i) => {
        const style = columns[i]!.style?.(rows[r]!);
        return style ? paint(out, style, pad(text, i)) : pad(text, i);
      })
      .join("  ")
      .trimEnd(),
  );
  return [header.trimEnd(), ...body].join("\n");
}

/** A one-line progress bar on stderr when it is a terminal; nothing otherwise. */
export function progressBar(out: Output, label: string): { update(done: number, total: number, detail?: string): void; finish(): void } {
  let drawn = false;
  return {
    update(done, total, detail) {
      if (!out.interactive) return;
      const cols = Math.max(40, Math.min(100, (out.stderr as { columns?: number }).columns ?? 80));
      const barWidth = 24;
      const filled = total > 0 ? Math.round((done / total) * barWidth) : 0;
      const bar = `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]`;
      const text = `${label} ${bar} ${done}/${total}${detail ? ` ${clean(detail)}` : ""}`;
      out.stderr.write(`\r${text.slice(0, cols - 1).padEnd(cols - 1)}`);
      drawn = true;
    },
    finish() {
      if (drawn) out.stderr.write("\n");
      drawn = false;
    },
  };
}

/** "3 min ago", "2 h ago", "5 d ago" from an ISO time. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
