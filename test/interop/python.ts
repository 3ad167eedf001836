/**
 * Runs the Python grpcio clients under test/interop/ with Debian's
 * interpreter (/usr/bin/python3, where apt's python3-grpcio lives; a
 * pyenv `python3` earlier on PATH would lack it). A missing grpcio fails
 * the tests with the install command — never a skip.
 *
 * @module
 */

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The interpreter; SWITCHBOARD_TEST_PYTHON overrides it. */
export const pythonPath = process.env.SWITCHBOARD_TEST_PYTHON ?? "/usr/bin/python3";

/** Path of a script in test/interop/. */
export const interopScript = (name: string): string =>
  fileURLToPath(new URL(`./${name}`, import.meta.url));

/**
 * Runs `python <script> ...args` and resolves with its stdout; rejects with
 * its stderr if it fails or outlives `timeoutMs` (the process is killed).
 *
 * @example
 * const out = await runPython(interopScript("python_client.py"), ["--port", "8080"]);
 */
export function runPython(script: string, args: string[], timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      pythonPath,
      [script, ...args],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Fails (rejects) unless the interpreter can import grpc and protobuf.
 *
 * @example
 * before(() => assertPythonGrpc());
 */
export async function assertPythonGrpc(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(
      pythonPath,
      ["-c", "import grpc, google.protobuf"],
      { timeout: 30_000 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        reject(
          new Error(
            `${pythonPath} cannot import grpc: install Debian's python3-grpcio ` +
              `(apt-get install -y python3-grpcio; .ci/run does it in CI)\n${stderr || err.message}`,
          ),
        );
      },
    );
  });
}
