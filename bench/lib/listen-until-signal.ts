/**
 * The start and stop every reference server of the benchmark shares: listen
 * on 127.0.0.1 (port 0 unless given), print the ready line
 * `{"ready":true,"port":N}` the bench waits for (bench/lib/proc.ts), and
 * close on SIGTERM or SIGINT, exiting when closed or after `graceMs`.
 *
 * @module
 */
import type { AddressInfo, Server } from "node:net";

/** Options of {@link listenUntilSignal}. */
export interface ListenOptions {
  /** Port to listen on (default 0: any free one). */
  readonly port?: number;
  /** Exit this long after the signal even if connections are still open (default 1000 ms). */
  readonly graceMs?: number;
}

/**
 * Listens, announces the port on stdout, and stops on SIGTERM/SIGINT.
 *
 * @example
 * listenUntilSignal(http2.createServer(onStream));
 */
export function listenUntilSignal(server: Server, options: ListenOptions = {}): void {
  server.listen(options.port ?? 0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), options.graceMs ?? 1_000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
