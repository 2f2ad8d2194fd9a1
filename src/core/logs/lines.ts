/**
 * A gateway's output as it streams (`logs -f`, journalctl's), given on line by line: redaction must see
 * a whole line, since a token split across two reads would pass through as two harmless halves.
 */

/** Where the pieces go in, and where the remainder goes once the stream ends. */
export interface LineStream {
  write(text: string): Promise<void>;
  /** Give out a last line without its newline, if one is pending. */
  end(): Promise<void>;
}

/** Splits text into lines, passes each through `each` (which adds its own line end) and `emit`s them together. */
export function lineStream(each: (line: string) => string, emit: (text: string) => Promise<void>): LineStream {
  let partial = "";
  return {
    async write(text) {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      if (lines.length > 0) await emit(lines.map(each).join(""));
    },
    async end() {
      const rest = partial;
      partial = "";
      if (rest !== "") await emit(each(rest));
    },
  };
}

/**
 * One line of one profile, as `logs --json` prints it: `time` (ISO) where known, `stream` where known
 * (neither a file nor journald keeps it).
 */
export interface MergedLine {
  profile: string;
  time: string | null;
  stream: "stdout" | "stderr" | null;
  message: string;
}
