/**
 * `mkdir -p` without node's own recursive mkdir, which loops forever, a core at 100 %, where mkdir(2) says
 * ENOENT under a parent that exists: /proc and /sys (`XDG_CACHE_HOME=/proc` spun after every command's
 * output). It also reports mkdir(2)'s own error, where node's said ENOENT for an EROFS.
 */
import fs from "node:fs";
import path from "node:path";

/**
 * Make `dir` and its missing parents, each with `mode` (narrowed by the umask, as mkdir(2) does). A file
 * where a directory belongs, `dir` itself included, is mkdir(2)'s ENOTDIR naming it.
 */
export function makeDirs(dir: string, mode: number): void {
  const missing: string[] = [];
  // stat's ENOTDIR (a file on the way) is thrown as it is: the real reason, naming the path.
  let existing = path.resolve(dir);
  // Ends at "/" at the latest, which is always there.
  for (; !fs.statSync(existing, { throwIfNoEntry: false }); existing = path.dirname(existing)) missing.unshift(existing);
  assertDirectory(existing);
  for (const m of missing) {
    try {
      fs.mkdirSync(m, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // Made between our stat and our mkdir: by another process, or a file put there.
      assertDirectory(m);
    }
  }
}

function assertDirectory(d: string): void {
  if (!fs.statSync(d).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${d}'`), { code: "ENOTDIR", syscall: "mkdir", path: d });
}
