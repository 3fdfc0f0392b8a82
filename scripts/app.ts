/**
 * `npm run app`: the local MedCipher stack (chain, contracts, gateway, oracle, demo clinician and
 * patient, dev faucet, consent relay) and the reference dapp, until Ctrl-C.
 *
 *   npm run app -- [--port 8080] [--rpc-port 8545] [--gateway-port 8787] [--app-dist app/dist] [--data-dir DIR]
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";

import { DEFAULT_PORTS, startAppStack } from "./app/stack.js";

const USAGE = "usage: npm run app -- [--port 8080] [--rpc-port 8545] [--gateway-port 8787] [--app-dist app/dist] [--data-dir DIR]";

function portOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`--${name} must be a TCP port (0–65535), got ${JSON.stringify(value)}\n${USAGE}`);
    process.exit(64);
  }
  return port;
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string" }, "rpc-port": { type: "string" }, "gateway-port": { type: "string" },
      "app-dist": { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean", short: "h" },
    },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(64);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

console.log("MedCipher local stack: starting (chain, contracts, gateway, oracle, demo accounts) …");
const started = Date.now();
const stack = await startAppStack({
  port: portOption("port", args.port, DEFAULT_PORTS.app),
  rpcPort: portOption("rpc-port", args["rpc-port"], DEFAULT_PORTS.rpc),
  gatewayPort: portOption("gateway-port", args["gateway-port"], DEFAULT_PORTS.gateway),
  ...(args["app-dist"] ? { appDist: resolve(args["app-dist"]) } : {}),
  ...(args["data-dir"] ? { dataDir: resolve(args["data-dir"]) } : {}),
  log: (line) => console.log(`  ${line}`),
}).catch((error: unknown) => {
  console.error("\nThe stack did not start:", error);
  process.exit(1);
});

const { config } = stack;
console.log(`
Ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Open ${stack.appUrl}

  demo patient    ${config.demo!.patient.address}  backup ${config.demo!.patient.keystoreUrl}
  demo clinician  ${config.demo!.clinician.address}  backup ${config.demo!.clinician.keystoreUrl}
  password        ${config.demo!.patient.password}   (development accounts: never put real data here)
  dev faucet      POST ${config.faucetUrl}  {"address":"0x…"} → 1 ETH + a prediction budget
  consent relay   POST ${config.relayUrl}
  files           ${stack.dataDir}

Ctrl-C stops everything.`);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the stack …`);
  stack.stop().then(
    () => { console.log("stopped."); process.exit(0); },
    (error: unknown) => { console.error("stop failed:", error); process.exit(1); },
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
