import { z } from "zod";
import { acceptHostKey, endpointsOfTarget } from "../inventory/endpoints.js";
import { findTargets } from "../inventory/queries.js";
import { defineTool, ToolError } from "./tool.js";

export const acceptHostKeyTool = defineTool({
  name: "accept_host_key",
  title: "Accept a changed SSH host key",
  description:
    "Trusts the new SSH host key a target presented (shown as a host_key_changed issue by get_target) in place of the pinned one, after a person has confirmed the change is legitimate (reinstall, key rotation). Then call run_discovery with that target to probe it again.",
  input: z
    .object({
      target: z.string().min(1).max(256).describe("Target id, name or address whose endpoint presented a new host key."),
      fingerprint: z
        .string()
        .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, "an OpenSSH SHA256 fingerprint, e.g. SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
        .describe("The new key's fingerprint, exactly as get_target shows it; required so that only a key someone has seen is trusted."),
    })
    .strict(),
  output: z.object({
    accepted: z.array(z.object({ endpoint: z.string(), fingerprint: z.string(), replaced: z.string().nullable() })),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx) {
    const { db } = ctx.app;
    const matches = findTargets(db, args.target);
    if (matches.length !== 1) {
      throw new ToolError(
        matches.length
          ? `"${args.target}" matches ${matches.length} targets; pass the target id.`
          : `No target "${args.target}". Call get_fleet_overview to find it.`,
      );
    }
    const target = matches[0]!;
    const pending = endpointsOfTarget(db, target.id).filter((e) => e.pendingFingerprint);
    if (pending.length === 0) throw new ToolError(`${target.name} has no changed host key waiting to be accepted.`);
    if (!pending.some((e) => e.pendingFingerprint === args.fingerprint)) {
      throw new ToolError(
        `${target.name} presented ${pending.map((e) => e.pendingFingerprint).join(", ")}, not ${args.fingerprint}. Check the fingerprint and call again.`,
      );
    }
    const rows = acceptHostKey(db, { targetId: target.id }, args.fingerprint, ctx.app.now());
    return { accepted: rows.map((r) => ({ endpoint: r.endpoint, fingerprint: r.pendingFingerprint!, replaced: r.pinnedFingerprint })) };
  },
  summarize(o) {
    return `Accepted ${o.accepted.map((a) => `${a.fingerprint} for ${a.endpoint}`).join(", ")}. Call run_discovery to probe the target again.`;
  },
});
