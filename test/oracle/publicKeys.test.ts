import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { FheClient } from "../../fhe/client.js";
import { openSecretKey, writeEvaluationKeysBlob } from "../../fhe/keys.js";
import { BadRequestInputError, FailureReason } from "../../oracle/errors.js";
import { createOracleBlobs, type GatewayBackend } from "../../oracle/pipeline/blobs.js";

/**
 * A gateway that stores whatever it is given (an older gateway, or another implementation than
 * ours, which now refuses such uploads itself — test/gateway/publicKeys.test.ts): the oracle must
 * not rely on the gateway having checked.
 */
function uncheckedGateway(blobs: Map<string, Uint8Array>): GatewayBackend {
  return {
    url: "http://unchecked.invalid",
    async get(blobId) {
      const bytes = blobs.get(blobId);
      if (!bytes) throw Object.assign(new Error("not found"), { name: "GatewayRequestError", status: 404 });
      return bytes;
    },
    async put() {
      throw new Error("not used");
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => expect.fail("expected a rejection"), (error: unknown) => error);
}

describe("oracle: caches and uses an evaluation-keys blob only if it holds public keys only", function () {
  this.timeout(60_000);
  let dir: string;
  let fhe: FheClient;

  before(async function () {
    fhe = await FheClient.generate("ckks-2048-v1");
  });
  after(() => fhe.dispose());
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "medcipher-oracle-keys-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("fails the request (KeysUnavailable, with the engine's code) for a secret key served as the key set, and writes nothing to its disk", async function () {
    const { secretKeyBytes } = await openSecretKey(await fhe.exportSecretKey("pass"), "pass");
    const mistaken = writeEvaluationKeysBlob("ckks-2048-v1", { publicKey: secretKeyBytes });
    const keys = fhe.evaluationKeys();
    const served = new Map([[sha256Hex(mistaken), mistaken], [sha256Hex(keys), keys]]);
    const blobs = createOracleBlobs({ gateway: uncheckedGateway(served), cacheDir: dir });

    const error = await rejection(blobs.fetch(sha256Hex(mistaken), "keys", `0x${"11".repeat(32)}`));
    expect(error).to.be.instanceOf(BadRequestInputError);
    expect((error as BadRequestInputError).reason).to.equal(FailureReason.KeysUnavailable);
    expect((error as BadRequestInputError).details).to.include({ engineCode: "FHE_NOT_PUBLIC_KEYS" });
    // A second ask is refused again: it was not kept in memory either.
    expect(await rejection(blobs.fetch(sha256Hex(mistaken), "keys", `0x${"11".repeat(32)}`))).to.be.instanceOf(BadRequestInputError);

    // A real key set is served and cached (to disk, in the background).
    expect(await blobs.fetch(sha256Hex(keys), "keys", `0x${"22".repeat(32)}`)).to.deep.equal(keys);
    for (let i = 0; i < 50 && !existsSync(join(dir, sha256Hex(keys).slice(2))); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await readdir(dir)).filter((name) => !name.endsWith(".tmp"))).to.deep.equal([sha256Hex(keys).slice(2)]);
  });

  it("refuses, and deletes, a secret key its disk cache holds from before the check", async function () {
    const { secretKeyBytes } = await openSecretKey(await fhe.exportSecretKey("pass"), "pass");
    const mistaken = writeEvaluationKeysBlob("ckks-2048-v1", { publicKey: secretKeyBytes });
    const path = join(dir, sha256Hex(mistaken).slice(2));
    await writeFile(path, mistaken);
    const blobs = createOracleBlobs({ gateway: uncheckedGateway(new Map()), cacheDir: dir });
    const error = await rejection(blobs.fetch(sha256Hex(mistaken), "keys", `0x${"33".repeat(32)}`));
    expect((error as BadRequestInputError).reason).to.equal(FailureReason.KeysUnavailable);
    expect(existsSync(path)).to.equal(false);
  });
});
