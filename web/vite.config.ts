/**
 * Vite build of the browser app: `web/` in, `web/dist/` out (served by
 * `switchboard serve` at `/`). `npm run dev:web` serves it with hot reload
 * and forwards the API, the tunnel and the dev sign-in to a server on
 * SWITCHBOARD_URL (default http://127.0.0.1:8080).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const api = process.env.SWITCHBOARD_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  publicDir: "public",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      "/switchboard.chat.v1.ChatService": { target: api, changeOrigin: true },
      "/dev/sign-in": { target: api, changeOrigin: false },
      "/tunnel": { target: api, ws: true, changeOrigin: true },
    },
  },
});
