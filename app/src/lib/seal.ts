/**
 * SEAL's WebAssembly, as a Vite asset. Vite renames the file (content hash), and node-seal's own
 * `locateFile` asks for the original name and 404s, so the URL Vite gives is handed to the SDK.
 */
import sealWasmUrl from "node-seal/dist/seal_throws.wasm?url";
import { setSealWasmUrl } from "medcipher";

export const SEAL_WASM_URL: string = sealWasmUrl;

let prepared = false;

/** Points the SDK's SEAL loader at the bundled wasm; call before the first CKKS operation. */
export async function prepareSeal(): Promise<void> {
  if (prepared) return;
  setSealWasmUrl(SEAL_WASM_URL);
  prepared = true;
}
