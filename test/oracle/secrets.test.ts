import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { encodeReading } from "../../fhe/encoding.js";
import { openSecretKey } from "../../fhe/keys.js";
import { spawnOracle } from "./helpers/child.js";
import { createWorld, READINGS, waitFor, type World } from "./helpers/world.js";

/** Every readable region of a live process's memory, searched for each needle. */
function scanMemory(pid: number, needles: Buffer[]): boolean[] {
  const found = needles.map(() => false);
  const longest = Math.max(...needles.map((n) => n.length));
  const maps = readFileSync(`/proc/${pid}/maps`, "utf8").split("\n").filter(Boolean);
  const fd = openSync(`/proc/${pid}/mem`, "r");
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  const zeros = Buffer.alloc(chunk.length);
  try {
    for (const line of maps) {
      const [range, perms, , , , path] = line.split(/\s+/);
      // Anonymous and heap/stack mappings hold the process's data; file-backed ones hold code and
      // constants of the binary and libraries.
      if (!perms?.startsWith("rw") || (path !== undefined && path !== "" && !path.startsWith("["))) continue;
      if (path === "[vvar]" || path === "[vsyscall]" || path === "[vvar_vclock]") continue;
      const [start, end] = range!.split("-").map((h) => parseInt(h, 16)) as [number, number];
      for (let at = start; at < end; at += chunk.length - longest) {
        const size = Math.min(chunk.length, end - at);
        let read = 0;
        try {
          read = readSync(fd, chunk, 0, size, at);
        } catch {
          break;
        }
        const view = chunk.subarray(0, read);
        // Most of a WebAssembly memory reservation is untouched zero pages: nothing to find there.
        if (view.equals(zeros.subarray(0, read))) {
          if (read < size) break;
          continue;
        }
        needles.forEach((needle, i) => {
          if (!found[i] && view.indexOf(needle) !== -1) found[i] = true;
        });
        if (read < size) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const float64 = (value: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return b;
};
/** Values whose float64 bytes could not plausibly occur by accident (not small integers or halves). */
const distinctive = (value: number) => Math.abs(value * 64 - Math.round(value * 64)) > 1e-9;

describe("the oracle never holds a secret key or a decrypted value", function () {
  this.timeout(180_000);
  let world: World;

  before(async function () {
    world = await createWorld({ patients: 1 });
  });
  after(async function () {
    await world?.close();
  });

  it("after a run, its memory, files and logs hold no patient secret key, plaintext input or decrypted score", async function () {
    const patient = world.patients[0]!;
    const settings = world.settings({ START_BLOCK: (await world.ethers.provider.getBlockNumber()) + 1, LOG_LEVEL: "debug" });
    const oracle = spawnOracle(settings);
    try {
      await waitFor(() => oracle.output.some((l) => l.includes("oracle started")), "start");
      const requests = [await world.request(patient, "maternal-risk-v1"), await world.request(patient, "heart-disease-lr-v1")];

      // The client side: wait, fetch, decrypt. Only here do plaintext and secret key exist.
      const canaries: { what: string; bytes: Buffer }[] = [];
      for (const [i, { requestId, input }] of requests.entries()) {
        const modelId = i === 0 ? "maternal-risk-v1" : "heart-disease-lr-v1";
        const model = world.artifacts.find((m) => m.id === modelId)!;
        const onChain = await waitFor(async () => {
          const r = await world.status(requestId);
          return r.status === 2n ? r : undefined;
        }, "fulfilment");
        const result = await patient.gateway.get(onChain.resultHash, { purpose: 0 });
        const [prediction] = patient.fhe.decrypt(model, result, { inputHash: sha256Hex(input) });
        for (const score of prediction!.scores.filter(distinctive)) canaries.push({ what: `decrypted score ${score}`, bytes: float64(score) });
        for (const value of Array.from(encodeReading(model.encodingSpec, READINGS[modelId])).filter(distinctive)) {
          canaries.push({ what: `plaintext feature ${value}`, bytes: float64(value) });
        }
      }
      const { secretKeyBytes } = await openSecretKey(await patient.fhe.exportSecretKey("pass"), "pass");
      const middle = Math.floor(secretKeyBytes.length / 2);
      canaries.push({ what: "patient secret key", bytes: Buffer.from(secretKeyBytes.subarray(middle, middle + 48)) });
      expect(canaries.length).to.be.greaterThan(5);

      // Memory: every readable page of the daemon process, frozen while read. The oracle's own
      // signing key (hex text in its settings) must be found: it proves the scan sees the heap.
      const control = Buffer.from(world.oracleKey.privateKey.slice(2), "latin1");
      oracle.process.kill("SIGSTOP");
      let found: boolean[];
      try {
        found = scanMemory(oracle.process.pid!, [control, ...canaries.map((c) => c.bytes)]);
      } finally {
        oracle.process.kill("SIGCONT");
      }
      expect(found[0], "the scan must find the control value").to.equal(true);
      canaries.forEach((c, i) => expect(found[i + 1], `${c.what} in the daemon's memory`).to.equal(false));

      // Files: the job store and the blob cache.
      for (const file of filesUnder(settings.DATA_DIR)) {
        const bytes = readFileSync(file);
        for (const c of canaries) expect(bytes.indexOf(c.bytes), `${c.what} in ${file}`).to.equal(-1);
      }
      // Logs.
      const logs = Buffer.from(oracle.text(), "utf8");
      expect(logs.length).to.be.greaterThan(1000);
      for (const c of canaries) expect(logs.indexOf(c.bytes), `${c.what} in the logs`).to.equal(-1);
      for (const c of canaries.filter((x) => x.what.startsWith("decrypted"))) expect(oracle.text()).not.to.include(c.what.split(" ").pop()!);
      expect(oracle.text()).not.to.include(world.oracleKey.privateKey.slice(2));
      expect(oracle.text()).not.to.include(world.maskKey.slice(2));
    } finally {
      oracle.process.kill("SIGTERM");
      await oracle.exited;
    }
  });
});
