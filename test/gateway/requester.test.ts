import { join } from "node:path";

import { expect } from "chai";
import { hexlify, randomBytes, type Signer } from "ethers";

import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient, type GatewayClient } from "../../sdk/gateway/client.js";
import { createWorld, type World } from "../oracle/helpers/world.js";

/** The error code and refusal reason a gateway call ended with. */
async function refusal(promise: Promise<unknown>): Promise<{ code?: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; details?: { reason?: string; body?: { error?: { details?: { reason?: string } } } } };
    return { code: e.code, reason: e.details?.reason ?? e.details?.body?.error?.details?.reason ?? String(error) };
  }
  expect.fail("expected the gateway to refuse");
}

/**
 * The gateway's write rule for a requester other than the patient (a clinician requesting a
 * prediction): real chain with the suite deployed, real gateway with the chain access policy.
 */
describe("gateway: a consented requester stores the patient's encrypted input", function () {
  this.timeout(120_000);
  let world: World;
  let clinician: Signer;
  let clinicianAddress: string;
  let gateway: GatewayClient;

  const grant = async (purpose: number, categories: number) => {
    const now = (await world.ethers.provider.getBlock("latest"))!.timestamp;
    await (await world.suite.consent.connect(world.patients[0]!.signer).grantConsent(clinicianAddress, purpose, categories, now, now + 86_400)).wait();
  };
  const put = (bytes: Uint8Array, overrides: { kind?: "he-input" | "record"; category?: number; purpose?: number } = {}) =>
    gateway.put(bytes, { owner: world.patients[0]!.address, kind: overrides.kind ?? "he-input", category: overrides.category ?? Category.PREDICTION, purpose: overrides.purpose ?? Purpose.TREATDS });

  before(async function () {
    world = await createWorld({ patients: 1 });
    clinician = (await world.ethers.getSigners())[9]!;
    clinicianAddress = await clinician.getAddress();
    await (await world.suite.identity.grantRole(await world.suite.identity.PROVIDER_ROLE(), clinicianAddress)).wait();
    gateway = createGatewayClient({ url: world.gatewayUrl, signer: clinician as never, chainId: world.chainId, gatewayAddress: world.gatewayKey.address });
  });
  after(async function () {
    await world?.close();
  });

  it("refuses without consent", async function () {
    const r = await refusal(put(randomBytes(64)));
    expect(r.code).to.equal("GATEWAY_FORBIDDEN");
    expect(r.reason).to.match(/no live consent for PREDICTION/);
  });

  it("refuses under consent for another purpose than the router's (TREAT, not TREATDS)", async function () {
    await grant(Purpose.TREAT, 1 << Category.PREDICTION);
    const r = await refusal(put(randomBytes(64), { purpose: Purpose.TREAT }));
    expect(r.reason).to.match(/purpose TREATDS/);
    expect((await refusal(put(randomBytes(64)))).reason).to.match(/no live consent/);
  });

  it("with PREDICTION/TREATDS consent: stores an he-input (granted, audited as consent) and nothing else", async function () {
    await grant(Purpose.TREATDS, 1 << Category.PREDICTION);
    const input = randomBytes(256);
    const id = await put(input);
    // The patient reads back what the clinician stored for them.
    expect(hexlify(await world.patients[0]!.gateway.get(id, { purpose: Purpose.TREAT }))).to.equal(hexlify(input));
    const entries = await readAuditLogFile(join(world.dir, "gateway", "audit.jsonl"));
    const write = entries.find((e) => e.blobId === id && e.action === "write");
    expect(write, "audit entry of the write").to.include({ outcome: "granted", reason: "consent", purpose: Purpose.TREATDS });
    expect(write!.actor.toLowerCase()).to.equal(clinicianAddress.toLowerCase());

    const record = await refusal(put(randomBytes(64), { kind: "record", category: Category.PREDICTION }));
    expect(record.code).to.equal("GATEWAY_FORBIDDEN");
    expect(record.reason).to.match(/only the patient or a device/);
    const wrongCategory = await refusal(put(randomBytes(64), { category: Category.PREDICTION - 1 }));
    expect(wrongCategory.reason).to.match(/category PREDICTION/);
    const refusedEntries = (await readAuditLogFile(join(world.dir, "gateway", "audit.jsonl"))).filter((e) => e.outcome === "refused" && e.actor.toLowerCase() === clinicianAddress.toLowerCase());
    expect(refusedEntries.length).to.be.greaterThanOrEqual(2);
  });

  it("refuses again once the patient revokes the consent", async function () {
    await (await world.suite.consent.connect(world.patients[0]!.signer).revokeConsent(clinicianAddress, Purpose.TREATDS)).wait();
    const r = await refusal(put(randomBytes(64)));
    expect(r.code).to.equal("GATEWAY_FORBIDDEN");
    expect(r.reason).to.match(/no live consent/);
  });
});
