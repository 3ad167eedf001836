/**
 * Errors never leak internals: anything that is not a `ConnectError`
 * reaches clients as `internal` / "internal error", with the original kept
 * in `cause` and logged. Connect already does this for the wire; this
 * interceptor makes it explicit and adds the log line.
 *
 * @module
 */

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Where failed calls are reported. */
export type ErrorLog = (line: string, cause: unknown) => void;

/** Logs to stderr; with `withStack`, the cause's stack is included. */
export function createStderrErrorLog(withStack: boolean): ErrorLog {
  return (line, cause) => {
    const detail =
      cause instanceof Error
        ? withStack
          ? (cause.stack ?? cause.message)
          : cause.message
        : String(cause);
    console.error(`switchboard: ${line}: ${detail}`);
  };
}

/**
 * Creates an interceptor that turns unknown errors (thrown by a handler or
 * raised while streaming its response) into `ConnectError("internal error",
 * Code.Internal)` and logs every internal error with its cause.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors: [createErrorInterceptor(createStderrErrorLog(false))] });
 */
export function createErrorInterceptor(log: ErrorLog): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const convert = (e: unknown): ConnectError => {
      if (e instanceof ConnectError) {
        if (e.code === Code.Internal) log(`${procedure} failed`, e.cause ?? e);
        return e;
      }
      log(`${procedure} failed`, e);
      return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      throw convert(e);
    }
    if (!res.stream) return res;
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
