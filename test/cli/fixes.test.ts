import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { expect } from "chai";
import { AbiCoder } from "ethers";

import { ExitCode } from "../../cli/exitCodes.js";
import type { Sha256Hex } from "../../core/hash.js";
import { createEvaluator, encodeReading, loadModel, type Reading as FeatureReading } from "../../fhe/index.js";
import { probabilities as plainProbabilities, scores as plainScores } from "../../models/logistic.js";
import { Category, Purpose } from "../../protocol/codes.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { HARDHAT_ACCOUNT_0, ROOT, startCliHarness, type CliHarness } from "./harness.js";

const SAMPLE_READINGS = join(ROOT, "docs/examples/readings.csv");
const SAMPLE_FEATURES = join(ROOT, "docs/examples/features.json");
const STACK_LINE = /\n\s+at /;

describe("cli: verify purposes, address input, sample files, model names", function () {
  this.timeout(240_000);
  let cli: CliHarness;
  let patient: { address: string };
  let clinician: { address: string };
  let device: { address: string };
  let modelId: number;

  before(async function () {
    cli = await startCliHarness();
    [patient, clinician, device] = await Promise.all([cli.newIdentity("patient"), cli.newIdentity("clinician"), cli.newIdentity("device")]);
    await cli.sponsor(patient.address);
    await cli.newIdentity("vendor", { VENDOR_KEY: cli.fx.vendorKey }, "--import-env", "VENDOR_KEY");
    await cli.newIdentity("governance", { GOV_KEY: HARDHAT_ACCOUNT_0 }, "--import-env", "GOV_KEY");
    const registered = await cli.medcipher("governance", ["--json", "admin", "register-model", "maternal-risk-v1"]);
    expect(registered.code, registered.stderr).to.equal(0);
    modelId = registered.json<{ modelId: number }>().modelId;
  });

  /** What the oracle daemon does for one request: read input and keys, evaluate, store the result, fulfil through the Operator. */
  async function fulfilAsOracle(requestId: string, transactionHash: string): Promise<void> {
    const { fx } = cli;
    const oracle = await fx.actor("oracle");
    const model = loadModel("maternal-risk-v1");
    const request = await fx.suite.router.getRequest(requestId);
    const keysHash = ((await fx.suite.identity.keySetOf(request.patient)) as unknown as [string])[0];
    const gateway = createGatewayClient({ url: fx.service.url, signer: oracle.wallet, chainId: Number((await fx.provider.getNetwork()).chainId), gatewayAddress: fx.gatewayKey.address });
    const input = await gateway.get(request.inputHash, { purpose: Purpose.TREATDS, ref: requestId });
    const keys = await gateway.get(keysHash, { purpose: Purpose.TREATDS, ref: requestId });
    const evaluator = await createEvaluator();
    try {
      const result = await evaluator.evaluate(model, input, { evaluationKeys: keys, expectedKeysHash: keysHash as Sha256Hex });
      const resultHash = await gateway.put(result, { owner: request.patient, kind: "he-result", category: Category.PREDICTION, ref: requestId, purpose: Purpose.TREATDS });
      const receipt = await fx.provider.getTransactionReceipt(transactionHash);
      const oracleRequest = receipt!.logs.map((log) => { try { return fx.suite.operator.interface.parseLog(log); } catch { return null; } }).find((parsed) => parsed?.name === "OracleRequest")!;
      const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [requestId, 0, resultHash, `${fx.service.url}/v1/blobs/${resultHash}`, "0x"]);
      await (await fx.suite.operator.connect(oracle.wallet).fulfillOracleRequest2(
        oracleRequest.args.getValue("requestId"), oracleRequest.args.getValue("payment"), oracleRequest.args.getValue("callbackAddr"),
        oracleRequest.args.getValue("callbackFunctionId"), oracleRequest.args.getValue("cancelExpiration"), data, { gasLimit: 1_000_000 },
      )).wait();
    } finally {
      evaluator.dispose();
      gateway.close();
    }
  }
  after(async function () {
    await cli?.close();
  });

  it("invalidAddress_anywhere_isInvalidInputWithExitCode3_notAStackTrace", async function () {
    // EIP-55's own example address with one letter's case flipped: a checksum that does not match.
    const badChecksum = "0x52908400098527886e0F7030069857D2E4169EE7";
    for (const args of [
      ["consent", "grant", "--grantee", "0x1234", "--purpose", "TREAT"],
      ["consent", "revoke", "--grantee", "bob.eth", "--purpose", "TREAT"],
      ["consent", "list", "--patient", "nobody"],
      ["device", "register", "not-an-address"],
      ["device", "unbind", "0x"],
      ["ingest", SAMPLE_READINGS, "--patient", "bob"],
      ["share", "0x00", "--grantee", badChecksum],
      ["verify", "0x00", "--patient", "0xnope"],
      ["admin", "grant-role", "provider", "0xZZ"],
    ]) {
      const run = await cli.medcipher("patient", args);
      expect(run.code, `${args.join(" ")}: ${run.stderr}`).to.equal(ExitCode.INVALID_INPUT);
      expect(run.stderr, args.join(" ")).to.include("SDK_INVALID_INPUT").and.include("address");
      expect(run.stderr, args.join(" ")).not.to.match(STACK_LINE);
    }
  });

  it("verify_byAClinicianWithTreatConsent_succeeds_andStatesThePurposeItIsGiven", async function () {
    expect((await cli.medcipher("patient", ["patient", "register"])).code).to.equal(0);
    expect((await cli.medcipher("vendor", ["device", "register", device.address])).code).to.equal(0);
    expect((await cli.medcipher("patient", ["device", "bind", "device", "--days", "1"])).code).to.equal(0);
    const ingest = await cli.medcipher("device", ["--json", "ingest", SAMPLE_READINGS, "--patient", patient.address]);
    expect(ingest.code, ingest.stderr).to.equal(0);
    const [record] = ingest.json<{ records: { blobId: string }[] }>().records;
    expect((await cli.medcipher("patient", ["consent", "grant", "--grantee", clinician.address, "--purpose", "TREAT", "--categories", "VITAL_SIGNS", "--days", "1"])).code).to.equal(0);

    // The clinician's default purpose is TREAT (it was PATRQT for everyone: refused, exit 5).
    const verify = await cli.medcipher("clinician", ["verify", record!.blobId, "--patient", patient.address]);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(verify.stdout).to.include("verified");
    // A purpose the clinician holds no consent for is refused; an unknown one is bad input.
    expect((await cli.medcipher("clinician", ["verify", record!.blobId, "--patient", patient.address, "--purpose", "HRESCH"])).code).to.equal(ExitCode.FORBIDDEN);
    expect((await cli.medcipher("clinician", ["verify", record!.blobId, "--patient", patient.address, "--purpose", "SHOPPING"])).code).to.equal(ExitCode.INVALID_INPUT);
    // The patient's own default stays PATRQT.
    expect((await cli.medcipher("patient", ["verify", record!.blobId])).code).to.equal(0);
  });

  it("predict_takesAModelName_andTheShippedSampleFiles", async function () {
    const byName = await cli.medcipher("patient", ["--json", "predict", "--model", "maternal-risk-v1", "--input", SAMPLE_FEATURES]);
    expect(byName.code, byName.stderr).to.equal(0);
    const { requestId } = byName.json<{ requestId: string }>();
    expect(Number((await cli.fx.suite.router.getRequest(requestId)).modelId)).to.equal(modelId);

    // From the sample readings (glucose in mg/dL, temperature in °C), converted to the model's units.
    const fromRecords = await cli.medcipher("patient", ["--json", "predict", "--model", "maternal-risk-v1", "--from-records", "--known", "age=25"]);
    expect(fromRecords.code, fromRecords.stderr).to.equal(0);

    const byId = await cli.medcipher("patient", ["--json", "predict", "--model", String(modelId), "--input", SAMPLE_FEATURES]);
    expect(byId.code, byId.stderr).to.equal(0);
    const unknown = await cli.medcipher("patient", ["predict", "--model", "no-such-model", "--input", SAMPLE_FEATURES]);
    expect(unknown.code).to.equal(ExitCode.INVALID_INPUT);
    expect(unknown.stderr).to.include("no-such-model");
  });

  it("result_afterAKeyRotation_decryptsWithTheKeySetTheRequestWasMadeUnder", async function () {
    await cli.sponsor((await cli.newIdentity("rotating-patient")).address);
    expect((await cli.medcipher("rotating-patient", ["patient", "register"])).code).to.equal(0);
    const features = join(cli.home, "one-reading.json");
    // A reading whose probabilities are all far from 0 and 1 (0.17 / 0.36 / 0.47): a wrong key's
    // garbage saturates the softmax and misses them by far more than the tolerance.
    const reading: FeatureReading = { age: 35, systolicBP: 120, diastolicBP: 80, bloodGlucose: 9, bodyTemp: 99, heartRate: 80 };
    await writeFile(features, JSON.stringify(reading));
    const predict = await cli.medcipher("rotating-patient", ["--json", "predict", "--model", "maternal-risk-v1", "--input", features]);
    expect(predict.code, predict.stderr).to.equal(0);
    const { requestId, transactionHash } = predict.json<{ requestId: string; transactionHash: string }>();
    await fulfilAsOracle(requestId, transactionHash);

    expect((await cli.medcipher("rotating-patient", ["patient", "rotate-keys"])).code).to.equal(0);
    const result = await cli.medcipher("rotating-patient", ["--json", "result", requestId, "--timeout", "10"]);
    expect(result.code, result.stderr).to.equal(0);
    const model = loadModel("maternal-risk-v1");
    const plain = plainProbabilities(plainScores(model.weights, encodeReading(model.encodingSpec, reading)));
    const [prediction] = result.json<{ predictions: { label: string; probabilities: number[] }[] }>().predictions;
    expect(Math.max(...prediction!.probabilities.map((p, i) => Math.abs(p - plain[i]!)))).to.be.lessThan(0.01);
  });

  it("help_statesGlucoseUnitsAndModelNames", async function () {
    const ingest = await cli.medcipher("patient", ["ingest", "--help"]);
    expect(ingest.stdout).to.include("glucose mg/dL").and.include("docs/examples/readings.csv");
    const predict = await cli.medcipher("patient", ["predict", "--help"]);
    expect(predict.stdout).to.include("maternal-risk-v1").and.include("mmol/L").and.include("docs/examples/features.json");
  });
});
