import { readFile } from "node:fs/promises";

import { expect } from "chai";

import { bundleForBrowser } from "../architecture/browserBuild.js";
import { SEMAPHORE_ARTIFACT_FILES } from "../../protocol/zk/artifacts.js";
import { releaseProver, verifyOffChain, type SemaphoreProof } from "../../protocol/zk/prove.js";
import { DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY } from "../../sdk/node/semaphoreArtifacts.js";
import { describeInBrowser, serveStatic, type StaticSite } from "./harness.js";

/** Proofs per run; `ZK_BENCH_RUNS=5` gives the median of five (docs/notes/zk.md). */
const RUNS = Math.max(1, Number(process.env.ZK_BENCH_RUNS ?? 1));

type ProbeResult = {
  ok: boolean;
  message?: string;
  code?: string;
  fetchMs?: number;
  proveMs?: number[];
  verifyMs?: number[];
  verified?: boolean[];
  proof?: SemaphoreProof;
  accessVerified?: boolean;
  bindingChecked?: boolean;
};

/**
 * The dapp must be able to prove: protocol/zk bundled for the browser as a dapp's bundler would,
 * the pinned circuit files served over loopback HTTP and checked by SHA-256 in the page, a
 * Semaphore proof made and verified in Chromium, and the same proof verified again in Node.
 */
describeInBrowser("protocol/zk in Chromium: proving membership with the pinned circuit files", ({ newPage }) => {
  let site: StaticSite;
  before(async () => {
    const bundle = await bundleForBrowser(`
      import { fetchSemaphoreArtifacts } from "./protocol/zk/artifacts.ts";
      import { derivePatientIdentity, randomIdentity } from "./protocol/zk/identity.ts";
      import { anonymousMessage, anonymousScope } from "./protocol/zk/predict.ts";
      import { proveMembership, verifyOffChain, Group } from "./protocol/zk/prove.ts";
      import { proveGroupAccess, decodeGroupAccess, checkGroupAccessBinding } from "./protocol/zk/access.ts";
      import { sha256Hex } from "./core/hash.ts";
      globalThis.zkProbe = async ({ baseUrl, wasmUrl, zkeyUrl, runs }) => {
        try {
          let t = performance.now();
          const artifacts = await fetchSemaphoreArtifacts({ baseUrl, wasmUrl, zkeyUrl });
          const fetchMs = performance.now() - t;
          const context = { chainId: 31337n, router: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
          const privacyGroups = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
          const patient = derivePatientIdentity(crypto.getRandomValues(new Uint8Array(32)), { chainId: 31337n, privacyGroups });
          const group = new Group([randomIdentity().commitment, patient.commitment, randomIdentity().commitment]);
          const request = { modelId: 1, epoch: 20424, slot: 0, accessKey: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            inputHash: sha256Hex(new Uint8Array([1])), keysHash: sha256Hex(new Uint8Array([2])), inputUri: "medcipher://input" };
          const proveMs = [], verifyMs = [], verified = [];
          let proof;
          for (let i = 0; i < runs; i++) {
            t = performance.now();
            proof = await proveMembership({ identity: patient, group, message: anonymousMessage(context, request), scope: anonymousScope(context, request.epoch, request.slot), artifacts });
            proveMs.push(performance.now() - t);
            t = performance.now();
            verified.push(await verifyOffChain(proof));
            verifyMs.push(performance.now() - t);
          }
          const gateway = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
          const consentCommitment = "0x" + "ab".repeat(32);
          const http = { gateway, method: "GET", path: "/blobs/0x01", bodySha256: sha256Hex(new Uint8Array()), timestamp: Math.floor(Date.now() / 1000) };
          const header = await proveGroupAccess({ identity: patient, group, artifacts, chainId: 31337n, privacyGroups, consentCommitment, request: http });
          const access = decodeGroupAccess(header);
          checkGroupAccessBinding(access, { chainId: 31337n, privacyGroups, consentCommitment, gateway, method: "GET", path: "/blobs/0x01", bodySha256: http.bodySha256, now: http.timestamp });
          return { ok: true, fetchMs, proveMs, verifyMs, verified, proof, accessVerified: await verifyOffChain(access.proof), bindingChecked: true };
        } catch (error) {
          return { ok: false, message: String(error?.message ?? error), code: error?.code };
        }
      };`);
    expect(bundle.errors).to.deep.equal([]);
    expect(bundle.nodeImports, "Node built-ins in the proving bundle").to.deep.equal([]);
    const zkey = new Uint8Array(await readFile(new URL(SEMAPHORE_ARTIFACT_FILES.zkey, DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY)));
    const tampered = zkey.slice();
    tampered[zkey.length - 100] = tampered[zkey.length - 100]! ^ 1;
    site = await serveStatic({
      files: { "/index.html": `<!doctype html><script type="module" src="/app.js"></script>`, "/app.js": bundle.code, "/tampered/semaphore-20.zkey": tampered },
      directory: DEFAULT_SEMAPHORE_ARTIFACT_DIRECTORY.pathname.replace(/\/$/, ""),
    });
  });
  after(async () => {
    await site.close();
    await releaseProver();
  });

  async function probe(parameters: { baseUrl?: string; wasmUrl?: string; zkeyUrl?: string }): Promise<ProbeResult> {
    const page = await newPage();
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => "zkProbe" in globalThis);
    const result = await page.evaluate((args) => (globalThis as unknown as { zkProbe(a: unknown): Promise<ProbeResult> }).zkProbe(args), { ...parameters, runs: RUNS });
    return result;
  }

  it("fetches and checks the files, proves and verifies in the page; Node verifies the page's proof", async function () {
    this.timeout(60_000 + RUNS * 30_000);
    const result = await probe({ baseUrl: `${site.url}/` });
    expect(result.message).to.equal(undefined);
    expect(result.ok).to.equal(true);
    expect(result.verified).to.deep.equal(Array(RUNS).fill(true));
    expect(result.accessVerified).to.equal(true);
    expect(result.bindingChecked).to.equal(true);
    expect(await verifyOffChain(result.proof!)).to.equal(true);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    process.stdout.write(`      (Chromium: artifacts fetched and checked in ${Math.round(result.fetchMs!)} ms; prove median ${Math.round(median(result.proveMs!))} ms, verify median ${Math.round(median(result.verifyMs!))} ms over ${RUNS} run(s); prove ${result.proveMs!.map(Math.round).join(", ")} ms)\n`);
  });

  it("refuses a proving key whose SHA-256 differs, before proving (ZK_ARTIFACT_DIGEST)", async () => {
    const result = await probe({ wasmUrl: `${site.url}/semaphore-20.wasm`, zkeyUrl: `${site.url}/tampered/semaphore-20.zkey` });
    expect(result.ok).to.equal(false);
    expect(result.code).to.equal("ZK_ARTIFACT_DIGEST");
    expect(result.proveMs).to.equal(undefined);
  });
});
