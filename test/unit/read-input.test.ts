// Input a user names is read whole but bounded, and reaches the CLI, not node: `--env-file` is node's own
// option too, which node 20 took even after the script.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readManifestText } from "../../src/core/manifest/parse.js";
import { ExitCode, UsageError } from "../../src/errors.js";
import { INPUT_LIMIT, readInput, readProblem, readStreamInput } from "../../src/store/read-input.js";

const CLI = fileURLToPath(new URL("../../src/cli.cjs", import.meta.url));

/** The bin run as a shell runs it, through its `#!` line, in an empty home: exit code and stderr. */
function bin(args: string[], home: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CLI, args, { env: { PATH: process.env.PATH, HOME: home }, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr });
    });
  });
}

test("readInput: a file whole; /dev/zero refused (EFBIG) once past the limit, not read on", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ap-input-"));
  try {
    const file = path.join(dir, "a.env");
    const exactly = Buffer.alloc(INPUT_LIMIT, "x");
    await fs.writeFile(file, exactly);
    assert.ok(readInput(file).equals(exactly), "a file of exactly the limit is read whole");
    await fs.appendFile(file, "x");
    for (const f of [file, "/dev/zero"]) {
      assert.throws(() => readInput(f), (err: NodeJS.ErrnoException) => err.code === "EFBIG" && /reads of any input/.test(readProblem(err)), f);
    }
    assert.throws(() => readInput(path.join(dir, "missing")), (err) => readProblem(err) === "cannot be read (ENOENT)");
    async function* zeros() {
      for (;;) yield Buffer.alloc(65536);
    }
    assert.throws(() => readManifestText("/dev/zero"), (err) => err instanceof UsageError && /^the manifest \/dev\/zero is over the 8 MiB that profiles reads of any input/.test(err.message));
    await assert.rejects(readStreamInput(zeros(), "standard input"), (err: NodeJS.ErrnoException) => err.code === "EFBIG" && /^standard input is over the 8 MiB that profiles reads of any input$/.test(err.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test("the bin: --env-file reaches the CLI, never node (which exited 9: 'node: FILE: not found'); /dev/zero anywhere a file is named is exit 2", async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "ap-input-home-"));
  try {
    const missing = path.join(home, "missing.env");
    for (const flag of [["--env-file", missing], [`--env-file=${missing}`]]) {
      const r = await bin(["add", "liam", ...flag], home);
      assert.equal(r.code, ExitCode.usage, r.stderr);
      assert.match(r.stderr, new RegExp(`^profiles: --env-file ${missing} cannot be read \\(ENOENT\\)`));
    }
    for (const args of [["add", "liam", "--env-file", "/dev/zero"], ["list", "--hosts-file", "/dev/zero"]]) {
      const r = await bin(args, home);
      assert.equal(r.code, ExitCode.usage, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /\/dev\/zero is over the 8 MiB that profiles reads of any input/, args.join(" "));
    }
    // Only the loader's code cache (~/.cache), no state of a profile.
    assert.deepEqual(await fs.readdir(home), [".cache"]);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("readInput: input that comes a few bytes a write costs what it holds, not a read buffer per write", async () => {
  // The writer sends "A=1\n" one write at a time; the reader, another process, reads standard input
  // until it is refused, then says how large it grew. Each 4-byte read once kept a 64 KiB buffer alive.
  const reader = `import { readInput } from ${JSON.stringify(new URL("../../src/store/read-input.js", import.meta.url).href)};
try { readInput(0); } catch (e) { process.stdout.write(JSON.stringify({ code: e.code, maxRssKiB: process.resourceUsage().maxRSS })); }`;
  const writer = `const fs = require("node:fs"); const b = Buffer.from("A=1\\\\n"); try { for (;;) fs.writeSync(1, b); } catch {}`;
  const out = await new Promise<string>((resolve, reject) => {
    execFile("sh", ["-c", `${process.execPath} -e '${writer}' | ${process.execPath} --input-type=module -e '${reader}'`], { timeout: 120_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  const r = JSON.parse(out) as { code: string; maxRssKiB: number };
  assert.equal(r.code, "EFBIG");
  assert.ok(r.maxRssKiB < 150 * 1024, `the reader grew to ${Math.round(r.maxRssKiB / 1024)} MiB to hold 8 MiB`);
});
