import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { KeystoreError } from "../../sdk/errors.js";
import { decryptKeystore, encryptKeystore, keystoreKeyBytes, parseKeystore, serializeKeystore, type KeystoreJson, type KeystoreSecrets } from "../../sdk/keystore/format.js";
import { deleteHeKeySet, keystoreAddress, readKeystore, saveHeKeySet, writeKeystore } from "../../sdk/keystore/file.js";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const FIXTURE_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/** What the fixtures hold: written on 2026-12-02 by the node:crypto keystore, before the browser-safe rewrite. */
const FIXTURE_SECRETS: KeystoreSecrets = {
  privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  encryption: { publicKey: "fixture-public-key-base64url", privateKey: "fixture-private-key-base64url" },
  heKeySets: [{ keysHash: "ab".repeat(32), paramSet: "ckks-2048-v1", secretKey: "c2VjcmV0", evaluationKeys: "ZXZhbA==", createdAt: "2026-12-02T00:00:00.000Z" }],
  heSecretKey: "c2VjcmV0",
  extra: { note: "Grüße — ünïcødé" },
};
const FAST_KDF = { N: 1 << 10, r: 8, p: 1 };

/** The keystore as the CLI wrote it before this change (node:crypto), kept as the reference the new code must match. */
const nodeCryptoKeystore = {
  open(file: KeystoreJson, password: string): KeystoreSecrets {
    const { N, r, p } = file.kdf;
    const key = scryptSync(password.normalize("NFKC"), Buffer.from(file.kdf.salt, "base64"), 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(file.cipher.iv, "base64"));
    decipher.setAAD(Buffer.from(file.address.toLowerCase()));
    decipher.setAuthTag(Buffer.from(file.cipher.tag, "base64"));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(file.ciphertext, "base64")), decipher.final()]).toString("utf8")) as KeystoreSecrets;
  },
  seal(address: string, secrets: KeystoreSecrets, password: string): KeystoreJson {
    const salt = randomBytes(32);
    const iv = randomBytes(12);
    const key = scryptSync(password.normalize("NFKC"), salt, 32, { ...FAST_KDF, maxmem: 256 * FAST_KDF.N * FAST_KDF.r + 1024 * 1024 });
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(address.toLowerCase()));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
    return {
      version: 1, address, kdf: { name: "scrypt", ...FAST_KDF, salt: salt.toString("base64") },
      cipher: { name: "aes-256-gcm", iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64") }, ciphertext: ciphertext.toString("base64"),
    };
  },
};

