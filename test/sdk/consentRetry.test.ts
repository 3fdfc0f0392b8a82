// Signed consent changes under races (issue 9, item 15): a relayer that lets something else land
// between the patient's signature and its own submission.
import { expect } from "chai";
import { Wallet, type Provider, type TransactionRequest, type TransactionResponse } from "ethers";

import { consentDomain, grantConsent } from "../../sdk/actions/grantConsent.js";
import { revokeConsent } from "../../sdk/actions/revokeConsent.js";
import { revertName } from "../../sdk/chain/resign.js";
import { GRANT_CONSENT_TYPES } from "../../protocol/typedData.js";
import { Category, Purpose, scopeOf } from "../../protocol/codes.js";
import { ChainError } from "../../sdk/errors.js";
import { startFixture, type Actor, type Fixture } from "./fixture.js";

/** A relayer that runs `race` (once) after the patient signed and before its own transaction. */
class RacingRelayer extends Wallet {
  race: (() => Promise<unknown>) | undefined;
  constructor(privateKey: string, provider: Provider) {
    super(privateKey, provider);
  }
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const race = this.race;
    this.race = undefined;
    if (race) await race();
    return super.sendTransaction(tx);
  }
}

describe("sdk: signed consent changes survive races", function () {
  this.timeout(120_000);
  let fx: Fixture;
  let patient: Actor;
  let clinician: Actor;
  let other: Actor;
  let relayer: RacingRelayer;
  const hasVitals = (grantee: string) =>
    fx.suite.consent.hasAccess(grantee, patient.wallet.address, Category.VITAL_SIGNS, Purpose.TREAT);

  before(async function () {
    fx = await startFixture();
    [patient, clinician, other] = [await fx.actor("patient"), await fx.actor("clinician"), await fx.actor("other")];
    relayer = new RacingRelayer(Wallet.createRandom().privateKey, fx.provider);
    await fx.fund(relayer.address);
  });
  after(async function () {
    await fx?.close();
  });

  async function untilTomorrow() {
    return (await fx.provider.getBlock("latest"))!.timestamp + 86_400;
  }

  it("test_revokeConsent_landsWhenTheGranteeFrontRunsWithAHeldGrant", async function () {
    const validUntil = await untilTomorrow();
    const terms = { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil };
    await grantConsent(patient.client, { ...terms, relayer });
    // The patient signed one more grant (say, a renewal) and the clinician kept it back.
    const nonce = await fx.suite.consent.nonces(patient.wallet.address);
    const deadline = validUntil;
    const held = { patient: patient.wallet.address, grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: scopeOf(terms.categories), validFrom: 0, validUntil, nonce, deadline };
    const heldSignature = await patient.wallet.signTypedData(consentDomain(patient.client), GRANT_CONSENT_TYPES, held);
    relayer.race = async () => {
      const byClinician = fx.suite.consent.connect(clinician.wallet);
      await (await byClinician.grantConsentBySig(held.patient, held.grantee, held.purpose, held.categories, 0, validUntil, deadline, heldSignature)).wait();
    };
    await revokeConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, relayer });
    expect(relayer.race).to.equal(undefined);
    expect(await hasVitals(clinician.wallet.address)).to.equal(false);
  });

  it("test_revokeConsent_resignsWhenAReorgTookBackTheNonceItSigned", async function () {
    const validUntil = await untilTomorrow();
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil, relayer });
    const snapshot = await fx.provider.send("evm_snapshot", []);
    // A change that a reorg will drop: the revocation is signed at the nonce after it.
    await (await fx.suite.consent.connect(patient.wallet).grantConsent(other.wallet.address, Purpose.TREAT, 1, 0, validUntil)).wait();
    const signedAt = await fx.suite.consent.nonces(patient.wallet.address);
    relayer.race = () => fx.provider.send("evm_revert", [snapshot]);
    await revokeConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, relayer });
    expect(await fx.suite.consent.nonces(patient.wallet.address)).to.equal(signedAt);
    expect(await hasVitals(clinician.wallet.address)).to.equal(false);
  });

  it("test_grantConsent_resignsWhenAnotherChangeTookItsNonce", async function () {
    const validUntil = await untilTomorrow();
    relayer.race = async () => {
      await (await fx.suite.consent.connect(patient.wallet).grantConsent(other.wallet.address, Purpose.TREAT, 1, 0, validUntil)).wait();
    };
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil, relayer });
    expect(relayer.race).to.equal(undefined);
    expect(await hasVitals(clinician.wallet.address)).to.equal(true);
    expect(await hasVitals(other.wallet.address)).to.equal(true);
  });

  it("test_grantConsent_doesNotResignOverANewerChangeOfTheSameGrant", async function () {
    const validUntil = await untilTomorrow();
    await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil, relayer });
    // While the renewal is in flight the patient revokes directly: the revocation stands.
    relayer.race = async () => {
      await (await fx.suite.consent.connect(patient.wallet).revokeConsent(clinician.wallet.address, Purpose.TREAT)).wait();
    };
    let failure: unknown;
    try {
      await grantConsent(patient.client, { grantee: clinician.wallet.address, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil, relayer });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(ChainError);
    expect(revertName(failure)).to.equal("InvalidSigner");
    expect(await hasVitals(clinician.wallet.address)).to.equal(false);
  });
});
