import { test } from "node:test";
import assert from "node:assert/strict";
import { unitObjectPath } from "../../src/systemd/object-path.js";

test("unitObjectPath spells object paths as systemd does", () => {
  // Paths as the manager reports them (busctl tree org.freedesktop.systemd1).
  assert.equal(unitObjectPath("dbus.service"), "/org/freedesktop/systemd1/unit/dbus_2eservice");
  assert.equal(unitObjectPath("getty@tty1.service"), "/org/freedesktop/systemd1/unit/getty_40tty1_2eservice");
  assert.equal(unitObjectPath("agent-gateway@liam.service"), "/org/freedesktop/systemd1/unit/agent_2dgateway_40liam_2eservice");
  assert.equal(unitObjectPath("agent-gateway@p007.service"), "/org/freedesktop/systemd1/unit/agent_2dgateway_40p007_2eservice");
  // A leading digit is escaped, later ones are not; bytes of UTF-8 are escaped one by one.
  assert.equal(unitObjectPath("1a2.service"), "/org/freedesktop/systemd1/unit/_31a2_2eservice");
  assert.equal(unitObjectPath("é.service"), "/org/freedesktop/systemd1/unit/_c3_a9_2eservice");
  assert.equal(unitObjectPath(""), "/org/freedesktop/systemd1/unit/_");
});
