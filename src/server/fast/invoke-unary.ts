/**
 * Runs a unary implementation behind the interceptors, as connect's
 * `invokeUnaryImplementation` does (same request and response objects for
 * the interceptors, same merged context for the handler, same header and
 * trailer copy), except that the call's `signal` is read only when someone
 * asks for it: the request and the handler context expose it through a
 * getter, so a call whose interceptors and handler never look at it never
 * creates an AbortController (see call-context.ts).
 *
 * @module
 */

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import type {
  HandlerContext,
  Interceptor,
  MethodImplSpec,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import type { CallContext } from "./call-context.js";

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;
type Next = (
  req: UnaryRequest<DescMessage, DescMessage>,
) => Promise<UnaryResponse<DescMessage, DescMessage>>;

/**
 * Calls the interceptors and the implementation; resolves with the output
 * message.
 *
 * @example
 * const output = await invokeUnary(spec, ctx, input, interceptors);
 */
export async function invokeUnary(
  spec: UnarySpec,
  ctx: CallContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Promise<Message> {
  const method = spec.method;
  const service = method.parent;
  const impl: Next = async (req) => ({
    stream: false,
    service,
    method,
    header: ctx.responseHeader,
    trailer: ctx.responseTrailer,
    message: create(method.output, await spec.impl(req.message, handlerContext(ctx, req))),
  });
  let next = impl;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    next = interceptors[i]!(next as never) as Next;
  }
  const req = {
    stream: false as const,
    message: input,
    method,
    service,
    requestMethod: ctx.requestMethod,
    url: ctx.url,
    contextValues: ctx.values,
    get header() {
      return ctx.requestHeader;
    },
    get signal() {
      return ctx.signal;
    },
  } as UnaryRequest<DescMessage, DescMessage>;
  const res = await next(req);
  copyHeaders(res.header, ctx.responseHeader);
  copyHeaders(res.trailer, ctx.responseTrailer);
  return res.message;
}

/** connect's mergeRequest: the context, with what the interceptors may have replaced. */
function handlerContext(
  ctx: CallContext,
  req: UnaryRequest<DescMessage, DescMessage>,
): HandlerContext {
  return {
    method: ctx.method,
    service: req.service,
    requestMethod: ctx.requestMethod,
    protocolName: ctx.protocolName,
    url: ctx.url,
    timeoutMs: ctx.timeoutMs,
    get requestHeader() {
      return req.header;
    },
    responseHeader: ctx.responseHeader,
    responseTrailer: ctx.responseTrailer,
    values: req.contextValues,
    get signal() {
      return req.signal;
    },
  };
}

/** connect's copyHeaders: an interceptor may have answered with other Headers objects. */
export function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  const names: string[] = [];
  to.forEach((_, key) => {
    names.push(key);
  });
  for (const key of names) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
}
