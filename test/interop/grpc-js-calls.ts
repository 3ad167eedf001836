/**
 * Promise-shaped helpers over @grpc/grpc-js calls for the interop cases:
 * each resolves with the whole outcome (responses, headers, status)
 * instead of throwing, so a case can assert on failures as on successes.
 *
 * @module
 */

import type * as grpc from "@grpc/grpc-js";

/** A message as proto-loader produces and accepts it (proto field names). */
export type Msg = Record<string, unknown>;
/** A proto-loader client, methods looked up by name. */
export type Client = grpc.Client & Record<string, (...args: unknown[]) => grpc.Call>;

/** A finished call: its response(s), headers, trailers and status. */
export interface Outcome {
  responses: Msg[];
  initial?: grpc.Metadata;
  status: grpc.StatusObject;
}

/** Unary call, resolving with the outcome whatever the status. */
export function unary(c: Client, method: string, req: Msg, md: grpc.Metadata): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { responses: [], status: undefined as unknown as grpc.StatusObject };
    const call = c[method]!(req, md, (_err: unknown, res: Msg | undefined) => {
      if (res) out.responses.push(res);
    });
    call.on("metadata", (m: grpc.Metadata) => {
      out.initial = m;
    });
    call.on("status", (s: grpc.StatusObject) => {
      out.status = s;
      // The callback runs before "status"; let it settle first.
      setImmediate(() => resolve(out));
    });
  });
}

/** Client-streaming call: writes `reqs` (with flags), half-closes, resolves with the outcome. */
export function clientStream(
  c: Client,
  method: string,
  reqs: { msg: Msg; flags?: number }[],
  md: grpc.Metadata,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { responses: [], status: undefined as unknown as grpc.StatusObject };
    const call = c[method]!(md, (_err: unknown, res: Msg | undefined) => {
      if (res) out.responses.push(res);
    }) as grpc.ClientWritableStream<Msg>;
    call.on("status", (s: grpc.StatusObject) => {
      out.status = s;
      setImmediate(() => resolve(out));
    });
    for (const r of reqs) {
      if (r.flags === undefined) call.write(r.msg);
      else call.write(r.msg, r.flags as unknown as BufferEncoding);
    }
    call.end();
  });
}

/** Bidi or server-streaming call driven step by step. */
export function stream(call: grpc.ClientDuplexStream<Msg, Msg> | grpc.ClientReadableStream<Msg>) {
  const queue: Msg[] = [];
  let waiting: (() => void) | undefined;
  let initial: grpc.Metadata | undefined;
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("metadata", (m: grpc.Metadata) => {
    initial = m;
  });
  call.on("data", (m: Msg) => {
    queue.push(m);
    waiting?.();
  });
  call.on("error", () => {});
  return {
    /** The next response; fails if the call ends first. */
    async next(): Promise<Msg> {
      while (queue.length === 0) {
        const ended = await Promise.race([
          status.then(() => true),
          new Promise<false>((r) => {
            waiting = () => r(false);
          }),
        ]);
        if (ended && queue.length === 0) throw new Error("stream ended before the next response");
      }
      return queue.shift()!;
    },
    /** Waits for the status; returns it with every response not yet taken. */
    async end(): Promise<Outcome> {
      const s = await status;
      await new Promise((r) => setImmediate(r));
      return { responses: queue.splice(0), ...(initial ? { initial } : {}), status: s };
    },
  };
}
