import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";

import { createJobStore } from "../../oracle/store/jobStore.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The job store on a read-only and on a full file system: real ones, a tmpfs mounted in a private
 * mount namespace (`unshare -m`, so nothing leaks to the machine), with the store opened by a
 * separate process inside it. Skipped where mount namespaces are not allowed.
 */
function inMountNamespace(dir: string, mountSteps: string, probeArgs: string[], after = ""): { ok: boolean; committed: number; name?: string; code?: string; message?: string } {
  const probe = `${JSON.stringify(process.execPath)} --import tsx test/oracle/helpers/storeProbe.ts ${probeArgs.map((a) => JSON.stringify(a)).join(" ")}`;
  const run = spawnSync("unshare", ["-m", "sh", "-c", `mount -t tmpfs -o size=512k tmpfs ${JSON.stringify(dir)} && ${mountSteps} ${probe}${after}`], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  if (run.status !== 0 || !line.startsWith("{")) throw new Error(`probe failed: ${run.stderr}${run.stdout}`);
  return JSON.parse(line) as ReturnType<typeof inMountNamespace>;
}

describe("oracle job store on a read-only or full disk", function () {
  this.timeout(180_000);
  before(function () {
    const probe = spawnSync("unshare", ["-m", "true"]);
    if (probe.status !== 0) this.skip();
  });

  it("refuses a read-only data directory with an error naming the path", function () {
    const dir = mkdtempSync(join(tmpdir(), "oracle-ro-"));
    const path = join(dir, "oracle.db");
    const result = inMountNamespace(dir, `mount -o remount,ro ${JSON.stringify(dir)} &&`, [path]);
    expect(result.ok).to.equal(false);
    expect(result.code).to.equal("ORACLE_STORE_UNAVAILABLE");
    expect(result.message).to.include(path);
  });

  it("reports SQLite's disk-full on a full disk, and loses nothing committed before it", async function () {
    const dir = mkdtempSync(join(tmpdir(), "oracle-full-"));
    const copyDir = mkdtempSync(join(tmpdir(), "oracle-full-copy-"));
    // Filled inside the namespace, then copied out (the tmpfs goes with it) to be read back here.
    const result = inMountNamespace(dir, "", [join(dir, "oracle.db"), "fill"], `; cp ${JSON.stringify(dir)}/oracle.db* ${JSON.stringify(copyDir)}/`);
    expect(result.ok).to.equal(false);
    expect(result.committed).to.be.greaterThan(0);
    expect(result.message).to.match(/database or disk is full/);
    expect(result.message).not.to.match(/cannot rollback/);
    expect(result.code).to.equal("ORACLE_STORE_WRITE_FAILED");
    const store = createJobStore({ path: join(copyDir, "oracle.db") });
    expect(Object.values(await store.countsByState()).reduce((x, y) => x + y, 0)).to.equal(result.committed);
    await store.close();
  });
});
