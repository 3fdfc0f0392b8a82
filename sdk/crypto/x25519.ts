/**
 * X25519 key pairs for wrapping record data keys, on WebCrypto (Node >= 22 and current browsers).
 * Keys travel as raw 32-byte values: the public key is what the IdentityRegistry stores
 * (`encryptionKey`, bytes32); the private key never leaves the client (keystore).
 */
import { base64UrlToBytes, bytesToBase64Url } from "../../core/bytes.js";
import { DecryptionError } from "../errors.js";

export type EncryptionKeyPair = { publicKey: Uint8Array; privateKey: Uint8Array };

const subtle = globalThis.crypto.subtle;

export async function generateEncryptionKeyPair(): Promise<EncryptionKeyPair> {
  const pair = (await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair;
  const jwk = await subtle.exportKey("jwk", pair.privateKey);
  return {
    publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)),
    privateKey: base64UrlToBytes(jwk.d!),
  };
}

export async function importPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new DecryptionError("an X25519 public key (must be 32 bytes)");
  return subtle.importKey("raw", raw as BufferSource, { name: "X25519" }, true, []);
}

export async function importPrivateKey(pair: EncryptionKeyPair): Promise<CryptoKey> {
  return subtle.importKey("jwk", { kty: "OKP", crv: "X25519", d: bytesToBase64Url(pair.privateKey), x: bytesToBase64Url(pair.publicKey) }, { name: "X25519" }, false, ["deriveBits"]);
}

/** The 32-byte ECDH shared secret between a private and a public key. */
export async function sharedSecret(privateKey: CryptoKey, publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: publicKey }, privateKey, 256));
}
