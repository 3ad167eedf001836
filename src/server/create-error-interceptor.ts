/**
 * Errors never leak internals: anything that is not a `ConnectError`
 * reaches clients as `internal` / "internal error", with the original kept
 * in `cause` and logged (a structured `error` line with the procedure and
 * the cause, see {@link createLoggerErrorLog}). Connect already does this
 * for the wire; this interceptor makes it explicit and adds the log line.
 *
 * @module
 */

import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { describeError, type Logger } from "../observability/logger.js";
import { isRequestDecodeError } from "../service/errors.js";
import { kStreamHooks } from "./fast/stream-hooks.js";

/** Where failed calls are reported. */
export type ErrorLog = (line: string, cause: unknown) => void;

/**
 * Logs internal errors through the server's structured logger, at level
 * `error`: `{"msg":"<procedure> failed","error":{"type","message",…}}`, with
 * the stack (and the causes' stacks) only when `withStack` (dev mode).
 *
 * @example
 * createErrorInterceptor(createLoggerErrorLog(logger, config.dev));
 */
export function createLoggerErrorLog(logger: Logger, withStack: boolean): ErrorLog {
  return (line, cause) => {
    logger.error({ error: describeError(cause, withStack) }, line);
  };
}

/**
 * Creates an interceptor that turns unknown errors (thrown by a handler or
 * raised while streaming its response) into `ConnectError("internal error",
 * Code.Internal)` and logs every internal error with its cause.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors: [createErrorInterceptor(createLoggerErrorLog(logger, false))] });
 */
export function createErrorInterceptor(log: ErrorLog): Interceptor {
  // One converter per method, not per call.
  const converters = new WeakMap<DescMethod, (e: unknown) => ConnectError>();
  const converterOf = (service: DescService, method: DescMethod) => {
    let convert = converters.get(method);
    if (convert === undefined) {
      const procedure = `${service.typeName}/${method.name}`;
      convert = (e: unknown): ConnectError => {
        if (e instanceof ConnectError) {
          // A request that cannot be decoded is the client's fault: the decode
          // gate answers it as InvalidArgument, so it is not an internal error.
          if (e.code === Code.Internal && !isRequestDecodeError(e)) {
            log(`${procedure} failed`, e.cause ?? e);
          }
          return e;
        }
        log(`${procedure} failed`, e);
        return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      };
      converters.set(method, convert);
    }
    return convert;
  };
  return (next) => async (req) => {
    const convert = converterOf(req.service, req.method);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      throw convert(e);
    }
    if (!res.stream) return res;
    // The fast path calls the converter for the stream's error (stream-hooks.ts).
    const hooks = req.contextValues.get(kStreamHooks);
    if (hooks !== undefined) {
      hooks.mapError(convert);
      return res;
    }
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* inner;
        } catch (e) {
          throw convert(e);
        }
      })(),
    };
  };
}
