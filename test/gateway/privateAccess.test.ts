/**
 * Reads under private consent and under group consent (issue 12 items 2 and 4, the gateway's
 * side), all real: the suite on EDR, the gateway service (startGatewayService: chain policy,
 * private access, data directory) on loopback HTTP, Semaphore proofs with the pinned circuit files.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { encodeBytes32String, hexlify, randomBytes, Wallet, ZeroAddress, type BaseWallet, type Signer } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";

import { deployMedCipher, type MedCipherDeployment } from "../../deploy/local.js";
import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { startGatewayService, type GatewayService } from "../../gateway/service.js";
import { auditEntryToFhir, NULLIFIER_URN_PREFIX } from "../../protocol/audit/fhir.js";
import type { AuditEntry } from "../../protocol/audit/entries.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient, type GatewayClient } from "../../protocol/gatewayClient.js";
import { groupReadPath, sendGroupRead } from "../../protocol/groupRead.js";
import { deriveRevocationSecret, encodePrivateConsentHeader, HEADER_PRIVATE_CONSENT, signPrivateConsent, type ParsedPrivateConsentGrant } from "../../protocol/privateConsent.js";
import { decodeGroupAccess, encodeGroupAccess, HEADER_GROUP_ACCESS, proveGroupAccess } from "../../protocol/zk/access.js";
import type { SemaphoreArtifacts } from "../../protocol/zk/artifacts.js";
import { fetchGroup, memberSiblings } from "../../protocol/zk/groupHistory.js";
import { randomIdentity, type Identity } from "../../protocol/zk/identity.js";
import { Group, releaseProver } from "../../protocol/zk/prove.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import { groupAccessHeaders } from "../../sdk/privacy/groupAccess.js";
import { readBlobAsGroupMember } from "../../sdk/privacy/readBlobAsGroupMember.js";
import { readBlobWithPrivateConsent } from "../../sdk/privacy/readBlobWithPrivateConsent.js";
import { sha256Hex } from "../../core/hash.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** The code, reason and status a gateway call was refused with. */
async function refusal(promise: Promise<unknown>): Promise<{ code?: string; reason?: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; details?: { reason?: string; status?: number } };
    return { code: e.code, reason: e.details?.reason ?? String(error), status: e.details?.status };
  }
  return expect.fail("expected the gateway to refuse");
}

