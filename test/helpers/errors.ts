import assert from "node:assert/strict";
import { AppError } from "../../src/errors.js";

/** For assert.rejects/throws: an AppError with this exit code, and (if given) a matching message and hint. */
export function fails(code: number, message?: RegExp, hint?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.exitCode, code, err.message);
    if (message) assert.match(err.message, message);
    if (hint) assert.match(err.hint ?? "", hint);
    return true;
  };
}
