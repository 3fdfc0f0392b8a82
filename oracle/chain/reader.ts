import { decodeBytes32String, Interface } from "ethers";

import { routerInterface } from "./abi.js";
import type { RpcClient } from "./rpc.js";

const registryInterface = new Interface([
  "function modelOf(uint32 modelId) view returns (((string name, string version, bytes32 weightsHash, string weightsUri, bytes32 paramSetId, bytes32 encodingSpecHash, uint8 outputKind, bool isPrivate) spec, uint40 registeredAt, uint40 retiredAt))",
  "function modelStatus(uint32 modelId) view returns (bool active, bytes32 paramSetId)",
]);

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

/** Read-only views of the MedCipher contracts the pipeline re-checks before spending work. */
export function createChainReader({ rpc, router }: { rpc: RpcClient; router: string }) {
  const models = new Map<number, OnChainModel>();
  let modelRegistry: string | undefined;

  async function call(to: string, iface: Interface, fn: string, args: unknown[]) {
    const data = await rpc.request<string>("eth_call", [{ to, data: iface.encodeFunctionData(fn, args) }, "latest"]);
    return iface.decodeFunctionResult(fn, data);
  }

  async function registry(): Promise<string> {
    modelRegistry ??= (await call(router, routerInterface, "modelRegistry", []))[0] as string;
    return modelRegistry;
  }

  return {
    async getRequest(requestId: string): Promise<OnChainRequest> {
      const [r] = await call(router, routerInterface, "getRequest", [requestId]);
      const request = r as unknown as Record<string, bigint | string>;
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
    },

    /** Whether the model is registered and active now (not cached: models can be retired). */
    async modelActive(modelId: number): Promise<boolean> {
      const [active] = await call(await registry(), registryInterface, "modelStatus", [modelId]);
      return Boolean(active);
    },

    /** The model's registration; undefined when unknown. Cached: a registration never changes. */
    async getModel(modelId: number): Promise<OnChainModel | undefined> {
      const cached = models.get(modelId);
      if (cached) return cached;
      let result;
      try {
        result = await call(await registry(), registryInterface, "modelOf", [modelId]);
      } catch (error) {
        if ((error as { name?: string }).name === "RpcResponseError") return undefined;
        throw error;
      }
      const spec = (result[0] as unknown as { spec: Record<string, unknown> }).spec;
      const model: OnChainModel = {
        modelId,
        name: spec.name as string,
        version: spec.version as string,
        weightsHash: spec.weightsHash as string,
        paramSetId: decodeBytes32String(spec.paramSetId as string),
        isPrivate: Boolean(spec.isPrivate),
      };
      models.set(modelId, model);
      return model;
    },
  };
}
