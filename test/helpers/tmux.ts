/** A real terminal for integration tests: a tmux server of its own, one session, keys sent and the screen read back. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellWord } from '../../src/render/shell.js';

/** One tmux session running one command, on a server of its own (its own socket), kept after the command exits. */
export class Terminal {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ap-tmux-'));
  private readonly socket = join(this.dir, 'socket');

  /** Runs `argv` in a `columns` x `rows` terminal. */
  constructor(argv: readonly string[], columns = 160, rows = 40) {
    // The pane stays after the command ends, so that its last screen and exit status can still be read.
    const conf = join(this.dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g status off\n');
    this.tmux(['-f', conf, 'new-session', '-d', '-s', 't', '-x', String(columns), '-y', String(rows), argv.map(shellWord).join(' ')]);
  }

  private tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** Keys as tmux names them (`q`, `Enter`, `C-c`), or text with `literal`. */
  send(keys: string, literal = false): void {
    this.tmux(['send-keys', '-t', 't', ...(literal ? ['-l'] : []), keys]);
  }

  /** The screen as it is now, one string per line, trailing blanks cut; with `escapes`, its colours and attributes as escape codes. */
  screen(escapes = false): string {
    return this.tmux(['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 't']);
  }

  /** tmux's view of the pane: `#{alternate_on}`, `#{cursor_flag}`, `#{pane_dead}`, ... */
  format(fmt: string): string {
    return this.tmux(['display-message', '-p', '-t', 't', fmt]).trim();
  }

  /** Reads the screen until `pred` holds for it; fails at the deadline, showing the last screen. */
  async until(pred: (screen: string) => boolean, what: string, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.screen();
      if (pred(s)) return s;
      if (Date.now() > deadline) assert.fail(`${what}: not on the screen within ${ms} ms; it shows:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ends the server and its session, and removes its socket. */
  close(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { timeout: 10_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
