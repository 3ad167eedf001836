/**
 * One call over the tunnel, client side: sends the `open` frame and the
 * request messages, and turns the server's frames back into response
 * headers, messages and the final status (docs/tunnel.md).
 *
 * @module
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { createAsyncQueue } from "./async-queue.js";
import type { TunnelConnection, TunnelStream } from "./tunnel-connection.js";
import { TunnelFlag } from "./tunnel-frame.js";

/** What {@link startTunnelCall} needs. */
export interface TunnelCallInit<I extends DescMessage, O extends DescMessage> {
  readonly connection: TunnelConnection;
  /** Request path, e.g. `/switchboard.chat.v1.ChatService/Chat`. */
  readonly path: string;
  readonly input: I;
  readonly output: O;
  readonly header: Headers;
  readonly timeoutMs?: number;
  /** Aborts the call (deadline, caller's cancel, or the call finished). */
  readonly signal: AbortSignal;
}

/** A started call. */
export interface TunnelCall<I extends DescMessage, O extends DescMessage> {
  /** The response headers; rejects when the call fails before they arrive. */
  readonly header: Promise<Headers>;
  /** Response messages; throws the call's error. */
  readonly messages: AsyncIterable<MessageShape<O>>;
  /** Filled with the trailers once `messages` finished. */
  readonly trailer: Headers;
  /** Sends the request messages, then half-closes; on failure cancels the call. */
  sendAll(messages: AsyncIterable<MessageShape<I>>): Promise<void>;
}

const decoder = new TextDecoder();

function headersFromJson(payload: Uint8Array): Headers {
  const header = new Headers();
  const value = JSON.parse(decoder.decode(payload)) as { headers?: Record<string, string> };
  for (const [k, v] of Object.entries(value.headers ?? {})) header.append(k, v);
  return header;
}

/**
 * Opens a call on the connection. The caller pumps requests with `sendAll`
 * and reads `header`, `messages` and `trailer`.
 *
 * @example
 * const call = await startTunnelCall({ connection, path, input, output, header, signal });
 * void call.sendAll(requests);
 * for await (const m of call.messages) console.log(m);
 */
export async function startTunnelCall<I extends DescMessage, O extends DescMessage>(
  init: TunnelCallInit<I, O>,
): Promise<TunnelCall<I, O>> {
  const messages = createAsyncQueue<MessageShape<O>>();
  const trailer = new Headers();
  let settleHeader!: { resolve: (h: Headers) => void; reject: (e: unknown) => void };
  const header = new Promise<Headers>((resolve, reject) => {
    settleHeader = { resolve, reject };
  });
  header.catch(() => {});
  let gotHeader: Headers | undefined;
  let done = false;
  let stream: TunnelStream | undefined;

  const fail = (error: ConnectError, notifyServer: boolean) => {
    if (done) return;
    done = true;
    if (notifyServer) stream?.send(TunnelFlag.cancel);
    stream?.release();
    gotHeader?.forEach((v, k) => {
      error.metadata.append(k, v);
    });
    settleHeader.reject(error);
    messages.end(error);
  };

  const onFrame = (flags: number, payload: Uint8Array) => {
    if (done) return;
    try {
      if (flags === TunnelFlag.open && gotHeader === undefined) {
        gotHeader = headersFromJson(payload);
        settleHeader.resolve(gotHeader);
      } else if (flags === TunnelFlag.message) {
        messages.push(fromBinary(init.output, payload));
      } else if (flags === TunnelFlag.end) {
        const end = endStreamFromJson(payload);
        if (end.error) return fail(end.error, false);
        done = true;
        stream?.release();
        end.metadata.forEach((v, k) => {
          trailer.append(k, v);
        });
        settleHeader.resolve(gotHeader ?? new Headers());
        messages.end();
      } else {
        throw new Error(`unexpected frame flags 0x${flags.toString(16)}`);
      }
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      fail(new ConnectError(`tunnel protocol error: ${reason}`, Code.Internal), true);
    }
  };

  const headers: Record<string, string> = {};
  init.header.forEach((v, k) => {
    headers[k] = v;
  });
  if (init.timeoutMs !== undefined) headers["connect-timeout-ms"] = String(init.timeoutMs);
  stream = await init.connection.open(
    { method: init.path, headers },
    { onFrame, onClose: (error) => fail(error, false) },
    init.signal,
  );
  const onAbort = () =>
    fail(ConnectError.from(init.signal.reason ?? "canceled", Code.Canceled), true);
  if (init.signal.aborted) onAbort();
  else init.signal.addEventListener("abort", onAbort, { once: true });

  return {
    header,
    messages,
    trailer,
    async sendAll(requests) {
      try {
        for await (const m of requests) {
          if (done) return;
          await stream.writable();
          if (done) return;
          stream.send(TunnelFlag.message, toBinary(init.input, m));
        }
        if (!done) stream.send(TunnelFlag.end);
      } catch (e) {
        fail(ConnectError.from(e, Code.Canceled), true);
      }
    },
  };
}
