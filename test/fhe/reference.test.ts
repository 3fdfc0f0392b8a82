import { expect } from "chai";

import { createReferenceCircuit, createReferenceClient, referencePlain } from "../../fhe/reference.js";
import { MissingEvaluationKeysError } from "../../fhe/errors.js";

describe("fhe: reference circuit (ckks-8192-v1, rotate-and-sum + cubic sigmoid on the server)", function () {
  this.timeout(120_000);

  it("round-trips at N=8192 with relinearisation and Galois keys from the evaluation-key blob", async function () {
    const weights = [0.4, -0.3, 0.25, -0.2, 0.15, 0.1, -0.05, 0.3, -0.35, 0.2, 0.05, -0.1, 0.45];
    const bias = -0.2;
    const client = await createReferenceClient();
    const circuit = await createReferenceCircuit(weights, bias, client.evaluationKeys);
    try {
      for (const x of [weights.map((_, i) => Math.sin(i + 1)), weights.map((_, i) => ((i % 3) - 1) * 1.5)]) {
        const input = circuit.load(client.encrypt(x));
        const output = circuit.evaluate(input);
        const value = client.decrypt(output);
        input.delete();
        output.delete();
        expect(Math.abs(value - referencePlain(weights, bias, x))).to.be.below(1e-3);
      }
    } finally {
      circuit.dispose();
      client.dispose();
    }
  });

  it("refuses evaluation keys without the Galois steps it needs", async function () {
    const client = await createReferenceClient();
    try {
      const partial = client.client.evaluationKeys({ relinKeys: true, galoisSteps: [1, 2] });
      let error: unknown;
      await createReferenceCircuit([1], 0, partial).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(MissingEvaluationKeysError);
    } finally {
      client.dispose();
    }
  });
});
