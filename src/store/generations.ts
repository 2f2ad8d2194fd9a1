/**
 * Every version of a profile's `.env` that the tool wrote (or found edited by hand) is a numbered
 * generation: generation-files.ts says where they live and how they are read, generation-commit.ts how
 * one is recorded. This is the store's interface to them: `GenerationLog`, which loads index.json once
 * for a caller holding the profile's lock, and one-call functions for everyone else.
 */
import fs from "node:fs/promises";
import { UsageError } from "../errors.js";
import { envFile, type Paths } from "../paths.js";
import { encodeText } from "./bytes.js";
import { commit, entryFor, unrecorded, withPending } from "./generation-commit.js";
import {
  corruptGenerationError, DEFAULT_KEEP, generationFile, generationsDir, keptGeneration, loadIndex, readBytes, readVerified, saveIndex, sha256,
  type CorruptGeneration, type Generation, type Index,
} from "./generation-files.js";

export {
  changedKeys, corruptGenerationError, corruptionText, DEFAULT_KEEP, generationFile, generationsDir, newestIntact, sha256,
  type CorruptGeneration, type Generation,
} from "./generation-files.js";

/** A profile's generations, oldest first, and which one the `.env` holds now. */
export interface History {
  generations: Generation[];
  /** The generation holding the `.env`'s bytes (the newest such); null when none does (edited by hand). */
  current: number | null;
  /** sha256 of the `.env`'s bytes; null when there is no `.env`. */
  fileSha256: string | null;
}

export interface CommitOptions {
  /** Generations to keep (the config's value). */
  keep?: number;
  /** Record a new generation even when the text equals the current one (a rollback is itself undoable). */
  always?: boolean;
}

/**
 * A profile's generations with index.json loaded once and kept current by its own commits: what a
 * transaction holds, under the profile's lock, so that nothing else changes the index meanwhile. A
 * commit that fails drops what was loaded (it may be half changed in memory); the next call reads again.
 */
export class GenerationLog {
  private index: Index | null = null;

  constructor(
    private readonly paths: Paths,
    readonly name: string,
    private readonly keep = DEFAULT_KEEP,
  ) {}

  private async use<T>(fn: (index: Index) => Promise<T>): Promise<T> {
    try {
      return await fn((this.index ??= await loadIndex(this.paths, this.name)));
    } catch (err) {
      this.index = null;
      throw err;
    }
  }

  /** The generations and the one the `.env` holds now. */
  async history(): Promise<History> {
    return this.use(async (index) => {
      const bytes = readBytes(envFile(this.paths, this.name));
      const sha = bytes === null ? null : sha256(bytes);
      const current = index.generations.filter((g) => g.sha256 === sha).at(-1)?.number ?? null;
      return { generations: index.generations, current, fileSha256: sha };
    });
  }

  /** Generation `n`, as index.json lists it; UsageError when it is not kept. */
  async get(n: number): Promise<Generation> {
    return this.use(async (index) => keptGeneration(index, this.name, n));
  }

  /** The exact bytes (as text) of kept generation `n`, verified; UsageError when not kept, BadFileError when corrupt. */
  async text(n: number): Promise<string> {
    return this.use(async (index) => {
      const read = readVerified(this.paths, this.name, keptGeneration(index, this.name, n));
      if ("corrupt" in read) throw corruptGenerationError(this.name, read.corrupt);
      return read.text;
    });
  }

  /**
   * Make `text` the profile's `.env`, keeping generations: the file found on disk is kept first when no
   * generation holds it (edited by hand, or left by an interrupted commit), then `text` becomes a new
   * generation, then the `.env` is replaced; see generation-commit.ts for what a failure leaves.
   * Returns the generation now current.
   */
  async commitText(text: string, reason: string, opts: Pick<CommitOptions, "always"> = {}): Promise<Generation> {
    return this.use(async (index) => {
      const bytes = encodeText(text);
      const onDisk = readBytes(envFile(this.paths, this.name));
      const pending = onDisk !== null && !index.generations.some((g) => g.sha256 === sha256(onDisk)) ? await unrecorded(this.paths, this.name, index, onDisk) : [];
      const latest = withPending(index, pending).generations.at(-1);
      let gen: Generation;
      if (!opts.always && latest && latest.sha256 === sha256(bytes)) {
        gen = latest;
      } else {
        const previous = pending.at(-1) ?? (latest ? { bytes: readBytes(generationFile(this.paths, this.name, latest.number)) ?? Buffer.alloc(0) } : null);
        gen = await entryFor(this.paths, this.name, previous, withPending(index, pending).next, bytes, reason);
        pending.push({ gen, bytes, adopted: false });
      }
      this.index = await commit(this.paths, this.name, index, pending, this.keep, { bytes, before: onDisk });
      return gen;
    });
  }

  /**
   * The generation holding exactly `text` (the `.env`'s bytes, as a caller read them); when none does (the
   * file was edited by hand, or left by an interrupted commit) `text` is kept as one first.
   */
  async adopt(text: string): Promise<Generation> {
    return this.use(async (index) => {
      const sha = sha256(text);
      const gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
      if (gen) return gen;
      const pending = await unrecorded(this.paths, this.name, index, encodeText(text));
      this.index = await commit(this.paths, this.name, index, pending, this.keep);
      return pending.at(-1)!.gen;
    });
  }

