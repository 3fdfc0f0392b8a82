import { existsSync } from "node:fs";
import { join } from "node:path";

import { expect } from "chai";

import { REPO_ROOT } from "./browserBuild.js";
import { importsBetween, importsOf, nodeImportsFrom, sourceFiles } from "./importGraph.js";

/** The client side of fhe/: its browser entry once it exists, until then the client module. */
const FHE_CLIENT_ENTRY = ["fhe/client-entry.ts", "fhe/browser.ts", "fhe/clientEntry.ts"].find((file) => existsSync(join(REPO_ROOT, file))) ?? "fhe/client.ts";

/**
 * Issue 11's layering, checked on the import graph (static and dynamic imports, `import type`
 * left out). Each test lists every offending import at once, with the chain that reaches it.
 */
describe("architecture: the import graph", function () {
  this.timeout(60_000);

  it("the graph walker sees static, re-exported and dynamic imports and skips `import type` (self-check)", function () {
    const edges = importsOf("sdk/actions/createPatientIdentity.ts");
    expect(edges.map((e) => `${e.kind} ${e.specifier}`)).to.include.members(["static ethers", "static ../crypto/x25519.js", "dynamic ../../fhe/client.js"]);
    // getPredictionResult.ts has `import type { Sha256Hex } from "../../core/hash.js"` and nothing else from there.
    expect(importsOf("sdk/actions/getPredictionResult.ts").map((e) => e.specifier)).not.to.include("../../core/hash.js");
    expect(importsOf("sdk/node.ts").map((e) => e.specifier)).to.include("./index.js");
  });

  for (const [name, roots] of [
    ["core/ (without core/node/)", sourceFiles("core", ["core/node"])],
    ["protocol/", sourceFiles("protocol")],
    [`the client side of fhe/ (${FHE_CLIENT_ENTRY})`, [FHE_CLIENT_ENTRY]],
    ["the SDK's browser entry (sdk/index.ts)", ["sdk/index.ts"]],
    ["the SDK's privacy entry (sdk/privacy/index.ts, medcipher/privacy)", ["sdk/privacy/index.ts"]],
  ] as const) {
    it(`${name} reaches no Node built-in`, function () {
      expect(nodeImportsFrom(roots), "Node built-ins in the browser-safe graph").to.deep.equal([]);
    });
  }

  it("gateway/ and oracle/ import nothing from sdk/, sdk/ nothing from gateway/", function () {
    expect([...importsBetween("gateway", "sdk"), ...importsBetween("oracle", "sdk"), ...importsBetween("sdk", "gateway")]).to.deep.equal([]);
  });

  it("protocol/ imports only core/ (and npm packages); core/ outside core/node/ imports nothing above it", function () {
    const upward = (dir: string, allowed: readonly string[], exclude: readonly string[] = []) =>
      sourceFiles(dir, exclude).flatMap((file) => importsOf(file)
        .filter((edge) => edge.resolved !== undefined && !allowed.some((prefix) => edge.resolved!.startsWith(`${prefix}/`)))
        .map((edge) => `${file} imports ${edge.specifier}`));
    expect([...upward("protocol", ["protocol", "core"]), ...upward("core", ["core"], ["core/node"])]).to.deep.equal([]);
    expect(sourceFiles("core", ["core/node"]).flatMap((file) => importsOf(file).filter((e) => e.resolved?.startsWith("core/node/")).map((e) => `${file} imports ${e.specifier}`))).to.deep.equal([]);
  });
});
