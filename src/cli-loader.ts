#!/usr/bin/env -S node --max-semi-space-size=2 --
// A young generation of 2 MiB instead of node's default (16): a command lives for well under a second, and
// `profiles list` of 200 profiles peaked at ~81 MiB instead of ~71 MiB, in the same time (BENCHMARKS.md).
// `--`: node 20 takes an `--env-file FILE` anywhere on its command line for its own, even after the
// script (nodejs/node#54232): `profiles add NAME --env-file missing.env` ended in "node: missing.env: not
// found", exit 9, before the CLI ran. Node stops looking at `--`.
/**
 * `profiles` as installed: runs the bundled CLI (`cli-main.cjs` beside this file, or `cli-fast.cjs` for the
 * few invocations it knows word for word: cli-fast-args.ts) from a V8 code cache.
 * Compiling the 600 KB bundle was a third of every command's start-up; node 20 has no compile cache of its
 * own (module.enableCompileCache came in 22), so the compiled code is kept in
 * $XDG_CACHE_HOME/agent-profiles/, keyed by the node version and the bundle, and made after the first run
 * of each (once functions run they are compiled, and the cache holds them too). A cache that cannot be
 * read, written or used costs nothing but the compile. With --enable-source-maps (a stack trace naming
 * the TypeScript file and line) it is loaded by require instead: node maps no code that vm.Script compiled.
 */
import fs from "node:fs";
import { createRequire, Module } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { fastInvocation } from "./cli-fast-args.js";
import { packageVersion } from "./package-files.js";
import { printOutput } from "./render/stdout.js";
import { makeDirs } from "./store/make-dirs.js";
import { appCacheDir } from "./xdg.js";

const fast = fastInvocation(process.argv.slice(2)) !== null;
const file = path.join(path.dirname(fileURLToPath(import.meta.url)), fast ? "cli-fast.cjs" : "cli-main.cjs");

// `profiles --version` alone is answered here, from package.json, as yargs would: the bundle is not read.
if (process.argv.length === 3 && process.argv[2] === "--version") writeLine(`${packageVersion()}\n`);
else if (process.sourceMapsEnabled) createRequire(import.meta.url)(file);
else runCached(fast ? "cli-fast" : "cli");

function runCached(cacheName: string): void {
  const bundle = fs.statSync(file);
  let cacheDir: string;
  try {
    cacheDir = appCacheDir(process.env);
  } catch {
    // No home (a uid without a passwd entry and no HOME): the bundle runs uncached and says so itself.
    createRequire(import.meta.url)(file);
    return;
  }
  const cacheFile = path.join(cacheDir, `${cacheName}-${process.version}-${bundle.size}-${Math.trunc(bundle.mtimeMs)}.v8`);
  let cached: Buffer | undefined;
  try {
    cached = fs.readFileSync(cacheFile);
  } catch {
    // No cache yet: compile, and make one at exit.
  }
  const source = fs.readFileSync(file, "utf8").replace(/^#!.*/, "");
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
  if (!cached || script.cachedDataRejected) {
    process.once("exit", () => {
      try {
        makeDirs(cacheDir, 0o700);
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, cacheFile);
      } catch {
        // A read-only or full home: the next run compiles again.
      }
    });
  }
  const mod = new Module(file);
  mod.filename = file;
  (script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, path.dirname(file));
}

/**
 * A line on stdout, written to fd 1 itself: process.stdout on a pipe loads net and the streams first, some
 * 6 ms of a 60 ms `--version` (BENCHMARKS.md). printOutput says when the line was lost (a full disk).
 */
function writeLine(line: string): void {
  void printOutput(line).then((code) => {
    if (code !== null) process.exitCode = code;
  });
}
