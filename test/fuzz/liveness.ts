/**
 * Proof that the server under fuzz still serves real clients: a valid Send
 * through connect-node (gRPC over h2c) and through grpc-js, each on a
 * long-lived connection opened before the fuzzing, and optionally on fresh
 * ones.
 *
 * @module
 */
import { protocolVariants, type TestClient } from "../helpers/clients.js";
import { grpcJsVariant } from "../helpers/grpc-js-client.js";

/** Long-lived clients and a check that uses them. */
export interface Liveness {
  /** Sends one message through every client; throws with the label on failure. */
  check(label: string, opts?: { fresh?: boolean }): Promise<void>;
  close(): void;
}

const connectGrpc = protocolVariants.find((v) => v.name === "grpc/h2c");

/**
 * Opens the long-lived clients.
 *
 * @example
 * const live = createLiveness(server.url, server.token);
 * await live.check("after batch 1");
 */
export function createLiveness(url: string, token: string): Liveness {
  if (connectGrpc === undefined) throw new Error("the grpc/h2c test variant is missing");
  const variants = [connectGrpc, grpcJsVariant];
  const clients: TestClient[] = variants.map((v) => v.open(url, token));
  let n = 0;
  const sendAll = async (list: readonly TestClient[], label: string) => {
    for (const c of list) {
      const text = `alive ${++n}`;
      try {
        const res = await c.api.send({ room: "fuzz-alive", text }, { timeoutMs: 15_000 });
        if (res.message?.text !== text)
          throw new Error(`echoed ${JSON.stringify(res.message?.text)}`);
      } catch (e) {
        throw new Error(
          `${label}: a valid Send through ${c.variant.name} failed: ${(e as Error).message}`,
        );
      }
    }
  };
  return {
    async check(label, opts = {}) {
      await sendAll(clients, label);
      if (opts.fresh) {
        const fresh = variants.map((v) => v.open(url, token));
        try {
          await sendAll(fresh, `${label} (new connection)`);
        } finally {
          for (const c of fresh) c.close();
        }
      }
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}
