import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import { ZeroHash } from "ethers";

import { ExitCode } from "../../cli/exitCodes.js";
import { serveJsonRpc } from "../../deploy/jsonRpcServer.js";
import { sha256Hex } from "../../core/hash.js";
import { heKeySetsOf, readKeystore, writeKeystore } from "../../sdk/keystore.js";
import { startFixture, type Fixture } from "../sdk/fixture.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PASSWORD = "test password";

type Run = { code: number; stdout: string; stderr: string; json: <T>() => T };

/**
 * `medcipher patient register | rotate-keys` as real processes against a real chain (JSON-RPC
 * over loopback) and a real gateway process that the test pauses (SIGSTOP) and resumes (SIGCONT).
 */
describe("cli onboarding: a stopped gateway or chain cannot strand a patient", function () {
  this.timeout(240_000);
  let fx: Fixture;
  let rpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let home: string;
  let deployment: string;
  let gateway: { child: ChildProcess; url: string };
  /** The same chain over a second JSON-RPC endpoint whose calls the test can hold, as a paused node would. */
  let pausableRpc: Awaited<ReturnType<typeof serveJsonRpc>>;
  let held: Promise<void> | undefined;
  let release = () => {};

  const argvFor = (identity: string, args: string[]) =>
    ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", rpc.url, "--deployment", deployment, "--gateway", gateway.url, "--identity", identity, ...args];
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, MEDCIPHER_PASSWORD: PASSWORD, ...extra });

  function medcipher(identity: string, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(process.execPath, argvFor(identity, args), { cwd: ROOT, env: env({ GATEWAY_KEY: fx.gatewayKey.privateKey }) }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
      });
    });
  }

  /** Starts a command; `when` fires on the first stderr line matching `pattern`. Resolves with the run. */
  function medcipherUntil(identity: string, args: string[], pattern: RegExp, when: (child: ChildProcess) => void): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, argvFor(identity, args), { cwd: ROOT, env: env() });
      let stdout = "";
      let stderr = "";
      let fired = false;
      child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString(); });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!fired && pattern.test(stderr)) {
          fired = true;
          when(child);
        }
      });
      child.once("exit", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, json: <T>() => JSON.parse(stdout) as T }));
    });
  }

  async function startGatewayProcess(): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", rpc.url, "--deployment", deployment, "--identity", "gateway-operator",
      "gateway", "serve", "--port", "0", "--anchor-interval", "0", "--data-dir", join(home, "gateway-data")], { cwd: ROOT, env: env() });
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = "";
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
        if (match) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`gateway exited early (${code})`)));
    });
    return { child, url };
  }

  async function newPatient(name: string): Promise<string> {
    const init = await medcipher(name, "--json", "keys", "init", "--scrypt-n", "1024");
    expect(init.code, init.stderr).to.equal(0);
    const { address } = init.json<{ address: string }>();
    await fx.fund(address);
    return address;
  }

  const keySetsIn = async (name: string) => heKeySetsOf((await readKeystore(join(home, "keys", `${name}.json`), PASSWORD)).secrets);
  const onChainKeysHash = async (address: string) => ((await fx.suite.identity.keySetOf(address)) as unknown as [string, string])[0];

  before(async function () {
    fx = await startFixture();
    rpc = await serveJsonRpc(fx.rpc);
    pausableRpc = await serveJsonRpc({
      request: async (args) => {
        await held;
        return fx.rpc.request(args);
      },
    });
    home = await mkdtemp(join(tmpdir(), "medcipher-cli-onboarding-"));
    deployment = join(home, "deployment.json");
    const chainId = Number((await fx.provider.getNetwork()).chainId);
    await writeFile(deployment, JSON.stringify({ chainId, contracts: Object.fromEntries(Object.entries(fx.addresses).map(([name, address]) => [name, { address }])) }));
    gateway = { child: undefined as unknown as ChildProcess, url: fx.service.url };
    const operator = await medcipher("gateway-operator", "keys", "init", "--scrypt-n", "1024", "--import-env", "GATEWAY_KEY");
    expect(operator.code, operator.stderr).to.equal(0);
    gateway = await startGatewayProcess();
  });
  after(async function () {
    if (gateway?.child?.pid) {
      gateway.child.kill("SIGCONT");
      gateway.child.kill("SIGKILL");
    }
    release();
    await pausableRpc?.close();
    await rpc?.close();
    await fx?.close();
    await rm(home, { recursive: true, force: true });
  });

  it("register_gatewayPausedDuringTheUpload_timesOutClearly_keepsTheSecretKey_andTheRetryFinishes", async function () {
    const address = await newPatient("paused-upload");
    let paused = false;
    const first = await medcipherUntil("paused-upload", ["patient", "register", "--timeout", "3"], /uploading the evaluation keys/, () => {
      paused = gateway.child.kill("SIGSTOP");
    });
    try {
      expect(paused).to.equal(true);
      expect(first.code, first.stderr).to.equal(ExitCode.TIMEOUT);
      expect(first.stderr).to.include("SDK_TIMEOUT").and.include("gateway");
      expect(first.stderr).not.to.match(/\n\s+at /); // a message, not a stack trace
      // The whole key set is in the keystore, and nothing is on-chain yet.
      const saved = await keySetsIn("paused-upload");
      expect(saved).to.have.length(1);
      expect(sha256Hex(new Uint8Array(Buffer.from(saved[0]!.evaluationKeys, "base64")))).to.equal(saved[0]!.keysHash);
      const { FheClient } = await import("../../fhe/index.js");
      (await FheClient.importSecretKey(new Uint8Array(Buffer.from(saved[0]!.secretKey, "base64")), PASSWORD)).dispose();
      expect(await onChainKeysHash(address)).to.equal(ZeroHash);
    } finally {
      gateway.child.kill("SIGCONT");
    }

    const retry = await medcipher("paused-upload", "--json", "patient", "register");
    expect(retry.code, retry.stderr).to.equal(0);
    const resumed = retry.json<{ keysHash: string; resumed: boolean; alreadyRegistered: boolean; transactionHash?: string }>();
    expect(resumed).to.include({ resumed: true, alreadyRegistered: false });
    expect(resumed.keysHash).to.equal((await keySetsIn("paused-upload"))[0]!.keysHash);
    expect(await onChainKeysHash(address)).to.equal(resumed.keysHash);

    // Once more: nothing left to do, exit 0, saying so.
    const again = await medcipher("paused-upload", "patient", "register");
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include("already registered");
    expect(await keySetsIn("paused-upload")).to.have.length(1);
  });

  it("register_killedAfterTheTransactionIsSent_theRetryFinishesWithoutPatientAlreadyRegistered", async function () {
    const address = await newPatient("killed-after-send");
    const first = await medcipherUntil("killed-after-send", ["patient", "register"], /waiting for 0x/, (child) => child.kill("SIGKILL"));
    expect(first.code).to.not.equal(0);
    expect(await keySetsIn("killed-after-send")).to.have.length(1);
    const retry = await medcipher("killed-after-send", "--json", "patient", "register");
    expect(retry.code, retry.stderr).to.equal(0);
    const result = retry.json<{ keysHash: string; alreadyRegistered: boolean }>();
    expect(result.alreadyRegistered).to.equal(true);
    expect(result.keysHash).to.equal((await keySetsIn("killed-after-send"))[0]!.keysHash);
    expect(await onChainKeysHash(address)).to.equal(result.keysHash);
  });

  it("register_gatewayPausedBeforeTheCommand_givesATimeoutErrorAndExitCode_notAHang", async function () {
    await newPatient("paused-before");
    gateway.child.kill("SIGSTOP");
    try {
      const started = Date.now();
      const run = await medcipher("paused-before", "--json", "patient", "register", "--timeout", "2");
      expect(run.code, run.stderr).to.equal(ExitCode.TIMEOUT);
      expect(JSON.parse(run.stderr).error.code).to.equal("SDK_TIMEOUT");
      expect(Date.now() - started).to.be.below(60_000);
    } finally {
      gateway.child.kill("SIGCONT");
    }
  });

  it("register_chainPausedMidCommand_timesOutClearly_andTheRetryFinishes", async function () {
    const address = await newPatient("chain-paused");
    const first = await medcipherUntil("chain-paused", ["--rpc", pausableRpc.url, "patient", "register", "--timeout", "2"], /uploading the evaluation keys/, () => {
      held = new Promise((resolve) => { release = resolve; });
    });
    release();
    held = undefined;
    expect(first.code, first.stderr).to.equal(ExitCode.TIMEOUT);
    expect(first.stderr).to.include("SDK_TIMEOUT");
    expect(first.stderr).not.to.match(/\n\s+at /);
    expect(await keySetsIn("chain-paused")).to.have.length(1);
    const retry = await medcipher("chain-paused", "--json", "--rpc", pausableRpc.url, "patient", "register");
    expect(retry.code, retry.stderr).to.equal(0);
    expect(await onChainKeysHash(address)).to.equal(retry.json<{ keysHash: string }>().keysHash);
  });

  it("register_strandedByAnOlderVersion_pointsToRotateKeys_whichGetsThePatientOut", async function () {
    const address = await newPatient("stranded");
    expect((await medcipher("stranded", "patient", "register")).code).to.equal(0);
    const path = join(home, "keys", "stranded.json");
    const stored = await readKeystore(path, PASSWORD);
    const { heKeySets: _sets, heSecretKey: legacySecretKey, ...rest } = stored.secrets;

    // As main's CLI left a registration that finished: the lone secret key, no key-set list.
    await writeKeystore(path, stored.address, { ...rest, heSecretKey: legacySecretKey }, PASSWORD, stored.kdf);
    const legacy = await medcipher("stranded", "patient", "register");
    expect(legacy.code, legacy.stderr).to.equal(0);
    expect(legacy.stdout).to.include("already registered");

    // As main's CLI left an interrupted one: registered on-chain, no CKKS secret key anywhere.
    // The retry was exit 7 ("unknown custom error") and predict said "run patient register".
    await writeKeystore(path, stored.address, rest, PASSWORD, stored.kdf);
    const stranded = await medcipher("stranded", "patient", "register");
    expect(stranded.code).to.equal(ExitCode.INVALID_INPUT);
    expect(stranded.stderr).to.include("patient rotate-keys");
    const rotated = await medcipher("stranded", "--json", "patient", "rotate-keys");
    expect(rotated.code, rotated.stderr).to.equal(0);
    const { keysHash } = rotated.json<{ keysHash: string }>();
    expect(await onChainKeysHash(address)).to.equal(keysHash);
    expect((await keySetsIn("stranded")).map((k) => k.keysHash)).to.deep.equal([keysHash]);
    expect((await medcipher("stranded", "patient", "register")).code).to.equal(0);
  });

  it("rotateKeys_savesTheNewKeySetFirst_keepsTheOldSecretKey_andIsRefusedBeforeRegistration", async function () {
    const address = await newPatient("rotating");
    const early = await medcipher("rotating", "patient", "rotate-keys");
    expect(early.code).to.equal(ExitCode.INVALID_INPUT);
    expect(early.stderr).to.include("patient register");
    expect((await medcipher("rotating", "patient", "register")).code).to.equal(0);
    const before = await onChainKeysHash(address);

    const rotated = await medcipher("rotating", "--json", "patient", "rotate-keys");
    expect(rotated.code, rotated.stderr).to.equal(0);
    const result = rotated.json<{ keysHash: string; previousKeysHash: string }>();
    expect(result.previousKeysHash).to.equal(before);
    expect(await onChainKeysHash(address)).to.equal(result.keysHash).and.not.equal(before);
    expect((await fx.suite.identity.patientOf(address)).keyVersion).to.equal(2n);
    expect((await keySetsIn("rotating")).map((k) => k.keysHash)).to.deep.equal([before, result.keysHash]);

    const list = await medcipher("rotating", "--json", "patient", "key-sets");
    expect(list.json<{ keySets: { keysHash: string; current: boolean }[] }>().keySets.map((k) => k.current)).to.deep.equal([false, true]);
    expect((await medcipher("rotating", "patient", "forget-key-set", result.keysHash)).code).to.equal(ExitCode.INVALID_INPUT);
    expect((await medcipher("rotating", "patient", "forget-key-set", before)).code).to.equal(0);
    expect((await keySetsIn("rotating")).map((k) => k.keysHash)).to.deep.equal([result.keysHash]);
  });

  it("rotateKeys_gatewayPausedDuringTheUpload_theRetryFinishesTheSameRotation", async function () {
    const address = await newPatient("rotation-resumed");
    expect((await medcipher("rotation-resumed", "patient", "register")).code).to.equal(0);
    const before = await onChainKeysHash(address);
    const first = await medcipherUntil("rotation-resumed", ["patient", "rotate-keys", "--timeout", "3"], /uploading the evaluation keys/, () => gateway.child.kill("SIGSTOP"));
    gateway.child.kill("SIGCONT");
    expect(first.code, first.stderr).to.equal(ExitCode.TIMEOUT);
    const saved = await keySetsIn("rotation-resumed");
    expect(saved).to.have.length(2);
    expect(await onChainKeysHash(address)).to.equal(before);
    const retry = await medcipher("rotation-resumed", "--json", "patient", "rotate-keys");
    expect(retry.code, retry.stderr).to.equal(0);
    expect(retry.json<{ keysHash: string; resumed: boolean }>()).to.include({ keysHash: saved[1]!.keysHash, resumed: true });
    expect(await onChainKeysHash(address)).to.equal(saved[1]!.keysHash);
  });
});
