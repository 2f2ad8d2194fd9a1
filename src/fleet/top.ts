/**
 * `top --host`: the profiles of every host in one view. Each host runs its own `profiles top`, which with
 * TOP_STREAM prints its rows as a line of JSON at each change; this side checks them (another machine's
 * data), adds the host, and sorts, filters and draws them as `top` draws its own. A host that does not
 * answer, or stops, is a line above the table while the others go on. `--once` asks every host at once.
 */
import type { CommandResult } from "../commands/command.js";
import { liveTop, onceText, shown, TOP_STREAM, topOptions, type TopArgs } from "../commands/top.js";
import { STOP_ON_EOF } from "../core/stop-signals.js";
import type { FeedMaker, RowFeed } from "../core/top/feed.js";
import { topRowSchema, type TopRow } from "../core/top/model.js";
import { array, firstIssue } from "../schema.js";
import { ExitCode } from "../errors.js";
import { ask, lastLine, worstCode } from "./answer.js";
import type { Host } from "./hosts.js";
import type { Fleet, FleetArgs } from "./run.js";

const hostRows = array(topRowSchema);

/** A host's rows with its name in each, or why they cannot be read. */
function rowsOf(host: Host, data: unknown): TopRow[] | string {
  const r = hostRows.safeParse(data);
  if (r.success) return r.data.map((row) => ({ ...row, host: host.name }));
  return `host ${host.name} answered with rows this side cannot read (${firstIssue(r.error, "the whole")})`;
}

/** Every host's `profiles top` as one feed: rows in the order the hosts were given. */
class HostsFeed implements RowFeed {
  private readonly rowsByHost = new Map<string, TopRow[]>();
  private readonly problems = new Map<string, string>();
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly f: Fleet,
    private readonly hosts: readonly Host[],
    private readonly args: string[],
    private readonly onChange: () => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once every host has sent its first rows or ended. */
  async start(): Promise<void> {
    await Promise.all(this.hosts.map((h) => new Promise<void>((firstRows) => this.follow(h, firstRows))));
  }

  rows(): TopRow[] {
    return this.hosts.flatMap((h) => this.rowsByHost.get(h.name) ?? []);
  }

  notes(): string[] {
    return this.hosts.flatMap((h) => this.problems.get(h.name) ?? (this.rowsByHost.has(h.name) ? [] : [`waiting for host ${h.name}`]));
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private follow(h: Host, firstRows: () => void): void {
    const onStdoutLine = (line: string): void => {
      let data: unknown;
      try {
        data = JSON.parse(line);
      } catch {
        data = line;
      }
      const rows = rowsOf(h, data);
      if (typeof rows === "string") this.problems.set(h.name, rows);
      else {
        this.rowsByHost.set(h.name, rows);
        this.problems.delete(h.name);
      }
      firstRows();
      this.onChange();
    };
    // The host's top ends with its stdin, which ends with this process however it ends.
    const env = { [TOP_STREAM]: "1", [STOP_ON_EOF]: "1" };
    ask(this.f.runner, h, this.args, { version: this.f.version, json: false, onStdoutLine, signal: this.abort.signal, holdStdin: true, env }).then(
      (a) => {
        if (this.stopped) return;
        // Its rows would look current while nothing updates them.
        this.rowsByHost.delete(h.name);
        this.problems.set(h.name, a.problem ?? `host ${h.name}: \`profiles top\` ended (exit ${a.code}): ${lastLine(a.stderr)}`);
        firstRows();
        this.onChange();
      },
      (err) => this.onError(err),
    );
  }
}

/** `top --host ...`: `--once` (with --json, the rows with their `host`), or the live view of them all. */
export async function topOnHosts(f: Fleet, hosts: Host[], args: FleetArgs): Promise<CommandResult> {
  const o = topOptions(args as unknown as TopArgs & { json?: boolean });
  // Sorting and filtering are this side's, over every host's rows.
  const remote = ["top", "--interval", String(o.pace.intervalMs / 1000)];
  if (args.once === true) {
    const answers = await Promise.all(hosts.map((h) => ask(f.runner, h, ["--json", ...remote, "--once"], { version: f.version, json: true })));
    const rows: TopRow[] = [];
    const failed: { host: string; error: { code: number; message: string } }[] = [];
    for (const a of answers) {
      const r = a.problem ?? (a.code === ExitCode.ok ? rowsOf(a.host, a.data) : `host ${a.host.name}: \`profiles top --once\` exited ${a.code}: ${lastLine(a.stderr)}`);
      if (typeof r !== "string") {
        rows.push(...r);
        continue;
      }
      if (a.code === ExitCode.ok) a.code = ExitCode.internal;
      f.tell(r);
      failed.push({ host: a.host.name, error: { code: a.code, message: r } });
    }
    return { data: [...shown(rows, o), ...failed], text: onceText(rows, o, failed.length > 0), exitCode: worstCode(answers) };
  }
  const makeFeed: FeedMaker = (onChange, onError) => new HostsFeed(f, hosts, remote, onChange, onError);
  await liveTop(f.ctx, o, makeFeed);
  return { data: null, text: "", streamed: true };
}
