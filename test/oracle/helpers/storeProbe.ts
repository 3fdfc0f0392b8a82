/**
 * Run as its own process (inside a mount namespace the test made): opens the job store at
 * argv[2] and, with "fill", records jobs until a write fails; prints one JSON line with what
 * happened, so the test can check the error the operator would see and that nothing was lost.
 */
import { createJobStore, type RequestLog } from "../../../oracle/store/jobStore.js";

const [path, mode] = process.argv.slice(2) as [string, string | undefined];
const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;

function requestLog(id: number): RequestLog {
  return {
    blockNumber: id, blockHash: hash(1_000_000 + id), logIndex: 0, transactionHash: hash(2_000_000 + id),
    request: {
      requestId: hash(id), specId: hash(0), requester: "0x" + "11".repeat(20), payment: "1", callbackAddr: "0x" + "11".repeat(20),
      callbackFunctionId: "0x12345678", cancelExpiration: "100", dataVersion: "2", data: "0x" + "ab".repeat(4_000),
      prediction: { patient: "0x" + "22".repeat(20), modelId: 1, requester: "0x" + "22".repeat(20), inputHash: hash(7), inputUri: "u", keysHash: hash(8) },
    },
  };
}

const report = (value: Record<string, unknown>) => console.log(JSON.stringify(value));
let committed = 0;
try {
  const store = createJobStore({ path });
  if (mode === "fill") {
    for (let id = 1; id < 100_000; id++) {
      await store.commitRange([requestLog(id)], { blockNumber: id, blockHash: hash(1_000_000 + id) }, 64);
      committed = id;
    }
  }
  report({ ok: true, committed });
} catch (error) {
  const e = error as { name?: string; code?: string; message?: string };
  report({ ok: false, committed, name: e.name, code: e.code, message: e.message });
}
