import { expect } from "chai";
import { Wallet } from "ethers";

import { bucketLength, isBucketLength, padToBucket, PaddingError, unpadFromBucket } from "../../core/padding.js";
import { openRecord, openRecordAsPatient, parseSealedRecord, sealRecord, sealRecordWithRandomness } from "../../sdk/crypto/envelope.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { DecryptionError } from "../../sdk/errors.js";
import { buildObservationBundle, type Reading } from "../../sdk/fhir/observations.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const subtle = globalThis.crypto.subtle;

function readings(count: number): Reading[] {
  return Array.from({ length: count }, (_, i) => ({ time: new Date(Date.UTC(2026, 0, 1, 8, i)).toISOString(), metric: "heart_rate" as const, value: 60 + (i % 40) }));
}

function bundleBytes(count: number): Uint8Array {
  const bundle = buildObservationBundle(readings(count), { patient: Wallet.createRandom().address });
  return new TextEncoder().encode(JSON.stringify(bundle));
}

/** Re-encrypts a v2 record's body (as a buggy or hostile writer holding the data key could). */
async function resealBody(sealed: Uint8Array, dataKey: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
  const { header, headerBytes } = parseSealedRecord(sealed);
  const key = await subtle.importKey("raw", dataKey as BufferSource, "AES-GCM", false, ["encrypt"]);
  const iv = Uint8Array.from(Buffer.from(header.iv, "base64url"));
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: headerBytes as BufferSource }, key, body as BufferSource));
  const out = new Uint8Array(8 + headerBytes.length + ciphertext.length);
  out.set(sealed.subarray(0, 8 + headerBytes.length), 0);
  out.set(ciphertext, 8 + headerBytes.length);
  return out;
}

describe("size buckets: padding (core/padding.ts) and sealed records", function () {
  it("buckets are 4 KiB × 4^k up to 4 MiB, then multiples of 4 MiB; the marker byte always fits", function () {
    expect([0, 4095, 4096, 16383, 16384, 65535, 4 * MiB - 1, 4 * MiB, 9 * MiB].map(bucketLength)).to.deep.equal([
      4 * KiB, 4 * KiB, 16 * KiB, 16 * KiB, 64 * KiB, 64 * KiB, 4 * MiB, 8 * MiB, 12 * MiB,
    ]);
    for (const length of [0, 1, 4095, 60_000]) {
      const data = globalThis.crypto.getRandomValues(new Uint8Array(length));
      const padded = padToBucket(data);
      expect(isBucketLength(padded.length)).to.equal(true);
      expect(unpadFromBucket(padded)).to.deep.equal(data);
    }
  });

  it("refuses padding that is not exact: not a bucket, no marker, marker not last, a bucket larger than needed", function () {
    const padded = padToBucket(new Uint8Array([1, 2, 3]));
    const cases: [string, Uint8Array][] = [
      ["not a bucket", padded.subarray(0, padded.length - 1)],
      ["all zero", new Uint8Array(4 * KiB)],
      ["garbage after the marker", (() => { const p = padded.slice(); p[100] = 7; return p; })()],
      ["marker replaced", (() => { const p = padded.slice(); p[3] = 0x81; return p; })()],
      ["over-padded", (() => { const p = new Uint8Array(16 * KiB); p[3] = 0x80; return p; })()],
    ];
    for (const [what, bytes] of cases) {
      expect(() => unpadFromBucket(bytes), what).to.throw(PaddingError);
      try {
        unpadFromBucket(bytes);
      } catch (error) {
        expect((error as PaddingError).code, what).to.equal("CORE_BAD_PADDING");
      }
    }
  });

  it("a sealed record's size no longer counts its readings: 1 and 4 readings seal to the same size, 50 to the 64 KiB bucket", async function () {
    const patient = await generateEncryptionKeyPair();
    const sizes = new Map<number, number>();
    for (const count of [1, 2, 4, 10, 16, 50]) {
      const plaintext = bundleBytes(count);
      const { sealed } = await sealRecord(plaintext, patient.publicKey);
      expect(await openRecordAsPatient(sealed, patient)).to.deep.equal(plaintext);
      const { headerBytes } = parseSealedRecord(sealed);
      // magic + length + header + bucket + GCM tag
      expect(isBucketLength(sealed.length - 8 - headerBytes.length - 16), `${count} readings`).to.equal(true);
      sizes.set(count, sealed.length);
    }
    // Unpadded, each reading added ≈ 0.5–1 KB; padded, counts within a bucket are indistinguishable.
    expect(sizes.get(1)).to.equal(sizes.get(2)).and.to.equal(sizes.get(4));
    expect(sizes.get(10)).to.equal(sizes.get(16));
    expect(sizes.get(50)! - sizes.get(1)!).to.equal(64 * KiB - 4 * KiB);
    // The header's length is the same for every record (fixed-length fields), so the size is the bucket plus a constant.
    const headers = await Promise.all([1, 50].map(async (n) => parseSealedRecord((await sealRecord(bundleBytes(n), patient.publicKey)).sealed).headerBytes.length));
    expect(headers[0]).to.equal(headers[1]);
  });

  it("opening: wrong padding inside an authentic v2 record → PaddingError (CORE_BAD_PADDING); a flipped byte → DecryptionError; v1 records still open", async function () {
    const patient = await generateEncryptionKeyPair();
    const plaintext = bundleBytes(3);
    const { sealed, dataKey } = await sealRecord(plaintext, patient.publicKey);
    expect(parseSealedRecord(sealed).header.v).to.equal(2);
    const unpadded = await resealBody(sealed, dataKey, plaintext);
    const error = await openRecord(unpadded, dataKey).then(() => expect.fail("opened"), (e: unknown) => e);
    expect(error).to.be.instanceOf(PaddingError);
    expect((error as PaddingError).code).to.equal("CORE_BAD_PADDING");
    const flipped = sealed.slice();
    flipped[flipped.length - 20]! ^= 1;
    expect(await openRecord(flipped, dataKey).then(() => "opened", (e: unknown) => e)).to.be.instanceOf(DecryptionError);

    const v1 = await sealRecordWithRandomness(plaintext, patient.publicKey, {
      dataKey: globalThis.crypto.getRandomValues(new Uint8Array(32)),
      iv: globalThis.crypto.getRandomValues(new Uint8Array(12)),
      wrap: { ephemeral: await generateEncryptionKeyPair(), iv: globalThis.crypto.getRandomValues(new Uint8Array(12)) },
    }, 1);
    expect(parseSealedRecord(v1.sealed).header.v).to.equal(1);
    expect(await openRecordAsPatient(v1.sealed, patient)).to.deep.equal(plaintext);
  });
});
