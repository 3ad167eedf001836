/**
 * The effective handler options of the fast path: connect's own
 * `validateUniversalHandlerOptions` applied to the same options the router
 * gets, so limits, timeouts, compression and serialization options agree
 * with the library path by construction.
 *
 * @module
 */

import type { ConnectRouterOptions } from "@connectrpc/connect";
import {
  type UniversalHandlerOptions,
  validateUniversalHandlerOptions,
} from "@connectrpc/connect/protocol";

/** Effective handler options (connect's defaults filled in). */
export type FastPathSettings = UniversalHandlerOptions;

/**
 * Resolves router options into effective settings.
 *
 * @example
 * const settings = resolveFastPathSettings({ interceptors, readMaxBytes: 4 << 20 });
 */
export function resolveFastPathSettings(options: ConnectRouterOptions): FastPathSettings {
  return validateUniversalHandlerOptions(options);
}
