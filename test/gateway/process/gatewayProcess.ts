/**
 * A gateway in a process of its own, for the tests that SIGKILL it or measure its memory:
 * `tsx test/gateway/process/gatewayProcess.ts <dataDir>` with GATEWAY_KEY (hex private key) and
 * optionally GATEWAY_LIMITS (JSON) and TEST_GATEWAY_BACKENDS (JSON GatewayBackends: S3, Postgres)
 * in the environment. Prints one JSON line `{ url, address }`
 * once listening; SIGTERM closes it. Owners-only policy (test/gateway/helpers.ts).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { Wallet } from "ethers";

import type { GatewayBackends } from "../../../gateway/store/dataDir.js";
import { startTestGateway } from "../helpers.js";

async function main(dataDir: string) {
  const key = new Wallet(process.env.GATEWAY_KEY!);
  const limits = process.env.GATEWAY_LIMITS ? JSON.parse(process.env.GATEWAY_LIMITS) as Record<string, unknown> : undefined;
  const backends = process.env.TEST_GATEWAY_BACKENDS ? JSON.parse(process.env.TEST_GATEWAY_BACKENDS) as GatewayBackends : undefined;
  const gw = await startTestGateway({ dir: dataDir, key, limits, backends });
  process.stdout.write(`${JSON.stringify({ url: gw.url, address: gw.key.address })}\n`);
  process.once("SIGTERM", () => void gw.close().then(() => process.exit(0)));
}

// Mocha loads every file under test/ when the whole suite runs: act only when run as a script.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) await main(process.argv[2]!);
