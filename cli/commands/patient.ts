import type { Command } from "commander";

import type { FheClient } from "../../fhe/index.js";
import { registerPatient, type OnboardingStep } from "../../sdk/actions/registerPatient.js";
import { rotateKeySet } from "../../sdk/actions/rotateKeySet.js";
import { requireEncryptionKey } from "../../sdk/client.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { deleteHeKeySet, heKeySetEntry, heKeySetsOf, saveHeKeySet, type HeKeySet } from "../../sdk/keystore.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { asGatewayTimeout, globalOptions, keystorePath, loadIdentity, makeClient, output, password, type GlobalOptions } from "../context.js";
import { currentKeysHash } from "../heKeys.js";
import type { Output } from "../output.js";

type KeyGenOptions = { paramSet: string; relinKeys: boolean; galoisSteps: string; timeout: string };

function addKeyGenOptions(command: Command): Command {
  return command
    .option("--param-set <id>", "CKKS parameter set (fhe/params.ts) the patient's models use", "ckks-2048-v1")
    .option("--relin-keys", "also publish relinearisation keys (parameter sets with key switching)", false)
    .option("--galois-steps <list>", "comma-separated rotation steps to publish Galois keys for", "")
    .option("--timeout <seconds>", "give up on any one network wait (a gateway request, a chain call, a transaction receipt) after this long", "60");
}

function timeoutMsOf(options: Pick<KeyGenOptions, "timeout">): number {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new InvalidInputError("--timeout must be a positive number of seconds.", { timeout: options.timeout });
  return seconds * 1000;
}

/** A fresh key set, exported into a keystore entry (nothing leaves the process here). */
async function generateKeySet(out: Output, options: KeyGenOptions, pass: string): Promise<HeKeySet> {
  out.info(`generating a CKKS key set (${options.paramSet}) …`);
  const { FheClient } = await import("../../fhe/index.js");
  const fhe: FheClient = await FheClient.generate(options.paramSet);
  try {
    const galoisSteps = options.galoisSteps ? options.galoisSteps.split(",").map(Number) : [];
    if (galoisSteps.some((step) => !Number.isInteger(step) || step === 0)) throw new InvalidInputError("--galois-steps must be non-zero integers.", { galoisSteps: options.galoisSteps });
    return await heKeySetEntry(fhe, fhe.evaluationKeys({ relinKeys: options.relinKeys, galoisSteps }), pass);
  } finally {
    fhe.dispose();
  }
}

/** Progress lines on stderr, one per step as it starts, so a slow network is never silent. */
function progressTo(out: Output): (step: OnboardingStep, detail: string) => void {
  return (_step, detail) => out.info(`${detail} …`);
}

function saverFor(global: GlobalOptions, pass: string, keySet: HeKeySet): () => Promise<void> {
  return async () => {
    await saveHeKeySet(keystorePath(global), pass, keySet);
  };
}

