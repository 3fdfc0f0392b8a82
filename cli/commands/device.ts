import type { Command } from "commander";

import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { bindDevicePq } from "../../sdk/actions/bindDevicePq.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { unbindDevice } from "../../sdk/actions/unbindDevice.js";
import { chainNow } from "../../sdk/chain/time.js";
import { generateMlDsaKeyPair, mlDsaKeyPairFromSeed } from "../../core/crypto/mldsa.js";
import { base64UrlToBytes } from "../../core/bytes.js";
import { pqSigningKeyEntry, savePqSigningKey } from "../../sdk/keystore.js";
import { globalOptions, keystorePath, loadIdentity, makeClient, output, parseAddress, password, type GlobalOptions } from "../context.js";

export function registerDeviceCommands(program: Command): void {
  const device = program.command("device").description("Wearables and home devices that write readings for a patient");

  device
    .command("register")
    .argument("<address>", "the device's signing address", parseAddress("device address"))
    .description("Register a device address (run as a DEVICE_VENDOR_ROLE identity)")
    .action(async (address: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const result = await registerDevice(client, { device: address });
      output(command).result({ device: address, ...result }, () => `registered device ${address} (tx ${result.transactionHash})`);
    });

  device
    .command("bind <device-identity>")
    .description("Bind the device whose keystore is <device-identity> to this patient (the device signs, the patient sends)")
    .option("--days <n>", "binding lifetime in days", "365")
    .option("--pq", "post-quantum: the binding also commits to the device's ML-DSA-65 key (made and kept in the device's keystore if it has none); the device must then sign every record it uploads", false)
    .action(async (deviceIdentity: string, options: { days: string; pq: boolean }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const deviceKey = await loadIdentity(global, deviceIdentity);
      const expiresAt = (await chainNow(client.provider)) + Math.round(Number(options.days) * 86_400);
      const until = new Date(expiresAt * 1000).toISOString();
      if (options.pq) {
        const pqPublicKey = await devicePqPublicKey(global, deviceIdentity);
        const result = await bindDevicePq(client, { device: deviceKey.wallet, expiresAt, pqPublicKey });
        output(command).result({ ...result, patient: client.address, expiresAt }, () => `bound device ${result.device} to ${client.address} until ${until}, ML-DSA-65 key ${result.pqKeyHash}`);
        return;
      }
      const result = await bindDevice(client, { device: deviceKey.wallet, expiresAt });
      output(command).result({ ...result, patient: client.address, expiresAt }, () => `bound device ${result.device} to ${client.address} until ${until}`);
    });

  device
    .command("unbind")
    .argument("<address>", "the device's address", parseAddress("device address"))
    .description("End a device binding (as the patient or as the device)")
    .action(async (address: string, _options: unknown, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const result = await unbindDevice(client, { device: address });
      output(command).result({ device: address, ...result }, () => `unbound device ${address}`);
    });
}

/**
 * The device's ML-DSA-65 public key: the one its keystore keeps, or a fresh one saved there first
 * (before the chain commits to it, so it is never lost). Both keystores share the password.
 */
async function devicePqPublicKey(global: GlobalOptions, deviceIdentity: string): Promise<Uint8Array> {
  const path = keystorePath(deviceIdentity === global.identity ? global : { home: global.home, identity: deviceIdentity });
  const fresh = await generateMlDsaKeyPair();
  const { entry } = await savePqSigningKey(path, password(global), pqSigningKeyEntry(fresh));
  fresh.seed.fill(0);
  const kept = await mlDsaKeyPairFromSeed(base64UrlToBytes(entry.seed));
  kept.seed.fill(0);
  return kept.publicKey;
}
