/**
 * The linkability test of issue 12: a chain observer (scripts/privacy/observer.ts) reads every
 * block, transaction, receipt and log and calls every view after a run with several patients,
 * clinicians, devices, consents and requests, and tries to name the patient behind each.
 *
 * The control runs today's public forms and must link every request, consent and binding, to
 * the right patient: it shows the observer can see what it claims to look for. The private run
 * (anonymous requests, commitment-only consents, a researchers' group) must link no request and
 * no consent; device bindings stay public by design and are printed.
 */
import path from "node:path";

import { expect } from "chai";
import { network } from "hardhat";

import { artifactAbis } from "../../scripts/privacy/abis.js";
import { formatReport, observeChain, type ObserverReport } from "../../scripts/privacy/observer.js";
import { playPrivateForms, playPublicForms, releaseProver, type World } from "../../scripts/privacy/world.js";

const CIRCUITS = path.resolve(import.meta.dirname, "../../circuits/semaphore");
const SEMAPHORE_ARTIFACTS = { wasm: path.join(CIRCUITS, "semaphore-20.wasm"), zkey: path.join(CIRCUITS, "semaphore-20.zkey") };

async function observe(connection: Awaited<ReturnType<typeof network.create>>, world: World): Promise<ObserverReport> {
  return observeChain({ provider: connection.ethers.provider, deployment: world.addresses, abis: await artifactAbis(world.addresses) });
}

/** The observer's patient for each subject it linked, keyed by subject id. */
function linkedPatients(report: ObserverReport, kind: "request" | "consent" | "deviceBinding"): Map<string, string[]> {
  return new Map(report.links.filter((l) => l.kind === kind).map((l) => [l.subject, l.patients]));
}

describe("linkability: a chain observer", function () {
  after(releaseProver);

  describe("control: today's public forms", function () {
    let report: ObserverReport;
    let world: World;

    before(async function () {
      this.timeout(300_000);
      const connection = await network.create();
      world = await playPublicForms(connection);
      report = await observe(connection, world);
      console.log(formatReport(report, "control (public forms)"));
    });

    it("reads every block, transaction and log, and decodes them all against the ABIs", function () {
      expect(report.blocks).to.be.greaterThan(20);
      expect(report.receipts).to.equal(report.transactions);
      expect(report.undecodedLogs).to.equal(0);
      expect(report.viewCalls).to.be.greaterThan(1_000);
    });

    it("links every prediction request to its patient", function () {
      expect(report.requests).to.equal(6);
      expect(report.linkedRequests).to.equal(6);
      const linked = linkedPatients(report, "request");
      for (const [requestId, patient] of world.truth.requests) {
        expect(linked.get(requestId), requestId).to.deep.equal([patient.toLowerCase()]);
      }
    });

    it("names a requester's patient by the request's own event, by the sender, and by the block's state diff", function () {
      const requests = report.links.filter((l) => l.kind === "request");
      // Every request: its event names the patient (rule 1); each the patient sent itself also
      // by its sender (2); and each changed that patient's router account only (4).
      expect(requests.every((l) => l.rules.includes(1) && l.rules.includes(4)), JSON.stringify(requests.map((l) => l.rules))).to.equal(true);
      expect(requests.filter((l) => l.rules.includes(2))).to.have.length.of.at.least(4);
    });

    it("links every consent to its (patient, grantee) pair", function () {
      expect(report.consents).to.equal(4);
      expect(report.linkedConsents).to.equal(4);
      expect(report.linkedConsentPairs).to.equal(4);
      const pairs = report.links.filter((l) => l.kind === "consent").map((l) => `${l.patients.join()}→${l.counterparties.join()}`).sort();
      const truth = world.truth.consents.map((c) => `${c.patient.toLowerCase()}→${c.grantee.toLowerCase()}`).sort();
      expect(pairs).to.deep.equal(truth);
    });

    it("links every device binding to its patient", function () {
      expect(report.deviceBindings).to.equal(3);
      expect(report.linkedDeviceBindings).to.equal(3);
      const bound = report.links.filter((l) => l.kind === "deviceBinding").map((l) => `${l.counterparties.join()}→${l.patients.join()}`).sort();
      expect(bound).to.deep.equal(world.truth.bindings.map((b) => `${b.device.toLowerCase()}→${b.patient.toLowerCase()}`).sort());
    });
  });

  describe("private forms: anonymous requests, commitment consents, group access", function () {
    let report: ObserverReport;
    let world: World;

    before(async function () {
      this.timeout(600_000);
      const fresh = await network.create();
      world = await playPrivateForms(fresh, SEMAPHORE_ARTIFACTS);
      report = await observe(fresh, world);
      console.log(formatReport(report, "private forms"));
    });

    it("sees every anonymous request and private consent, and links none of them", function () {
      expect(report.requests).to.equal(world.truth.requests.size);
      expect(report.consents).to.equal(world.truth.consents.length);
      expect(report.links.filter((l) => l.kind !== "deviceBinding"), formatReport(report)).to.deep.equal([]);
      expect(report.linkedRequests).to.equal(0);
      expect(report.linkedConsents).to.equal(0);
      expect(report.linkedConsentPairs).to.equal(0);
    });

    it("finds every anonymous request's proof made against the whole patients' group", function () {
      const sets = report.subjects.filter((s) => s.kind === "request").map((s) => s.anonymitySet);
      expect(sets).to.deep.equal(sets.map(() => world.actors.patients.length));
    });

    it("researchers' accesses are proven off-chain and leave nothing to link", function () {
      expect(world.truth.groupAccesses).to.equal(world.actors.researchers.length);
    });

    it("still links the device bindings, which stay public by design", function () {
      console.log(`    linked device bindings (public by design): ${report.linkedDeviceBindings}`);
      expect(report.linkedDeviceBindings).to.equal(world.truth.bindings.length);
    });
  });

  describe("negative control: the private forms used carelessly", function () {
    let report: ObserverReport;
    let world: World;

    before(async function () {
      this.timeout(600_000);
      const fresh = await network.create();
      world = await playPrivateForms(fresh, SEMAPHORE_ARTIFACTS, { careless: true });
      report = await observe(fresh, world);
      console.log(formatReport(report, "private forms, used carelessly"));
    });

    it("links the request made alone in the group and the one under the registered key set, to the right patients", function () {
      const [p0, p1] = world.actors.patients.map((p) => p.address.toLowerCase()) as [string, string];
      const linked = report.links.filter((l) => l.kind === "request").map((l) => l.patients.join()).sort();
      expect(linked).to.deep.equal([p0, p1].sort());
      expect(report.subjects.filter((s) => s.kind === "request").map((s) => s.anonymitySet)).to.include(1);
      const rules = report.links.filter((l) => l.kind === "request").flatMap((l) => l.rules);
      expect(rules).to.include(3); // the group of one
      expect(rules).to.include(2); // the registered keysHash
    });

    it("links the private consent the patient sent itself", function () {
      const linked = report.links.filter((l) => l.kind === "consent");
      expect(linked.map((l) => l.patients.join())).to.deep.equal([world.actors.patients[2]!.address.toLowerCase()]);
    });
  });
});
