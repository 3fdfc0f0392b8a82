import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, ZeroHash } from "ethers";
import { pino } from "pino";

import { sha256Hex } from "../../core/hash.js";
import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { registerPatient, type KeySetToSave, type OnboardingStep } from "../../sdk/actions/registerPatient.js";
import { rotateKeySet } from "../../sdk/actions/rotateKeySet.js";
import { createMedCipherClient, type MedCipherClient } from "../../sdk/client.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { fakeEvaluationKeys, startFixture, TEST_PARAM_SET, type Actor, type Fixture } from "./fixture.js";

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message?: string; status?: number; details?: Record<string, unknown> }> {
  return promise.then(() => expect.fail("expected a rejection"), (error: unknown) => error as { code?: string });
}

describe("sdk onboarding: keys saved first, uploaded before registering, resumable; key-set rotation", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let dataDir: string;

  before(async function () {
    fx = await startFixture();
    dataDir = await mkdtemp(join(tmpdir(), "medcipher-onboarding-"));
  });
  after(async function () {
    await fx?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Another gateway on the fixture's chain (same registered key), with its own block-number cache window. */
  async function gatewayWithBlockTtl(blockNumberTtlMs: number): Promise<GatewayService> {
    return startGatewayService({
      dataDir: await mkdtemp(join(dataDir, "gw-")),
      provider: fx.provider,
      addresses: fx.addresses,
      signingKey: fx.gatewayKey.signingKey,
      anchorIntervalMs: 0,
      blockNumberTtlMs,
      logger: pino({ level: "silent" }),
    });
  }

  async function clientOn(actor: Actor, gatewayUrl: string): Promise<MedCipherClient> {
    return createMedCipherClient({ account: actor.wallet, addresses: fx.addresses, gatewayUrl, encryptionKey: actor.encryptionKey });
  }

  it("registerPatient_aGatewayCallJustBeforeRegistering_noLongerFailsTheKeyUpload", async function () {
    // The gateway reuses a block number for blockNumberTtlMs and caches chain views per block: a
    // call that found "not a patient" keeps that answer for the window. Uploading after the
    // registration transaction therefore failed 403 inside the window; uploading first does not.
    const gateway = await gatewayWithBlockTtl(3_000);
    try {
      const patient = await fx.actor("patient");
      const client = await clientOn(patient, gateway.url);
      const early = await rejection(client.gateway!.put(randomBytes(64), { owner: patient.wallet.address, kind: "record", category: Category.VITAL_SIGNS }));
      expect(early.code).to.equal("GATEWAY_FORBIDDEN");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const evaluationKeys = fakeEvaluationKeys();
      const result = await registerPatient(client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET });
      expect(result.alreadyRegistered).to.equal(false);
      expect(await fx.suite.identity.keySetOf(patient.wallet.address)).to.deep.equal([result.keysHash, TEST_PARAM_SET]);
      expect(await client.gateway!.get(result.keysHash, { purpose: Purpose.PATRQT })).to.deep.equal(evaluationKeys);
    } finally {
      await gateway.close();
    }
  });

  it("registerPatient_savesTheKeySetBeforeAnythingIsSent_andAFailedUploadLeavesTheAccountUnregistered", async function () {
    const patient = await fx.actor("patient");
    const gateway = await gatewayWithBlockTtl(0);
    const client = await clientOn(patient, gateway.url);
    await gateway.close();
    const evaluationKeys = fakeEvaluationKeys();
    const steps: OnboardingStep[] = [];
    const saved: KeySetToSave[] = [];
    const error = await rejection(registerPatient(client, {
      encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET,
      saveKeySet: async (keySet) => { steps.push("save"); saved.push(keySet); },
      onProgress: (step) => { if (step !== "save") steps.push(step); },
    }));
    expect(error.code).to.equal("SDK_GATEWAY_UNAVAILABLE");
    expect(steps).to.deep.equal(["save", "upload"]);
    expect(saved[0]!.keysHash).to.equal(sha256Hex(evaluationKeys));
    expect((await fx.suite.identity.keySetOf(patient.wallet.address))[0]).to.equal(ZeroHash);

    // The retry with the saved key set, against a gateway that answers, finishes.
    const retry = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET });
    expect(retry.keysHash).to.equal(saved[0]!.keysHash);
    expect((await fx.suite.identity.keySetOf(patient.wallet.address))[0]).to.equal(retry.keysHash);
  });

  it("registerPatient_again_isAnIdempotentResume_notPatientAlreadyRegistered", async function () {
    const patient = await fx.actor("patient");
    const evaluationKeys = fakeEvaluationKeys();
    const parameters = { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys, paramSetId: TEST_PARAM_SET };
    const first = await registerPatient(patient.client, parameters);
    const steps: OnboardingStep[] = [];
    const again = await registerPatient(patient.client, { ...parameters, onProgress: (step) => steps.push(step) });
    expect(again).to.deep.include({ keysHash: first.keysHash, alreadyRegistered: true });
    expect(again.transactionHash).to.equal(undefined);
    expect(steps).to.deep.equal(["upload"]);
    // Another key set for a registered patient points at rotation, the way out.
    const other = await rejection(registerPatient(patient.client, { ...parameters, evaluationKeys: fakeEvaluationKeys() }));
    expect(other.code).to.equal("SDK_INVALID_INPUT");
    expect(other.message).to.include("rotateKeySet");
    expect(other.details).to.include({ registeredKeysHash: first.keysHash });
  });

  it("gateway_refusesAnUnregisteredAccountAnythingButItsOwnKeySetBoundToItsHash", async function () {
    const stranger = await fx.actor("stranger");
    const gateway = stranger.client.gateway!;
    const keys = fakeEvaluationKeys();
    // Not bound to its hash (ref zero, or another value), another category, or another kind: refused.
    for (const put of [
      { kind: "he-keys" as const, category: Category.PREDICTION },
      { kind: "he-keys" as const, category: Category.PREDICTION, ref: hexlify(randomBytes(32)) },
      { kind: "he-keys" as const, category: Category.VITAL_SIGNS, ref: sha256Hex(keys) },
      { kind: "record" as const, category: Category.VITAL_SIGNS, ref: sha256Hex(keys) },
    ]) {
      expect((await rejection(gateway.put(keys, { owner: stranger.wallet.address, ...put }))).code).to.equal("GATEWAY_FORBIDDEN");
    }
    // Someone else's key set, even bound to its hash: refused.
    const patient = await fx.actor("patient");
    expect((await rejection(gateway.put(keys, { owner: patient.wallet.address, kind: "he-keys", category: Category.PREDICTION, ref: sha256Hex(keys) }))).code).to.equal("GATEWAY_FORBIDDEN");
    expect(await gateway.put(keys, { owner: stranger.wallet.address, kind: "he-keys", category: Category.PREDICTION, ref: sha256Hex(keys) })).to.equal(sha256Hex(keys));
  });

  it("rotateKeySet_savesUploadsThenRotates_andARetryDoesNotRotateTwice", async function () {
    const patient = await fx.actor("patient");
    const first = await registerPatient(patient.client, { encryptionPublicKey: patient.encryptionKey.publicKey, evaluationKeys: fakeEvaluationKeys(), paramSetId: TEST_PARAM_SET });
    const next = fakeEvaluationKeys();
    const steps: OnboardingStep[] = [];
    const rotated = await rotateKeySet(patient.client, {
      evaluationKeys: next, paramSetId: TEST_PARAM_SET,
      saveKeySet: async () => { steps.push("save"); },
      onProgress: (step) => { if (step !== "save") steps.push(step); },
    });
    expect(steps).to.deep.equal(["save", "upload", "send", "confirm"]);
    expect(rotated).to.deep.include({ keysHash: sha256Hex(next), previousKeysHash: first.keysHash, alreadyRotated: false });
    const info = await fx.suite.identity.patientOf(patient.wallet.address);
    expect(info.keysHash).to.equal(rotated.keysHash);
    expect(info.keyVersion).to.equal(2n);
    expect(await patient.client.gateway!.get(rotated.keysHash, { purpose: Purpose.PATRQT })).to.deep.equal(next);
    const again = await rotateKeySet(patient.client, { evaluationKeys: next, paramSetId: TEST_PARAM_SET });
    expect(again.alreadyRotated).to.equal(true);
    expect(again.transactionHash).to.equal(undefined);
    expect((await fx.suite.identity.patientOf(patient.wallet.address)).keyVersion).to.equal(2n);
  });

  it("rotateKeySet_refusesAnAccountThatIsNotRegistered_namingRegistration", async function () {
    const stranger = await fx.actor("stranger");
    const error = await rejection(rotateKeySet(stranger.client, { evaluationKeys: fakeEvaluationKeys(), paramSetId: TEST_PARAM_SET }));
    expect(error.code).to.equal("SDK_INVALID_INPUT");
    expect(error.message).to.include("register");
  });
});
