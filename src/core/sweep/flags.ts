/** Checks of the sweep's flags, shared by `sweep` and `init --sweep-*`: each a UsageError naming the rule. */
import fs from "node:fs/promises";
import path from "node:path";
import { isHttpUrl } from "../../config.js";
import { UsageError } from "../../errors.js";
import { noteUrlSecrets } from "../../secrets.js";

/** `--max-restarts`: a whole number 0-100. */
export function parseMaxRestarts(raw: string): number {
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 100)) throw new UsageError(`--max-restarts "${raw}" must be a whole number from 0 to 100`);
  return n;
}

/** An absolute `.prom` path in an existing, writable directory: node_exporter reads only `*.prom` files. */
export async function checkTextfile(flag: string, raw: string): Promise<string> {
  const file = path.resolve(raw);
  if (!file.endsWith(".prom")) throw new UsageError(`${flag} "${raw}" must end in .prom (node_exporter's textfile collector reads only *.prom)`);
  const dir = path.dirname(file);
  const st = await fs.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`${flag} "${raw}": directory ${dir} does not exist`, `create it (mkdir -p ${dir}), or point ${flag} at node_exporter's textfile directory`);
  if (!(await fs.access(dir, fs.constants.W_OK).then(() => true, () => false))) throw new UsageError(`${flag} "${raw}": directory ${dir} is not writable by this user`);
  return file;
}

/**
 * An http(s) URL; the message does not repeat it, since webhook URLs carry tokens. `user:password@` is
 * accepted (sent as Basic auth); its parts and the query's values are secrets in every output from here on.
 */
export function checkWebhook(flag: string, raw: string): string {
  if (!isHttpUrl(raw)) throw new UsageError(`${flag} must be an http:// or https:// URL (it is not shown, in case it holds a token)`);
  noteUrlSecrets(raw);
  return raw;
}
