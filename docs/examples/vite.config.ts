// The Vite configuration the browser recipe (docs/examples/browser-recipe.ts) is built with by
// test/browser/sdkRecipe.test.ts. A dapp that installs the package keeps only the node-seal line.
import { fileURLToPath } from "node:url";

import { defineConfig } from "vite";

export default defineConfig({
  resolve: {
    alias: [
      // This repository is the package: "medcipher" is its browser entry, as the package.json "browser" export condition says.
      { find: /^medcipher$/, replacement: fileURLToPath(new URL("../../sdk/index.ts", import.meta.url)) },
      // node-seal's package.json `exports` do not list its wasm: point the `?url` import at the file.
      { find: /^node-seal\/dist\/seal_throws\.wasm/, replacement: fileURLToPath(new URL("../../node_modules/node-seal/dist/seal_throws.wasm", import.meta.url)) },
    ],
  },
  build: { target: "es2023", chunkSizeWarningLimit: 4096 },
});
