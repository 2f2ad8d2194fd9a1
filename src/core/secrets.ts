/**
 * The one rule for which `.env` values are secrets, shared by every command that prints values
 * (`env`, `diff`, `roll`, `sweep`, ...): a secret's value is printed only by `env --show-secrets`.
 */
import type { EnvEntries } from "../store/envfile.js";

// Substrings, case-insensitive: API_KEY, GITHUB_TOKEN, client_secret, DB_PASSWORD, ...
const SECRET_KEY_RE = /KEY|TOKEN|SECRET|PASSWORD/i;

/** What a masked value prints as: fixed, so that not even its length shows. */
export const MASK = "********";

/** Whether the key's value is a secret (its name holds KEY, TOKEN, SECRET or PASSWORD, any case). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

/** The value as it may be printed: MASK for a non-empty secret, the value itself otherwise. */
export function maskValue(key: string, value: string): string {
  // An empty secret reveals nothing, and "API_KEY is empty" is exactly what a reader needs to see.
  return isSecretKey(key) && value !== "" ? MASK : value;
}

/** A copy of `entries`, in the same order, with secret values masked. */
export function maskEntries(entries: EnvEntries): EnvEntries {
  return new Map([...entries].map(([k, v]) => [k, maskValue(k, v)]));
}
