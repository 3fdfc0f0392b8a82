import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { serveJsonRpc } from "../../deploy/jsonRpcServer.js";
import { startFixture, type Fixture } from "../sdk/fixture.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const PASSWORD = "test password";
/** Hardhat's first development account: the deployer, hence governance, of the fixture's suite. */
export const HARDHAT_ACCOUNT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export type Run = { code: number; stdout: string; stderr: string; json: <T>() => T };

export type CliHarness = {
  fx: Fixture;
  rpcUrl: string;
  home: string;
  deployment: string;
  /** The CLI as a real process: `medcipher --home … --rpc … --deployment … --gateway … --identity <identity> <args>`. */
  medcipher(identity: string, args: string[], env?: Record<string, string>): Promise<Run>;
  /**
   * Gives a patient a prediction sponsor budget where the router asks for one (main's sponsor
   * design, `deploy/local.ts` sponsorPatients); a no-op on a router without sponsors.
   */
  sponsor(patient: string): Promise<void>;
  /** A funded identity with a keystore (scrypt N = 1024); returns its address and X25519 public key. */
  newIdentity(name: string, env?: Record<string, string>, ...extra: string[]): Promise<{ address: string; encryptionPublicKey: string }>;
  close(): Promise<void>;
};

/** A chain served over JSON-RPC on loopback, a gateway wired to it, a temp home and a deployment file. */
export async function startCliHarness(): Promise<CliHarness> {
  const fx = await startFixture();
  const rpc = await serveJsonRpc(fx.rpc);
  const home = await mkdtemp(join(tmpdir(), "medcipher-cli-"));
  const deployment = join(home, "deployment.json");
  const chainId = Number((await fx.provider.getNetwork()).chainId);
  await writeFile(deployment, JSON.stringify({ chainId, contracts: Object.fromEntries(Object.entries(fx.addresses).map(([name, address]) => [name, { address }])) }));

  const medcipher: CliHarness["medcipher"] = (identity, args, env = {}) => new Promise((resolve) => {
    const argv = ["--import", "tsx", "cli/medcipher.ts", "--home", home, "--rpc", rpc.url, "--deployment", deployment, "--gateway", fx.service.url, "--identity", identity, ...args];
    execFile(process.execPath, argv, { cwd: ROOT, env: { ...process.env, MEDCIPHER_PASSWORD: PASSWORD, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
    });
  });

  return {
    fx,
    rpcUrl: rpc.url,
    home,
    deployment,
    medcipher,
    async sponsor(patient) {
      const local = (await import("../../deploy/local.js")) as Record<string, unknown>;
      const sponsorPatients = local.sponsorPatients as ((suite: unknown, patients: string[]) => Promise<void>) | undefined;
      if (sponsorPatients) await sponsorPatients(fx.suite, [patient]);
    },
    async newIdentity(name, env = {}, ...extra) {
      const run = await medcipher(name, ["--json", "keys", "init", "--scrypt-n", "1024", ...extra], env);
      if (run.code !== 0) throw new Error(`keys init ${name} failed: ${run.stderr}`);
      const identity = run.json<{ address: string; encryptionPublicKey: string }>();
      await fx.fund(identity.address);
      return identity;
    },
    async close() {
      await rpc.close();
      await fx.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
