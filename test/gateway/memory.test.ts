import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { randomBytes, Wallet } from "ethers";

import { sha256Hex } from "../../core/hash.js";
import { HEADER_AUTH } from "../../protocol/gateway.js";
import { createGatewayClient } from "../../sdk/gateway/client.js";
import { signedPut, signedPutHeader, startTestGateway } from "./helpers.js";
import { kill, spawnGateway } from "./process/spawn.js";

const MiB = 1024 * 1024;

/** Resident set size of a process now and at its peak (VmRSS, VmHWM), in MiB, from Linux /proc. */
function rssMiB(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { now: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/**
 * Peak RSS growth allowed while six 100 MiB uploads stream in at once. Measured with streaming:
 * see docs/notes/gateway.md; buffering bodies whole (the code before) grows it by over 600 MiB.
 */
const RSS_GROWTH_BOUND_MIB = 200;

describe("gateway: memory under large concurrent uploads", function () {
  this.timeout(300_000);
  const patient = Wallet.createRandom();

  it("streams six concurrent 100 MiB uploads to disk: the gateway's peak RSS stays bounded", async function () {
    if (process.platform !== "linux") this.skip(); // reads /proc
    const dir = await mkdtemp(join(tmpdir(), "medcipher-gw-memory-"));
    const key = Wallet.createRandom();
    // Records stream (he-keys bodies are held for the public-keys-only check): raise their limit.
    const child = await spawnGateway(dir, key, { maxBytes: { record: 128 * MiB } });
    try {
      const pid = child.process.pid!;
      const client = createGatewayClient({ url: child.url, signer: patient, chainId: 31337, gatewayAddress: key.address });
      // Warm up the code paths (signature checks, stores, audit) before the baseline.
      await client.put(randomBytes(1000), { owner: patient.address, kind: "record", category: 0 });
      const baseline = rssMiB(pid).now;
      // One 100 MiB body sent six times: the gateway streams, hashes and writes each one.
      const body = new Uint8Array(100 * MiB);
      for (let i = 0; i < body.length; i += 4096) body[i] = i % 251;
      const ids = await Promise.all(Array.from({ length: 6 }, () => client.put(body, { owner: patient.address, kind: "record", category: 0 })));
      expect(new Set(ids).size).to.equal(1);
      const { peak } = rssMiB(pid);
      console.log(`      gateway RSS: baseline ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB (growth ${(peak - baseline).toFixed(0)} MiB)`);
      expect(peak - baseline).to.be.below(RSS_GROWTH_BOUND_MIB);
      expect(Buffer.from(await client.get(ids[0]!, { purpose: 1 })).equals(Buffer.from(body))).to.equal(true);
      client.close();
    } finally {
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers 503 GATEWAY_BUSY past the global in-flight upload budget, and takes uploads again once it frees", async function () {
    const gw = await startTestGateway({ limits: { maxInFlightUploadBytes: 1.5 * MiB } });
    try {
      const slowBody = randomBytes(MiB);
      const { blobId, header } = signedPutHeader(gw.key.address, patient, sha256Hex(slowBody), { owner: patient.address, kind: "record", category: 0 });
      // The first upload announces 1 MiB and sends half of it: its reservation holds.
      const slow = request(`${gw.url}/v1/blobs/${blobId}`, { method: "PUT", headers: { [HEADER_AUTH]: header, "content-length": slowBody.length } });
      const firstStatus = new Promise<number>((resolve, reject) => {
        slow.on("response", (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        slow.on("error", reject);
      });
      slow.write(slowBody.subarray(0, slowBody.length / 2));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = randomBytes(MiB);
      const busy = await signedPut(gw.url, gw.key.address, patient, second, { owner: patient.address, kind: "record", category: 0 })();
      expect(busy.status).to.equal(503);
      expect(busy.headers.get("retry-after")).to.equal("1");
      expect(((await busy.json()) as { error: { code: string } }).error.code).to.equal("GATEWAY_BUSY");
      slow.end(slowBody.subarray(slowBody.length / 2));
      expect(await firstStatus).to.equal(201);
      expect((await signedPut(gw.url, gw.key.address, patient, second, { owner: patient.address, kind: "record", category: 0 })()).status).to.equal(201);
    } finally {
      await gw.close();
    }
  });
});