  /**
   * Record `bytes`, a `.env` taken over from a unit written by hand, as generation 1 (`imported`) of a
   * profile without history; the `.env` is written only when it does not hold them already (a file the
   * env-path shares with the old unit stays untouched, inode and all).
   */
  async imported(bytes: Buffer): Promise<Generation> {
    return this.use(async (index) => {
      if (index.generations.length > 0) throw new Error(`profile "${this.name}" already has generations: it cannot be imported`);
      const gen = await entryFor(this.paths, this.name, null, index.next, bytes, "imported");
      const onDisk = readBytes(envFile(this.paths, this.name));
      const env = onDisk?.equals(bytes) ? undefined : { bytes, before: onDisk };
      this.index = await commit(this.paths, this.name, index, [{ gen, bytes, adopted: false }], this.keep, env);
      return gen;
    });
  }

  /**
   * Mark the newest generation holding exactly the bytes `sha` as known-good: the profile was healthy
   * with them. Never what the `.env` holds by then, which may have changed since the process started.
   * Null when no kept generation holds them.
   */
  async mark(sha: string): Promise<Generation | null> {
    return this.use(async (index) => {
      const gen = index.generations.filter((g) => g.sha256 === sha).at(-1);
      if (!gen || gen.knownGood) return gen ?? null;
      gen.knownGood = true;
      this.index = await commit(this.paths, this.name, index, [], this.keep);
      return gen;
    });
  }

  /**
   * Drop corrupt generation `n` from the history, its file with it: its bytes are lost. An intact one is
   * refused (UsageError), so history is never edited otherwise.
   */
  async forget(n: number): Promise<CorruptGeneration> {
    return this.use(async (index) => {
      const g = keptGeneration(index, this.name, n);
      const read = readVerified(this.paths, this.name, g);
      if ("text" in read) throw new UsageError(`generation ${n} of "${this.name}" is intact: only a corrupt generation can be forgotten`, `run \`profiles doctor\` to see the corrupt ones`);
      index.generations = index.generations.filter((x) => x !== g);
      await saveIndex(this.paths, this.name, index);
      await fs.rm(read.corrupt.file, { force: true });
      return read.corrupt;
    });
  }

  /** Every generation whose file is missing or does not match its recorded sha256. */
  async corrupt(): Promise<CorruptGeneration[]> {
    return this.use(async (index) =>
      index.generations.flatMap((g) => {
        const read = readVerified(this.paths, this.name, g);
        return "corrupt" in read ? [read.corrupt] : [];
      }),
    );
  }
}

/** The generations of a profile, oldest first, and the number of the one the `.env` holds now (null: none). */
export async function history(paths: Paths, name: string): Promise<History> {
  return new GenerationLog(paths, name).history();
}

/** The exact bytes of a kept generation, verified; UsageError when it is not kept, BadFileError when corrupt. */
export async function readGeneration(paths: Paths, name: string, n: number): Promise<string> {
  return new GenerationLog(paths, name).text(n);
}

/** Every generation of a profile whose file is missing or does not match its recorded sha256. */
export async function corruptGenerations(paths: Paths, name: string): Promise<CorruptGeneration[]> {
  return new GenerationLog(paths, name).corrupt();
}

/** GenerationLog.forget in one call; callers hold the profile's lock. */
export async function forgetGeneration(paths: Paths, name: string, n: number): Promise<CorruptGeneration> {
  return new GenerationLog(paths, name).forget(n);
}

/** GenerationLog.commitText in one call; callers hold the profile's lock. */
export async function commitEnvText(paths: Paths, name: string, text: string, reason: string, opts: CommitOptions = {}): Promise<Generation> {
  return new GenerationLog(paths, name, opts.keep).commitText(text, reason, opts);
}

/** GenerationLog.adopt in one call; callers hold the profile's lock. */
export async function adoptText(paths: Paths, name: string, text: string, keep = DEFAULT_KEEP): Promise<Generation> {
  return new GenerationLog(paths, name, keep).adopt(text);
}

/** GenerationLog.mark in one call; callers hold the profile's lock. */
export async function markKnownGood(paths: Paths, name: string, sha: string, keep = DEFAULT_KEEP): Promise<Generation | null> {
  return new GenerationLog(paths, name, keep).mark(sha);
}

/** The newest known-good generation, optionally only among those numbered below `before`. */
export function lastKnownGood(generations: Generation[], before?: number): Generation | null {
  return generations.filter((g) => g.knownGood && (before === undefined || g.number < before)).at(-1) ?? null;
}

/** Move a removed profile's generations beside its kept `.env` (or delete them with `purge`). */
export async function retireGenerations(paths: Paths, name: string, keptAs: string | null): Promise<void> {
  const dir = generationsDir(paths, name);
  if (keptAs === null) {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  await fs.rename(dir, keptAs.replace(/\.env$/, ".generations")).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
