/** Object paths of units, spelled as the manager spells them. */

const UNIT_PATH_PREFIX = "/org/freedesktop/systemd1/unit/";

/**
 * The manager's object path of a unit, as systemd spells it (bus_label_escape): every byte but A-Z, a-z
 * and (past the first) 0-9 becomes _ and two hex digits. The manager loads a unit asked for by path, as
 * LoadUnit would, so reading its properties takes one round trip instead of two (systemctl does the same).
 */
export function unitObjectPath(unit: string): string {
  if (unit === "") return `${UNIT_PATH_PREFIX}_`;
  let label = "";
  for (const [i, byte] of Buffer.from(unit, "utf8").entries()) {
    const c = String.fromCharCode(byte);
    label += /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c)) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return UNIT_PATH_PREFIX + label;
}
