/**
 * The demo's unlinkable part (issue 12): what the earlier steps did in public forms, done so that
 * the chain cannot tell who. A registered patient asks for a prediction anonymously (a Semaphore
 * proof of membership of the registered-patients group, a fresh key set, a one-time access key,
 * sent by a relayer); the patient consents to a study group instead of an address, by a relayed
 * commitment; a researcher of that group reads a record through the gateway with a membership
 * proof, audited by nullifier. Then a chain observer reads every block, transaction, receipt and
 * log, calls every view, and says whom it can link, for the public forms and the private ones.
 */
import { Wallet, type Provider } from "ethers";
import { pino } from "pino";

import { readAuditLogFile } from "../../gateway/audit/auditLog.js";
import type { MedCipherDeployment } from "../../deploy/local.js";
import type { ModelArtifact, Reading } from "../../fhe/index.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient } from "../../protocol/gatewayClient.js";
import { fetchGroup } from "../../protocol/zk/groupHistory.js";
import { randomIdentity } from "../../protocol/zk/identity.js";
import { releaseProver } from "../../protocol/zk/prove.js";
import { loadRelayerSettings } from "../../relayer/settings.js";
import { startRelayerService } from "../../relayer/service.js";
import { readSemaphoreArtifacts } from "../../sdk/node/semaphoreArtifacts.js";
import {
  getAnonymousPredictionResult,
  grantConsentPrivate,
  joinPatientGroup,
  readBlobAsGroupMember,
  requestPredictionAnonymous,
  type AnonymousRequestSecrets,
} from "../../sdk/privacy/index.js";
import { observeChain, type ObserverReport } from "../privacy/observer.js";
import { stepPrinter } from "./primitives.js";

export type PrivacyDemoContext = {
  print: (line: string) => void;
  provider: Provider;
  rpcUrl: string;
  chainId: number;
  suite: MedCipherDeployment;
  gateway: { url: string; address: string; dataDir: string };
  /** A funded fresh wallet. */
  fresh: () => Promise<Wallet>;
  /** The demo's registered patients: the one who asks, and neighbours who make up the group. */
  patients: Wallet[];
  model: ModelArtifact;
  modelId: number;
  readings: Reading;
  /** A record blob of the asking patient (category VITAL_SIGNS) for the researcher to read. */
  recordBlobId: string;
  /** The plaintext model's scores for `readings` (to compare). */
  plaintextScores: number[];
  closers: (() => Promise<unknown>)[];
};

export type PrivacyDemoSummary = {
  anonymousRequestId: string;
  anonymousScores: number[];
  maxScoreDifference: number;
  researcherReadBytes: number;
  researcherAuditedAs: string;
  observer: Pick<ObserverReport, "requests" | "linkedRequests" | "consents" | "linkedConsents" | "deviceBindings" | "linkedDeviceBindings">;
  privateLinks: { requests: number; consents: number };
};

