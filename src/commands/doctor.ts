import type { DoctorReport } from "../core/doctor/run.js";
import type { CheckStatus } from "../core/doctor/types.js";
import { ExitCode } from "../errors.js";
import { escapeControls } from "../render/escape.js";
import { defineCommand } from "./command.js";

/** How a check's status is marked: ✓/✗ in colour on a terminal, plain words in a pipe or a log. */
function marks(tty: boolean, colour: boolean): Record<CheckStatus, string> {
  if (!tty) return { ok: "ok  ", problem: "FAIL", skipped: "skip" };
  if (!colour) return { ok: "✓", problem: "✗", skipped: "-" };
  return { ok: "\x1b[32m✓\x1b[0m", problem: "\x1b[31m✗\x1b[0m", skipped: "\x1b[33m-\x1b[0m" };
}

/** One line per check, then the commands that fix what was found. */
export function renderReport(report: DoctorReport, tty: boolean, colour: boolean): string {
  const mark = marks(tty, colour);
  // Escaped here, not by the CLI, which would escape the colours too: messages quote files and processes.
  const lines = report.checks.map((c) => `${mark[c.status]} ${c.title}: ${escapeControls(c.message)}`);
  if (report.ok) {
    lines.push("no problems found");
  } else {
    lines.push("", `${report.problems} problem(s); to fix:`, ...report.fixes.map((f) => `  ${escapeControls(f)}`));
  }
  return lines.join("\n");
}

export default defineCommand({
  command: "doctor",
  describe: "Check the host and print the command that fixes each problem found (exit 14 if any)",
  // It reports a missing config, an unreachable manager and bad profiles; it needs none of them.
  needs: { config: false, profiles: "none", manager: false },
  async run(_args, ctx) {
    // Loaded here, not at start-up: its checks import more than any other command needs.
    const { runDoctor } = await import("../core/doctor/run.js");
    const report = await runDoctor(ctx);
    const tty = Boolean(process.stdout.isTTY);
    // https://no-color.org: any non-empty NO_COLOR turns colour off.
    const colour = tty && !ctx.env.NO_COLOR;
    return { data: report, text: renderReport(report, tty, colour), escaped: true, exitCode: report.ok ? ExitCode.ok : ExitCode.problemsFound };
  },
});
