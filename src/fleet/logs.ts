/**
 * `logs` across hosts, as it comes: every host's lines, each prefixed with the host's name (for --json a
 * `host` field in each object); `-f` follows them all until Ctrl-C or SIGTERM, which ends every ssh.
 */
import type { CommandResult } from "../commands/command.js";
import { ExitCode, type OutputError } from "../errors.js";
import { catchStopSignals, STOP_ON_EOF } from "../core/stop-signals.js";
import { redactJson, redactText } from "../redact.js";
import { escapeControls } from "../render/escape.js";
import { outputLost } from "../render/stdout.js";
import { ask, worstCode } from "./answer.js";
import type { Host } from "./hosts.js";
import type { Fleet } from "./run.js";

/** `logs` of `hosts` with their own command line `args`, printed as it comes (`streamed`: no summary). */
export async function streamLogs(f: Fleet, hosts: Host[], args: string[]): Promise<CommandResult> {
  const width = Math.max(...hosts.map((h) => h.name.length));
  const abort = new AbortController();
  const stop = catchStopSignals(() => abort.abort(), { first: "stopping", again: "stopping" });
  // As on one host: a reader that has gone (`| head`, EPIPE) stops it quietly; any other refused write stops it with exit 15.
  let gone = false;
  let lost: OutputError | null = null;
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    const why = outputLost(err, false);
    if (why) lost ??= why;
    else gone = true;
    abort.abort();
  });
  const write = (s: string) => void (process.stdout.destroyed || process.stdout.write(`${s}\n`));
  try {
    const answers = await Promise.all(
      hosts.map((h) => {
        // Lines come one object a line; a host's error (pretty-printed JSON over several lines) comes whole.
        let whole: string[] | null = null;
        const onStdoutLine = (line: string): void => {
          if (!f.json) return write(`${h.name.padEnd(width)} ${escapeControls(redactText(line))}`);
          if (whole || line === "{" || line === "[") return void (whole ??= []).push(line);
          try {
            write(redactJson({ host: h.name, ...(JSON.parse(line) as object) }));
          } catch {
            write(redactJson({ host: h.name, message: line }));
          }
        };
        // A driver that dies (even by SIGKILL) must not leave `logs -f` following on the hosts: their stdin ends with it.
        const held = { holdStdin: true, env: { [STOP_ON_EOF]: "1" } };
        return ask(f.runner, h, args, { version: f.version, json: false, onStdoutLine, progress: f.tell, signal: abort.signal, ...held }).then((a) => {
          if (whole) {
            try {
              write(redactJson({ host: h.name, ...(JSON.parse(whole.join("\n")) as object) }));
            } catch {
              f.tell(`${h.name}: its answer was cut off (exit ${a.code})`);
            }
          }
          return a;
        });
      }),
    );
    if (lost) throw lost;
    for (const a of answers) if (a.problem) f.tell(a.problem);
    return { data: null, text: "", streamed: true, exitCode: stop.signal() || gone ? ExitCode.ok : worstCode(answers) };
  } finally {
    stop.remove();
  }
}
