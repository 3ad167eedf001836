/**
 * A throwaway self-signed certificate for TLS tests, made with openssl.
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** PEM files written into `dir`, and the certificate to trust as a CA. */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
  readonly ca: Buffer;
}

/**
 * Writes a one-day self-signed certificate for localhost and 127.0.0.1 into `dir`.
 *
 * @example
 * const { cert, key, ca } = await createTestCertificate(dir);
 */
export async function createTestCertificate(dir: string): Promise<TestCertificate> {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  return { cert, key, ca: await readFile(cert) };
}
