/** Vite's `?url` import of an asset: its final (hashed) URL. */
declare module "*.wasm?url" {
  const url: string;
  export default url;
}
