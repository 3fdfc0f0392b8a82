import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

import { expect } from "chai";
import { Interface } from "ethers";

import * as generated from "../../protocol/abi/generated.js";
import { connectContract } from "../../protocol/contracts.js";
import { combinedErrors, GENERATED_MODULE, renderAbiModule } from "../../scripts/generate-abis.js";

const REPOSITORY = path.resolve(import.meta.dirname, "../..");

describe("protocol: ABIs generated from the artifacts", function () {
  it("the committed module is what the artifacts generate now (else: npm run build, and commit it)", async function () {
    const onDisk = await readFile(path.join(REPOSITORY, GENERATED_MODULE), "utf8");
    const fresh = await renderAbiModule();
    expect(onDisk === fresh, `${GENERATED_MODULE} is stale: run \`npm run build\` and commit it`).to.equal(true);
    // `npm test` runs the build first, which rewrites the module: the committed copy must match too.
    const committed = committedText(GENERATED_MODULE);
    if (committed !== undefined) expect(committed === fresh, `${GENERATED_MODULE} was regenerated but not committed`).to.equal(true);
  });

  it("the combined errors ABI names every error our contracts declare, and the OpenZeppelin and Chainlink ones they raise", async function () {
    const names = new Set(generated.medCipherErrorsAbi.map((e) => e.name));
    const declared = await declaredErrors(path.join(REPOSITORY, "contracts"));
    expect(declared.size).to.be.greaterThan(40);
    for (const name of declared) expect(names, `error ${name}`).to.include(name);
    for (const name of ["AccessControlUnauthorizedAccount", "ECDSAInvalidSignature", "ECDSAInvalidSignatureS", "InvalidAccountNonce", "SafeCastOverflowedUintDowncast", "SenderNotMinter", "MaxSupplyExceeded"]) {
      expect(names, name).to.include(name);
    }
    // Each one decodes: ethers parses the revert data of every entry back to its name.
    const errors = new Interface(generated.medCipherErrorsAbi);
    errors.forEachError((fragment) => {
      const data = errors.encodeErrorResult(fragment, fragment.inputs.map((input) => sampleValue(input.baseType)));
      expect(errors.parseError(data)?.name).to.equal(fragment.name);
    });
  });

  it("an error declared by two contracts is one entry; two signatures keep two", function () {
    const one = { type: "error", name: "SignatureExpired", inputs: [{ name: "deadline", type: "uint256" }] };
    const same = { type: "error", name: "SignatureExpired", inputs: [{ name: "until", type: "uint256" }] };
    const other = { type: "error", name: "SignatureExpired", inputs: [{ name: "at", type: "uint40" }] };
    expect(combinedErrors([[one], [same]])).to.have.length(1);
    expect(combinedErrors([[one], [other]])).to.have.length(2);
  });

  it("types every contract from its ABI: arguments, views and struct returns (tsc checks the expectations below)", async function () {
    const identity = connectContract(generated.identityRegistryAbi, "0x000000000000000000000000000000000000dEaD", null);
    const router = connectContract(generated.predictionRouterAbi, "0x000000000000000000000000000000000000dEaD", null);
    // Only run for their types: nothing is called (the contract has no runner).
    const typeChecks = async () => {
      const request = await router.getRequest("0x" + "00".repeat(32));
      const status: bigint = request.status;
      const patient: string = request.patient;
      const [keysHash] = await identity.keySetOf(patient);
      const named: string = (await identity.keySetOf(patient)).paramSetId;
      const gas: bigint = await identity.registerPatient.estimateGas(keysHash, named, "uri", keysHash);
      // @ts-expect-error a uint32 model id is a number, not a boolean
      await router.requestPrediction(patient, true, keysHash, "uri");
      // @ts-expect-error a view has no such function
      await identity.noSuchFunction();
      // @ts-expect-error one argument short
      await identity.hasRole(keysHash);
      const logs = await router.queryFilter(router.filters.PredictionFulfilled(keysHash));
      const resultUri: string | undefined = logs[0]?.args.resultUri;
      return [status, gas, resultUri];
    };
    expect(typeChecks).to.be.a("function");
    expect(typeof identity.registerPatient.staticCall).to.equal("function");
    expect(identity.interface.getFunction("keySetOf")?.outputs.map((o) => o.name)).to.deep.equal(["keysHash", "paramSetId"]);
  });

  it("no hand-written ABI string is left in the components", async function () {
    const offenders: string[] = [];
    for (const folder of ["core", "protocol", "sdk", "cli", "gateway", "oracle", "deploy", "scripts", "fhe", "app"]) {
      for (const file of await typeScriptFiles(path.join(REPOSITORY, folder))) {
        const text = await readFile(file, "utf8");
        text.split("\n").forEach((line, i) => {
          if (/["'`](function|event|error) [A-Za-z_]\w*\(/.test(line)) offenders.push(`${path.relative(REPOSITORY, file)}:${i + 1}`);
        });
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});

/** The file as committed at HEAD; undefined outside a git checkout (e.g. an unpacked tarball). */
function committedText(file: string): string | undefined {
  try {
    return execFileSync("git", ["show", `HEAD:${file}`], { cwd: REPOSITORY, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 });
  } catch {
    return undefined;
  }
}

/** Names of `error X(` declarations in the non-test Solidity sources under `folder`. */
async function declaredErrors(folder: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".sol") || entry.name.endsWith(".t.sol")) continue;
    const text = await readFile(path.join(entry.parentPath, entry.name), "utf8");
    for (const match of text.matchAll(/^\s*error\s+(\w+)\s*\(/gm)) names.add(match[1]!);
  }
  return names;
}

async function typeScriptFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.parentPath.includes("node_modules") && !e.name.endsWith("generated.ts"))
    .map((e) => path.join(e.parentPath, e.name));
}

function sampleValue(baseType: string): unknown {
  if (baseType === "address") return "0x000000000000000000000000000000000000dEaD";
  if (baseType === "bool") return true;
  if (baseType === "string") return "x";
  if (baseType.startsWith("bytes")) return baseType === "bytes" ? "0x01" : `0x${"11".repeat(Number(baseType.slice(5)))}`;
  if (baseType === "array") return [];
  return 1n;
}
