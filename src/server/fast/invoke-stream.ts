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

import {
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodServerStreaming,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { actsOn } from "../interceptor-kinds.js";

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
    return {
      stream: true,
      service,
      method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: new NormalizedMessages(
        method.output,
        spec.impl(single, new StreamHandlerContext(ctx, req)) as AsyncIterable<Message>,
      ),
    };
  };
  let next = impl as (
    req: StreamRequest<DescMessage, DescMessage>,
  ) => Promise<StreamResponse<DescMessage, DescMessage>>;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    // Interceptors tagged for other kinds only would just await `next` (interceptor-kinds.ts).
    if (!actsOn(interceptors[i]!, "server_streaming")) continue;
    next = interceptors[i]!(next as never) as typeof next;
  }
  return next(new LazyStreamRequest(ctx, method, single(input)));
}

/**
 * The request the interceptors see, as connect builds it, except that
 * `signal` and `header` are read from the context on first use (prototype
 * accessors; connect's request has plain fields): an idle stream whose
 * interceptors and handler never look at them costs no AbortController and
 * no request Headers. Spreading it (`{ ...req }`) drops the two accessors —
 * interceptors on this path do not (drain.ts links a signal only on the
 * library path).
 */
class LazyStreamRequest implements StreamRequest<DescMessage, DescMessage> {
  readonly stream = true as const;
  readonly service: DescService;
  readonly requestMethod: string;
  readonly url: string;
  readonly contextValues: ContextValues;

  constructor(
    private readonly ctx: HandlerContext,
    readonly method: DescMethodServerStreaming,
    readonly message: AsyncIterable<Message>,
  ) {
    this.service = method.parent;
    this.requestMethod = ctx.requestMethod;
    this.url = ctx.url;
    this.contextValues = ctx.values;
  }

  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  get header(): Headers {
    return this.ctx.requestHeader;
  }
}

/**
 * The context the implementation sees, as connect merges it (the
 * interceptors' request fields over the call's context), with `signal` and
 * `requestHeader` read from the request on first use (prototype accessors).
 */
class StreamHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod: string;
  readonly protocolName: string;
  readonly url: string;
  readonly timeoutMs: () => number | undefined;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;

  constructor(
    ctx: HandlerContext,
    private readonly req: StreamRequest<DescMessage, DescMessage>,
  ) {
    this.method = ctx.method;
    this.service = req.service;
    this.requestMethod = ctx.requestMethod;
    this.protocolName = ctx.protocolName;
    this.url = ctx.url;
    this.timeoutMs = ctx.timeoutMs;
    this.responseHeader = ctx.responseHeader;
    this.responseTrailer = ctx.responseTrailer;
    this.values = req.contextValues;
  }

  get requestHeader(): Headers {
    return this.req.header;
  }

  get signal(): AbortSignal {
    return this.req.signal;
  }
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

/**
 * The implementation's messages, each through `create` (a message passes as
 * is), as connect's normalizeIterable. The fast path's writer, when it
 * finds this object unwrapped, iterates `source` and applies `create`
 * itself (stream-call.ts), without a promise per message for the mapping.
 */
export class NormalizedMessages implements AsyncIterable<Message> {
  constructor(
    readonly schema: DescMessage,
    readonly source: AsyncIterable<Message>,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return new NormalizedIterator(this.schema, this.source[Symbol.asyncIterator]());
  }
}

class NormalizedIterator implements AsyncIterator<Message> {
  constructor(
    private readonly schema: DescMessage,
    private readonly it: AsyncIterator<Message>,
  ) {}

  private map(r: IteratorResult<Message>): IteratorResult<Message> {
    return r.done === true ? r : { done: false, value: create(this.schema, r.value) as Message };
  }

  next(): Promise<IteratorResult<Message>> {
    return this.it.next().then((r) => this.map(r));
  }

  return(value?: unknown): Promise<IteratorResult<Message>> {
    if (this.it.return === undefined) {
      return Promise.resolve({ done: true, value: value as Message });
    }
    return this.it.return(value as Message).then((r) => this.map(r));
  }

  throw(e?: unknown): Promise<IteratorResult<Message>> {
    if (this.it.throw === undefined) return Promise.reject(e);
    return this.it.throw(e).then((r) => this.map(r));
  }
}
