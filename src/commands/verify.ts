import { verifyGateway, type VerifyResult } from "../core/verify/run.js";
import { ExitCode, UsageError } from "../errors.js";
import { table } from "../render/table.js";
import { settingFromFlag, SETTINGS } from "../settings.js";
import { defineCommand } from "./command.js";
import { wait } from "./options.js";

/** `verify`'s text for people: one row per check, then the verdict. */
export function renderVerify(r: VerifyResult): string {
  const rows = r.checks.map((c) => [c.check, c.outcome === "pass" ? "pass" : c.outcome === "fail" ? "FAIL" : "skip", c.ms === null ? "-" : `${c.ms} ms`, c.detail]);
  const lines = [`gateway: ${r.exec || "the bundled agent-gateway"} (throwaway profile ${r.profile}${r.port ? `, port ${r.port}` : ""})`, table(["CHECK", "RESULT", "TIME", "DETAIL"], rows)];
  for (const c of r.checks) for (const line of c.output ?? []) lines.push(`  ${c.check} | ${line}`);
  for (const l of r.leftovers) lines.push(`NOT removed: ${l}`);
  const failed = r.checks.filter((c) => c.outcome === "fail").map((c) => c.check);
  if (r.interrupted) lines.push(`stopped by ${r.interrupted} before every check ran${r.leftovers.length === 0 ? `; ${r.profile} was removed` : ""}`);
  if (failed.length > 0) lines.push(`failed: ${failed.join(", ")}`);
  else if (r.passed) lines.push("all checks passed");
  else if (r.leftovers.length > 0) lines.push("no check failed, but the throwaway profile was not removed");
  return lines.join("\n");
}

export default defineCommand<{ exec?: string; wait: number }, string | null>({
  command: "verify",
  describe: "Check a gateway in a throwaway profile: start-up, logs, reload, crash recovery, SIGTERM, memory quota (exit 7 if any check fails; Ctrl-C stops after the check under way and still cleans up)",
  options: [wait("Seconds each check may wait for the gateway to be healthy")],
  needs: { config: true, profiles: "none", manager: true },
  builder: (y) =>
    y
      .option("exec", { type: "string", describe: "Gateway command to check instead of the configured one (%i, ${VAR} as in `init --exec`)" }),
  parse: async (args) => (args.exec === undefined ? null : String(await settingFromFlag(SETTINGS.find((s) => s.key === "exec")!, args.exec))),
  async run(args, ctx, exec) {
    if (exec === "") throw new UsageError("--exec is empty", "give the gateway's command, or leave --exec out to check the configured one");
    const r = await verifyGateway(ctx, { exec, waitMs: args.wait * 1000 });
    // A check that failed says more than the stop that came after it.
    const code = r.passed ? ExitCode.ok : r.interrupted && r.checks.every((c) => c.outcome !== "fail") ? ExitCode.failed : ExitCode.unhealthy;
    return { data: r, text: renderVerify(r), exitCode: code };
  },
});
