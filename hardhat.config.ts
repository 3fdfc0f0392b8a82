import { createRequire } from "node:module";

import hardhatToolboxMochaEthersPlugin from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";

// No machine here reaches the compiler download site: every compiler comes from an npm package
// pinned to exactly the version configured (package.json), and Hardhat is pointed at its soljson.
const require = createRequire(import.meta.url);
const solc = (pkg: string) => require.resolve(`${pkg}/soljson.js`);

const optimizer = { enabled: true, runs: 1_000 };

export default defineConfig({
  plugins: [hardhatToolboxMochaEthersPlugin],
  paths: { ignition: "deploy" },
  solidity: {
    profiles: {
      default: {
        // One compilation job per root file. Merged, the coverage-instrumented Solidity tests'
        // job outgrew solc's WebAssembly memory (HHE908) once Semaphore's interfaces and the
        // private forms joined it; isolated, a full build takes ~2 min on this machine.
        isolated: true,
        compilers: [
          // MedCipher's own contracts.
          { version: "0.8.28", path: solc("solc"), settings: { optimizer, evmVersion: "cancun", viaIR: false } },
          // Chainlink's Operator and AuthorizedForwarder pin `pragma solidity 0.8.19`.
          { version: "0.8.19", path: solc("solc-0.8.19"), settings: { optimizer, evmVersion: "paris" } },
        ],
      },
    },
    // Solidity tests (*.t.sol) compile in jobs of their own, apart from the contracts. In one job,
    // the coverage-instrumented build of everything outgrew solc's WebAssembly memory (measured:
    // "RuntimeError: memory access out of bounds", HHE908, once the suite reached 12 test files).
    splitTestsCompilation: true,
    // Artifacts for contracts we deploy but do not write: the local chain's LINK and Operator, and
    // Semaphore.
    npmFilesToBuild: [
      "@chainlink/contracts/src/v0.8/shared/token/ERC677/LinkToken.sol",
      "@chainlink/contracts/src/v0.8/operatorforwarder/Operator.sol",
      // Semaphore v4 (the zero-knowledge group proofs): deployed as-is on development chains.
      "@semaphore-protocol/contracts/Semaphore.sol",
      "@semaphore-protocol/contracts/base/SemaphoreVerifier.sol",
      "poseidon-solidity/PoseidonT3.sol",
      // CCIP on development chains (consent across chains): the local simulator and its router,
      // which delivers inside the sending transaction and whose routeMessage lets tests craft
      // deliveries (other source chains and senders, replays, out-of-order pairs).
      "@chainlink/local/src/ccip/CCIPLocalSimulator.sol",
      "@chainlink/local/src/vendor/chainlink-ccip/test/mocks/MockRouter.sol",
    ],
  },
  networks: {
    // The embedded chain used by `npm start` and the tests.
    hardhat: { type: "edr-simulated", chainType: "l1" },
    // A `hardhat node` (or anvil) process on this machine.
    localhost: { type: "http", chainType: "l1", url: "http://127.0.0.1:8545" },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
  },
});
