/**
 * A profile's `.env` may be a symlink (kept in a dotfiles repository and linked in by hand, stow or
 * home-manager). Writes go to the file it points to, so that the link stays; these say what is wrong when
 * that file is missing, or is one the tool keeps itself.
 */
import { readdirSync, readlinkSync, realpathSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { BadFileError, FileSystemError, fileSystemFault } from "../errors.js";
import { envFile, type Paths } from "../paths.js";
import { shellWord } from "../render/shell.js";

/**
 * A BadFileError when `err` (ENOENT or ELOOP, from opening `file`) came from a symlink at `file` that
 * leads nowhere, else null: "no such file" would send the user looking for a file that is there.
 */
export function brokenSymlink(file: string, err: NodeJS.ErrnoException): BadFileError | null {
  if (err.code !== "ENOENT" && err.code !== "ELOOP") return null;
  let to: string;
  try {
    to = readlinkSync(file);
  } catch {
    return null;
  }
  const why = err.code === "ELOOP" ? "that loops back on itself" : "that leads to no file";
  return new BadFileError(
    file,
    `is a symlink to ${to} ${why}`,
    "create the file it leads to, or put a regular file in the link's place (`profiles remove NAME --purge` removes a profile without reading it)",
  );
}

/** The file a symlink at `file` ends at, or `file` itself when it is none (or there is nothing there). */
export async function symlinkTarget(file: string): Promise<string> {
  const st = await fs.lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw fileSystemFault(err, file, "read") ?? err;
  });
  if (!st?.isSymbolicLink()) return file;
  try {
    return await fs.realpath(file);
  } catch (err) {
    throw brokenSymlink(file, err as NodeJS.ErrnoException) ?? fileSystemFault(err, file, "read") ?? err;
  }
}

/**
 * A write refused at `target`, which the symlink `link` points to. Read-only or not ours (home-manager's
 * store): named as such, with the way out that keeps the link's source. Any other fault (a full disk)
 * keeps its own fix.
 */
export function refusedThroughLink(err: unknown, target: string, link: string): FileSystemError | null {
  const fault = fileSystemFault(err, target);
  if (!fault) return null;
  const hint = ["EROFS", "EACCES", "EPERM"].includes(fault.code)
    ? `change it where it comes from (a dotfiles repository, home-manager), or make ${shellWord(link)} a file of its own: \`${ownCopy(target, link)}\``
    : undefined;
  return new FileSystemError(target, fault.code, "write", { via: link, hint });
}

/** The command that puts a copy of `target` in the place of the link `link`, 0600 (a store's file is 0444). */
function ownCopy(target: string, link: string): string {
  return `install -m 600 ${shellWord(target)} ${shellWord(link)}`;
}

/** `file` with every symlink resolved, or `file` itself when it cannot be (nothing there). */
export function realpathOr(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/**
 * Refuses (BadFileError) a symlinked `.env` of profile `name` that points at a file the tool keeps
 * itself: another profile's `.env`, a generation, anything in its config or state directory. A write
 * through it would change that file too, under this profile's lock only, and a generation would no
 * longer hold the bytes recorded for it.
 */
export async function assertOwnLinkTarget(paths: Paths, name: string): Promise<void> {
  const file = envFile(paths, name);
  const st = await fs.lstat(file).catch(() => null);
  if (!st?.isSymbolicLink()) return;
  const target = await fs.realpath(file).catch(() => null);
  // A link to nothing: the write says so (brokenSymlink).
  if (target === null) return;
  const within = (dir: string): boolean => target === dir || target.startsWith(dir + path.sep);
  const other = otherProfiles(paths, name).find((n) => realpathOr(envFile(paths, n)) === target);
  // What the tool writes itself; a file of the user's own elsewhere in its config directory is fine.
  const ours = [paths.profilesDir, paths.stateDir].map(realpathOr).some(within) || target === realpathOr(paths.configFile);
  if (other === undefined && !ours) return;
  throw new BadFileError(
    file,
    `is a symlink to ${target}, ${other !== undefined ? `the .env of profile "${other}"` : "a file agent-profiles keeps itself"}: a change through it would change that file too; nothing was changed`,
    `make it a file of its own: \`${ownCopy(target, file)}\``,
  );
}

function otherProfiles(paths: Paths, name: string): string[] {
  try {
    return readdirSync(paths.profilesDir).filter((n) => n !== name);
  } catch {
    return [];
  }
}
