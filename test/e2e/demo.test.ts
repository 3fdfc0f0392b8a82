import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";

import { runDemo, type DemoSummary } from "../../scripts/demo/run.js";
import { expectConformant } from "../fhir/conformance.js";

// What `npm start` does, asserted: the same function the demo script runs, on its own chain.
describe("end-to-end demo (npm start)", function () {
  this.timeout(300_000);
  let summary: DemoSummary;
  const lines: string[] = [];

  before(async function () {
    summary = await runDemo({ print: (line) => lines.push(line), rowsPerModel: 3 });
  });

  it("gets an encrypted prediction for every request, agreeing with the plaintext model", function () {
    expect(summary.predictions).to.have.length(5);
    expect(new Set(summary.predictions.map((p) => p.model))).to.deep.equal(new Set(["maternal-risk-v1", "heart-disease-lr-v1"]));
    for (const prediction of summary.predictions) {
      expect(prediction.encrypted.label, `row ${prediction.row}`).to.equal(prediction.plaintext.label);
      expect(prediction.maxProbabilityDifference).to.be.at.most(2e-3);
    }
    // The five named requests and the anonymous one of step 12.
    expect(summary.oracleJobs.fulfilled).to.equal(6);
  });

  it("makes an anonymous prediction and a researcher's anonymous read that a chain observer links to nobody", function () {
    const { privacy } = summary;
    // What the observer held against the private forms, if anything (the demo prints it under step 14).
    for (const line of lines.filter((l) => l.includes("linked by rule"))) console.log(line);
    privacy.anonymousScores.forEach((score) => expect(Number.isFinite(score)).to.equal(true));
    expect(privacy.maxScoreDifference).to.be.at.most(2e-3);
    expect(privacy.researcherReadBytes).to.be.greaterThan(0);
    expect(privacy.researcherAuditedAs).to.match(/^0x[0-9a-f]{64}$/);
    expect(privacy.privateLinks).to.deep.equal({ requests: 0, consents: 0 });
    // The control in the same run: the public forms of steps 5–9 are all linked.
    expect(privacy.observer.linkedRequests).to.equal(privacy.observer.requests - 1);
    expect(privacy.observer.linkedDeviceBindings).to.equal(privacy.observer.deviceBindings);
    expect(lines.join("\n")).to.match(/\[14\] A chain observer/);
  });

  it("shares under consent, refuses after revocation and verifies the anchored audit head", function () {
    expect(summary.clinicianReadReadings).to.equal(24);
    expect(summary.clinicianRefusedAfterRevoke).to.equal(true);
    // Delegated sharing: the hour uploaded after the grant, read with the patient offline; nothing of the hour after the revocation.
    expect(summary.delegatedReadReadings).to.equal(10);
    expect(summary.delegatedAfterRevoke).to.equal(0);
    expect(summary.auditHeadVerified).to.equal(true);
    expect(lines.join("\n")).to.match(/\[10\] Audit trail/);
  });

  it("mirrors consent to a destination chain through CCIP: the destination's gateway and oracle serve the clinician's request there, the patient decrypts it, and after the revocation both refuse", function () {
    const { crossChain } = summary;
    expect(crossChain.mirroredGrant).to.equal(true);
    expect(crossChain.accepted.requestId).to.match(/^0x[0-9a-f]{64}$/);
    expect(crossChain.accepted.status).to.equal("Fulfilled");
    // The same model on the same reading as step 7's first request: the plaintext model's answer, and the home result's.
    const { served } = crossChain;
    expect(served.label).to.equal(served.plaintext.label);
    expect(served.maxProbabilityDifference).to.be.at.most(2e-3);
    const home = summary.predictions[0]!;
    expect(home.model).to.equal("maternal-risk-v1");
    expect(served.label).to.equal(home.encrypted.label);
    served.probabilities.forEach((p, i) => expect(Math.abs(p - home.encrypted.probabilities[i]!)).to.be.at.most(4e-3));
    expect(crossChain.mirroredAfterRevoke).to.equal(false);
    expect(crossChain.gatewayRefused).to.deep.include({ status: 403, code: "GATEWAY_FORBIDDEN" });
    expect(crossChain.gatewayRefused?.reason).to.match(/no live consent for PREDICTION records for purpose TREATDS/);
    expect(crossChain.refused?.reason).to.equal("NotAuthorisedToRequest");
    expect(Object.values(crossChain.refused?.args ?? {})).to.have.length(2);
    // One grant and one revocation snapshot, in order.
    expect(crossChain.messages).to.equal(2);
    expect(crossChain.gas.syncGrant).to.be.greaterThan(0);
    const text = lines.join("\n");
    expect(text).to.match(/\[15\] Across chains.*\n(.*\n)*.*simulator: its router delivers on this same chain, inside the sending transaction/);
    expect(text).to.match(/\[15\] (.*\n)*.*destination: its oracle served it \(status Fulfilled\)/);
  });

  it("protects records post-quantum and says, under every step, which primitive protects it and whether it is post-quantum", function () {
    expect(summary.recordProtection).to.deep.equal({ wrap: "X25519MLKEM768-HKDF-SHA256-A256GCM", signature: "ML-DSA-65" });
    const text = lines.join("\n");
    const steps = [...text.matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1]));
    expect(steps).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 1));
    for (const step of steps) {
      const block = text.split(`\n[${step}] `)[1]!.split(/\n\[\d+\] /)[0]!;
      expect(block, `step ${step}`).to.match(/⟐ .+: .+ — (post-quantum|NOT post-quantum)/);
    }
    expect(text).to.match(/record confidentiality: AES-256-GCM .* — post-quantum/);
    expect(text).to.match(/transactions: ECDSA secp256k1 .* — NOT post-quantum/);
  });

  it("emits only FHIR R4 conformant resources: the shared Bundle (vital-signs profiles), the Consent, every AuditEvent granted and refused", function () {
    const { sharedBundle, consents, auditEvents } = summary.fhir;
    expect(expectConformant(sharedBundle)).to.include.members(["http://hl7.org/fhir/StructureDefinition/bp", "http://hl7.org/fhir/StructureDefinition/bodytemp"]);
    expect(consents).to.have.length(1);
    for (const resource of [...consents, ...auditEvents]) expectConformant(resource);
    expect(new Set(auditEvents.map((e) => e.outcome))).to.deep.equal(new Set(["0", "4"]));
  });

  it("leaves no plaintext vital sign in the gateway's files or either component's logs", async function () {
    // The demo's wearable readings are written as CSV on the client side (readings.csv); that file
    // is the client's own. Every other file belongs to the gateway or the oracle.
    const csv = await readFile(join(summary.dataDir, "readings.csv"), "utf8");
    const planted = csv.split("\n").slice(1).filter(Boolean).map((line) => line.split(",")[2]!).filter((v) => v.includes("."));
    expect(planted.length).to.be.greaterThan(10);
    const files = (await readdir(summary.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && e.name !== "readings.csv");
    expect(files.length).to.be.greaterThan(5);
    for (const file of files) {
      // Request durations ("ms":268.8) are the logs' own numbers; on a loaded machine one can
      // equal a planted reading, so they are taken out before the search.
      const text = (await readFile(join(file.parentPath, file.name))).toString("latin1").replace(/"ms":\d+(\.\d+)?,/g, "");
      for (const value of new Set(planted)) expect(text.includes(`,${value},`) || text.includes(`"${value}"`) || text.includes(`:${value},`), `${value} in ${file.name}`).to.equal(false);
    }
  });
});
