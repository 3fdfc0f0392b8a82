/**
 * Gas of a prediction round trip through a 3-of-2 OracleQuorum next to the single Chainlink
 * Operator, measured in one run on one chain: the request, the first vote, the finalising vote
 * (which calls the router back), a late vote, and two totals per request: request + all n
 * submissions (every daemon evaluates: QUORUM_STANDBY_MS = 0, or a standby stepped in), and
 * request + the k primaries' votes (the daemons' evaluation schedule when no standby is needed).
 * Used by scripts/bench/gas.ts (every row) and scripts/bench/gas-quorum.ts (only these).
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { sha256 } from "ethers";

import { deployMedCipher, OutputKind, sponsorPatients, type MedCipherDeployment } from "../../deploy/local.js";
import { encodeFulfilment, jobsFromReceipt, type OracleJob } from "../../deploy/prediction.js";
import { RequestStatus } from "../../protocol/codes.js";

/** The bound: a 3-of-2 quorum's round trip costs at most 1.6 times the single Operator's. */
export const QUORUM_GAS_RATIO_TARGET = 1.6;

export type QuorumGas = {
  quorumRequestPrediction: number;
  quorumFirstVote: number;
  quorumFinalisingVote: number;
  quorumLateVote: number;
  /** Request + the three votes (the late one included: every operator submits). */
  quorumPerRequest: number;
  /** Request + the k = 2 primaries' votes: the evaluation schedule's common case (oracle/pipeline/standby.ts). */
  quorumPerRequestPrimariesOnly: number;
  /** requestPrediction + fulfilPrediction through the single Operator, same run. */
  singleOperatorPerRequest: number;
};

const MODEL = (paramSetId: string) => ({
  name: "bench-logreg",
  version: "1.0.0",
  weightsHash: sha256(new TextEncoder().encode("weights")),
  weightsUri: "medcipher://models/bench-logreg",
  paramSetId,
  encodingSpecHash: sha256(new TextEncoder().encode("encoding")),
  outputKind: OutputKind.Sigmoid,
  isPrivate: false,
});

export async function measureQuorumGas(connection: NetworkConnection): Promise<QuorumGas> {
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const [patient, a, b, c] = [signers[8], signers[9], signers[10], signers[11]];
  if (!patient || !a || !b || !c) throw new Error("the quorum gas rows need 12 accounts");
  const paramSetId = ethers.id("ckks-n4096-demo");
  // Deterministic blob hashes: the same run gives the same figures (zero calldata bytes are cheaper).
  let counter = 0;
  const blobHash = () => ethers.id(`medcipher-quorum-bench-${counter++}`);
  const blobUri = (hash: string) => `medcipher://blob/${hash}`;

  async function setUp(options: Parameters<typeof deployMedCipher>[1]): Promise<MedCipherDeployment> {
    const suite = await deployMedCipher(connection, { onChainResults: true, models: [MODEL(paramSetId)], ...options });
    const keysHash = blobHash();
    await (await suite.identity.connect(patient!).registerPatient(keysHash, paramSetId, blobUri(keysHash), blobHash())).wait();
    await sponsorPatients(suite, [patient!.address]);
    return suite;
  }
  async function request(suite: MedCipherDeployment): Promise<{ gas: number; job: OracleJob }> {
    const inputHash = blobHash();
    const receipt = (await (await suite.router.connect(patient!).requestPrediction(patient!.address, 1, inputHash, blobUri(inputHash))).wait())!;
    const [job] = jobsFromReceipt(receipt, suite.addresses.Operator, suite.addresses.PredictionRouter);
    if (!job) throw new Error("no OracleRequest/PredictionRequested pair in the receipt");
    return { gas: Number(receipt.gasUsed), job };
  }
  async function submit(suite: MedCipherDeployment, job: OracleJob, from: HardhatEthersSigner, data: string): Promise<number> {
    const tx = await suite.operator.connect(from).fulfillOracleRequest2(job.requestId, job.payment, job.callbackAddress, job.callbackFunctionId, job.expiration, data, { gasLimit: 3_000_000 });
    return Number((await tx.wait())!.gasUsed);
  }
  async function expectFulfilled(suite: MedCipherDeployment, job: OracleJob): Promise<void> {
    const state = await suite.router.getRequest(job.requestId);
    if (state.status !== BigInt(RequestStatus.Fulfilled)) throw new Error(`the request was not fulfilled (status ${state.status})`);
  }
  const answer = (job: OracleJob) => {
    const resultHash = blobHash();
    return encodeFulfilment({ requestId: job.requestId, resultHash, resultUri: blobUri(resultHash) });
  };

  // The single Operator: a warm-up round trip, then the measured one.
  const single = await setUp({ oracleSenders: [a.address] });
  const warm = await request(single);
  await submit(single, warm.job, a, answer(warm.job));
  const measured = await request(single);
  const singleFulfil = await submit(single, measured.job, a, answer(measured.job));
  await expectFulfilled(single, measured.job);

  // The quorum: the same, every operator voting the same (deterministic) result.
  const quorum = await setUp({ oracleSenders: [a.address, b.address, c.address], quorum: { k: 2 } });
  const warmQuorum = await request(quorum);
  const warmData = answer(warmQuorum.job);
  for (const op of [a, b, c]) await submit(quorum, warmQuorum.job, op, warmData);
  const round = await request(quorum);
  const data = answer(round.job);
  const first = await submit(quorum, round.job, a, data);
  const finalising = await submit(quorum, round.job, b, data);
  await expectFulfilled(quorum, round.job);
  const late = await submit(quorum, round.job, c, data);
  const votes = await quorum.quorum!.requestVotes(round.job.requestId);
  if (votes.votes !== 3n || !votes.finalised) throw new Error(`the quorum did not count three votes (${votes.votes})`);

  return {
    quorumRequestPrediction: round.gas,
    quorumFirstVote: first,
    quorumFinalisingVote: finalising,
    quorumLateVote: late,
    quorumPerRequest: round.gas + first + finalising + late,
    quorumPerRequestPrimariesOnly: round.gas + first + finalising,
    singleOperatorPerRequest: measured.gas + singleFulfil,
  };
}
