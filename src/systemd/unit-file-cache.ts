/**
 * GetUnitFileState answers for a template's instances, kept in a file between runs while the unit
 * directories they follow from are unchanged. The manager computes each answer from the files on disk
 * (the unit's file and its template, masks, and the symlinks in `*.wants/` and the like, in every
 * directory of its search path), and that costs it ~2 ms per unit, one unit after the other: `list` of
 * 200 profiles spent 400 of its 740 ms waiting on them (BENCHMARKS.md). The property UnitFileState is no
 * way out: it is cached in the manager and may be stale.
 *
 * An answer is reused only while the manager's version and every directory of its search path, each
 * `.wants`, `.requires` and `.upholds` directory in them, each file named like the template's units, and
 * each drop-in directory that applies to them with its `.conf` files (whose `[Install]` lines count too)
 * are as they were when it was asked (device, inode, mtime, ctime, size): enabling, disabling or masking
 * adds or removes a name in one of those directories, which changes its mtime, and an edit changes the
 * file.
 * Like git's "racily clean" index, nothing is reused or kept while any of them changed within the last
 * RACY_MS: a change in the same tick of the file system's clock would leave its mtime as it was.
 */
import fs from "node:fs";
import path from "node:path";
import { literal, object, record, string, type output } from "../schema.js";
import { makeDirs } from "../store/make-dirs.js";

/** A change this recent may share its mtime with a later one: answers are neither reused nor kept. */
export const RACY_MS = 2_000;

const cacheSchema = object({
  version: literal(1),
  fingerprint: string(),
  states: record(string(), string()),
});
type CacheFile = output<typeof cacheSchema>;

/** Every state GetUnitFileState answers (systemd's unit_file_state_table, and ours for an unknown unit): a kept file with another is no cache. */
const STATES = new Set([
  "enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "masked", "masked-runtime", "static", "disabled", "indirect", "generated", "transient", "bad",
  "not-found",
]);

/** What the cache asks of the manager. */
export interface UnitFileSource {
  /** The manager's UnitPath: the directories it looks for unit files in. */
  unitPath(): Promise<string[]>;
  /** The manager's Version: another systemd may decide otherwise from the same files. */
  version(): Promise<string>;
  /** GetUnitFileState of one unit. */
  unitFileState(unit: string): Promise<string>;
}

/** The file-system facts the answers follow from, as text to compare, and the newest time among them. */
export interface Fingerprint {
  text: string;
  newestMs: number;
}

const LINK_DIR = /\.(wants|requires|upholds)$/;

/**
 * Whether drop-in directory `name` (`X.d`) applies to a service whose name starts with `prefix`: one of
 * its own (`agent-gateway@liam.service.d`, the template's `agent-gateway@.service.d`), a prefix's up to a
 * dash (`agent-.service.d`), or every service's (`service.d`).
 */
function dropInFor(name: string, prefix: string): boolean {
  if (name === "service.d") return true;
  if (!name.endsWith(".service.d")) return false;
  const unit = name.slice(0, -".service.d".length);
  return unit.startsWith(prefix) || (unit.endsWith("-") && prefix.startsWith(unit));
}

/** The fingerprint of `dirs` for services whose names start with `prefix`, under manager `version`. */
export function fingerprint(dirs: readonly string[], prefix: string, version = ""): Fingerprint {
  const lines: string[] = [`version\t${version}`];
  let newestMs = 0;
  const note = (p: string): void => {
    try {
      const st = fs.statSync(p, { bigint: true });
      lines.push(`${p}\t${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}:${st.size}`);
      newestMs = Math.max(newestMs, Number(st.mtimeNs / 1_000_000n), Number(st.ctimeNs / 1_000_000n));
    } catch (err) {
      lines.push(`${p}\t${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
    }
  };
  for (const dir of dirs) {
    note(dir);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (LINK_DIR.test(name) || (name.startsWith(prefix) && !name.endsWith(".d"))) note(path.join(dir, name));
      else if (dropInFor(name, prefix)) {
        const dropIns = path.join(dir, name);
        note(dropIns);
        let confs: string[] = [];
        try {
          confs = fs.readdirSync(dropIns).filter((c) => c.endsWith(".conf"));
        } catch {
          // Noted above as what it is (a file, unreadable).
        }
        for (const conf of confs.sort()) note(path.join(dropIns, conf));
      }
    }
  }
  return { text: lines.join("\n"), newestMs };
}

/** GetUnitFileState of the units named `prefix...`, from `file` while their fingerprint holds; other units are asked each time. */
export class UnitFileStateCache {
  /** UnitPath and Version, asked once per process (they change only with the manager); forgotten when the asking failed. */
  private manager: Promise<[string[], string]> | undefined;

  constructor(
    private readonly source: UnitFileSource,
    private readonly file: string | undefined,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async states(units: readonly string[]): Promise<string[]> {
    const ours = units.filter((u) => u.startsWith(this.prefix));
    if (this.file === undefined || ours.length === 0) return Promise.all(units.map((u) => this.source.unitFileState(u)));
    // Taken before the manager is asked: a change after this makes the next fingerprint differ.
    this.manager ??= Promise.all([this.source.unitPath(), this.source.version()]).catch((err: unknown) => {
      this.manager = undefined;
      throw err;
    });
    const [dirs, version] = await this.manager;
    const fp = fingerprint(dirs, this.prefix, version);
    const age = this.now() - fp.newestMs;
    // A time ahead of the clock (it was set back) is as untrustworthy as a recent one.
    const settled = age >= RACY_MS;
    const kept = settled ? this.read(fp.text) : {};
    const asked: Record<string, string> = {};
    const states = await Promise.all(
      units.map(async (u) => {
        const known = u.startsWith(this.prefix) ? kept[u] : undefined;
        if (known !== undefined) return known;
        const state = await this.source.unitFileState(u);
        if (u.startsWith(this.prefix)) asked[u] = state;
        return state;
      }),
    );
    if (settled && Object.keys(asked).length > 0) this.write({ version: 1, fingerprint: fp.text, states: { ...kept, ...asked } });
    return states;
  }

  /**
   * The kept answers when they were asked under `fingerprint`, else none: a missing or garbled file, one
   * with a state the manager does not answer, or one in a directory that others may write is no cache.
   */
  private read(fingerprint: string): Record<string, string> {
    try {
      if (!this.ownDirectory()) return {};
      const parsed = cacheSchema.safeParse(JSON.parse(fs.readFileSync(this.file!, "utf8")));
      if (!parsed.success || parsed.data.fingerprint !== fingerprint) return {};
      return Object.values(parsed.data.states).every((v) => STATES.has(v)) ? parsed.data.states : {};
    } catch {
      return {};
    }
  }

  /** The cache's directory is a directory of this user that no one else may write (not so in a shared $XDG_CACHE_HOME). */
  private ownDirectory(): boolean {
    const st = fs.lstatSync(path.dirname(this.file!));
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  }

  /** Replaces the file at once (a reader sees the old or the new one); a cache that cannot be written is no error. */
  private write(content: CacheFile): void {
    const file = this.file!;
    // Not a name another process could have made first: "wx" refuses one that exists, or a symlink.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      makeDirs(path.dirname(file), 0o700);
      if (!this.ownDirectory()) return;
      fs.writeFileSync(tmp, JSON.stringify(content), { mode: 0o600, flag: "wx" });
      fs.renameSync(tmp, file);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // Its directory cannot be made or read: there is no file to remove either.
      }
    }
  }
}
