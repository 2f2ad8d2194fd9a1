/** Check: every kept generation's file holds the bytes its index.json records (a corrupt one is never restored). */
import { readFileSync } from "node:fs";
import { AppError } from "../../errors.js";
import { envFile, type Paths } from "../../paths.js";
import { corruptGenerations, corruptionText, generationFile, history, sha256, type CorruptGeneration, type Generation } from "../../store/generations.js";
import { eachProfile, verdict, type Check } from "./types.js";

function fileSha256(file: string): string | null {
  try {
    return sha256(readFileSync(file));
  } catch {
    return null;
  }
}

/** Copy the bytes back from the `.env` or an intact generation holding them; else forget it, they are lost. */
function fixFor(paths: Paths, name: string, c: CorruptGeneration, generations: Generation[], corrupt: CorruptGeneration[]): string {
  if (fileSha256(envFile(paths, name)) === c.expected) return `cp ${envFile(paths, name)} ${c.file}`;
  const twin = generations.find((g) => g.sha256 === c.expected && !corrupt.some((x) => x.number === g.number));
  if (twin) return `cp ${generationFile(paths, name, twin.number)} ${c.file}`;
  return `profiles history ${name} --forget ${c.number}`;
}

export const generationsCheck: Check = {
  id: "generations",
  title: "generations hold the bytes their index.json records",
  needs: [],
  async run(f) {
    let kept = 0;
    const problems = await eachProfile(f, async (name) => {
      try {
        const { generations } = await history(f.ctx.paths, name);
        const corrupt = await corruptGenerations(f.ctx.paths, name);
        kept += generations.length;
        return corrupt.map((c) => ({ message: `${name}: ${corruptionText(c)}`, fix: fixFor(f.ctx.paths, name, c, generations, corrupt) }));
      } catch (err) {
        // A broken index.json of one profile must not hide the others.
        if (!(err instanceof AppError)) throw err;
        return [{ message: err.message, fix: err.hint ?? `profiles history ${name}` }];
      }
    });
    return verdict(problems, `${kept} generation(s) of ${f.profiles.length} profile(s), all intact`);
  },
};
