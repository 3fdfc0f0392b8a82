import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import hre, { network } from "hardhat";
import type { InterfaceAbi } from "ethers";

import { deploySuiteAndWrite } from "../../deploy/deploy-suite.js";
import { readDeploymentFile } from "../../deploy/deployment-file.js";
import { MedCipherQuorumModule } from "../../deploy/modules/MedCipher.js";

const QUORUM_PARAMETERS = path.join("deploy", "parameters", "localhost-quorum.json");

describe("deployment with an OracleQuorum", function () {
  it("deploys like scripts/deploy.ts with deploy/parameters/localhost-quorum.json: the router requests through a 2-of-3 quorum", async function () {
    const connection = await network.create();
    const { ethers } = connection;
    const directory = await mkdtemp(path.join(os.tmpdir(), "medcipher-quorum-deploy-"));
    try {
      const result = await deploySuiteAndWrite(connection, { directory, parametersFile: QUORUM_PARAMETERS, readArtifact: (name) => hre.artifacts.readArtifact(name) });
      expect(result.module).to.equal("MedCipherLocalQuorum");
      const file = await readDeploymentFile(directory, 31337);
      expect(file.contracts.OracleQuorum?.address).to.equal(result.addresses.OracleQuorum);
      // The router's oracle contract is the quorum, under both keys, with the quorum's ABI.
      expect(file.contracts.Operator.address).to.equal(file.contracts.OracleQuorum?.address);
      expect(file.contracts.Operator.abi).to.deep.equal(file.contracts.OracleQuorum?.abi);
      const quorum = new ethers.Contract(file.contracts.OracleQuorum!.address, file.contracts.OracleQuorum!.abi as InterfaceAbi, ethers.provider);
      const router = await ethers.getContractAt("PredictionRouter", result.addresses.PredictionRouter);
      expect(await router.operator()).to.equal(result.addresses.OracleQuorum);
      expect(await quorum.getFunction("owner")()).to.equal(result.addresses.PredictionRouter);
      expect(await quorum.getFunction("quorum")()).to.deep.equal([2n, 3n]);
      const identity = await ethers.getContractAt("IdentityRegistry", result.addresses.IdentityRegistry);
      const [, a, b, c] = await ethers.getSigners();
      for (const op of [a!, b!, c!]) {
        expect(await quorum.getFunction("isAuthorizedSender")(op.address)).to.equal(true);
        expect(await identity.hasRole(await identity.ORACLE_ROLE(), op.address)).to.equal(true);
      }
      const link = await ethers.getContractAt("LinkToken", result.addresses.LinkToken);
      expect(await link.balanceOf(result.addresses.PredictionRouter)).to.equal(100n * 10n ** 18n);
    } finally {
      await rm(directory, { recursive: true, force: true });
      await connection.close();
    }
  });

  it("the public-network quorum module deploys against an existing LINK token, names the operators and keeps k", async function () {
    const connection = await network.create();
    const { ethers } = connection;
    try {
      const link = await ethers.deployContract("LinkToken");
      const [, a, b, c] = await ethers.getSigners();
      const deployed = await connection.ignition.deploy(MedCipherQuorumModule, {
        parameters: {
          OracleQuorum: { linkToken: await link.getAddress(), operators: [a!.address, b!.address, c!.address], k: 2 },
          IdentityRegistry: { adminDelaySeconds: 86_400 },
        },
      });
      const quorum = await ethers.getContractAt("OracleQuorum", await deployed.quorum.getAddress());
      expect(await deployed.operator.getAddress()).to.equal(await quorum.getAddress());
      expect(await quorum.getChainlinkToken()).to.equal(await link.getAddress());
      expect(await quorum.owner()).to.equal(await deployed.router.getAddress());
      expect(await quorum.quorum()).to.deep.equal([2n, 3n]);
      expect(await quorum.getAuthorizedSenders()).to.deep.equal([a!.address, b!.address, c!.address]);
      const router = await ethers.getContractAt("PredictionRouter", await deployed.router.getAddress());
      expect(await router.operator()).to.equal(await quorum.getAddress());
    } finally {
      await connection.close();
    }
  });
});
