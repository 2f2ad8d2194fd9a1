/** What this adapter calls on the bus: names, paths and interfaces, and the manager's methods with their signatures. */

export const SYSTEMD_NAME = "org.freedesktop.systemd1";
export const MANAGER_PATH = "/org/freedesktop/systemd1";
export const MANAGER_IFACE = "org.freedesktop.systemd1.Manager";
export const UNIT_IFACE = "org.freedesktop.systemd1.Unit";
export const SERVICE_IFACE = "org.freedesktop.systemd1.Service";
export const PROPERTIES_IFACE = "org.freedesktop.DBus.Properties";
const PEER_IFACE = "org.freedesktop.DBus.Peer";
const DBUS_NAME = "org.freedesktop.DBus";
const DBUS_PATH = "/org/freedesktop/DBus";
const DBUS_IFACE = "org.freedesktop.DBus";
const JOB_REMOVED_MATCH =
  `type='signal',sender='${SYSTEMD_NAME}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;

/** One method call, and what it does in words for error messages (`StartUnit agent-gateway@liam.service`). */
export interface MethodCall {
  destination: string;
  path: string;
  iface: string;
  member: string;
  signature: string;
  body: unknown[];
  action: string;
}

/** What the job tracker and the unit-state reader need of a connection; tests fake it. */
export interface BusCaller {
  /** The bus address, for ManagerUnreachableError. */
  readonly address: string;
  /** Sends `call` and resolves with the reply's body; rejects with a domain error (bus-errors.ts). */
  call(call: MethodCall): Promise<unknown[]>;
}

/** The Manager methods this adapter calls, with their D-Bus signatures. */
const MANAGER_SIGNATURES = {
  StartUnit: "ss",
  StopUnit: "ss",
  RestartUnit: "ss",
  ReloadUnit: "ss",
  EnableUnitFiles: "asbb",
  DisableUnitFiles: "asb",
  Reload: "",
  ResetFailedUnit: "s",
  ListUnitsByPatterns: "asas",
  ListUnitFilesByPatterns: "asas",
  GetUnitFileState: "s",
  Subscribe: "",
} as const;

/** A method of org.freedesktop.systemd1.Manager that this adapter calls. */
export type ManagerMethod = keyof typeof MANAGER_SIGNATURES;

/**
 * The verbs that queue a job, and the Manager method each calls; as systemctl's
 * `{ "restart", "RestartUnit", "restart" }` table, keyed by the SystemdManager method.
 */
export const JOB_METHODS = {
  start: "StartUnit",
  stop: "StopUnit",
  restart: "RestartUnit",
  reloadUnit: "ReloadUnit",
} as const satisfies Record<string, ManagerMethod>;

/** A SystemdManager method that queues a job. */
export type JobVerb = keyof typeof JOB_METHODS;

/** A call of a Manager method; `action` defaults to the method's name. */
export function managerCall(member: ManagerMethod, body: unknown[], action: string = member): MethodCall {
  return { destination: SYSTEMD_NAME, path: MANAGER_PATH, iface: MANAGER_IFACE, member, signature: MANAGER_SIGNATURES[member], body, action };
}

/** Properties.Get of one property of the object at `path`. */
export function getPropertyCall(path: string, iface: string, prop: string, action: string): MethodCall {
  return { destination: SYSTEMD_NAME, path, iface: PROPERTIES_IFACE, member: "Get", signature: "ss", body: [iface, prop], action };
}

/** Peer.Ping of the manager: answers only when systemd owns its name on this bus. */
export const PING_MANAGER: MethodCall = {
  destination: SYSTEMD_NAME, path: MANAGER_PATH, iface: PEER_IFACE, member: "Ping", signature: "", body: [], action: "Ping the manager",
};

/** The bus's AddMatch for `rule`: signals matching it are routed to this connection. */
function addMatch(rule: string, what: string, member: "AddMatch" | "RemoveMatch" = "AddMatch"): MethodCall {
  return { destination: DBUS_NAME, path: DBUS_PATH, iface: DBUS_IFACE, member, signature: "s", body: [rule], action: `${member} ${what}` };
}

/**
 * AddMatch (RemoveMatch to undo it) for the changes of one unit's Unit interface (ActiveState, SubState,
 * ...), which every change of its run state goes with: not the Service interface's, nor other units'.
 */
export function unitChangesMatch(objectPath: string, unit: string, member: "AddMatch" | "RemoveMatch"): MethodCall {
  const rule = `type='signal',sender='${SYSTEMD_NAME}',interface='${PROPERTIES_IFACE}',member='PropertiesChanged',path='${objectPath}',arg0='${UNIT_IFACE}'`;
  return addMatch(rule, `PropertiesChanged of ${unit}`, member);
}

/** The bus's AddMatch for the manager's JobRemoved signals; in place before Subscribe, so that none is lost. */
export const ADD_MATCH_JOB_REMOVED: MethodCall = addMatch(JOB_REMOVED_MATCH, "JobRemoved");

/** The manager's UnitNew and UnitRemoved: a unit loaded into memory or collected from it. */
export const ADD_MATCH_UNIT_NEW = addMatch(`type='signal',sender='${SYSTEMD_NAME}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='UnitNew'`, "UnitNew");
export const ADD_MATCH_UNIT_REMOVED = addMatch(`type='signal',sender='${SYSTEMD_NAME}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='UnitRemoved'`, "UnitRemoved");

/** PropertiesChanged of every unit object (the manager sends them only to subscribed clients). */
export const ADD_MATCH_UNIT_PROPERTIES = addMatch(
  `type='signal',sender='${SYSTEMD_NAME}',interface='${PROPERTIES_IFACE}',member='PropertiesChanged',path_namespace='/org/freedesktop/systemd1/unit'`,
  "PropertiesChanged",
);
