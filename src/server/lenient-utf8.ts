/**
 * Lets the service name the field that holds invalid UTF-8.
 *
 * protobuf-es rejects invalid UTF-8 in a `string` field while decoding, and
 * connect-es reports any decoding failure before a handler runs — so the
 * client would learn only "cannot decode message", not which field was bad.
 * Installed by the server, this decoder keeps strict decoding for valid input
 * and, for invalid input, decodes with replacement and marks every
 * replacement as an unpaired surrogate (U+DFFF), which valid UTF-8 can never
 * produce. The service validators reject unpaired surrogates with
 * InvalidArgument naming the field (`text: must be valid UTF-8 …`).
 *
 * It configures the one copy of protobuf-es this process uses (server and
 * any in-process clients alike); encoding is unchanged.
 *
 * @module
 */
import { configureTextEncoding } from "@bufbuild/protobuf/wire";

let installed = false;

/**
 * Installs the marking decoder once per process. Idempotent.
 *
 * @example
 * installLenientUtf8Decoding();
 */
export function installLenientUtf8Decoding(): void {
  if (installed) return;
  installed = true;
  const encoder = new TextEncoder();
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const replacing = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  configureTextEncoding({
    encodeUtf8: (text: string) => encoder.encode(text),
    decodeUtf8(bytes: Uint8Array): string {
      try {
        return strict.decode(bytes);
      } catch {
        return replacing.decode(bytes).replaceAll("\uFFFD", "\uDFFF");
      }
    },
    // With the u flag a surrogate pair is one code point: this finds only unpaired ones.
    checkUtf8: (text: string) => !/\p{Surrogate}/u.test(text),
  });
}
