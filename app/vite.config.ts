/**
 * The reference dapp's build. Vite because it is what React dapp templates use today (wagmi's
 * and RainbowKit's starters, create-vite's react-ts) and because it handles the SEAL WebAssembly
 * as an asset: `import wasmUrl from "node-seal/dist/seal_throws.wasm?url"` gives the hashed URL
 * that node-seal must be told (`locateFile`), since Vite renames the file.
 *
 * "medcipher" is the SDK's public browser entry (sdk/index.ts), exactly what a dapp installs.
 */
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const sdkBrowserEntry = fileURLToPath(new URL("../sdk/index.ts", import.meta.url));
// node-seal's `exports` do not list its wasm, so `node-seal/dist/seal_throws.wasm?url` is pointed at the file.
const sealWasm = fileURLToPath(new URL("../node_modules/node-seal/dist/seal_throws.wasm", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [react()],
  resolve: {
    alias: [
      { find: /^medcipher$/, replacement: sdkBrowserEntry },
      { find: /^node-seal\/dist\/seal_throws\.wasm/, replacement: sealWasm },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // node-seal's glue and the SDK are one chunk the first screen needs; SEAL's wasm loads later.
    chunkSizeWarningLimit: 2048,
    target: "es2023",
  },
  // The SDK's source sits outside app/: let the dev server read it.
  server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
});
