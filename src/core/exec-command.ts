import fs from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { quoteExecArg } from "../systemd/unit-file.js";

/** Split a command line into words: whitespace separates, '...' and "..." group, backslash escapes. */
export function splitWords(cmd: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < cmd.length) word += cmd[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < cmd.length) {
      word += cmd[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`--exec "${cmd}" has an unclosed ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Resolve a program name to an absolute executable path the way a shell does, through PATH. */
export function resolveProgram(program: string, envPath: string | undefined): string | null {
  if (program.includes("/")) {
    const abs = path.resolve(program);
    return isExecutable(abs) ? abs : null;
  }
  for (const dir of (envPath ?? "").split(":")) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

// Arguments keep systemd's own syntax: %i (the profile) and ${VAR} (from the .env) stay live.
function execWord(word: string): string {
  if (word !== "" && !/[\s"'\\;]/.test(word)) return word;
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * Turn a user's gateway command into an ExecStart= value with an absolute program path, since the
 * manager does not see the shell's PATH. UsageError when the program cannot be found.
 */
export function execStartFor(cmd: string, envPath: string | undefined): string {
  const words = splitWords(cmd);
  const program = words[0];
  if (!program) throw new UsageError("--exec is empty: give the gateway's command, e.g. --exec \"hermes --profile %i gateway run\"");
  const abs = resolveProgram(program, envPath);
  if (!abs) throw new UsageError(`--exec: "${program}" is not an executable file, nor found on PATH`, "give the absolute path of the gateway program");
  return [quoteExecArg(abs), ...words.slice(1).map(execWord)].join(" ");
}

/** ExecStart= for the bundled reference gateway, run by this very node binary. */
export function referenceExecStart(gatewayScript: string, portVar: string, hostVar = "HOST"): string {
  // The gateway's own default host variable is HOST: name it only when it differs.
  const host = hostVar === "HOST" ? [] : ["--host-var", hostVar];
  return [process.execPath, gatewayScript, "--port-var", portVar, ...host].map(quoteExecArg).join(" ");
}
