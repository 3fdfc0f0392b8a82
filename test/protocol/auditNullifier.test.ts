/**
 * Audit entries whose actor is a Semaphore nullifier (an anonymous group member's access): the
 * entry format extended compatibly — entries without the new fields hash exactly as before, the
 * new fields are covered by the hash — and their FHIR AuditEvent conforms to R4, naming no address.
 */
import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { GENESIS_HASH, hashAuditEntry, verifyAuditChain, type AuditEntry } from "../../protocol/audit/entries.js";
import { auditEntryToFhir, NULLIFIER_URN_PREFIX } from "../../protocol/audit/fhir.js";
import { expectConformant } from "../fhir/conformance.js";

const PATIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const GATEWAY = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const NULLIFIER = `0x${"2a".repeat(32)}`;

function chained(inputs: Omit<AuditEntry, "seq" | "time" | "prev" | "hash">[]): AuditEntry[] {
  let prev = GENESIS_HASH;
  return inputs.map((input, i) => {
    const body = { ...input, seq: i + 1, time: `2026-12-02T06:0${i}:00.000Z`, prev };
    const entry = { ...body, hash: hashAuditEntry(body) };
    prev = entry.hash;
    return entry;
  });
}

describe("audit entries by nullifier", function () {
  const byAddress = { actor: PATIENT, action: "read" as const, blobId: `0x${"1f".repeat(32)}`, owner: PATIENT, purpose: 1, outcome: "granted" as const, reason: "owner" };
  const byNullifier = { ...byAddress, actor: NULLIFIER, actorKind: "nullifier" as const, group: "7", purpose: 3, reason: "group-consent" };

  it("an address entry hashes as before the format grew (the pre-issue-12 canonical array)", function () {
    const [entry] = chained([byAddress]);
    const old = JSON.stringify([entry!.seq, entry!.time, entry!.prev, entry!.actor, entry!.action, entry!.blobId, entry!.owner, entry!.purpose, entry!.outcome, entry!.reason]);
    expect(entry!.hash).to.equal(sha256Hex(new TextEncoder().encode(old)));
  });

  it("covers actorKind and group by the hash: dropping or changing either breaks the chain", function () {
    const entries = chained([byAddress, byNullifier, byAddress]);
    expect(verifyAuditChain(entries).seq).to.equal(3);
    const { actorKind: _kind, ...stripped } = entries[1]!;
    expect(() => verifyAuditChain([entries[0]!, stripped as AuditEntry, entries[2]!])).to.throw(/hash does not match content/);
    expect(() => verifyAuditChain([entries[0]!, { ...entries[1]!, group: "8" }, entries[2]!])).to.throw(/hash does not match content/);
  });

  it("maps to a conformant FHIR AuditEvent whose agent is the nullifier, not an address", function () {
    const [entry] = chained([byNullifier]);
    const event = auditEntryToFhir(entry!, GATEWAY);
    expectConformant(event);
    expect(event.agent).to.have.length(1);
    expect(event.agent![0]!.who!.identifier!.value).to.equal(`${NULLIFIER_URN_PREFIX}${NULLIFIER}`);
    expect(event.agent![0]!.who!.display).to.equal("anonymous member of consent group 7");
    expect(JSON.stringify(event.agent)).not.to.match(/urn:ethereum/);
  });
});
