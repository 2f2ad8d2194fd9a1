// Bundles the two programs npm installs (the CLI and the reference gateway) over what tsc emitted, so
// that each starts by reading one file instead of resolving some 150 modules: `npm run bench`
// measured what this bought (BENCHMARKS.md). tsc still type-checks and emits every other module,
// which the unit tests import one by one.
import { chmodSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// cliui's ES module entry wraps help text at the column, cutting words in two ("r\neload"); its
// CommonJS build (what require() gets) wraps between words with wrap-ansi. yargs is its only importer.
const cliuiCommonJs = {
  name: "cliui-commonjs",
  setup(b) {
    const file = createRequire(import.meta.url).resolve("cliui");
    b.onResolve({ filter: /^cliui$/ }, () => ({ path: file }));
  },
};

// dbus-next's introspection (xml2js, with xmlbuilder and sax) is never used by the adapter: see
// src/systemd/no-introspection.ts, which the CLI's bundles take in its place.
const noIntrospection = {
  name: "no-introspection",
  setup(b) {
    b.onResolve({ filter: /^xml2js$/ }, () => ({ path: fileURLToPath(new URL("../src/systemd/no-introspection.ts", import.meta.url)) }));
  },
};

// pino is loaded only when a line is logged (src/log.ts requires ./pino.cjs beside it): bundled on its
// own, so that a quiet run never reads it and an install needs no copy of pino's dependencies.
await build({
  entryPoints: [createRequire(import.meta.url).resolve("pino")],
  outfile: "dist/src/pino.cjs",
  bundle: true,
  minify: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
});

// The CLI is bundled as CommonJS, which `vm.Script` compiles with a code cache (src/cli-loader.ts, bundled
// as dist/src/cli.cjs, runs it); the gateway stays an ES module. A bundled ES module has no `require` for the
// CommonJS dependencies' own require() calls, and CommonJS no import.meta.url: each gets the other's.
const cliBundle = { format: "cjs", define: { "import.meta.url": "__bundleUrl" }, banner: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;', cli: true };
const entries = [
  { in: "src/cli.ts", out: "dist/src/cli-main.cjs", ...cliBundle },
  // `profiles list [--json]` without yargs and the other verbs (src/cli-fast.ts).
  { in: "src/cli-fast.ts", out: "dist/src/cli-fast.cjs", ...cliBundle },
  // The `profiles` bin: CommonJS, so that node starts it without its ES module loader.
  { in: "src/cli-loader.ts", out: "dist/src/cli.cjs", ...cliBundle, cli: false, sourcemap: false },
  { in: "src/cli-esm.ts", out: "dist/src/cli.js", format: "esm", sourcemap: false },
  { in: "src/gateway/main.ts", out: "dist/src/gateway/main.js", format: "esm", banner: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
  // The integration tests' D-Bus driver runs from the staged app, which holds only what an install has.
  { in: "test/fixtures/adapter-driver.ts", out: "dist/test/fixtures/adapter-driver.js", format: "esm", sourcemap: false, banner: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
];

for (const entry of entries) {
  await build({
    entryPoints: [entry.in],
    outfile: entry.out,
    bundle: true,
    minify: true,
    platform: "node",
    format: entry.format,
    target: "node20",
    sourcemap: entry.sourcemap ?? "linked",
    // Positions only: a stack trace names the TypeScript file and line; the sources stay out of the package.
    sourcesContent: false,
    define: entry.define ?? {},
    banner: entry.banner ? { js: entry.banner } : {},
    // node-unix-socket is a native addon, and dbus-next's optional X11 transport is never used.
    external: ["node-unix-socket", "x11"],
    plugins: entry.cli ? [cliuiCommonJs, noIntrospection] : [cliuiCommonJs],
    logLevel: "warning",
  });
  // Run through their #! lines as npm's bin links run them (npm sets the same mode when it installs).
  chmodSync(entry.out, 0o755);
}
