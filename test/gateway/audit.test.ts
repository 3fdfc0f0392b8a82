import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { randomBytes, Wallet } from "ethers";

import { openAuditLog, readAuditLogFile } from "../../gateway/audit/auditLog.js";
import { AuditLogCorruptError, verifyAuditChain, verifyAuditProof, type AuditEntry, type AuditProof } from "../../protocol/audit/entries.js";
import { createMerkleTree } from "../../protocol/audit/merkle.js";
import { auditEntryToFhir } from "../../protocol/audit/fhir.js";
import { ForbiddenError } from "../../gateway/errors.js";
import { createDirectoryBlobStore } from "../../gateway/store/directoryStore.js";
import { sha256Hex } from "../../core/hash.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { startTestGateway } from "./helpers.js";

const entry = (actor: string, outcome: "granted" | "refused" = "granted") =>
  ({ actor, action: "read" as const, blobId: sha256Hex(randomBytes(8)), owner: actor, purpose: 1, outcome, reason: outcome === "granted" ? "owner" : "GATEWAY_FORBIDDEN" });

/** The proof `GET /v1/audit` would give for `own`, built from the whole log. */
function proofFor(all: readonly AuditEntry[], own: readonly AuditEntry[], since?: number): AuditProof {
  const tree = createMerkleTree(all.map((e) => e.hash));
  return {
    owner: own[0]?.owner ?? "",
    tree: { size: all.length, root: tree.root() },
    entries: [...own],
    inclusion: own.map((e) => tree.inclusionProof(e.seq - 1)),
    consistency: since === undefined ? undefined : { fromSize: since, proof: tree.consistencyProof(since) },
  };
}

describe("gateway: audit log, storage edge cases, timeouts", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "medcipher-audit-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("cuts a torn last line on reopen and keeps the chain", async function () {
    const path = join(dir, "audit.jsonl");
    const log = await openAuditLog(path);
    for (let i = 0; i < 3; i++) await log.append(entry(Wallet.createRandom().address));
    await log.close();
    await appendFile(path, '{"seq":4,"time":"2026-');
    const reopened = await openAuditLog(path);
    expect(reopened.head().seq).to.equal(3);
    await reopened.append(entry(Wallet.createRandom().address, "refused"));
    await reopened.close();
    expect(verifyAuditChain(await readAuditLogFile(path)).seq).to.equal(4);
  });

  it("keeps the chain intact under concurrent appends (group commit)", async function () {
    const path = join(dir, "audit.jsonl");
    const log = await openAuditLog(path);
    const written = await Promise.all(Array.from({ length: 200 }, () => log.append(entry(Wallet.createRandom().address))));
    expect(written.map((e) => e.seq)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
    const head = log.head();
    await log.close();
    expect(verifyAuditChain(await readAuditLogFile(path))).to.deep.equal(head);
  });

  it("refuses to open or verify a log with an edited entry, and the proof catches it against the anchor", async function () {
    const path = join(dir, "audit.jsonl");
    const log = await openAuditLog(path);
    const alice = Wallet.createRandom().address;
    for (let i = 0; i < 4; i++) await log.append(entry(i === 1 ? alice : Wallet.createRandom().address));
    const anchored = log.head();
    await log.close();
    const entries = await readAuditLogFile(path);
    verifyAuditProof(proofFor(entries, entries.filter((e) => e.actor === alice), anchored.seq), anchored);
    const edited = (await readFile(path, "utf8")).replace(`"actor":"${alice}"`, `"actor":"${Wallet.createRandom().address}"`);
    await writeFile(path, edited);
    await openAuditLog(path).then(() => expect.fail("opened a corrupt log"), (e) => expect(e).to.be.instanceOf(AuditLogCorruptError));
    const tampered = await readAuditLogFile(path);
    expect(() => verifyAuditChain(tampered, anchored)).to.throw(AuditLogCorruptError);
    expect(() => verifyAuditProof({ ...proofFor(entries, [entries[1]!], anchored.seq), entries: [tampered[1]!] }, anchored)).to.throw(AuditLogCorruptError);
    const fhir = auditEntryToFhir(entries[0]!, alice);
    expect(fhir).to.include({ resourceType: "AuditEvent", action: "R", outcome: "0" });
  });

  it("stores idempotently and ignores a stray temp file from an interrupted write", async function () {
    const store = createDirectoryBlobStore(join(dir, "blobs"));
    const bytes = randomBytes(1000);
    const id = sha256Hex(bytes);
    await writeFile(join(dir, "stray"), "x");
    await store.put(id, bytes);
    await store.put(id, bytes);
    const shard = join(dir, "blobs", id.slice(2, 4));
    await writeFile(join(shard, ".tmp-deadbeef"), bytes.subarray(0, 10));
    expect(Buffer.from((await store.get(id))!).equals(Buffer.from(bytes))).to.equal(true);
    expect(await store.get(sha256Hex(randomBytes(4)))).to.equal(undefined);
  });

  it("answers 503 when a request outlives its time limit", async function () {
    const gw = await startTestGateway({
      limits: { requestTimeoutMs: 1_500 }, // generous: the upload before it must finish in time on a busy machine
      policy: {
        authorizeRead: () => new Promise(() => undefined),
        authorizeWrite: async () => "owner",
        authorizeAuditRead: async () => { throw new ForbiddenError("no"); },
      },
    });
    try {
      const patient = Wallet.createRandom();
      const client = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address });
      const id = await client.put(randomBytes(10), { owner: patient.address, kind: "record", category: 0 });
      const error = await client.get(id, { purpose: 1 }).then(() => undefined, (e: unknown) => e as { code: string; status: number });
      expect(error).to.include({ code: "GATEWAY_TIMEOUT", status: 503 });
      // The client's own limit, shorter than the gateway's, gives up first.
      const impatient = createGatewayClient({ url: gw.url, signer: patient, chainId: 31337, gatewayAddress: gw.key.address, timeoutMs: 100 });
      const early = await impatient.get(id, { purpose: 1 }).then(() => undefined, (e: unknown) => e as { code: string });
      expect(early?.code).to.equal("SDK_GATEWAY_UNAVAILABLE");
    } finally {
      await gw.close();
    }
  });
});
