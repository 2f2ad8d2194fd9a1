/** What core logic needs to know about ports on this host. */

/** A process (or just a socket) listening on a port. `pid`/`command` are set only where /proc lets us see them. */
export interface Listener {
  port: number;
  pid?: number;
  command?: string;
}

export interface PortInspector {
  /** The listener on `port` (any address, TCP v4 or v6), or null if nothing listens there. */
  listener(port: number): Promise<Listener | null>;
  /**
   * Who holds the listening sockets on `port`: one entry per process, and one without a pid for sockets
   * whose process this user cannot see; [] when nothing listens. `first` are pids to look into before
   * all others (the likely holders): when they hold every socket, no other process is looked at.
   */
  holders(port: number, first?: readonly number[]): Promise<Listener[]>;
  /** Every port with a TCP listener on this host. */
  listeningPorts(): Promise<Set<number>>;
  /** Whether this process could bind `port` right now (catches what /proc does not show). */
  bindable(port: number): Promise<boolean>;
  /**
   * One reading of the listen tables and at most one scan of the processes' sockets, answering many
   * questions at once (a sweep asks one per profile): its answers do not change after it is taken.
   */
  snapshot(): Promise<PortInspector>;
}
