import { decodeBytes32String, type Interface } from "ethers";

import { modelRegistryInterface, routerInterface } from "./abi.js";
import { RpcResponseError, type RpcClient } from "./rpc.js";

export type OnChainModel = {
  modelId: number;
  name: string;
  version: string;
  weightsHash: string;
  paramSetId: string;
  isPrivate: boolean;
};

export type OnChainRequest = {
  patient: string;
  modelId: number;
  status: number;
  expiresAt: number;
  failureCode: number;
  requester: string;
  inputHash: string;
  resultHash: string;
};

export type ChainReader = ReturnType<typeof createChainReader>;

/**
 * How long a request's status or a model's activity, once read, answers later questions. The
 * pipeline reads them to skip work, never to decide what goes on-chain (the fulfilment is
 * simulated first), so a second of staleness costs nothing and saves round trips under load.
 */
export const READ_CACHE_MS = 1_000;

/** Read-only views of the MedCipher contracts the pipeline re-checks before spending work. */
export function createChainReader({ rpc, router }: { rpc: RpcClient; router: string }) {
  const models = new Map<number, OnChainModel>();
  const requests = new Map<string, { at: number; value: OnChainRequest }>();
  const activity = new Map<number, { at: number; value: boolean }>();
  let modelRegistry: string | undefined;
  const fresh = (at: number) => Date.now() - at < READ_CACHE_MS;

  async function call(to: string, iface: Interface, fn: string, args: unknown[]) {
    const data = await rpc.request<string>("eth_call", [{ to, data: iface.encodeFunctionData(fn, args) }, "latest"]);
    return iface.decodeFunctionResult(fn, data);
  }

  async function registry(): Promise<string> {
    modelRegistry ??= (await call(router, routerInterface, "modelRegistry", []))[0] as string;
    return modelRegistry;
  }

  function decodeRequest(r: unknown): OnChainRequest {
    const request = r as Record<string, bigint | string>;
    return {
        patient: request.patient as string,
        modelId: Number(request.modelId),
        status: Number(request.status),
        expiresAt: Number(request.expiresAt),
        failureCode: Number(request.failureCode),
        requester: request.requester as string,
        inputHash: request.inputHash as string,
      resultHash: request.resultHash as string,
    };
  }

  function decodeModel(modelId: number, result: unknown): OnChainModel {
    const spec = (result as { spec: Record<string, unknown> }).spec;
    return {
      modelId,
      name: spec.name as string,
      version: spec.version as string,
      weightsHash: spec.weightsHash as string,
      paramSetId: decodeBytes32String(spec.paramSetId as string),
      isPrivate: Boolean(spec.isPrivate),
    };
  }

  return {
    /**
     * Reads many requests' status and many models' activity (and registrations not yet known)
     * in one JSON-RPC batch, so the jobs of a busy block cost one round trip, not three each.
     */
    async prefetch(requestIds: readonly string[], modelIds: readonly number[]): Promise<void> {
      const registryAddress = await registry();
      const distinctModels = [...new Set(modelIds)];
      const unknownModels = distinctModels.filter((id) => !models.has(id));
      const calls = [
        ...requestIds.map((id) => ({ method: "eth_call", params: [{ to: router, data: routerInterface.encodeFunctionData("getRequest", [id]) }, "latest"] })),
        ...distinctModels.map((id) => ({ method: "eth_call", params: [{ to: registryAddress, data: modelRegistryInterface.encodeFunctionData("modelStatus", [id]) }, "latest"] })),
        ...unknownModels.map((id) => ({ method: "eth_call", params: [{ to: registryAddress, data: modelRegistryInterface.encodeFunctionData("modelOf", [id]) }, "latest"] })),
      ];
      const results = await rpc.batch(calls);
      const at = Date.now();
      let i = 0;
      for (const id of requestIds) {
        const settled = results[i++]!;
        if (settled.status === "fulfilled") requests.set(id, { at, value: decodeRequest(routerInterface.decodeFunctionResult("getRequest", settled.value as string)[0]) });
      }
      for (const id of distinctModels) {
        const settled = results[i++]!;
        if (settled.status === "fulfilled") activity.set(id, { at, value: Boolean(modelRegistryInterface.decodeFunctionResult("modelStatus", settled.value as string)[0]) });
      }
      for (const id of unknownModels) {
        const settled = results[i++]!;
        if (settled.status === "fulfilled") models.set(id, decodeModel(id, modelRegistryInterface.decodeFunctionResult("modelOf", settled.value as string)[0]));
      }
      for (const [id, entry] of requests) if (!fresh(entry.at)) requests.delete(id);
    },

    async getRequest(requestId: string): Promise<OnChainRequest> {
      const cached = requests.get(requestId);
      if (cached && fresh(cached.at)) return cached.value;
      const [r] = await call(router, routerInterface, "getRequest", [requestId]);
      return decodeRequest(r);
    },

    /** Whether the model is registered and active now (not cached: models can be retired). */
    async modelActive(modelId: number): Promise<boolean> {
      const cached = activity.get(modelId);
      if (cached && fresh(cached.at)) return cached.value;
      const [active] = await call(await registry(), modelRegistryInterface, "modelStatus", [modelId]);
      return Boolean(active);
    },

    /** The model's registration; undefined when unknown. Cached: a registration never changes. */
    async getModel(modelId: number): Promise<OnChainModel | undefined> {
      const cached = models.get(modelId);
      if (cached) return cached;
      let result;
      try {
        result = await call(await registry(), modelRegistryInterface, "modelOf", [modelId]);
      } catch (error) {
        // modelOf reverts (UnknownModel) for an id never registered; anything else is the node's problem.
        if (error instanceof RpcResponseError && error.isRevert) return undefined;
        throw error;
      }
      const model = decodeModel(modelId, result[0]);
      models.set(modelId, model);
      return model;
    },
  };
}
