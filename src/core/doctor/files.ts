/** Check: each profile's directory (0700) and `.env` (0600) belong to the user, with those modes. */
import fs from "node:fs/promises";
import path from "node:path";
import { envFile, profileDir, type Paths } from "../../paths.js";
import { brokenSymlink } from "../../store/symlinks.js";
import { generationFile, loadIndex } from "../../store/generation-files.js";
import { shellWord } from "../../render/shell.js";
import { eachProfile, verdict, type Check, type Problem } from "./types.js";

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`;

/** The problems of one path: owner first, since chmod by its user cannot work on someone else's file. */
async function pathProblems(file: string, want: number, uid: number, user: string): Promise<Problem[]> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    return [{ message: `${file} cannot be read (${(err as NodeJS.ErrnoException).code})`, fix: `sudo chown ${user} ${file}` }];
  }
  const problems: Problem[] = [];
  if (st.uid !== uid) problems.push({ message: `${file} belongs to uid ${st.uid}, not ${user} (uid ${uid})`, fix: `sudo chown ${user} ${file}` });
  if ((st.mode & 0o777) !== want) {
    problems.push({ message: `${file} has mode ${octal(st.mode)}, want ${octal(want)}`, fix: `chmod ${(want & 0o777).toString(8)} ${file}` });
  }
  return problems;
}

/**
 * A `.env` that is a symlink to nothing (a dotfiles repository moved): the `cp` of its newest generation
 * to where the link points, which brings the profile back as it was last written.
 */
async function brokenEnvLink(paths: Paths, name: string): Promise<Problem[] | null> {
  const file = envFile(paths, name);
  const err = await fs.stat(file).then(() => null, (e: NodeJS.ErrnoException) => e);
  const broken = err && brokenSymlink(file, err);
  if (!broken) return null;
  const newest = (await loadIndex(paths, name).catch(() => null))?.generations.at(-1);
  const target = path.resolve(path.dirname(file), await fs.readlink(file));
  const fix = newest ? `cp ${shellWord(generationFile(paths, name, newest.number))} ${shellWord(target)}` : broken.hint!;
  return [{ message: broken.message, fix }];
}

export const filesCheck: Check = {
  id: "files",
  title: "profile directories 0700 and .env files 0600, owned by you",
  needs: [],
  async run(f) {
    const listing = f.profilesError ? [{ message: f.profilesError, fix: `sudo chown -R ${f.user} ${f.ctx.paths.profilesDir}` }] : [];
    const problems = await eachProfile(f, async (name) => [
      ...(await pathProblems(profileDir(f.ctx.paths, name), 0o700, f.uid, f.user)),
      ...((await brokenEnvLink(f.ctx.paths, name)) ?? (await pathProblems(envFile(f.ctx.paths, name), 0o600, f.uid, f.user))),
    ]);
    return verdict([...listing, ...problems], f.profiles.length === 0 ? "no profiles yet" : `${f.profiles.length} profile(s), owners and modes right`);
  },
};
