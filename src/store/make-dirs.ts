/**
 * `mkdir -p` without node's own recursive mkdir, which loops forever, a core at 100 %, where mkdir(2) says
 * ENOENT under a parent that exists: /proc and /sys (`XDG_CACHE_HOME=/proc` spun after every command's
 * output). It also reports mkdir(2)'s own error, where node's said ENOENT for an EROFS.
 */
import fs from "node:fs";
import path from "node:path";

/** Make `dir` and its missing parents, each with `mode` (narrowed by the umask, as mkdir(2) does). */
export function makeDirs(dir: string, mode: number): void {
  const missing: string[] = [];
  // stat's ENOTDIR (a file on the way) is thrown as it is: the real reason, naming the path.
  for (let d = path.resolve(dir); !fs.statSync(d, { throwIfNoEntry: false }); d = path.dirname(d)) {
    missing.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      // Another process made it between our stat and our mkdir.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
