/**
 * The benchmark's EchoService for Switchboard's router: returns what it is
 * given, so a call measures the server stack and the encoding, nothing else.
 *
 * @module
 */

import type { ConnectRouter } from "@connectrpc/connect";
import { EchoService } from "../gen/switchboard/bench/v1/bench_pb.js";

/**
 * Mounts EchoService on a router (pass as `serveChatService({ routes })`).
 *
 * @example
 * await serveChatService({ ...opts, routes: registerEchoService });
 */
export function registerEchoService(router: ConnectRouter): void {
  router.service(EchoService, {
    echo: (req) => ({ payload: req.payload }),
    echoItems: (req) => ({ items: req.items }),
  });
}
