import { test } from "node:test";
import assert from "node:assert/strict";
import { journalLine, lineFormatter, parseSince } from "../../src/core/logs/merged.js";
import { AppError, ExitCode } from "../../src/errors.js";
import { noteSecret } from "../../src/secrets.js";

test("parseSince: 10m, 2h, 1d ago; a date and time; anything else exit 2 naming the flag", () => {
  const now = Date.parse("2026-11-30T12:00:00Z");
  assert.equal(parseSince("10m", now).toISOString(), "2026-11-30T11:50:00.000Z");
  assert.equal(parseSince("2h", now).toISOString(), "2026-11-30T10:00:00.000Z");
  assert.equal(parseSince("1d", now).toISOString(), "2026-11-29T12:00:00.000Z");
  assert.equal(parseSince("2026-11-30T11:00:00Z").toISOString(), "2026-11-30T11:00:00.000Z");
  // journalctl refuses a time before 1970: such a time asks for all of the journal.
  assert.equal(parseSince("0001-01-01").getTime(), 0);
  assert.equal(parseSince("30000d", now).getTime(), 0);
  assert.equal(parseSince("2026-11-30 11:00Z").toISOString(), "2026-11-30T11:00:00.000Z");
  assert.throws(() => parseSince("soon"), (e: AppError) => e.exitCode === ExitCode.usage && /--since "soon" is not a time/.test(e.message));
});

test("journalLine: the gateway's lines and the manager's about the unit are the profile's; others are left out", () => {
  const own = journalLine(JSON.stringify({ _SYSTEMD_USER_UNIT: "agent-gateway@liam.service", __REALTIME_TIMESTAMP: "1796040000000000", MESSAGE: "hello" }));
  assert.deepEqual(own, { profile: "liam", time: "2026-11-30T12:00:00.000Z", stream: null, message: "hello" });
  const manager = journalLine(JSON.stringify({ _SYSTEMD_USER_UNIT: "init.scope", USER_UNIT: "agent-gateway@ops.service", MESSAGE: "Started" }));
  assert.equal(manager?.profile, "ops");
  assert.equal(journalLine(JSON.stringify({ _SYSTEMD_USER_UNIT: "other.service", MESSAGE: "x" })), null);
  assert.equal(journalLine("not json"), null);
  // A line journald read after the gateway was gone: no unit, only the template's SYSLOG_IDENTIFIER.
  assert.equal(journalLine(JSON.stringify({ SYSLOG_IDENTIFIER: "agent-gateway@late", _PID: "42", MESSAGE: "bye" }))?.profile, "late");
  assert.equal(journalLine(JSON.stringify({ SYSLOG_IDENTIFIER: "node", MESSAGE: "x" })), null);
  // Another process naming itself as a profile's gateway (`systemd-cat -t agent-gateway@late` in a unit, or
  // `logger -t` in a login session, which has a cgroup and no user unit) is not that gateway.
  assert.equal(journalLine(JSON.stringify({ SYSLOG_IDENTIFIER: "agent-gateway@late", _SYSTEMD_USER_UNIT: "app-other.service", _SYSTEMD_CGROUP: "/user.slice/x", MESSAGE: "forged" })), null);
  assert.equal(journalLine(JSON.stringify({ SYSLOG_IDENTIFIER: "agent-gateway@late", _SYSTEMD_UNIT: "session-3.scope", _SYSTEMD_CGROUP: "/user.slice/user-1000.slice/session-3.scope", MESSAGE: "forged" })), null);
  // A crash of the gateway, as systemd-coredump reports it (logged by a system process, the unit named in a field).
  // systemd-coredump writes as the crashed process's user (its _UID), from its own system unit.
  assert.equal(journalLine(JSON.stringify({ COREDUMP_USER_UNIT: "agent-gateway@late.service", _UID: "1000", _SYSTEMD_UNIT: "systemd-coredump@0-950-0.service", MESSAGE: "Process 42 (node) dumped core." }))?.profile, "late");
  // The unit fields that are no journald's own ("_"), sent by another process of the user (`logger --journald`
  // in a unit of its own, as checked against journald): not the manager's, not root's, not the profile's.
  const forger = { _UID: "1000", _SYSTEMD_USER_UNIT: "forger.service", _SYSTEMD_CGROUP: "/user.slice/x/forger.service", MESSAGE: "forged" };
  for (const field of ["USER_UNIT", "COREDUMP_USER_UNIT", "OBJECT_SYSTEMD_USER_UNIT"]) {
    assert.equal(journalLine(JSON.stringify({ ...forger, [field]: "agent-gateway@late.service" })), null, field);
  }
  assert.equal(journalLine(JSON.stringify({ _UID: "0", _SYSTEMD_UNIT: "x.service", OBJECT_SYSTEMD_USER_UNIT: "agent-gateway@late.service", MESSAGE: "about it" }))?.profile, "late");
  assert.equal(journalLine(JSON.stringify({ SYSLOG_IDENTIFIER: "agent-gateway@late", _SYSTEMD_USER_UNIT: "agent-gateway@other.service", MESSAGE: "x" }))?.profile, "other");
  // A message that is not UTF-8 comes as bytes.
  assert.equal(journalLine(JSON.stringify({ _SYSTEMD_USER_UNIT: "agent-gateway@a.service", MESSAGE: [104, 105] }))?.message, "hi");
});

test("lineFormatter: names padded, coloured only when asked, JSON one object per line; secrets masked either way", () => {
  noteSecret("tok-9f8e7d6c5b4a");
  const line = { profile: "a", time: null, stream: null, message: "key tok-9f8e7d6c5b4a \x1b[2J" };
  const text = lineFormatter(["a", "long"], false, false)(line);
  assert.equal(text.startsWith("a    | key "), true, text);
  assert.doesNotMatch(text, /tok-9f8e7d6c5b4a|\x1b/);
  assert.match(lineFormatter(["a", "long"], false, true)(line), /^\x1b\[36ma   \x1b\[0m \| /);
  const json = lineFormatter(["a"], true, true)(line);
  assert.equal(json.endsWith("\n") && !json.slice(0, -1).includes("\n"), true);
  const parsed = JSON.parse(json) as { profile: string; message: string };
  assert.equal(parsed.profile, "a");
  assert.doesNotMatch(parsed.message, /tok-9f8e7d6c5b4a/);
});
