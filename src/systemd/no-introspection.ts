/**
 * What the CLI bundles in place of xml2js (scripts/bundle.mjs): dbus-next requires it for introspection,
 * which the adapter never uses (every call names its interface and signature), and it was 100 KB of the
 * bundle's 725, read and compiled by every command. A peer may still introspect our connection: we export
 * no objects, so the answer is an empty node, which dbus-next would have built too.
 */
export class Builder {
  buildObject(): string {
    return "<node/>";
  }
}

export class Parser {
  parseString(_xml: string, done: (err: Error) => void): void {
    done(new Error("introspection is not bundled with agent-profiles (src/systemd/no-introspection.ts)"));
  }
}
