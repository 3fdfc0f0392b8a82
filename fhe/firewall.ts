/**
 * The ingestion firewall's cryptography: a cryptographic reverse firewall (Mironov–Stephens-
 * Davidowitz, EUROCRYPT 2015) for CKKS input ciphertexts. Whoever stands between the encryptor
 * and the store (the gateway, gateway/firewall.ts) checks that an input blob is exactly what an
 * honest encryptor of its parameter set writes, then adds a fresh encryption of zero under the
 * patient's public key to every ciphertext:
 *
 *   ct' = ct + Enc_pk(0) = (c0 + p0·u + e1, c1 + p1·u + e2)      (u ternary, e1, e2 Gaussian: fresh)
 *
 * Under RLWE, (p0·u + e1, p1·u + e2) is indistinguishable from uniform, so ct' is a fresh-looking
 * encryption of the same message whatever randomness the encryptor chose: a subverted encryptor
 * that hides bits in its randomness (in the seed of a seeded ciphertext, in c1, in any public
 * function of the bytes) leaks nothing through ct'. The message and its noise stay, so ct'
 * decrypts to the same value plus one public-key encryption's noise (docs/fhe.md "Reverse firewall").
 *
 * The well-formedness check is what makes this sound: a blob that is not an honest encryptor's
 * output (another level, size 3, another scale, coefficients ≥ their prime, trailing bytes) could
 * carry bits the addition does not wash out, so it is refused, with the engine's stable codes.
 */
import type { Ciphertext, Encryptor, PublicKey } from "node-seal";

import { readBlobHeader, type BlobHeader } from "./blob.js";
import { inputExpectation, openCiphertextBlob, writeCiphertextBlob, type CiphertextExpectation } from "./ciphertext-blob.js";
import { CoefficientNotReducedError, MissingEvaluationKeysError, WrongModelError, WrongParameterSetError } from "./errors.js";
import { checkPublicKeysOnly } from "./keys.js";
import type { ModelArtifact } from "./model.js";
import { ownedBytes, parameterContext, sealCall, type ParameterContext } from "./seal.js";

/** SEAL's metadata before the coefficient words (fhe/ciphertext-codec.ts). */
const METADATA_BYTES = 113;

/** A patient's public key, loaded once, and the encryptor of zeros made from it. Free it with `dispose`. */
export type FirewallKey = {
  readonly paramSetId: string;
  readonly ctx: ParameterContext;
  /** Encrypts a fresh zero under the patient's public key (at the top level, NTT form, scale 1). */
  readonly encryptor: Encryptor;
  dispose(): void;
};

/**
 * Loads the public key of an evaluation-keys blob (after `checkPublicKeysOnly`: a blob that holds
 * anything but public keys is refused, NotPublicKeysError). `expectedParamSetId`, when given, must
 * be the blob's parameter set.
 */
export async function loadFirewallKey(evaluationKeys: Uint8Array, expectedParamSetId?: string): Promise<FirewallKey> {
  const { paramSetId, sections } = checkPublicKeysOnly(evaluationKeys, expectedParamSetId);
  if (sections.publicKey === undefined) throw new MissingEvaluationKeysError("public key");
  const ctx = await parameterContext(paramSetId);
  const publicKey: PublicKey = new ctx.seal.PublicKey();
  try {
    sealCall("public key load", () => publicKey.loadFromArray(ctx.context, plainBytes(sections.publicKey!)));
    const encryptor = sealCall("encryptor creation", () => new ctx.seal.Encryptor(ctx.context, publicKey));
    let disposed = false;
    return {
      paramSetId,
      ctx,
      encryptor,
      dispose() {
        if (disposed) return;
        disposed = true;
        encryptor.delete();
      },
    };
  } finally {
    // The Encryptor keeps its own copy of the key.
    publicKey.delete();
  }
}

export type WellFormedInput = {
  header: BlobHeader;
  /** Each ciphertext's SEAL bytes (unpacked), checked: metadata byte for byte, every coefficient below its prime. */
  ciphertexts: Uint8Array[];
};

/**
 * Checks that `blob` is an input blob an honest encryptor of `ctx`'s parameter set writes, before
 * SEAL parses a byte: header (magic, version, kind input, codec, flags, reserved bytes, payload
 * length — no trailing bytes), parameter set, slot layout and ciphertext count (the model's, when
 * given, else any model's of the set: `inputExpectation`), top level (the set's first parms_id),
 * size 2, NTT form, the set's input scale, a valid seed record for a seeded ciphertext, and every
 * coefficient word below its prime. With `model`, the blob must also be bound to it.
 *
 * Throws MalformedBlobError, BlobTooLargeError, UnsupportedBlobVersionError, WrongBlobKindError,
 * WrongParameterSetError, WrongCiphertextShapeError, WrongModelError or CoefficientNotReducedError.
 */
export function checkWellFormed(ctx: ParameterContext, blob: Uint8Array, model?: Pick<ModelArtifact, "id" | "encodingSpec" | "encodingSpecHash">): WellFormedInput {
  const expectation: CiphertextExpectation = inputExpectation(ctx, model);
  // The parameter set first, by name: a blob of another set would otherwise fail on its size.
  const declared = readBlobHeader(blob, "input");
  if (declared.paramSetId !== ctx.set.id) throw new WrongParameterSetError(ctx.set.id, declared.paramSetId);
  const { header, ciphertexts } = openCiphertextBlob(ctx, blob, expectation);
  if (model !== undefined && header.binding !== model.encodingSpecHash) {
    throw new WrongModelError({ modelId: model.id, expected: model.encodingSpecHash, actual: header.binding });
  }
  ciphertexts.forEach((bytes, index) => checkReduced(ctx, bytes, index, header.chainIndex));
  return { header, ciphertexts };
}