export function registerPatientCommands(program: Command): void {
  const patient = program.command("patient").description("Patient identity on-chain");

  addKeyGenOptions(patient
    .command("register")
    .description("Generate the patient's CKKS key set (fhe/), save it in the keystore, store the evaluation keys on the gateway, then register the patient (key-set hash, parameter set, X25519 key). Run it again after any failure: it finishes what is missing"))
    .action(async (options: KeyGenOptions, command: Command) => {
      const { global, out, pass, timeoutMs, identity, client } = await keySetSession(command, options);
      if (!identity.encryptionKey) throw new InvalidInputError("This identity has no encryption key pair; re-create it with `keys init`.");
      const registeredHash = await currentKeysHash(client);
      const keySets = heKeySetsOf(identity.secrets);
      let keySet: HeKeySet | undefined;
      let resumed = false;
      if (BigInt(registeredHash) !== 0n) {
        keySet = keySets.find((k) => k.keysHash === registeredHash);
        if (!keySet && keySets.length === 0 && identity.secrets.heSecretKey) {
          // A keystore written before key sets were kept whole: registered, secret key present, and
          // a registration that finished (it saved the key last); nothing to resume.
          out.result({ patient: client.address, keysHash: registeredHash, alreadyRegistered: true, resumed: false }, () =>
            `patient ${client.address} was already registered with key set ${registeredHash} (secret key in the keystore)`);
          return;
        }
        if (!keySet) {
          throw new InvalidInputError(`${client.address} is registered with the key set ${registeredHash}, whose secret key this keystore does not hold (a registration interrupted by an older version?). Replace it: medcipher patient rotate-keys.`, {
            patient: client.address, registeredKeysHash: registeredHash,
          });
        }
        resumed = true;
        out.info(`already registered with key set ${registeredHash}; making sure the gateway has it …`);
      } else if (keySets.length > 0) {
        // A key set saved by an interrupted run: register that one, never a second set.
        keySet = keySets.at(-1)!;
        resumed = true;
        out.info(`resuming with the key set saved ${keySet.createdAt} (${keySet.paramSet}${keySet.paramSet === options.paramSet ? "" : `, not --param-set ${options.paramSet}: rotate-keys after registering to change it`}) …`);
      } else {
        keySet = await generateKeySet(out, options, pass);
      }
      const evaluationKeys = new Uint8Array(Buffer.from(keySet.evaluationKeys, "base64"));
      const result = await registerPatient(client, {
        encryptionPublicKey: requireEncryptionKey(client).publicKey,
        evaluationKeys,
        paramSetId: paramSetIdToBytes32(keySet.paramSet),
        saveKeySet: saverFor(global, pass, keySet),
        onProgress: progressTo(out),
        receiptTimeoutMs: timeoutMs,
      }).catch((error: unknown) => { throw asGatewayTimeout(error, timeoutMs); });
      const what = result.alreadyRegistered ? "was already registered; key set confirmed on the gateway" : "registered";
      out.result({ patient: client.address, ...result, paramSet: keySet.paramSet, resumed, evaluationKeysBytes: evaluationKeys.length }, () =>
        [`patient ${client.address} ${what}`, `key set   ${result.keysHash} (${keySet.paramSet}, ${evaluationKeys.length} bytes on the gateway, secret key in the keystore)`,
          ...(result.transactionHash ? [`tx        ${result.transactionHash}`] : [])].join("\n"));
    });

  addKeyGenOptions(patient
    .command("rotate-keys")
    .description("Replace the patient's CKKS key set: a new one is saved in the keystore, stored on the gateway, then committed on-chain (KeySetRotated). The old secret key stays in the keystore so earlier results still decrypt (delete it with `patient forget-key-set`). Run it again after any failure: it finishes the same rotation"))
    .action(async (options: KeyGenOptions, command: Command) => {
      const { global, out, pass, timeoutMs, identity, client } = await keySetSession(command, options);
      const current = await currentKeysHash(client);
      if (BigInt(current) === 0n) throw new InvalidInputError(`${client.address} is not a registered patient: run \`medcipher patient register\` first.`, { patient: client.address });
      const newest = heKeySetsOf(identity.secrets).at(-1);
      const pending = newest !== undefined && newest.keysHash !== current;
      let keySet: HeKeySet;
      if (pending) {
        keySet = newest;
        out.info(`resuming the rotation to the key set saved ${keySet.createdAt} (${keySet.keysHash}) …`);
      } else {
        keySet = await generateKeySet(out, options, pass);
      }
      const result = await rotateKeySet(client, {
        evaluationKeys: new Uint8Array(Buffer.from(keySet.evaluationKeys, "base64")),
        paramSetId: paramSetIdToBytes32(keySet.paramSet),
        saveKeySet: saverFor(global, pass, keySet),
        onProgress: progressTo(out),
        receiptTimeoutMs: timeoutMs,
      }).catch((error: unknown) => { throw asGatewayTimeout(error, timeoutMs); });
      out.result({ patient: client.address, ...result, paramSet: keySet.paramSet, resumed: pending }, () =>
        [`patient ${client.address} rotated to key set ${result.keysHash} (${keySet.paramSet})`, `previous  ${result.previousKeysHash} (its secret key stays in the keystore)`,
          ...(result.transactionHash ? [`tx        ${result.transactionHash}`] : [])].join("\n"));
    });

  patient
    .command("key-sets")
    .description("List the CKKS key sets in the keystore and which one the chain names as current")
    .action(async (_options: unknown, command: Command) => {
      const global = globalOptions(command);
      const identity = await loadIdentity(global);
      const { client } = await makeClient(global, { identity, gateway: false });
      const current = await currentKeysHash(client);
      const keySets = heKeySetsOf(identity.secrets).map((k) => ({ keysHash: k.keysHash, paramSet: k.paramSet, createdAt: k.createdAt, current: k.keysHash === current }));
      output(command).result({ patient: client.address, current, keySets }, () =>
        keySets.map((k) => `${k.current ? "*" : " "} ${k.keysHash}  ${k.paramSet}  ${k.createdAt}`).join("\n") || "no key sets in this keystore");
    });

  patient
    .command("forget-key-set <keysHash>")
    .description("Delete an old CKKS key set's secret key from the keystore (results of requests made under it no longer decrypt); the current one is refused")
    .action(async (keysHash: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const pass = password(global);
      const identity = await loadIdentity(global);
      const { client } = await makeClient(global, { identity, gateway: false });
      const wanted = keysHash.toLowerCase();
      if (wanted === (await currentKeysHash(client))) throw new InvalidInputError("That is the current key set on-chain: rotate to a new one first (patient rotate-keys).", { keysHash });
      const { deleted } = await deleteHeKeySet(keystorePath(global), pass, wanted);
      if (!deleted) throw new InvalidInputError(`No key set ${keysHash} in this keystore.`, { keysHash });
      output(command).result({ deleted: wanted }, () => `deleted key set ${wanted} from the keystore`);
    });
}

/** What `patient register` and `patient rotate-keys` both start from: the identity, its password and a client whose every network wait has the command's time limit. */
async function keySetSession(command: Command, options: KeyGenOptions) {
  const global = globalOptions(command);
  const out = output(command);
  const pass = password(global);
  const timeoutMs = timeoutMsOf(options);
  const identity = await loadIdentity(global);
  const { client } = await makeClient(global, { identity, gatewayTimeoutMs: timeoutMs, rpcTimeoutMs: timeoutMs });
  return { global, out, pass, timeoutMs, identity, client };
}
