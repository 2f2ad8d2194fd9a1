#!/usr/bin/env node
// dist/src/cli.js: `profiles` as earlier versions installed it. The bin is now dist/src/cli.cjs, which node
// starts without its ES module loader (~9 ms of every command: BENCHMARKS.md); the sweep timers that an
// earlier `profiles init` wrote still name this file, so it stays, and runs the same loader.
import { createRequire } from "node:module";

createRequire(import.meta.url)("./cli.cjs");