/**
 * Re-randomises one ciphertext (SEAL bytes, full or seeded, already checked by `checkWellFormed`):
 * returns the full SEAL bytes of ct + Enc_pk(0). The zero's scale is set to the ciphertext's
 * (SEAL encrypts zero at scale 1 and refuses to add ciphertexts of different scales); both are at
 * the top level, so their parms_ids agree. The result is never seeded: its c1 is no longer the
 * expansion of any seed.
 */
export function rerandomize(key: FirewallKey, sealBytes: Uint8Array): Uint8Array {
  const { seal } = key.ctx;
  const ciphertext = new seal.Ciphertext();
  const zero = new seal.Ciphertext();
  try {
    return rerandomizeWith(key, sealBytes, ciphertext, zero);
  } finally {
    ciphertext.delete();
    zero.delete();
  }
}

function rerandomizeWith(key: FirewallKey, sealBytes: Uint8Array, ciphertext: Ciphertext, zero: Ciphertext): Uint8Array {
  const { seal, context, evaluator } = key.ctx;
  sealCall("firewall input load", () => ciphertext.loadFromArray(context, plainBytes(sealBytes)));
  sealCall("firewall re-randomisation", () => {
    key.encryptor.encryptZero(zero);
    zero.setScale(ciphertext.scale());
    evaluator.addInplace(ciphertext, zero);
  });
  return ownedBytes(ciphertext.saveToArray(seal.ComprModeType.none));
}

export type FirewalledInput = {
  /** The firewalled input blob: same parameter set, layout, codec, binding and count; full (unseeded) ciphertexts. */
  blob: Uint8Array;
  header: BlobHeader;
  ciphertexts: number;
};

/**
 * The firewall on one input blob: `checkWellFormed`, then `rerandomize` every ciphertext, then the
 * same header around the new ciphertexts (codec, slot layout, reading field and binding kept;
 * seeded becomes full, so a seeded blob about doubles). Throws what `checkWellFormed` throws,
 * and WrongParameterSetError when the blob is not of the key's parameter set.
 */
export function firewallInput(key: FirewallKey, blob: Uint8Array, options: { model?: Pick<ModelArtifact, "id" | "encodingSpec" | "encodingSpecHash"> } = {}): FirewalledInput {
  const { ctx } = key;
  const { header, ciphertexts } = checkWellFormed(ctx, blob, options.model);
  const { seal } = ctx;
  const ciphertext = new seal.Ciphertext();
  const zero = new seal.Ciphertext();
  let fresh: Uint8Array[];
  try {
    fresh = ciphertexts.map((bytes) => rerandomizeWith(key, bytes, ciphertext, zero));
  } finally {
    ciphertext.delete();
    zero.delete();
  }
  const firewalled = writeCiphertextBlob(
    ctx,
    "input",
    fresh,
    { chainIndex: header.chainIndex, size: header.ciphertextSize, scaleLog2: header.scaleLog2, seeded: false },
    { codec: header.codec, readings: header.readings, binding: header.binding, layout: header.layout },
  );
  return { blob: firewalled, header, ciphertexts: fresh.length };
}

/** The parameter set an input blob names (header only): which key the firewall needs. */
export function inputParamSetId(blob: Uint8Array): string {
  return readBlobHeader(blob, "input").paramSetId;
}

/**
 * node-seal's binding takes a Uint8Array and nothing derived from it: a Node Buffer (what the
 * gateway's store and HTTP bodies hand over) is refused with "expected Uint8Array".
 */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes);
}

const primesByContext = new WeakMap<ParameterContext, { low: Uint32Array; high: Uint32Array }>();

/** The data primes of the top level as 32-bit halves, read from SEAL once per context. */
function primesOf(ctx: ParameterContext): { low: Uint32Array; high: Uint32Array } {
  const cached = primesByContext.get(ctx);
  if (cached !== undefined) return cached;
  const data = ctx.context.firstContextData();
  const parms = data.parms();
  const moduli = parms.coeffModulus();
  try {
    const count = moduli.size();
    const low = new Uint32Array(count);
    const high = new Uint32Array(count);
    for (let j = 0; j < count; j++) {
      const modulus = moduli.get(j)!;
      const value = modulus.value();
      modulus.delete();
      low[j] = Number(value & 0xffff_ffffn);
      high[j] = Number(value >> 32n);
    }
    const primes = { low, high };
    primesByContext.set(ctx, primes);
    return primes;
  } finally {
    moduli.delete();
    parms.delete();
    data.delete();
  }
}

/**
 * Every coefficient word below its prime. SEAL lays a ciphertext out as polynomial-major,
 * then prime-major, N words each (64-bit little-endian); a seeded one holds only c0.
 */
function checkReduced(ctx: ParameterContext, sealBytes: Uint8Array, ciphertext: number, chainIndex: number): void {
  const { low, high } = primesOf(ctx);
  const n = ctx.set.polyModulusDegree;
  const moduli = chainIndex + 1;
  const view = new DataView(sealBytes.buffer, sealBytes.byteOffset, sealBytes.byteLength);
  // The coefficient count SEAL wrote (offset 105), already checked against the layout.
  const total = Number(view.getBigUint64(105, true));
  for (let w = 0; w < total; w++) {
    const prime = Math.floor(w / n) % moduli;
    const offset = METADATA_BYTES + w * 8;
    const hi = view.getUint32(offset + 4, true);
    const qHigh = high[prime] as number;
    if (hi < qHigh) continue;
    if (hi > qHigh || view.getUint32(offset, true) >= (low[prime] as number)) {
      throw new CoefficientNotReducedError({ ciphertext, polynomial: Math.floor(w / (n * moduli)), prime, coefficient: w % n });
    }
  }
}