export async function runPrivacySteps(ctx: PrivacyDemoContext, firstStep: number): Promise<PrivacyDemoSummary> {
  const { print, suite } = ctx;
  const step = stepPrinter(print);
  const info = (text: string) => print(`    ${text}`);
  const chainId = BigInt(ctx.chainId);
  const artifacts = await readSemaphoreArtifacts();
  const blockBefore = await ctx.provider.getBlockNumber();

  // ── The relayer and the patients' group ────────────────────────────────────────────────────
  step(firstStep, "Unlinkable: every patient joins the registered-patients group (Semaphore); a relayer starts");
  const relayerKey = await ctx.fresh();
  const relayer = await startRelayerService(
    loadRelayerSettings({
      env: {},
      overrides: { RPC_URL: ctx.rpcUrl, PRIVATE_KEY: relayerKey.privateKey, ROUTER_ADDRESS: suite.addresses.PredictionRouter, CONSENT_MANAGER_ADDRESS: suite.addresses.ConsentManager, PORT: 0 },
    }),
    { logger: pino({ level: "silent" }) },
  );
  ctx.closers.push(() => relayer.close());
  ctx.closers.push(() => releaseProver());
  const identities = [];
  for (const patient of ctx.patients) {
    const joined = await joinPatientGroup({
      privacyGroups: suite.groups.connect(patient) as never, chainId, patient: patient.address, patientSecret: Buffer.from(patient.privateKey.slice(2), "hex"),
    });
    identities.push(joined.identity);
  }
  info(`${ctx.patients.length} registered patients joined with identity commitments derived from their keys; relayer ${relayer.url} (its own wallet ${short(relayerKey.address)})`);

  // ── An anonymous prediction ───────────────────────────────────────────────────────────────
  step(firstStep + 1, "Anonymous prediction: fresh key set, one-time access key, a Groth16 proof of membership, sent by the relayer");
  const gateway = { url: ctx.gateway.url, clientFor: (accessKey: Wallet) => createGatewayClient({ url: ctx.gateway.url, signer: accessKey, chainId: ctx.chainId, gatewayAddress: ctx.gateway.address }) };
  const contracts = { router: suite.router as never, privacyGroups: suite.groups as never };
  const password = "demo keystore password";
  let saved: AnonymousRequestSecrets | undefined;
  const started = Date.now();
  const sent = await requestPredictionAnonymous({
    contracts, provider: ctx.provider, chainId, identity: identities[0]!, artifacts, model: ctx.model, modelId: ctx.modelId, readings: ctx.readings,
    gateway, relayerUrl: relayer.url, keystorePassword: password, saveRequestSecrets: async (secrets) => void (saved = secrets),
  });
  info(`request ${short(sent.requestId)} (epoch ${sent.request.epoch}, slot ${sent.request.slot}) proved and relayed in ${((Date.now() - started) / 1000).toFixed(1)} s; sent by ${short(relayerKey.address)}`);
  const result = await getAnonymousPredictionResult({ contracts, gateway, secrets: saved!, model: ctx.model, keystorePassword: password, timeoutMs: 120_000, pollIntervalMs: 100 });
  const scores = result.predictions[0]!.scores;
  const maxScoreDifference = Math.max(...scores.map((s, i) => Math.abs(s - ctx.plaintextScores[i]!)));
  info(`the oracle evaluated it blind; only the access key could fetch the result, only the fresh secret key decrypt it: scores ${scores.map((s) => s.toFixed(3)).join(" / ")} (plaintext model ${ctx.plaintextScores.map((s) => s.toFixed(3)).join(" / ")})`);
  const onChain = await suite.router.getRequest(sent.requestId);
  info(`on-chain: AnonymousPredictionRequested(model #${ctx.modelId}, input hash, fresh keys hash, access key ${short(sent.request.accessKey)}); getRequest → patient ${onChain.patient}, requester ${onChain.requester}`);

  // ── Group consent and a researcher's anonymous access ─────────────────────────────────────
  step(firstStep + 2, "Group consent: the patient consents to a study group by a relayed commitment; a researcher reads anonymously");
  const board = await ctx.fresh();
  const descriptionHash = `0x${Buffer.from("maternal-health study, protocol v1 (approved by the review board)").toString("hex").padEnd(64, "0").slice(0, 64)}`;
  const groupId = await suite.groups.connect(board).createGroup.staticCall(descriptionHash);
  await (await suite.groups.connect(board).createGroup(descriptionHash)).wait();
  const researchers = [randomIdentity(), randomIdentity(), randomIdentity()];
  await (await suite.groups.connect(board).addMembers(groupId, researchers.map((r) => r.commitment))).wait();
  info(`the review board ${short(board.address)} created study group #${groupId} with ${researchers.length} researchers' commitments`);
  const asker = ctx.patients[0]!;
  const now = (await ctx.provider.getBlock("latest"))!.timestamp;
  const { grant } = await grantConsentPrivate({
    signer: asker, patientSecret: Buffer.from(asker.privateKey.slice(2), "hex"), chainId: ctx.chainId, consentManager: suite.addresses.ConsentManager,
    consent: {
      grantee: "0x0000000000000000000000000000000000000000", groupId, purpose: Purpose.HRESCH, categories: 1 << Category.VITAL_SIGNS,
      validFrom: now - 60, validUntil: now + 30 * 86_400, epoch: Number(await suite.consent.epochOf(asker.address)),
    },
    relayerUrl: relayer.url,
  });
  info(`consent HRESCH/vital-signs to group #${groupId} for 30 days: the chain holds the commitment ${short(grant.commitment)}; the opening goes to the group`);
  const group = await fetchGroup(ctx.provider, suite.addresses.Semaphore, groupId);
  const read = await readBlobAsGroupMember({
    url: ctx.gateway.url, gatewayAddress: ctx.gateway.address, blobId: ctx.recordBlobId, identity: researchers[1]!, group, artifacts, grant, privacyGroups: suite.addresses.PrivacyGroups,
  });
  const bytes = read.length;
  const audit = (await readAuditLogFile(`${ctx.gateway.dataDir}/audit.jsonl`)).filter((e) => e.actorKind === "nullifier");
  const last = audit[audit.length - 1]!;
  info(`a researcher fetched the record's ciphertext (${bytes} B) with a membership proof; the gateway audited "${last.action}:${last.outcome}" by nullifier ${short(last.actor)}, not by address`);

  // ── What the chain shows ──────────────────────────────────────────────────────────────────
  step(firstStep + 3, "A chain observer reads every block, transaction, receipt and log, calls every view, and links what it can");
  const report = await observeChain({ provider: ctx.provider, deployment: { ...suite.addresses }, maxCallsPerFunction: 300, viewRounds: 1 });
  const privateRequest = sent.requestId.toLowerCase();
  const linkedPrivateRequests = report.links.filter((l) => l.kind === "request" && l.subject.toLowerCase() === privateRequest).length;
  const privateConsentSubjects = new Set(report.subjects.filter((s) => s.kind === "consent" && s.event === "PrivateConsentGranted" && s.block > blockBefore).map((s) => s.id));
  const linkedPrivateConsents = report.links.filter((l) => l.kind === "consent" && privateConsentSubjects.has(l.subject)).length;
  info(`public forms (steps 5–9): requests linked to their patient ${report.linkedRequests - linkedPrivateRequests}/${report.requests - 1}, consents ${report.linkedConsents - linkedPrivateConsents}/${report.consents - privateConsentSubjects.size}, device bindings ${report.linkedDeviceBindings}/${report.deviceBindings}`);
  info(`the anonymous request: linked ${linkedPrivateRequests === 0 ? "to nobody" : "TO A PATIENT"}; its proof's anonymity set is the ${ctx.patients.length} patients of the group`);
  info(`the group consent: linked ${linkedPrivateConsents === 0 ? "to nobody" : "TO A PATIENT"}; the researcher's read left no transaction at all`);
  for (const l of report.links.filter((x) => x.subject.toLowerCase() === privateRequest || privateConsentSubjects.has(x.subject))) {
    info(`  linked by rule ${l.rules.join(", ")}: ${l.evidence.join("; ")}`);
  }
  return {
    anonymousRequestId: sent.requestId,
    anonymousScores: scores,
    maxScoreDifference,
    researcherReadBytes: bytes,
    researcherAuditedAs: last.actor,
    observer: {
      requests: report.requests, linkedRequests: report.linkedRequests, consents: report.consents, linkedConsents: report.linkedConsents,
      deviceBindings: report.deviceBindings, linkedDeviceBindings: report.linkedDeviceBindings,
    },
    privateLinks: { requests: linkedPrivateRequests, consents: linkedPrivateConsents },
  };
}

function short(hex: string): string {
  return `${hex.slice(0, 10)}…`;
}
