/**
 * `top`'s full-screen terminal: the alternate screen, the cursor hidden, the input in raw mode, and each
 * frame drawn over the last one; `restore` undoes all of it, and is safe to call more than once (on `q`,
 * SIGTERM, an error, and process exit as a last resort).
 */
import { writeSync } from "node:fs";
import type { ReadStream, WriteStream } from "node:tty";

const CSI = "\u001b[";
const ENTER = `${CSI}?1049h${CSI}?25l`;
const LEAVE = `${CSI}0m${CSI}?25h${CSI}?1049l`;

/** A line of a frame: text (already escaped of control codes) and how it is shown. */
export interface FrameLine {
  text: string;
  style?: "header" | "bad" | "good" | "dim";
}

// SGR of each style: inverse video for the header, red, green, faint.
const SGR: Record<NonNullable<FrameLine["style"]>, string> = { header: "7", bad: "31", good: "32", dim: "2" };

/** The terminal `top` draws on. */
export class Screen {
  private entered = false;
  private readonly exitHook = (): void => this.restoreSync();

  constructor(
    private readonly out: WriteStream,
    private readonly input: ReadStream | null,
    /** Colours, unless NO_COLOR is set. */
    private readonly colour: boolean,
  ) {}

  /** Size of the terminal (80x24 when it does not say). */
  get size(): { columns: number; rows: number } {
    return { columns: this.out.columns || 80, rows: this.out.rows || 24 };
  }

  /** Switches to the alternate screen, hides the cursor and puts the input in raw mode (keys arrive one by one, unechoed). */
  enter(): void {
    if (this.entered) return;
    this.entered = true;
    process.once("exit", this.exitHook);
    this.out.write(ENTER);
    if (this.input?.isTTY) {
      this.input.setRawMode(true);
      this.input.setEncoding("utf8");
      this.input.resume();
    }
  }

  /** Draws `lines` from the top left, each cut to the width, and clears what the last frame left below. */
  draw(lines: readonly FrameLine[]): void {
    const { columns, rows } = this.size;
    let frame = `${CSI}H`;
    for (const line of lines.slice(0, rows)) {
      const text = [...line.text].slice(0, columns).join("");
      const sgr = line.style && this.colour ? SGR[line.style] : undefined;
      frame += (sgr ? `${CSI}${sgr}m${text}${CSI}0m` : text) + `${CSI}K\r\n`;
    }
    // The last line's \r\n would scroll a full screen by one: drop it.
    if (lines.length >= rows) frame = frame.slice(0, -2);
    this.out.write(frame + `${CSI}J`);
  }

  /** Leaves the alternate screen, shows the cursor, ends raw mode; the terminal is as it was before `enter`. */
  restore(): void {
    if (!this.entered) return;
    this.entered = false;
    process.off("exit", this.exitHook);
    if (this.input?.isTTY) {
      this.input.setRawMode(false);
      this.input.pause();
    }
    this.out.write(LEAVE);
  }

  /** At exit nothing asynchronous runs any more: the escape codes are written at once. */
  private restoreSync(): void {
    if (!this.entered) return;
    this.entered = false;
    if (this.input?.isTTY) this.input.setRawMode(false);
    try {
      writeSync((this.out as unknown as { fd: number }).fd, LEAVE);
    } catch {
      // The terminal is gone: there is nothing left to restore.
    }
  }
}
