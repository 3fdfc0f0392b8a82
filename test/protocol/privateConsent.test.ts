/**
 * protocol/privateConsent: the typed data matches PRIVATE_CONSENT_TYPEHASH, the hashes match an
 * independent encoding, the revocation secret is the patient's to derive again, and the grant a
 * patient hands out parses only when well formed and signed by its patient.
 */
import { expect } from "chai";
import { getAddress, Signature, Wallet, ZeroAddress } from "ethers";

import { hexToBytes } from "../../core/hex.js";
import { Purpose, Category } from "../../protocol/codes.js";
import {
  decodePrivateConsentHeader, deriveRevocationSecret, encodePrivateConsentHeader, parsePrivateConsentGrant, PRIVATE_CONSENT_TYPEHASH, privateCommitment,
  privateConsentHash, PrivateConsentError, revocationHashOf, serializePrivateConsentGrant, signPrivateConsent, type ParsedPrivateConsentGrant,
} from "../../protocol/privateConsent.js";
import { abiEncode, keccakHex } from "./abiWords.js";

const CONSENT_MANAGER = getAddress("0xdc64a140aa3e981100a9beca4e685f962f0cf6c9");
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The grant's JSON as parsed back, loose enough to be broken on purpose. */
type GrantJson = { [key: string]: unknown; chainId: number; signature: string; revocationHash: string; opening: { [key: string]: unknown; patient: string; grantee: string; validFrom: number } };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(PrivateConsentError);
    return (error as PrivateConsentError).code;
  }
  throw new Error("expected a PrivateConsentError");
}

