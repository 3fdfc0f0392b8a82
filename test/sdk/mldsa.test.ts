import { expect } from "chai";
import { getBytes, keccak256, Wallet } from "ethers";

import { bytesToBase64Url, bytesToUtf8, utf8ToBytes } from "../../core/bytes.js";
import { sha256Hex } from "../../core/hash.js";
import {
  createMlDsaSigner, generateMlDsaKeyPair, ML_DSA_65, mlDsaKeyPairFromSeed, mlDsaPublicKeyHash, mlDsaSign, mlDsaVerify, type MlDsaSigner,
} from "../../core/crypto/mldsa.js";
import {
  checkRecordSignatureFresh, isSignedRecord, parseSignedRecordPrefix, RECORD_SIGNATURE_CONTEXT, signRecord, verifySignedRecord,
  type RecordSignatureContext,
} from "../../protocol/signedRecord.js";
import { openRecordAsPatient, sealRecord } from "../../sdk/crypto/envelope.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { pqSignerOf, pqSigningKeyEntry, withPqSigningKey } from "../../sdk/keystore/pqSigningKey.js";

/** The code (and reason) a promise was refused with. */
async function refusal(promise: Promise<unknown>): Promise<{ code?: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; details?: { reason?: string } };
    return { code: e.code, reason: e.details?.reason };
  }
  expect.fail("expected a refusal");
}

/** `blob` with its header (between the length field and the signature) replaced by `header`. */
function withHeader(blob: Uint8Array, header: string): Uint8Array {
  const prefix = parseSignedRecordPrefix(blob);
  const headerBytes = utf8ToBytes(header);
  const out = new Uint8Array(8 + headerBytes.length + blob.length - 8 - prefix.headerBytes.length);
  out.set(blob.subarray(0, 4), 0);
  new DataView(out.buffer).setUint32(4, headerBytes.length);
  out.set(headerBytes, 8);
  out.set(blob.subarray(8 + prefix.headerBytes.length), 8 + headerBytes.length);
  return out;
}

/** An EIP-55 address with one letter's case flipped: no longer its checksum. */
function flipCaseOfOneLetter(address: string): string {
  const i = address.slice(2).search(/[a-fA-F]/) + 2;
  const c = address[i]!;
  return address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(i + 1);
}