describe("sdk keystore format: byte-compatible with the CLI's node:crypto keystore", function () {
  this.timeout(60_000);

  it("opens the keystores written by the old code (default cost N=2^17, and a small cost with a non-ASCII password)", async function () {
    const defaultCost = await readFile(new URL("keystore-v1-default-kdf.json", FIXTURES), "utf8");
    const opened = await decryptKeystore(defaultCost, "correct horse battery staple");
    expect(opened).to.deep.equal({ address: FIXTURE_ADDRESS, secrets: FIXTURE_SECRETS, kdf: { N: 1 << 17, r: 8, p: 1 } });
    const small = await decryptKeystore(await readFile(new URL("keystore-v1-small-kdf.json", FIXTURES), "utf8"), "pässwörd ﬁ");
    expect(small.secrets).to.deep.equal(FIXTURE_SECRETS);
    // NFKC: the ligature "ﬁ" and the letters "fi" are one password.
    expect((await decryptKeystore(await readFile(new URL("keystore-v1-small-kdf.json", FIXTURES), "utf8"), "pässwörd fi")).secrets).to.deep.equal(FIXTURE_SECRETS);
  });

  it("writes keystores the old code opens, and opens what the old code writes today", async function () {
    const written = await encryptKeystore(FIXTURE_ADDRESS, FIXTURE_SECRETS, "pässwörd", FAST_KDF);
    expect(Object.keys(written)).to.deep.equal(["version", "address", "kdf", "cipher", "ciphertext"]);
    expect(Buffer.from(written.cipher.tag, "base64")).to.have.length(16);
    expect(Buffer.from(written.cipher.iv, "base64")).to.have.length(12);
    expect(nodeCryptoKeystore.open(written, "pässwörd")).to.deep.equal(FIXTURE_SECRETS);
    const legacy = nodeCryptoKeystore.seal(FIXTURE_ADDRESS, FIXTURE_SECRETS, "pässwörd");
    expect((await decryptKeystore(serializeKeystore(legacy), "pässwörd")).secrets).to.deep.equal(FIXTURE_SECRETS);
  });

  it("derives the same key with node:crypto (Node) and @noble/hashes (what browsers run)", async function () {
    const salt = new Uint8Array(32).map((_, i) => i);
    for (const cost of [FAST_KDF, { N: 1 << 17, r: 8, p: 1 }]) {
      const started = performance.now();
      const portable = await keystoreKeyBytes("pässwörd ﬁ", salt, cost, { portable: true });
      const portableMs = performance.now() - started;
      const native = await keystoreKeyBytes("pässwörd ﬁ", salt, cost);
      const nativeMs = performance.now() - started - portableMs;
      expect(Buffer.from(native).toString("hex")).to.equal(Buffer.from(portable).toString("hex"));
      expect(Buffer.from(native)).to.deep.equal(scryptSync("pässwörd fi", salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 }));
      if (cost.N === 1 << 17) process.stdout.write(`      (scrypt N=2^17: @noble ${Math.round(portableMs)} ms, node:crypto ${Math.round(nativeMs)} ms)\n`);
    }
  });

  it("refuses a wrong password, an altered ciphertext, another address as AAD and a malformed document, with KeystoreError", async function () {
    const written = await encryptKeystore(FIXTURE_ADDRESS, FIXTURE_SECRETS, "right", FAST_KDF);
    const refused = async (input: string | KeystoreJson, password: string) =>
      decryptKeystore(input, password).then(() => expect.fail("opened"), (error: unknown) => { expect(error).to.be.instanceOf(KeystoreError); return (error as KeystoreError).message; });
    expect(await refused(written, "wrong")).to.match(/Wrong keystore password/);
    const flipped = Buffer.from(written.ciphertext, "base64");
    flipped[0]! ^= 1;
    await refused({ ...written, ciphertext: flipped.toString("base64") }, "right");
    await refused({ ...written, address: "0x0000000000000000000000000000000000000001" }, "right");
    expect(await refused("{not json", "right")).to.match(/not JSON/);
    expect(await refused(JSON.stringify({ ...written, kdf: { ...written.kdf, name: "pbkdf2" } }), "right")).to.match(/Unsupported keystore format/);
    expect(() => parseKeystore({ version: 2 })).to.throw(KeystoreError);
  });
});

describe("sdk keystore files (Node)", function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), "medcipher-keystore-")); });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes the same text the browser keystore exports, reads it back, adds and deletes key sets", async function () {
    const path = join(dir, "patient.json");
    await writeKeystore(path, FIXTURE_ADDRESS, { privateKey: FIXTURE_SECRETS.privateKey }, "pw", FAST_KDF);
    const text = await readFile(path, "utf8");
    expect(text).to.equal(serializeKeystore(parseKeystore(text)));
    expect(await keystoreAddress(path)).to.equal(FIXTURE_ADDRESS);
    const keySet = FIXTURE_SECRETS.heKeySets![0]!;
    expect(await saveHeKeySet(path, "pw", keySet)).to.deep.equal({ saved: true });
    expect(await saveHeKeySet(path, "pw", keySet)).to.deep.equal({ saved: false });
    const opened = await readKeystore(path, "pw");
    expect(opened.secrets.heKeySets).to.deep.equal([keySet]);
    expect(opened.secrets.heSecretKey).to.equal(keySet.secretKey);
    expect(opened.kdf).to.deep.equal(FAST_KDF);
    expect(await deleteHeKeySet(path, "pw", keySet.keysHash)).to.deep.equal({ deleted: true });
    expect((await readKeystore(path, "pw")).secrets).to.deep.equal({ privateKey: FIXTURE_SECRETS.privateKey, heKeySets: [] });
  });

  it("says which file it cannot read", async function () {
    const missing = join(dir, "missing.json");
    await readKeystore(missing, "pw").then(() => expect.fail(), (error: unknown) => expect((error as Error).message).to.include(missing));
    await writeFile(join(dir, "bad.json"), "[]");
    await keystoreAddress(join(dir, "bad.json")).then(() => expect.fail(), (error: unknown) => expect(error).to.be.instanceOf(KeystoreError));
  });
});
