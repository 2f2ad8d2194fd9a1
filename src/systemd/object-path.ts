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

/** The unit an object path under the manager's unit/ names (the reverse of unitObjectPath); null for any other path. */
export function unitOfObjectPath(objectPath: string): string | null {
  if (!objectPath.startsWith(UNIT_PATH_PREFIX)) return null;
  const label = objectPath.slice(UNIT_PATH_PREFIX.length);
  if (label === "_") return "";
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] === "_" && /^[0-9a-f]{2}$/.test(label.slice(i + 1, i + 3))) {
      bytes.push(parseInt(label.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(label.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}
