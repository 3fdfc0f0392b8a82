import type { Command } from "commander";
import { registerPatient } from "../../sdk/actions/registerPatient.js";
import { paramSetIdToBytes32 } from "../../sdk/predictions.js";
import { readKeystore, writeKeystore } from "../../sdk/keystore.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { globalOptions, keystorePath, makeClient, output, password } from "../context.js";

export function registerPatientCommands(program: Command): void {
  const patient = program.command("patient").description("Patient identity on-chain");

  patient
    .command("register")
    .description("Generate the patient's CKKS key set (fhe/), register the patient (key-set hash, parameter set, X25519 key) and store the evaluation keys on the gateway; the CKKS secret key is added to the keystore")
    .option("--param-set <id>", "CKKS parameter set (fhe/params.ts) the patient's models use", "ckks-2048-v1")
    .option("--relin-keys", "also publish relinearisation keys (parameter sets with key switching)", false)
    .option("--galois-steps <list>", "comma-separated rotation steps to publish Galois keys for", "")
    .action(async (options: { paramSet: string; relinKeys: boolean; galoisSteps: string }, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const { client } = await makeClient(global);
      if (!client.encryptionKey) throw new InvalidInputError("This identity has no encryption key pair; re-create it with `keys init`.");
      out.info(`generating a CKKS key set (${options.paramSet}) …`);
      const { FheClient } = await import("../../fhe/index.js");
      const fhe = await FheClient.generate(options.paramSet);
      try {
        const galoisSteps = options.galoisSteps ? options.galoisSteps.split(",").map(Number) : [];
        const evaluationKeys = fhe.evaluationKeys({ relinKeys: options.relinKeys, galoisSteps });
        const result = await registerPatient(client, { encryptionPublicKey: client.encryptionKey.publicKey, evaluationKeys, paramSetId: paramSetIdToBytes32(options.paramSet) });
        const path = keystorePath(global);
        const stored = await readKeystore(path, password(global));
        const heSecretKey = Buffer.from(await fhe.exportSecretKey(password(global))).toString("base64");
        await writeKeystore(path, stored.address, { ...stored.secrets, heSecretKey }, password(global), stored.kdf);
        out.result({ patient: client.address, ...result, paramSet: options.paramSet, evaluationKeysBytes: evaluationKeys.length }, () =>
          [`registered patient ${client.address}`, `key set   ${result.keysHash} (${options.paramSet}, ${evaluationKeys.length} bytes on the gateway)`, `tx        ${result.transactionHash}`].join("\n"));
      } finally {
        fhe.dispose();
      }
    });
}