describe("gateway: reads under private consent and anonymous group consent", function () {
  this.timeout(300_000);
  let suite: MedCipherDeployment;
  let artifacts: SemaphoreArtifacts;
  let service: GatewayService;
  let dataDir: string;
  let chainId: number;
  const gatewayKey = Wallet.createRandom();
  let patient: Signer;
  let patientAddress: string;
  let relayer: Signer;
  let admin: Signer;
  const patientSecret = randomBytes(32);
  const clinician = Wallet.createRandom();
  const stranger = Wallet.createRandom();
  let labBlob: string;
  let vitalsBlob: string;
  const labBytes = randomBytes(300);
  const vitalsBytes = randomBytes(200);

  const startService = async () => {
    service = await startGatewayService({
      dataDir, provider: ethers.provider, addresses: suite.addresses, signingKey: gatewayKey.signingKey, logger: pino({ level: "silent" }),
    });
  };
  const clientFor = (signer: BaseWallet): GatewayClient => createGatewayClient({ url: service.url, signer, chainId, gatewayAddress: gatewayKey.address });
  const chainNow = async () => (await ethers.provider.getBlock("latest"))!.timestamp;
  const auditEntries = (): Promise<AuditEntry[]> => readAuditLogFile(join(dataDir, "audit.jsonl"));

  /** A private consent signed by the patient and published by the relayer. */
  async function publishedGrant(consent: { grantee?: string; groupId?: bigint; purpose?: number; categories?: number } = {}): Promise<ParsedPrivateConsentGrant> {
    const now = await chainNow();
    const { grant } = await signPrivateConsent({
      signer: patient as never, patientSecret, chainId, consentManager: suite.addresses.ConsentManager,
      consent: {
        grantee: consent.grantee ?? (consent.groupId ? ZeroAddress : clinician.address), groupId: consent.groupId ?? 0n,
        purpose: consent.purpose ?? Purpose.TREAT, categories: consent.categories ?? 1 << Category.LABORATORY,
        validFrom: now - 60, validUntil: now + 30 * 86_400, epoch: Number(await suite.consent.epochOf(patientAddress)),
      },
    });
    await (await suite.consent.connect(relayer).grantConsentPrivate(grant.commitment)).wait();
    return grant;
  }

  before(async function () {
    const signers = await ethers.getSigners();
    [patient, relayer, admin] = [signers[2]!, signers[3]!, signers[4]!];
    patientAddress = await patient.getAddress();
    await networkHelpers.setBalance(gatewayKey.address, 10n ** 20n);
    suite = await deployMedCipher(connection, { roles: { gateways: [gatewayKey.address] } });
    chainId = Number((await ethers.provider.getNetwork()).chainId);
    artifacts = await readSemaphoreArtifacts();
    dataDir = await mkdtemp(join(tmpdir(), "medcipher-private-access-"));
    await startService();
    const keysHash = hexlify(randomBytes(32));
    await (await suite.identity.connect(patient).registerPatient(keysHash, encodeBytes32String("ckks-2048-v1"), `medcipher://blob/${keysHash}`, hexlify(randomBytes(32)))).wait();
    const own = createGatewayClient({ url: service.url, signer: patient as never, chainId, gatewayAddress: gatewayKey.address });
    labBlob = await own.put(labBytes, { owner: patientAddress, kind: "record", category: Category.LABORATORY });
    vitalsBlob = await own.put(vitalsBytes, { owner: patientAddress, kind: "record", category: Category.VITAL_SIGNS });
  });
  after(async function () {
    await service?.close();
    await releaseProver();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe("an individual grantee with a private consent", function () {
    it("reads the blob, audited under its address as private-consent; without the grant it is refused", async function () {
      const grant = await publishedGrant();
      expect(hexlify(await readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant }))).to.equal(hexlify(labBytes));
      const entry = (await auditEntries()).find((e) => e.blobId === labBlob && e.outcome === "granted" && e.actor === clinician.address);
      expect(entry, "audit entry of the read").to.include({ reason: "private-consent", purpose: Purpose.TREAT, owner: patientAddress });
      expect(entry!.actorKind).to.equal(undefined);
      // Session mode (Ed25519 per request) carries the grant the same way.
      const session = createGatewayClient({ url: service.url, signer: clinician, chainId, gatewayAddress: gatewayKey.address, session: true });
      expect(hexlify(await readBlobWithPrivateConsent({ gateway: session, blobId: labBlob, grant }))).to.equal(hexlify(labBytes));
      // No public consent exists: the chain policy alone refuses.
      expect((await refusal(clientFor(clinician).get(labBlob, { purpose: Purpose.TREAT }))).reason).to.match(/no live consent/);
    });

    it("is refused for another category or another purpose", async function () {
      const grant = await publishedGrant();
      const vitals = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: vitalsBlob, grant }));
      expect(vitals).to.include({ code: "GATEWAY_FORBIDDEN", status: 403 });
      expect(vitals.reason).to.match(/no live private consent for VITAL_SIGNS records for purpose TREAT/);
      const research = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant, purpose: Purpose.HRESCH }));
      expect(research.reason).to.match(/no live private consent for LABORATORY records for purpose HRESCH/);
      const refused = (await auditEntries()).filter((e) => e.actor === clinician.address && e.outcome === "refused" && e.reason === "GATEWAY_FORBIDDEN");
      expect(refused.length).to.be.greaterThanOrEqual(2);
    });

    it("is refused when presented by a different signer, or when the opening is signed by someone else", async function () {
      const grant = await publishedGrant();
      const other = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(stranger), blobId: labBlob, grant }));
      expect(other.code).to.equal("GATEWAY_FORBIDDEN");
      expect(other.reason).to.match(/names another grantee/);

      // The patient's opening with a stranger's signature over the very same typed data.
      const { grant: forgedBy } = await signPrivateConsent({
        signer: stranger, patientSecret, chainId, consentManager: suite.addresses.ConsentManager,
        consent: { ...grant.opening },
      });
      const forged = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant: { ...grant, signature: forgedBy.signature } }));
      expect(forged).to.include({ code: "GATEWAY_PRIVATE_CONSENT_SIGNATURE", status: 403 });

      // A consent the stranger signed as "patient", published, for the real patient's blob.
      const { grant: strangers } = await signPrivateConsent({
        signer: stranger, patientSecret, chainId, consentManager: suite.addresses.ConsentManager,
        consent: { grantee: clinician.address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.LABORATORY, validFrom: 0, validUntil: 2 ** 39, epoch: 0 },
      });
      await (await suite.consent.connect(relayer).grantConsentPrivate(strangers.commitment)).wait();
      const notPatient = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant: strangers }));
      expect(notPatient.reason).to.match(/another patient's/);

      const malformed = await refusal(clientFor(clinician).get(labBlob, { purpose: Purpose.TREAT, privateConsent: { ...grant, revocationHash: "0x12" } }));
      expect(malformed).to.include({ code: "GATEWAY_PRIVATE_CONSENT_MALFORMED", status: 400 });
    });

    it("is refused at once after revokeConsentPrivate", async function () {
      const grant = await publishedGrant();
      const read = () => readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant });
      expect(hexlify(await read())).to.equal(hexlify(labBytes));
      await (await suite.consent.connect(relayer).revokeConsentPrivate(grant.consentHash, deriveRevocationSecret(patientSecret, grant.opening.salt))).wait();
      expect((await refusal(read())).reason).to.match(/no live private consent/);
    });

    it("is refused at once after revokeAllConsents (the patient's epoch moves on)", async function () {
      const grant = await publishedGrant();
      const read = () => readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant });
      expect(hexlify(await read())).to.equal(hexlify(labBytes));
      await (await suite.consent.connect(patient).revokeAllConsents()).wait();
      expect((await refusal(read())).reason).to.match(/no live private consent/);
    });
  });

  describe("an anonymous member of a consent group", function () {
    let groupId: bigint;
    let members: Identity[];
    let grant: ParsedPrivateConsentGrant;
    let semaphore: string;
    let privacyGroups: string;

    const currentGroup = () => fetchGroup(ethers.provider, semaphore, groupId);
    const read = async (identity: Identity, group?: Group) => readBlobAsGroupMember({
      url: service.url, gatewayAddress: gatewayKey.address, blobId: labBlob, identity, group: group ?? await currentGroup(), artifacts, grant, privacyGroups,
    });
    const headersFor = async (identity: Identity, overrides: { path?: string; gateway?: string; group?: Group } = {}) => groupAccessHeaders({
      identity, group: overrides.group ?? await currentGroup(), artifacts, grant, privacyGroups,
      gateway: overrides.gateway ?? gatewayKey.address, method: "GET", path: overrides.path ?? groupReadPath(labBlob),
    });
    const send = (headers: Record<string, string>, blobId = labBlob) => sendGroupRead({ url: service.url, chainId, gatewayAddress: gatewayKey.address, blobId, headers });
    const nullifierOf = (headers: Record<string, string>) => `0x${BigInt(decodeGroupAccess(headers[HEADER_GROUP_ACCESS]!).proof.nullifier).toString(16).padStart(64, "0")}`;

    before(async function () {
      semaphore = suite.addresses.Semaphore;
      privacyGroups = suite.addresses.PrivacyGroups;
      groupId = await suite.groups.connect(admin).createGroup.staticCall(hexlify(randomBytes(32)));
      await (await suite.groups.connect(admin).createGroup(hexlify(randomBytes(32)))).wait();
      members = [randomIdentity(), randomIdentity(), randomIdentity()];
      await (await suite.groups.connect(admin).addMembers(groupId, members.map((m) => m.commitment))).wait();
      grant = await publishedGrant({ groupId, purpose: Purpose.HRESCH });
    });

    it("reads anonymously; the audit entry names the nullifier and no address, in the log and in FHIR", async function () {
      const headers = await headersFor(members[0]!);
      expect(hexlify(await send(headers))).to.equal(hexlify(labBytes));
      const nullifier = nullifierOf(headers);
      const entry = (await auditEntries()).find((e) => e.actor === nullifier);
      expect(entry, "audit entry by nullifier").to.include({ actorKind: "nullifier", group: groupId.toString(), action: "read", blobId: labBlob, outcome: "granted", reason: "group-consent", purpose: Purpose.HRESCH, owner: patientAddress });
      // The only address in the entry is the patient's (whose blob it is).
      const addresses = JSON.stringify(entry).match(/0x[0-9a-fA-F]{40}(?![0-9a-fA-F])/g) ?? [];
      expect(addresses).to.deep.equal([patientAddress]);
      const fhir = auditEntryToFhir(entry!, gatewayKey.address);
      expect(fhir.agent![0]!.who!.identifier!.value).to.equal(`${NULLIFIER_URN_PREFIX}${nullifier}`);
      expect(JSON.stringify(fhir.agent)).not.to.match(/urn:ethereum/);
      // The SDK action does the same for another member: a new nullifier, unlinkable to the first.
      expect(hexlify(await read(members[2]!))).to.equal(hexlify(labBytes));
      const nullifiers = (await auditEntries()).filter((e) => e.actorKind === "nullifier" && e.outcome === "granted").map((e) => e.actor);
      expect(new Set(nullifiers).size).to.equal(nullifiers.length);
    });

    it("refuses a non-member (a proof against a made-up group), a wrong scope, and a request bound to another path or gateway", async function () {
      const outsider = randomIdentity();
      const fake = new Group([...members.map((m) => m.commitment), outsider.commitment]);
      expect(await refusal(send(await headersFor(outsider, { group: fake })))).to.include({ code: "GATEWAY_ZK_ROOT_UNKNOWN", status: 403 });

      const otherScope = await proveGroupAccess({
        identity: members[0]!, group: await currentGroup(), artifacts, chainId, privacyGroups, consentCommitment: hexlify(randomBytes(32)),
        request: { gateway: gatewayKey.address, method: "GET", path: groupReadPath(labBlob), bodySha256: sha256Hex(new Uint8Array()), timestamp: Math.floor(Date.now() / 1000) },
      });
      expect(await refusal(send({ [HEADER_GROUP_ACCESS]: otherScope, [HEADER_PRIVATE_CONSENT]: encodePrivateConsentHeader(grant) }))).to.include({ code: "GATEWAY_ZK_SCOPE_MISMATCH", status: 401 });

      const otherPath = await headersFor(members[0]!, { path: groupReadPath(vitalsBlob) });
      expect((await refusal(send(otherPath))).code).to.equal("GATEWAY_ZK_MESSAGE_MISMATCH");
      const otherGateway = await headersFor(members[0]!, { gateway: Wallet.createRandom().address });
      expect((await refusal(send(otherGateway))).code).to.equal("GATEWAY_ZK_MESSAGE_MISMATCH");
      // None of these established an accessor: counted, not audited.
      const head = await (await fetch(`${service.url}/v1/audit/head`)).json() as { aggregateRefusals: { byCode: Record<string, number> } };
      expect(head.aggregateRefusals.byCode.GATEWAY_ZK_MESSAGE_MISMATCH).to.equal(2);
    });

    it("refuses a proof whose timestamp is outside the gateway's clock-skew window", async function () {
      const stale = await refusal(readBlobAsGroupMember({
        url: service.url, gatewayAddress: gatewayKey.address, blobId: labBlob, identity: members[0]!, group: await currentGroup(), artifacts, grant, privacyGroups,
        nowSeconds: Math.floor(Date.now() / 1000) - 121,
      }));
      expect(stale).to.include({ code: "GATEWAY_ZK_STALE", status: 401 });
    });

    it("refuses a tampered proof and a malformed header", async function () {
      const headers = await headersFor(members[0]!);
      const access = decodeGroupAccess(headers[HEADER_GROUP_ACCESS]!);
      const points = [...access.proof.points] as typeof access.proof.points;
      points[3] = (BigInt(points[3]) ^ 1n).toString();
      const tampered = { ...headers, [HEADER_GROUP_ACCESS]: encodeGroupAccess({ ...access, proof: { ...access.proof, points } }) };
      expect(await refusal(send(tampered))).to.include({ code: "GATEWAY_ZK_PROOF_INVALID", status: 403 });
      expect((await refusal(send({ ...headers, [HEADER_GROUP_ACCESS]: "e30" }))).code).to.equal("GATEWAY_ZK_PROOF_MALFORMED");
      // Without a valid proof nobody learns whether a blob exists: the proof is checked first.
      expect((await refusal(send(tampered, sha256Hex(randomBytes(8))))).code).to.equal("GATEWAY_ZK_MESSAGE_MISMATCH");
      // The untampered proof still works: the refusals spent nothing.
      expect(hexlify(await send(headers))).to.equal(hexlify(labBytes));
    });

    it("refuses a replayed nullifier, also after the gateway restarts", async function () {
      const headers = await headersFor(members[1]!);
      expect(hexlify(await send(headers))).to.equal(hexlify(labBytes));
      expect(await refusal(send(headers))).to.include({ code: "GATEWAY_ZK_NULLIFIER_REPLAY", status: 401 });
      await service.close();
      await startService();
      expect((await readdir(join(dataDir, "nullifiers"))).some((name) => `0x${name}` === nullifierOf(headers))).to.equal(true);
      expect((await refusal(send(headers))).code).to.equal("GATEWAY_ZK_NULLIFIER_REPLAY");
    });

    it("spends a nullifier once under concurrency, and keeps the two consent forms apart", async function () {
      const headers = await headersFor(members[0]!);
      const results = await Promise.allSettled([send(headers), send(headers), send(headers)]);
      expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
      for (const r of results.filter((r): r is PromiseRejectedResult => r.status === "rejected")) expect(r.reason.code).to.equal("GATEWAY_ZK_NULLIFIER_REPLAY");
      // A group consent shown with a signature, an individual one with a proof, and a proof beside a signature.
      const asSigner = await refusal(readBlobWithPrivateConsent({ gateway: clientFor(clinician), blobId: labBlob, grant }));
      expect(asSigner.reason).to.match(/group consent is used with a membership proof/);
      const individual = await publishedGrant();
      const withProof = { ...(await headersFor(members[0]!)), [HEADER_PRIVATE_CONSENT]: encodePrivateConsentHeader(individual) };
      expect((await refusal(send(withProof))).reason).to.match(/individual's private consent is used with the grantee's signature/);
      const both = await fetch(`${service.url}${groupReadPath(labBlob)}`, { headers: { ...(await headersFor(members[0]!)), "x-medcipher-auth": "e30" } });
      expect(both.status).to.equal(400);
      expect(((await both.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_ZK_PROOF_MALFORMED");
    });

    it("refuses a removed member's proof; the member cannot prove against the new group; the others still read", async function () {
      const before = await currentGroup();
      const headers = await headersFor(members[1]!, { group: before });
      await (await suite.groups.connect(admin).removeMember(groupId, members[1]!.commitment, memberSiblings(before, members[1]!.commitment))).wait();
      expect(await refusal(send(headers))).to.include({ code: "GATEWAY_ZK_ROOT_BEFORE_REMOVAL", status: 403 });
      expect((await refusal(read(members[1]!))).code).to.equal("ZK_NOT_MEMBER");
      expect(hexlify(await read(members[0]!))).to.equal(hexlify(labBytes));
    });

    it("cannot be given to the registered-patients group: every registered patient could read", async function () {
      // MedCipher deploys its own Semaphore, so the patients' group is its group 0, and groupId 0
      // in an opening means "an individual grantee": no opening can name the patients' group.
      expect(await suite.groups.patientGroupId()).to.equal(0n);
      let refused: unknown;
      try {
        await publishedGrant({ groupId: 0n, grantee: ZeroAddress, purpose: Purpose.HRESCH });
      } catch (error) {
        refused = error;
      }
      expect(refused).to.have.property("message").that.matches(/exactly one of grantee .* and groupId .* must be set/);
    });

    it("refuses after the patient revokes the group consent, audited under the nullifier", async function () {
      const headers = await headersFor(members[0]!);
      await (await suite.consent.connect(relayer).revokeConsentPrivate(grant.consentHash, deriveRevocationSecret(patientSecret, grant.opening.salt))).wait();
      const refused = await refusal(send(headers));
      expect(refused).to.include({ code: "GATEWAY_FORBIDDEN" });
      expect(refused.reason).to.match(/no live private consent for LABORATORY records for purpose HRESCH/);
      const entry = (await auditEntries()).find((e) => e.actor === nullifierOf(headers));
      expect(entry).to.include({ actorKind: "nullifier", outcome: "refused", reason: "GATEWAY_FORBIDDEN" });
      grant = await publishedGrant({ groupId, purpose: Purpose.HRESCH });
    });

    it("refuses a proof against a root replaced longer ago than the root window (stale root)", async function () {
      const headers = await headersFor(members[0]!);
      await (await suite.groups.connect(admin).addMembers(groupId, [randomIdentity().commitment])).wait();
      await networkHelpers.time.increase(Number(await suite.groups.rootWindow()) + 1);
      expect(await refusal(send(headers))).to.include({ code: "GATEWAY_ZK_ROOT_EXPIRED", status: 403 });
      // A fresh proof against the current root still reads.
      expect(hexlify(await read(members[0]!))).to.equal(hexlify(labBytes));
    });
  });
});