describe("protocol/privateConsent: openings, commitments and revocation secrets", function () {
  const patient = Wallet.createRandom();
  const clinician = Wallet.createRandom();
  const patientSecret = hexToBytes(patient.privateKey);
  const fields = { grantee: clinician.address, groupId: 0n, purpose: Purpose.TREAT, categories: 1 << Category.LABORATORY, validFrom: 1_764_633_600, validUntil: 1_767_225_600, epoch: 0 };
  let grant: ParsedPrivateConsentGrant;
  let revocationSecret: string;

  before(async () => {
    ({ grant, revocationSecret } = await signPrivateConsent({ signer: patient, patientSecret, chainId: 31337, consentManager: CONSENT_MANAGER, consent: fields }));
  });

  it("PRIVATE_CONSENT_TYPEHASH is the brief's type string", () => {
    expect(PRIVATE_CONSENT_TYPEHASH).to.equal(keccakHex(new TextEncoder().encode(
      "PrivateConsent(address patient,address grantee,uint256 groupId,uint8 purpose,uint32 categories,uint40 validFrom,uint40 validUntil,uint32 epoch,bytes32 salt)")));
  });

  it("consentHash is the EIP-712 struct hash; revocationHash and commitment are keccak of abi.encode", () => {
    const o = grant.opening;
    const structHash = keccakHex(abiEncode([["bytes32", PRIVATE_CONSENT_TYPEHASH], ["address", o.patient], ["address", o.grantee], ["uint", o.groupId], ["uint", o.purpose],
      ["uint", o.categories], ["uint", o.validFrom], ["uint", o.validUntil], ["uint", o.epoch], ["bytes32", o.salt]]));
    expect(privateConsentHash(o)).to.equal(structHash);
    expect(grant.consentHash).to.equal(structHash);
    expect(revocationHashOf(revocationSecret)).to.equal(keccakHex(abiEncode([["bytes32", revocationSecret]])));
    expect(grant.commitment).to.equal(keccakHex(abiEncode([["bytes32", structHash], ["bytes32", grant.revocationHash]])));
    expect(privateCommitment(grant.consentHash, grant.revocationHash)).to.equal(grant.commitment);
  });

  it("the patient derives the revocation secret again from the key and the salt alone; another salt, another secret", () => {
    expect(deriveRevocationSecret(hexToBytes(patient.privateKey), grant.opening.salt)).to.equal(revocationSecret);
    expect(revocationHashOf(deriveRevocationSecret(patientSecret, grant.opening.salt))).to.equal(grant.revocationHash);
    expect(deriveRevocationSecret(patientSecret, `0x${"11".repeat(32)}`)).not.to.equal(revocationSecret);
    expect(deriveRevocationSecret(hexToBytes(clinician.privateKey), grant.opening.salt)).not.to.equal(revocationSecret);
  });

  it("the grant round-trips as JSON and as a header, and names the patient's signature", () => {
    expect(parsePrivateConsentGrant(serializePrivateConsentGrant(grant))).to.deep.equal(grant);
    expect(decodePrivateConsentHeader(encodePrivateConsentHeader(grant))).to.deep.equal(grant);
    expect(grant.opening.patient).to.equal(patient.address);
  });

  it("a group consent (groupId, no grantee) is signed and parsed too", async () => {
    const group = await signPrivateConsent({ signer: patient, patientSecret, chainId: 31337, consentManager: CONSENT_MANAGER, consent: { ...fields, grantee: ZeroAddress, groupId: 12n, purpose: Purpose.HRESCH } });
    expect(parsePrivateConsentGrant(serializePrivateConsentGrant(group.grant)).opening.groupId).to.equal(12n);
  });

  it("refuses a changed field, another signer, another domain or a high-s signature (PRIVATE_CONSENT_SIGNATURE)", async () => {
    const json = () => JSON.parse(serializePrivateConsentGrant(grant)) as GrantJson;
    const changed = json();
    changed.opening.categories = 0xff;
    expect(codeOf(() => parsePrivateConsentGrant(JSON.stringify(changed)))).to.equal("PRIVATE_CONSENT_SIGNATURE");
    const otherDomain = json();
    otherDomain.chainId = 1;
    expect(codeOf(() => parsePrivateConsentGrant(JSON.stringify(otherDomain)))).to.equal("PRIVATE_CONSENT_SIGNATURE");
    const forged = await signPrivateConsent({ signer: clinician, patientSecret, chainId: 31337, consentManager: CONSENT_MANAGER, consent: { ...fields, grantee: patient.address } });
    const claimed = JSON.parse(serializePrivateConsentGrant(forged.grant)) as GrantJson;
    claimed.opening.patient = patient.address;
    claimed.opening.grantee = clinician.address;
    expect(codeOf(() => parsePrivateConsentGrant(JSON.stringify(claimed)))).to.equal("PRIVATE_CONSENT_SIGNATURE");
    // The same signature with s' = n - s and the other v recovers the same signer; OpenZeppelin's ECDSA refuses it, so do we.
    const signature = Signature.from(grant.signature);
    const highS = json();
    highS.signature = `0x${signature.r.slice(2)}${(SECP256K1_N - BigInt(signature.s)).toString(16).padStart(64, "0")}${signature.v === 27 ? "1c" : "1b"}`;
    expect(codeOf(() => parsePrivateConsentGrant(JSON.stringify(highS)))).to.equal("PRIVATE_CONSENT_SIGNATURE");
  });

  it("refuses malformed grants (PRIVATE_CONSENT_MALFORMED)", () => {
    const base = JSON.parse(serializePrivateConsentGrant(grant)) as GrantJson;
    const variants: [string, (g: GrantJson) => void][] = [
      ["extra key", (g) => { g.extra = 1; }],
      ["missing opening key", (g) => { delete g.opening.salt; }],
      ["version", (g) => { g.v = 2; }],
      ["both grantee and group", (g) => { g.opening.groupId = "5"; }],
      ["neither grantee nor group", (g) => { g.opening.grantee = ZeroAddress; }],
      ["groupId as a number", (g) => { g.opening.groupId = 0; }],
      ["purpose 0", (g) => { g.opening.purpose = 0; }],
      ["no categories", (g) => { g.opening.categories = 0; }],
      ["period backwards", (g) => { g.opening.validUntil = g.opening.validFrom; }],
      ["non-checksummed address", (g) => { g.opening.grantee = g.opening.grantee.toLowerCase(); }],
      ["zero salt", (g) => { g.opening.salt = `0x${"0".repeat(64)}`; }],
      ["short signature", (g) => { g.signature = g.signature.slice(0, 130); }],
      ["upper-case revocation hash", (g) => { g.revocationHash = g.revocationHash.toUpperCase().replace("0X", "0x"); }],
    ];
    for (const [name, mutate] of variants) {
      const copy = structuredClone(base);
      mutate(copy);
      expect(codeOf(() => parsePrivateConsentGrant(JSON.stringify(copy))), name).to.equal("PRIVATE_CONSENT_MALFORMED");
    }
    expect(codeOf(() => parsePrivateConsentGrant("{"))).to.equal("PRIVATE_CONSENT_MALFORMED");
    expect(codeOf(() => decodePrivateConsentHeader("***"))).to.equal("PRIVATE_CONSENT_MALFORMED");
  });
});
