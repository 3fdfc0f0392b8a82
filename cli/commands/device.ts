import type { Command } from "commander";

import { bindDevice } from "../../sdk/actions/bindDevice.js";
import { registerDevice } from "../../sdk/actions/registerDevice.js";
import { unbindDevice } from "../../sdk/actions/unbindDevice.js";
import { chainNow } from "../../sdk/chain/time.js";
import { globalOptions, loadIdentity, makeClient, output, parseAddress } from "../context.js";

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
    .action(async (deviceIdentity: string, options: { days: string }, command: Command) => {
      const global = globalOptions(command);
      const { client } = await makeClient(global, { gateway: false });
      const deviceKey = await loadIdentity(global, deviceIdentity);
      const expiresAt = (await chainNow(client.provider)) + Math.round(Number(options.days) * 86_400);
      const result = await bindDevice(client, { device: deviceKey.wallet, expiresAt });
      output(command).result({ ...result, patient: client.address, expiresAt }, () => `bound device ${result.device} to ${client.address} until ${new Date(expiresAt * 1000).toISOString()}`);
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
