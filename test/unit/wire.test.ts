/** encodeMethodCall writes every call this adapter sends byte for byte as dbus-next's marshaller does, and leaves it the rest. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Message, Variant } from "dbus-next";
import {
  ADD_MATCH_JOB_REMOVED,
  ADD_MATCH_UNIT_NEW,
  getPropertyCall,
  managerCall,
  PING_MANAGER,
  SERVICE_IFACE,
  UNIT_IFACE,
  unitChangesMatch,
  type MethodCall,
} from "../../src/systemd/methods.js";
import { unitObjectPath } from "../../src/systemd/object-path.js";
import { encodeMethodCall } from "../../src/systemd/wire.js";

// dbus-next's own marshaller of a whole message (what its connection writes), not part of its public API.
const { marshallMessage } = createRequire(import.meta.url)("dbus-next/lib/marshall-compat") as {
  marshallMessage(msg: Message): [Buffer, number[]];
};

function message(call: Pick<MethodCall, "destination" | "path" | "iface" | "member" | "signature" | "body">, serial: number): Message {
  const msg = new Message({ destination: call.destination, path: call.path, interface: call.iface, member: call.member, signature: call.signature, body: call.body });
  msg.serial = serial;
  return msg;
}

function theirs(call: Parameters<typeof message>[0], serial: number): Buffer {
  return marshallMessage(message(call, serial))[0];
}

const unit = "agent-gateway@liam.service";
const odd = "agent-gateway@\u00e9t\u00e9-\u{1f600}x.service"; // multi-byte UTF-8: lengths are bytes, not characters
const calls: MethodCall[] = [
  PING_MANAGER,
  ADD_MATCH_JOB_REMOVED,
  ADD_MATCH_UNIT_NEW,
  unitChangesMatch(unitObjectPath(unit), unit, "AddMatch"),
  unitChangesMatch(unitObjectPath(unit), unit, "RemoveMatch"),
  getPropertyCall(unitObjectPath(unit), UNIT_IFACE, "ActiveState", "Get"),
  getPropertyCall(unitObjectPath(odd), SERVICE_IFACE, "MainPID", "Get"),
  managerCall("Subscribe", []),
  managerCall("Reload", []),
  managerCall("RestartUnit", [unit, "replace"]),
  managerCall("StartUnit", [odd, "fail"]),
  managerCall("ResetFailedUnit", [unit]),
  managerCall("GetUnitFileState", [odd]),
  managerCall("ListUnitsByPatterns", [[], ["agent-gateway@*.service"]]),
  managerCall("ListUnitsByPatterns", [["active", "failed"], [unit, odd, "a", ""]]),
  managerCall("ListUnitFilesByPatterns", [[], []]),
  managerCall("EnableUnitFiles", [[unit, odd], false, true]),
  managerCall("DisableUnitFiles", [[unit], true]),
];

test("every call the adapter makes comes out as dbus-next writes it, at small and large serials", () => {
  for (const call of calls) {
    for (const serial of [1, 7, 300, 65_537, 0xffff_ffff]) {
      const ours = encodeMethodCall(message(call, serial));
      assert.ok(ours !== null, `${call.member} ${call.signature} was left to dbus-next`);
      assert.deepEqual(ours.toString("hex"), theirs(call, serial).toString("hex"), `${call.member} (${call.signature}) at serial ${serial}`);
    }
  }
});

test("other shapes of call are left to dbus-next (null): other types, a body that does not match, a NUL in a string", () => {
  const base = { destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1", iface: "org.freedesktop.systemd1.Manager", member: "X" };
  const refused: [string, unknown[]][] = [
    ["v", [new Variant("s", "x")]],
    ["a(sv)", [[]]],
    ["i", [1]],
    ["t", [1]],
    ["ss", ["only one"]],
    ["s", [42]],
    ["as", [["a", 1]]],
    ["b", ["true"]],
    ["u", [-1]],
    ["u", [2 ** 32]],
    ["s", ["a\0b"]],
    ["g", ["s".repeat(256)]],
    ["g", ["\u00e9"]],
  ];
  for (const [signature, body] of refused) {
    const msg = new Message({ ...base, interface: base.iface, signature });
    msg.body = body;
    msg.serial = 5;
    assert.equal(encodeMethodCall(msg), null, `${signature} ${JSON.stringify(body)}`);
  }
  const unsent = new Message({ ...base, interface: base.iface });
  assert.equal(encodeMethodCall(unsent), null, "a message without a serial");
});

test("booleans and uint32s are written as dbus-next writes them", () => {
  const base = { destination: "org.example", path: "/x", iface: "org.example.I", member: "M" };
  for (const [signature, body] of [
    ["bub", [true, 0xdead_beef, false]],
    ["sbas", ["x", true, ["yy", "zzz"]]],
    ["uo", [0, "/org/freedesktop/systemd1/unit/x"]],
    ["g", ["a(sv)"]],
  ] as [string, unknown[]][]) {
    const call = { ...base, signature, body };
    assert.deepEqual(encodeMethodCall(message(call, 9))?.toString("hex"), theirs(call, 9).toString("hex"), signature);
  }
});
