/**
 * Free TCP ports on 127.0.0.1 for the servers tests start (nats-server,
 * HAProxy, Switchboard nodes).
 *
 * @module
 */
import { createServer } from "node:net";

/**
 * `count` distinct free TCP ports on 127.0.0.1: all are held open until the
 * last is found, so the kernel cannot hand out the same port twice (two
 * one-at-a-time lookups in a row can return the same one — HAProxy, which
 * binds with SO_REUSEPORT, then shares one port between two listeners).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once("error", reject);
            srv.listen(0, "127.0.0.1", () => {
              const addr = srv.address();
              resolve(typeof addr === "object" && addr ? addr.port : 0);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (srv) =>
          new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve())),
      ),
    );
  }
}