describe("ML-DSA-65 device keys and signed records (offline)", function () {
  this.timeout(60_000);
  let signer: MlDsaSigner;
  let seed: Uint8Array;
  let sealed: Uint8Array;
  let otherSealed: Uint8Array;
  let context: RecordSignatureContext;
  const patientKey = generateEncryptionKeyPair();

  before(async function () {
    const pair = await generateMlDsaKeyPair();
    seed = pair.seed;
    signer = await createMlDsaSigner(pair);
    const patient = await patientKey;
    sealed = (await sealRecord(utf8ToBytes('{"resourceType":"Bundle"}'), patient.publicKey)).sealed;
    otherSealed = (await sealRecord(utf8ToBytes('{"resourceType":"Bundle","entry":[]}'), patient.publicKey)).sealed;
    context = { device: Wallet.createRandom().address, patient: Wallet.createRandom().address, chainId: 31337, identityRegistry: Wallet.createRandom().address, category: 3 };
  });

  describe("keys", function () {
    it("keeps a key as its 32-byte seed and re-derives the 1952-byte public key from it", async function () {
      expect(seed).to.have.length(ML_DSA_65.seedBytes);
      expect(signer.publicKey).to.have.length(ML_DSA_65.publicKeyBytes);
      expect((await mlDsaKeyPairFromSeed(seed)).publicKey).to.deep.equal(signer.publicKey);
      const other = await generateMlDsaKeyPair();
      expect(other.publicKey).not.to.deep.equal(signer.publicKey);
      // A pair whose halves do not belong together is refused.
      expect((await refusal(createMlDsaSigner({ seed, publicKey: other.publicKey }))).code).to.equal("MLDSA_KEY_INVALID");
      expect((await refusal(mlDsaKeyPairFromSeed(seed.subarray(1)))).code).to.equal("MLDSA_KEY_INVALID");
    });

    it("hashes the public key with keccak256, as the chain's pqKeyHash", function () {
      expect(mlDsaPublicKeyHash(signer.publicKey)).to.equal(keccak256(signer.publicKey));
      expect(signer.publicKeyHash).to.equal(keccak256(signer.publicKey));
      expect(() => mlDsaPublicKeyHash(signer.publicKey.subarray(1))).to.throw(/1952 bytes/);
    });

    it("signs under a context string; verifies only the same message, context and key", async function () {
      const message = utf8ToBytes("a record header");
      const context1 = utf8ToBytes("medcipher/test/1");
      const signature = await mlDsaSign(seed, message, context1);
      expect(signature).to.have.length(ML_DSA_65.signatureBytes);
      expect(await mlDsaVerify(signer.publicKey, signature, message, context1)).to.equal(true);
      expect(await mlDsaVerify(signer.publicKey, await signer.sign(message, context1), message, context1)).to.equal(true);
      expect(await mlDsaVerify(signer.publicKey, signature, utf8ToBytes("another header"), context1), "other message").to.equal(false);
      expect(await mlDsaVerify(signer.publicKey, signature, message, utf8ToBytes("medcipher/test/2")), "other context").to.equal(false);
      expect(await mlDsaVerify(signer.publicKey, signature, message, new Uint8Array()), "no context").to.equal(false);
      expect(await mlDsaVerify((await generateMlDsaKeyPair()).publicKey, signature, message, context1), "other key").to.equal(false);
      const flipped = Uint8Array.from(signature);
      flipped[100]! ^= 1;
      expect(await mlDsaVerify(signer.publicKey, flipped, message, context1), "flipped bit").to.equal(false);
      expect(await mlDsaVerify(signer.publicKey, signature.subarray(0, 3308), message, context1), "short").to.equal(false);
      expect((await refusal(mlDsaVerify(signer.publicKey.subarray(0, 100), signature, message, context1))).code).to.equal("MLDSA_KEY_INVALID");
    });

    it("keeps the key in a keystore entry (seed and key hash) and signs from it", async function () {
      const pair = await mlDsaKeyPairFromSeed(seed);
      const entry = pqSigningKeyEntry(pair);
      expect(entry).to.include({ alg: "ML-DSA-65", seed: bytesToBase64Url(seed), publicKeyHash: signer.publicKeyHash });
      expect(JSON.stringify(entry)).not.to.include(bytesToBase64Url(signer.publicKey).slice(0, 40));
      const { secrets, added } = withPqSigningKey({}, entry);
      expect(added).to.equal(true);
      expect(withPqSigningKey(secrets, pqSigningKeyEntry(await generateMlDsaKeyPair())).added, "a device keeps its one key").to.equal(false);
      const fromKeystore = (await pqSignerOf(secrets))!;
      expect(fromKeystore.publicKeyHash).to.equal(signer.publicKeyHash);
      expect(await pqSignerOf({})).to.equal(undefined);
      expect((await refusal(pqSignerOf({ pqSigning: { ...entry, publicKeyHash: keccak256("0x00") } }))).code).to.equal("SDK_KEYSTORE");
    });
  });

  describe("signed records (MCS1)", function () {
    it("wraps a sealed envelope; the envelope inside still opens; the header names the context", async function () {
      const blob = await signRecord(sealed, signer, { ...context, signedAt: 1_800_000_000 });
      expect(isSignedRecord(blob)).to.equal(true);
      expect(isSignedRecord(sealed)).to.equal(false);
      const verified = await verifySignedRecord(blob, context);
      expect(verified.sealed).to.deep.equal(sealed);
      expect(verified.publicKeyHash).to.equal(signer.publicKeyHash);
      expect(verified.header).to.deep.include({ v: 1, alg: "ML-DSA-65", ...context, signedAt: 1_800_000_000, sealedSha256: sha256Hex(sealed), sealedBytes: sealed.length });
      expect(bytesToUtf8(await openRecordAsPatient(verified.sealed, await patientKey))).to.equal('{"resourceType":"Bundle"}');
      // Randomised (hedged) signing: the same record signed twice is two blobs, both valid.
      const again = await signRecord(sealed, signer, { ...context, signedAt: 1_800_000_000 });
      expect(sha256Hex(again)).not.to.equal(sha256Hex(blob));
      await verifySignedRecord(again, context);
    });

    it("refuses to sign anything but a sealed envelope", async function () {
      expect((await refusal(signRecord(utf8ToBytes("plaintext health data"), signer, context))).code).to.equal("RECORD_SIGNATURE_MALFORMED");
      const signed = await signRecord(sealed, signer, context);
      expect((await refusal(signRecord(signed, signer, context))).code, "a signed record inside another").to.equal("RECORD_SIGNATURE_MALFORMED");
    });

    it("forged: a changed signature or header is INVALID", async function () {
      const blob = await signRecord(sealed, signer, context);
      const { length, headerBytes } = parseSignedRecordPrefix(blob);
      const forged = Uint8Array.from(blob);
      forged[length - 1]! ^= 0x40;
      expect(await refusal(verifySignedRecord(forged, context))).to.deep.equal({ code: "RECORD_SIGNATURE_INVALID", reason: "ML-DSA-65 verification failed" });
      // Another canonical header (a later signedAt) under the old signature.
      const header = JSON.parse(bytesToUtf8(headerBytes)) as { signedAt: number };
      const edited = withHeader(blob, bytesToUtf8(headerBytes).replace(`"signedAt":${header.signedAt}`, `"signedAt":${header.signedAt + 1}`));
      expect((await refusal(verifySignedRecord(edited, context))).code).to.equal("RECORD_SIGNATURE_INVALID");
      // Someone else's key and signature in the header: valid ML-DSA, but over the attacker's key (the chain check refuses it: see pqIngest).
      const impostor = await createMlDsaSigner(await generateMlDsaKeyPair());
      const byImpostor = await verifySignedRecord(await signRecord(sealed, impostor, context), context);
      expect(byImpostor.publicKeyHash).to.equal(impostor.publicKeyHash).and.not.equal(signer.publicKeyHash);
    });

    it("lifted: a valid header and signature on other sealed bytes is BODY_MISMATCH", async function () {
      const blob = await signRecord(sealed, signer, context);
      const { length } = parseSignedRecordPrefix(blob);
      // The other envelope has the same length (same size bucket), so only the hash tells them apart.
      expect(otherSealed.length).to.equal(sealed.length);
      const lifted = new Uint8Array(length + otherSealed.length);
      lifted.set(blob.subarray(0, length));
      lifted.set(otherSealed, length);
      expect((await refusal(verifySignedRecord(lifted, context))).code).to.equal("RECORD_SIGNATURE_BODY_MISMATCH");
    });

    it("truncated anywhere, or extended: MALFORMED with the reason", async function () {
      const blob = await signRecord(sealed, signer, context);
      const { length } = parseSignedRecordPrefix(blob);
      const cases: [string, Uint8Array, RegExp][] = [
        ["inside the magic", blob.subarray(0, 5), /shorter than its magic/],
        ["inside the header", blob.subarray(0, 100), /truncated inside the header or signature/],
        ["inside the signature", blob.subarray(0, length - 1), /truncated inside the header or signature/],
        ["inside the envelope", blob.subarray(0, blob.length - 1), /truncated or extended/],
        ["with no envelope", blob.subarray(0, length), /truncated or extended/],
        ["extended", Uint8Array.from([...blob, 0]), /truncated or extended/],
      ];
      for (const [what, bytes, reason] of cases) {
        const r = await refusal(verifySignedRecord(bytes, context));
        expect(r.code, what).to.equal("RECORD_SIGNATURE_MALFORMED");
        expect(r.reason, what).to.match(reason);
      }
    });

    it("parses strictly: version, algorithm, fields, canonical spelling, header length", async function () {
      const blob = await signRecord(sealed, signer, context);
      const header = bytesToUtf8(parseSignedRecordPrefix(blob).headerBytes);
      const parsed = JSON.parse(header) as Record<string, unknown>;
      const cases: [string, string, RegExp][] = [
        ["version 2", header.replace('"v":1', '"v":2'), /unknown signed-record version 2/],
        ["ML-DSA-44", header.replace('"alg":"ML-DSA-65"', '"alg":"ML-DSA-44"'), /unknown signature algorithm/],
        ["an extra field", header.replace('{"v":1', '{"x":0,"v":1'), /fields are not the format's/],
        ["a missing field", JSON.stringify({ ...parsed, category: undefined }), /fields are not the format's/],
        ["spaces", JSON.stringify(parsed, null, 1), /not in canonical form/],
        ["fields reordered", JSON.stringify({ alg: parsed.alg, ...parsed }), /not in canonical form/],
        ["a lowercase address", header.replace(String(parsed.device), String(parsed.device).toLowerCase()), /not in canonical form/],
        ["a bad checksum", header.replace(String(parsed.device), flipCaseOfOneLetter(String(parsed.device))), /device is not an address/],
        ["a short key", header.replace(String(parsed.publicKey), String(parsed.publicKey).slice(4)), /publicKey is 1949 bytes/],
        ["a category out of range", header.replace('"category":3', '"category":256'), /category is not a category code/],
        ["a fractional time", header.replace(/"signedAt":\d+/, '"signedAt":1.5'), /signedAt is not unix seconds/],
        ["not JSON", "{", /not UTF-8 JSON/],
      ];
      for (const [what, text, reason] of cases) {
        const r = await refusal(verifySignedRecord(withHeader(blob, text), context));
        expect(r.code, what).to.equal("RECORD_SIGNATURE_MALFORMED");
        expect(r.reason, what).to.match(reason);
      }
      const huge = Uint8Array.from(blob);
      new DataView(huge.buffer).setUint32(4, 5000);
      expect((await refusal(verifySignedRecord(huge, context))).reason).to.match(/header length 5000 outside/);
      const badMagic = Uint8Array.from(blob);
      badMagic[3] = 0x32; // "MCS2"
      expect((await refusal(verifySignedRecord(badMagic, context))).reason).to.match(/bad magic/);
    });

    it("wrong context: another patient, category, chain, registry or device is WRONG_CONTEXT", async function () {
      const blob = await signRecord(sealed, signer, context);
      const others: Partial<RecordSignatureContext>[] = [
        { patient: Wallet.createRandom().address }, { category: 4 }, { chainId: 1 }, { identityRegistry: Wallet.createRandom().address }, { device: Wallet.createRandom().address },
      ];
      for (const other of others) {
        const r = await refusal(verifySignedRecord(blob, { ...context, ...other }));
        expect(r.code, JSON.stringify(other)).to.equal("RECORD_SIGNATURE_WRONG_CONTEXT");
      }
      // Addresses compare by value, not spelling.
      await verifySignedRecord(blob, { ...context, patient: context.patient.toLowerCase() });
    });

    it("fresh only within the window: older than maxAge or further ahead than the skew is STALE", async function () {
      const header = parseSignedRecordPrefix(await signRecord(sealed, signer, { ...context, signedAt: 10_000 })).header;
      const window = { maxAgeSeconds: 3600, maxSkewSeconds: 120 };
      checkRecordSignatureFresh(header, 10_000 + 3600, window);
      checkRecordSignatureFresh(header, 10_000 - 120, window);
      expect(() => checkRecordSignatureFresh(header, 10_000 + 3601, window)).to.throw(/signed 3601 s ago/).with.property("code", "RECORD_SIGNATURE_STALE");
      expect(() => checkRecordSignatureFresh(header, 10_000 - 121, window)).to.throw(/121 s in the future/).with.property("code", "RECORD_SIGNATURE_STALE");
    });

    it("signs the header under the record context: the signature is not valid as any other message", async function () {
      const prefix = parseSignedRecordPrefix(await signRecord(sealed, signer, context));
      expect(await mlDsaVerify(signer.publicKey, prefix.signature, prefix.headerBytes, RECORD_SIGNATURE_CONTEXT)).to.equal(true);
      expect(await mlDsaVerify(signer.publicKey, prefix.signature, prefix.headerBytes, new Uint8Array())).to.equal(false);
      expect(getBytes(prefix.publicKeyHash)).to.have.length(32);
    });
  });
});
