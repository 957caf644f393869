import { z } from "zod";
import { runDoctor } from "../app/doctor.js";
import { UnknownSourceError } from "../app/discovery-service.js";
import { defineTool, ToolError } from "./tool.js";

export const doctor = defineTool({
  name: "doctor",
  title: "Diagnose sources",
  description:
    "Checks each configured source the way discovery uses it — reachability, TLS (with the certificate fingerprint to pin), authentication, the privileges discovery needs, SSH and sudo on hosts — and answers each problem with a concrete fix. Run it when run_discovery reports failed sources, then fix the config and call run_discovery again.",
  input: z
    .object({
      sources: z.array(z.string().min(1).max(63)).max(50).optional().describe("Ids of the sources to check; all configured sources when omitted."),
    })
    .strict(),
  output: z.object({
    checks: z.array(
      z.object({
        source: z.string(),
        kind: z.string(),
        target: z.string(),
        check: z.enum(["config", "reachability", "tls", "auth", "privileges", "ssh", "sudo"]),
        status: z.enum(["ok", "warning", "error"]),
        message: z.string(),
        fix: z.string().nullable(),
      }),
    ),
    errors: z.number().int(),
    warnings: z.number().int(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx) {
    try {
      const checks = await runDoctor(ctx.app, args.sources, ctx.signal);
      return { checks, errors: checks.filter((c) => c.status === "error").length, warnings: checks.filter((c) => c.status === "warning").length };
    } catch (err) {
      if (err instanceof UnknownSourceError) throw new ToolError(err.message);
      throw err;
    }
  },
  summarize(o) {
    const first = o.checks.find((c) => c.status === "error") ?? o.checks.find((c) => c.status === "warning");
    if (!first) return `All ${o.checks.length} check(s) passed.`;
    return `${o.errors} error(s), ${o.warnings} warning(s) in ${o.checks.length} check(s). First: ${first.source} ${first.target}: ${first.message}${first.fix ? ` Fix: ${first.fix}` : ""}`;
  },
});
