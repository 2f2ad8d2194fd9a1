import { test } from "node:test";
import assert from "node:assert/strict";
import { DBusError } from "dbus-next";
import { ExitCode, ManagerUnreachableError, SystemdError } from "../../src/errors.js";
import { BusError, translateBusError } from "../../src/systemd/bus-errors.js";

const context = { address: "unix:path=/run/user/1000/bus", action: "RestartUnit agent-gateway@liam.service" };

test("bus errors by name: a manager going away is unreachable (exit 10), a refusal is a systemd error (exit 11)", () => {
  for (const name of [BusError.ShuttingDown, BusError.NoReply, BusError.Disconnected, BusError.ServiceUnknown]) {
    const err = translateBusError(new DBusError(name, "text"), context);
    assert.ok(err instanceof ManagerUnreachableError, name);
    assert.equal(err.exitCode, ExitCode.managerUnreachable, name);
    assert.match(err.message, /RestartUnit agent-gateway@liam\.service: text/);
  }
  for (const name of [BusError.UnitMasked, BusError.TransactionIsDestructive, "org.freedesktop.systemd1.JobTypeNotApplicable"]) {
    const err = translateBusError(new DBusError(name, "text"), context);
    assert.ok(err instanceof SystemdError, name);
    assert.equal(err.exitCode, ExitCode.systemd, name);
    assert.equal(err.busName, name);
  }
});
