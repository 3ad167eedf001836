/**
 * Runs a unary implementation behind the interceptors, as connect's
 * `invokeUnaryImplementation` does (same request and response objects for
 * the interceptors, same merged context for the handler, same header and
 * trailer copy), with two differences:
 *
 * - the interceptor chain is built once per method ({@link createUnaryInvoker})
 *   instead of once per call: each interceptor's `(next) => handler` runs
 *   once, and every call goes through the same composed handler. The
 *   interceptors still see, in the same order, the same request and
 *   response objects; the implementation finds its call's context in the
 *   request's context values (`kFastCall`). An interceptor must therefore
 *   keep no per-call state in the closure of `(next) => …` — none of the
 *   server's do;
 * - the call's `signal` is read only when someone asks for it: the request
 *   and the handler context expose it through a getter, so a call whose
 *   interceptors and handler never look at it never creates an
 *   AbortController (see call-context.ts).
 *
 * @module
 */

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { actsOn } from "../interceptor-kinds.js";
import type { CallContext } from "./call-context.js";

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;
type Next = (
  req: UnaryRequest<DescMessage, DescMessage>,
) => Promise<UnaryResponse<DescMessage, DescMessage>>;

/** Context value: the fast-path call a request belongs to (read by the implementation's end of the chain). */
const kFastCall = createContextKey<CallContext | undefined>(undefined, {
  description: "switchboard fast-path call",
});

/** One method's interceptors and implementation, composed: resolves with the output message. */
export type UnaryInvoker = (ctx: CallContext, input: Message) => Promise<Message>;

/**
 * Composes the interceptors around a unary implementation, once per method.
 *
 * @example
 * const invoke = createUnaryInvoker(spec, settings.interceptors);
 * const output = await invoke(ctx, input);
 */
export function createUnaryInvoker(
  spec: UnarySpec,
  interceptors: readonly Interceptor[],
): UnaryInvoker {
  const method = spec.method;
  const service = method.parent;
  const impl: Next = async (req) => {
    const ctx = req.contextValues.get(kFastCall);
    if (ctx === undefined) {
      // An interceptor replaced the request's context values: the call is lost.
      throw new ConnectError("request context values replaced", Code.Internal);
    }
    return {
      stream: false,
      service,
      method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: create(method.output, await spec.impl(req.message, handlerContext(ctx, req))),
    };
  };
  let next = impl;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    // Interceptors tagged for other kinds only would just await `next` (interceptor-kinds.ts).
    if (!actsOn(interceptors[i]!, "unary")) continue;
    next = interceptors[i]!(next as never) as Next;
  }
  const chain = next;
  return async (ctx, input) => {
    ctx.values.set(kFastCall, ctx);
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
    const res = await chain(req);
    copyHeaders(res.header, ctx.responseHeader);
    copyHeaders(res.trailer, ctx.responseTrailer);
    return res.message;
  };
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
