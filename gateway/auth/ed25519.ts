/**
 * Ed25519 through node:crypto (OpenSSL), the gateway server's side: synchronous, ~0.05 ms to sign
 * and ~0.1 ms to verify, against ~1 ms and ~4 ms for secp256k1 in the pure-JS code ethers uses.
 * Used only for session keys, which an Ethereum key authorises with one EIP-712 signature (see
 * protocol/gateway.ts, "sessions"). Clients sign and verify with the WebCrypto twin,
 * core/crypto/ed25519.ts; test/protocol/vectors.test.ts holds both to the same signatures.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";

export type Ed25519KeyPair = { publicKey: Uint8Array; privateKey: KeyObject; publicKeyObject: KeyObject };

export function generateEd25519(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  return { publicKey: new Uint8Array(Buffer.from(jwk.x!, "base64url")), privateKey, publicKeyObject: publicKey };
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

export function ed25519PrivateKey(seed: Uint8Array, publicKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: Buffer.from(seed).toString("base64url"), x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
}

/** Signs a 32-byte digest (the EIP-712 digest of the request or response). */
export function ed25519Sign(privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, digest, privateKey));
}

export function ed25519Verify(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.length === 64 && verify(null, digest, publicKey, signature);
  } catch {
    return false;
  }
}
