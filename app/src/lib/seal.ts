/**
 * SEAL's WebAssembly, as a Vite asset. Vite renames the file (content hash), and node-seal's own
 * `locateFile` asks for the original name and 404s, so the URL Vite gives is handed to the SDK.
 */
import sealWasmUrl from "node-seal/dist/seal_throws.wasm?url";
import { configureSeal } from "medcipher";

export const SEAL_WASM_URL: string = sealWasmUrl;

/** Points the SDK's SEAL loader at the bundled wasm; call before the first CKKS operation (idempotent). */
export function prepareSeal(): void {
  configureSeal({ wasmUrl: SEAL_WASM_URL });
}
