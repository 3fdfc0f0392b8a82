/**
 * Ed25519 on WebCrypto (browsers and Node ≥ 22 alike): the client's half of the gateway's session
 * mode — a session key signs requests, the gateway's certified response key is checked here.
 * Asynchronous, as all of WebCrypto is; the gateway server signs with its own synchronous
 * node:crypto copy (gateway/auth/ed25519.ts). Both are RFC 8032 Ed25519, deterministic, so they
 * produce the same signatures from the same seed (test/protocol/vectors.test.ts).
 */
import { base64UrlToBytes } from "../bytes.js";

const subtle = globalThis.crypto.subtle;
const ED25519 = { name: "Ed25519" } as const;
/** RFC 8410 PKCS#8 wrapping of a 32-byte Ed25519 seed: this prefix, then the seed. */
const PKCS8_SEED_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/** `publicKey`: the raw 32-byte key (what EIP-712 certificates name as bytes32). */
export type Ed25519SigningKey = { publicKey: Uint8Array; privateKey: CryptoKey };

/** A fresh key pair. The private key is not extractable: a session key never leaves memory. */
export async function generateEd25519KeyPair(): Promise<Ed25519SigningKey> {
  const pair = (await subtle.generateKey(ED25519, false, ["sign", "verify"])) as CryptoKeyPair;
  return { publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)), privateKey: pair.privateKey };
}

/** The key pair of a 32-byte RFC 8032 seed (the private key as stored elsewhere, e.g. a gateway's). */
export async function importEd25519Seed(seed: Uint8Array): Promise<Ed25519SigningKey> {
  if (seed.length !== 32) throw new RangeError(`An Ed25519 seed is 32 bytes, not ${seed.length}.`);
  const pkcs8 = new Uint8Array(PKCS8_SEED_PREFIX.length + 32);
  pkcs8.set(PKCS8_SEED_PREFIX, 0);
  pkcs8.set(seed, PKCS8_SEED_PREFIX.length);
  // Imported extractable once to read the public half (WebCrypto derives it; JWK `x`), then
  // re-imported non-extractable for signing.
  const readable = await subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", readable);
  const privateKey = await subtle.importKey("pkcs8", pkcs8, ED25519, false, ["sign"]);
  pkcs8.fill(0);
  const publicKey = base64UrlToBytes(jwk.x ?? "");
  if (publicKey.length !== 32) throw new RangeError("WebCrypto returned a malformed Ed25519 public key.");
  return { publicKey, privateKey };
}

/** A raw 32-byte public key, ready to verify with. */
export async function importEd25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new RangeError(`An Ed25519 public key is 32 bytes, not ${raw.length}.`);
  return subtle.importKey("raw", raw as BufferSource, ED25519, true, ["verify"]);
}

/** Signs `message` (here: a 32-byte EIP-712 digest); 64-byte signature. */
export async function signEd25519(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.sign(ED25519, privateKey, message as BufferSource));
}

/** False for a wrong, malformed or wrong-length signature; never throws for bad input. */
export async function verifyEd25519(publicKey: CryptoKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    return await subtle.verify(ED25519, publicKey, signature as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

