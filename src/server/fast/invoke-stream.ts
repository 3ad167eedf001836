/**
 * Runs a server-streaming implementation behind the interceptors, as
 * connect's `transformInvokeImplementation` does (same request and
 * response objects for the interceptors, same context merge, same
 * "exactly one input message" rule), but returns the response directly:
 * the caller iterates the implementation's messages without connect's
 * downlevelled async-generator layers in between.
 *
 * @module
 */

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";

type ServerStreamingSpec = Extract<MethodImplSpec, { kind: "server_streaming" }>;

/**
 * Calls the interceptors and the implementation; resolves with the
 * response whose `message` the caller iterates.
 *
 * @example
 * const res = await invokeServerStreaming(spec, ctx, input, interceptors);
 * for await (const m of res.message) write(m);
 */
export async function invokeServerStreaming(
  spec: ServerStreamingSpec,
  ctx: HandlerContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Promise<StreamResponse<DescMessage, DescMessage>> {
  const method = spec.method;
  const service = method.parent;
  const impl = async (
    req: StreamRequest<DescMessage, DescMessage>,
  ): Promise<StreamResponse<DescMessage, DescMessage>> => {
    const single = await onlyMessage(req.message);
    const merged: HandlerContext = {
      ...ctx,
      service: req.service,
      requestHeader: req.header,
      signal: req.signal,
      values: req.contextValues,
    };
    return {
      stream: true,
      service,
      method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: normalized(method.output, spec.impl(single, merged) as AsyncIterable<Message>),
    };
  };
  let next = impl as (
    req: StreamRequest<DescMessage, DescMessage>,
  ) => Promise<StreamResponse<DescMessage, DescMessage>>;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    next = interceptors[i]!(next as never) as typeof next;
  }
  return next({
    stream: true,
    message: single(input),
    method,
    service,
    requestMethod: ctx.requestMethod,
    url: ctx.url,
    signal: ctx.signal,
    header: ctx.requestHeader,
    contextValues: ctx.values,
  });
}

async function* single(input: Message): AsyncIterable<Message> {
  yield input;
}

async function onlyMessage(iterable: AsyncIterable<Message>): Promise<Message> {
  const it = iterable[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) {
    throw new ConnectError(
      "protocol error: missing input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  const second = await it.next();
  if (second.done !== true) {
    throw new ConnectError(
      "protocol error: received extra input message for server-streaming method",
      Code.Unimplemented,
    );
  }
  return first.value;
}

/** Each value through `create` (a message passes as is), as connect's normalizeIterable. */
function normalized(schema: DescMessage, source: AsyncIterable<Message>): AsyncIterable<Message> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      const map = (r: IteratorResult<Message>): IteratorResult<Message> =>
        r.done === true ? r : { done: false, value: create(schema, r.value) as Message };
      return {
        next: () => it.next().then(map),
        ...(it.throw ? { throw: (e?: unknown) => it.throw!(e).then(map) } : {}),
        ...(it.return ? { return: (v?: unknown) => it.return!(v as Message).then(map) } : {}),
      };
    },
  };
}
