import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import hre, { network } from "hardhat";
import type { InterfaceAbi } from "ethers";

import { deploySuiteAndWrite } from "../../deploy/deploy-suite.js";
import { loadModel } from "../../fhe/modelFile.js";
import { readDeploymentFile } from "../../deploy/deployment-file.js";
import { DEFAULT_FEE, DEFAULT_JOB_ID, deployMedCipher } from "../../deploy/local.js";
import { DEV_ORACLE_SENDER } from "../../deploy/modules/LocalChainlink.js";
import MedCipherModule from "../../deploy/modules/MedCipher.js";
import { DEMO_MODEL } from "./fixtures.js";

const connection = await network.create();
const { ethers } = connection;

describe("deployment", function () {
  it("deployMedCipher wires the suite, funds the router, authorises the oracle and registers models", async function () {
    const [governance, oracle, provider] = await ethers.getSigners();
    const suite = await deployMedCipher(connection, {
      governance: governance!,
      oracleSenders: [oracle!.address],
      roles: { providers: [provider!.address] },
      routerLink: 5n * 10n ** 18n,
      fee: 123n,
      models: [DEMO_MODEL, { ...DEMO_MODEL, version: "2.0.0", isPrivate: true }],
    });
    expect(await suite.identity.defaultAdmin()).to.equal(governance!.address);
    expect(await suite.consent.identityRegistry()).to.equal(suite.addresses.IdentityRegistry);
    expect(await suite.records.identityRegistry()).to.equal(suite.addresses.IdentityRegistry);
    expect(await suite.audit.identityRegistry()).to.equal(suite.addresses.IdentityRegistry);
    expect(await suite.router.operator()).to.equal(suite.addresses.Operator);
    expect(await suite.router.fee()).to.equal(123n);
    expect(await suite.router.jobId()).to.equal(DEFAULT_JOB_ID);
    expect(await suite.link.balanceOf(suite.addresses.PredictionRouter)).to.equal(5n * 10n ** 18n);
    expect(await suite.operator.isAuthorizedSender(oracle!.address)).to.equal(true);
    expect(await suite.operator.owner()).to.equal(suite.addresses.PredictionRouter);
    expect(await suite.identity.hasRole(await suite.identity.ORACLE_ROLE(), oracle!.address)).to.equal(true);
    expect(await suite.identity.hasRole(await suite.identity.PROVIDER_ROLE(), provider!.address)).to.equal(true);
    expect(suite.modelIds).to.deep.equal([1n, 2n]);
    expect((await suite.models.modelOf(2)).spec.isPrivate).to.equal(true);
    expect(DEFAULT_FEE).to.equal(10n ** 17n);
  });

  it("the public-network module deploys against an existing LINK token with our own Operator", async function () {
    const link = await ethers.deployContract("LinkToken");
    const deployed = await connection.ignition.deploy(MedCipherModule, {
      parameters: {
        Chainlink: { linkToken: await link.getAddress() },
        IdentityRegistry: { adminDelaySeconds: 86_400 },
        PredictionRouter: { onChainResults: true },
      },
    });
    const router = await ethers.getContractAt("PredictionRouter", await deployed.router.getAddress());
    const identity = await ethers.getContractAt("IdentityRegistry", await deployed.identity.getAddress());
    expect(await router.linkToken()).to.equal(await link.getAddress());
    expect(await router.onChainResults()).to.equal(true);
    expect(await identity.defaultAdminDelay()).to.equal(86_400n);
    const operator = await ethers.getContractAt("Operator", await deployed.operator.getAddress());
    expect(await operator.getChainlinkToken()).to.equal(await link.getAddress());
    // Governance owns the Operator through the router; no oracle is authorised until governance admits one.
    expect(await operator.owner()).to.equal(await router.getAddress());
    expect(await operator.getAuthorizedSenders()).to.deep.equal([]);
  });

  it("deploys like scripts/deploy.ts and writes deployments/<chainId>.json with addresses and ABIs", async function () {
    const directory = await mkdtemp(path.join(os.tmpdir(), "medcipher-deploy-"));
    try {
      const result = await deploySuiteAndWrite(connection, { directory, readArtifact: (name) => hre.artifacts.readArtifact(name) });
      expect(result.module).to.equal("MedCipherLocal");
      expect(path.basename(result.parametersFile ?? "")).to.equal("hardhat.json");
      const file = await readDeploymentFile(directory, 31337);
      expect(file.chainId).to.equal(31337);
      expect(Object.keys(file.contracts).sort()).to.deep.equal(
        ["AuditLogAnchor", "ConsentManager", "IdentityRegistry", "LinkToken", "ModelRegistry", "Operator", "PredictionRouter", "PrivacyGroups", "RecordRegistry", "Semaphore"],
      );
      for (const [name, { address, abi }] of Object.entries(file.contracts)) {
        expect(address).to.equal(result.addresses[name as keyof typeof result.addresses]);
        expect(abi.length).to.be.greaterThan(0);
      }
      // The file is enough to talk to the contracts: the parameter file's oracle is authorised.
      const operator = new ethers.Contract(file.contracts.Operator.address, file.contracts.Operator.abi as InterfaceAbi, ethers.provider);
      expect(await operator.getFunction("isAuthorizedSender")(DEV_ORACLE_SENDER)).to.equal(true);
      const routerAbi = new ethers.Interface(file.contracts.PredictionRouter.abi as InterfaceAbi);
      expect(routerAbi.getEvent("PredictionRequested")).to.not.equal(null);
      expect(routerAbi.getFunction("fulfilPrediction")).to.not.equal(null);
      // The repository's models are registered, active, under the hashes their artifacts carry.
      const registry = await ethers.getContractAt("ModelRegistry", result.addresses.ModelRegistry);
      expect(Object.keys(result.models).sort()).to.deep.equal(["heart-disease-lr-v1", "maternal-risk-v1"]);
      for (const [id, modelId] of Object.entries(result.models)) {
        const model = await registry.modelOf(modelId);
        expect(model.spec.name).to.equal(id);
        expect(model.spec.weightsHash).to.equal(loadModel(id).weightsHash);
        expect((await registry.modelStatus(modelId)).active).to.equal(true);
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
