import { parentPort, workerData } from "node:worker_threads";

import { Wallet } from "ethers";

import { createNodeHttpTransport } from "../../core/node/httpTransport.js";
import { createGatewayClient, type GatewayClient } from "../../protocol/gatewayClient.js";
import { signEip1559 } from "../chain/eip1559.js";
import type { Evaluator, GatewayWorkerConfig, WorkerError, WorkerReply, WorkerTask } from "./types.js";

/**
 * A pool worker: evaluates (the evaluator module is loaded once) and performs the oracle's
 * gateway requests. Tasks are served concurrently: evaluation is synchronous CPU work between
 * awaits, gateway requests are I/O.
 */
type Message = { id: number; job: WorkerTask };

const { evaluatorModule, evaluatorOptions, gateway: gatewayConfig } = workerData as {
  evaluatorModule: string;
  evaluatorOptions?: unknown;
  gateway?: GatewayWorkerConfig;
};
const port = parentPort!;
const loaded = (await import(evaluatorModule)) as { createEvaluator: (options?: unknown) => Promise<Evaluator> };
const evaluator = await loaded.createEvaluator(evaluatorOptions);
let gateway: GatewayClient | undefined;
const signer = gatewayConfig ? new Wallet(gatewayConfig.privateKey) : undefined;
if (gatewayConfig) {
  const timeoutMs = gatewayConfig.timeoutMs;
  gateway = createGatewayClient({
    url: gatewayConfig.url, signer: new Wallet(gatewayConfig.privateKey), chainId: gatewayConfig.chainId, gatewayAddress: gatewayConfig.gatewayAddress,
    // One EIP-712 signature authorises an Ed25519 session key; requests and responses are then
    // signed with Ed25519 (native, ~10× cheaper than ECDSA recovery), same fields, same replay rules.
    session: true,
    // Keep-alive node:http: about half the CPU of fetch per blob, and one allocation per body.
    transport: createNodeHttpTransport(),
    timeoutMs,
  });
}
port.postMessage({ ready: true });

function toWorkerError(error: unknown): WorkerError {
  const e = error as { name?: string; message?: string; shortMessage?: string; code?: string; status?: number; details?: Record<string, unknown> };
  return {
    name: e.name ?? "Error", message: e.shortMessage ?? e.message ?? String(error),
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...(typeof e.status === "number" ? { status: e.status } : {}),
    ...(e.details ? { details: e.details } : {}),
  };
}

async function serve(job: WorkerTask): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  switch (job.kind) {
    case "evaluate": {
      const outcome = await evaluator.evaluate(job.task);
      return { reply: { ok: true, outcome }, transfer: outcome.ok ? [outcome.result.buffer as ArrayBuffer] : [] };
    }
    case "signTransactions": {
      if (!signer) throw new Error("no signing key in the worker");
      const signed = job.txs.map((t) => signEip1559({
        chainId: BigInt(t.chainId), nonce: t.nonce, to: t.to, data: t.data,
        gasLimit: BigInt(t.gasLimit), maxFeePerGas: BigInt(t.maxFeePerGas), maxPriorityFeePerGas: BigInt(t.maxPriorityFeePerGas),
      }, signer.signingKey));
      return { reply: { ok: true, signed }, transfer: [] };
    }
    case "gatewayGet": {
      if (!gateway) throw new Error("no gateway configured in the worker");
      const bytes = await gateway.get(job.blobId, { purpose: job.purpose, ...(job.ref ? { ref: job.ref } : {}) });
      return { reply: { ok: true, bytes }, transfer: [bytes.buffer as ArrayBuffer] };
    }
    case "gatewayPut": {
      if (!gateway) throw new Error("no gateway configured in the worker");
      const blobId = await gateway.put(job.bytes, {
        owner: job.owner, kind: job.blobKind, category: job.category,
        ...(job.purpose !== undefined ? { purpose: job.purpose } : {}), ...(job.ref ? { ref: job.ref } : {}),
      });
      return { reply: { ok: true, blobId }, transfer: [] };
    }
  }
}

port.on("message", ({ id, job }: Message) => {
  serve(job).then(
    ({ reply, transfer }) => port.postMessage({ id, reply }, transfer),
    (error: unknown) => port.postMessage({ id, reply: { ok: false, error: toWorkerError(error) } }),
  );
});
