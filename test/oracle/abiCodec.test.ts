import { expect } from "chai";
import { AbiCoder, hexlify, randomBytes, Wallet } from "ethers";

import { operatorInterface, routerInterface } from "../../oracle/chain/abi.js";
import { decodeAnonymousPredictionRequestedLog, decodeOracleRequestLog, decodePredictionRequestedLog, encodeFulfilCalldata } from "../../oracle/chain/abiCodec.js";

const address = () => Wallet.createRandom().address;
const word = () => hexlify(randomBytes(32));
const uris = ["", "x", "http://127.0.0.1:8787/v1/blobs/0x" + "ab".repeat(32), "ü→🩺".repeat(7), "a".repeat(31), "b".repeat(32), "c".repeat(33), "d".repeat(200)];

describe("oracle: direct ABI coding of request logs and fulfilments", function () {
  it("decodes OracleRequest and PredictionRequested exactly as ethers' Interface does", function () {
    for (const [i, uri] of uris.entries()) {
      const request = operatorInterface.encodeEventLog("OracleRequest", [
        word(), address(), word(), 10n ** 17n + BigInt(i), address(), hexlify(randomBytes(4)), 1_700_000_000n + BigInt(i), 2n, hexlify(randomBytes(i * 13)),
      ]);
      const parsed = operatorInterface.parseLog(request)!.args;
      expect(decodeOracleRequestLog(request.topics, request.data)).to.deep.equal({
        specId: parsed.specId, requester: parsed.requester, requestId: parsed.requestId, payment: parsed.payment, callbackAddr: parsed.callbackAddr,
        callbackFunctionId: parsed.callbackFunctionId, cancelExpiration: parsed.cancelExpiration, dataVersion: parsed.dataVersion, data: parsed.data,
      });

      const prediction = routerInterface.encodeEventLog("PredictionRequested", [
        word(), address(), 4_000_000_000 + i, address(), word(), uri, word(), 5n * 10n ** 16n, 2n ** 40n - 1n - BigInt(i),
      ]);
      const p = routerInterface.parseLog(prediction)!.args;
      expect(decodePredictionRequestedLog(prediction.topics, prediction.data)).to.deep.equal({
        requestId: p.requestId, patient: p.patient, modelId: Number(p.modelId), requester: p.requester, inputHash: p.inputHash,
        inputUri: p.inputUri, keysHash: p.keysHash, payment: p.payment, expiresAt: Number(p.expiresAt),
      });
    }
  });

  it("decodes AnonymousPredictionRequested as ethers does, naming no patient or requester (zero) and the accessKey", function () {
    const zero = "0x0000000000000000000000000000000000000000";
    for (const [i, uri] of uris.entries()) {
      const log = routerInterface.encodeEventLog("AnonymousPredictionRequested", [word(), 4_000_000_000 + i, word(), uri, word(), address(), 5n * 10n ** 16n, 2n ** 40n - 1n - BigInt(i)]);
      const p = routerInterface.parseLog(log)!.args;
      expect(decodeAnonymousPredictionRequestedLog(log.topics, log.data)).to.deep.equal({
        requestId: p.requestId, patient: zero, modelId: Number(p.modelId), requester: zero, inputHash: p.inputHash,
        inputUri: p.inputUri, keysHash: p.keysHash, accessKey: p.accessKey, payment: p.payment, expiresAt: Number(p.expiresAt),
      });
      // A named request's decoder refuses it (other topic count), and the other way round.
      expect(decodePredictionRequestedLog(log.topics, log.data)).to.equal(undefined);
    }
    const named = routerInterface.encodeEventLog("PredictionRequested", [word(), address(), 7, address(), word(), "uri", word(), 1n, 2n]);
    expect(decodeAnonymousPredictionRequestedLog(named.topics, named.data)).to.equal(undefined);
    const noKey = routerInterface.encodeEventLog("AnonymousPredictionRequested", [word(), 1, word(), "uri", word(), zero, 1n, 2n]);
    expect(decodeAnonymousPredictionRequestedLog(noKey.topics, noKey.data)).to.equal(undefined);
  });

  it("decodes malformed logs to undefined, never to a wrong value", function () {
    const good = routerInterface.encodeEventLog("PredictionRequested", [word(), address(), 7, address(), word(), "uri", word(), 1n, 2n]);
    expect(decodePredictionRequestedLog(good.topics, good.data)).to.not.equal(undefined);
    const cases: [string[], string][] = [
      [good.topics.slice(0, 3), good.data], // a topic missing
      [good.topics, good.data.slice(0, -64)], // truncated tail
      [good.topics, good.data.slice(0, -1)], // odd length
      [good.topics, `${good.data.slice(0, 2 + 64 * 2)}${"ff".repeat(32)}${good.data.slice(2 + 64 * 3)}`], // string offset out of range
      [good.topics, `0x${"11".repeat(12)}${good.data.slice(2 + 24)}`], // dirty address padding
      [[good.topics[0]!, good.topics[1]!, good.topics[2]!, `0x${"ff".repeat(32)}`], good.data], // modelId wider than uint32
    ];
    for (const [topics, data] of cases) expect(decodePredictionRequestedLog(topics, data)).to.equal(undefined);
    // Invalid UTF-8 in the URI.
    const badUtf8 = AbiCoder.defaultAbiCoder().encode(["address", "bytes32", "bytes", "bytes32", "uint256", "uint40"], [address(), word(), "0xc3", word(), 1n, 2n]);
    expect(decodePredictionRequestedLog(good.topics, badUtf8)).to.equal(undefined);
    const request = operatorInterface.encodeEventLog("OracleRequest", [word(), address(), word(), 1n, address(), "0x12345678", 1n, 2n, "0x"]);
    expect(decodeOracleRequestLog(request.topics, request.data)).to.not.equal(undefined);
    expect(decodeOracleRequestLog(request.topics, `${request.data.slice(0, 2 + 64 * 4)}${"12345678".padEnd(62, "0")}ff${request.data.slice(2 + 64 * 5)}`)).to.equal(undefined);
  });

  it("encodes fulfillOracleRequest2 calldata exactly as ethers' Interface does", function () {
    for (const [i, uri] of uris.entries()) {
      const fulfilment = { requestId: word(), failureCode: i === 3 ? 65_535 : i, resultHash: word(), resultUri: uri, resultCiphertext: hexlify(randomBytes(i * 17)) };
      const call = { requestId: fulfilment.requestId, payment: 10n ** 17n, callbackAddress: address(), callbackFunctionId: hexlify(randomBytes(4)), expiration: 1_700_000_123n, fulfilment };
      const data = AbiCoder.defaultAbiCoder().encode(["bytes32", "uint16", "bytes32", "string", "bytes"], [fulfilment.requestId, fulfilment.failureCode, fulfilment.resultHash, uri, fulfilment.resultCiphertext]);
      expect(encodeFulfilCalldata(call)).to.equal(operatorInterface.encodeFunctionData("fulfillOracleRequest2", [
        call.requestId, call.payment, call.callbackAddress, call.callbackFunctionId, call.expiration, data,
      ]));
    }
    const base = { requestId: word(), payment: 1n, callbackAddress: address(), callbackFunctionId: "0x12345678", expiration: 1n, fulfilment: { requestId: word(), failureCode: 0, resultHash: word(), resultUri: "", resultCiphertext: "0x" } };
    expect(() => encodeFulfilCalldata({ ...base, fulfilment: { ...base.fulfilment, failureCode: 65_536 } })).to.throw(RangeError);
    expect(() => encodeFulfilCalldata({ ...base, requestId: "0x1234" })).to.throw(TypeError);
  });
});
