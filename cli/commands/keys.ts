import { access } from "node:fs/promises";

import { Option, type Command } from "commander";
import { hexlify, Wallet } from "ethers";

import { createPatientIdentity } from "../../sdk/actions/createPatientIdentity.js";
import { publishHybridEncryptionKey } from "../../sdk/actions/publishHybridEncryptionKey.js";
import { generateHybridKeyPair, isHybridKeyPair } from "../../sdk/crypto/hybrid.js";
import { InvalidInputError } from "../../sdk/errors.js";
import { DEFAULT_KDF, keystoreAddress, saveHybridEncryptionKey, writeKeystore } from "../../sdk/keystore.js";
import { generateEncryptionKeyPair } from "../../sdk/crypto/x25519.js";
import { globalOptions, keystorePath, loadIdentity, makeClient, output, password } from "../context.js";

export function registerKeysCommands(program: Command): void {
  const keys = program.command("keys").description("Create and inspect encrypted identities (keystores under <home>/keys/)");

  keys
    .command("init")
    .description("Create a new identity: an Ethereum key and an X25519 encryption key pair, encrypted with the password in $MEDCIPHER_PASSWORD")
    .option("--import-env <var>", "import the Ethereum private key from this environment variable instead of generating one (e.g. a funded `hardhat node` account)")
    .option("--force", "overwrite an existing keystore of the same identity name", false)
    .addOption(new Option("--scrypt-n <n>", "scrypt cost N (power of two); lower only for tests or small devices").default(String(DEFAULT_KDF.N)))
    .action(async (options: { importEnv?: string; force: boolean; scryptN: string }, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const path = keystorePath(global);
      if (!options.force && (await access(path).then(() => true, () => false))) {
        throw new InvalidInputError(`Identity "${global.identity}" already exists at ${path} (use --force to replace it).`, { path });
      }
      let wallet: Wallet;
      let encryptionKey;
      if (options.importEnv) {
        const key = process.env[options.importEnv];
        if (!key) throw new InvalidInputError(`$${options.importEnv} is empty.`);
        wallet = new Wallet(key);
        encryptionKey = await generateEncryptionKeyPair();
      } else {
        ({ wallet, encryptionKey } = await createPatientIdentity());
      }
      const n = Number(options.scryptN);
      if (!Number.isInteger(Math.log2(n)) || n < 2) throw new InvalidInputError("--scrypt-n must be a power of two.");
      await writeKeystore(path, wallet.address, {
        privateKey: wallet.privateKey,
        encryption: { publicKey: hexlify(encryptionKey.publicKey), privateKey: hexlify(encryptionKey.privateKey) },
      }, password(global), { ...DEFAULT_KDF, N: n });
      out.result({ identity: global.identity, address: wallet.address, encryptionPublicKey: hexlify(encryptionKey.publicKey), keystore: path }, () =>
        [`identity ${global.identity}`, `address                ${wallet.address}`, `encryption public key  ${hexlify(encryptionKey.publicKey)}`, `keystore               ${path}`].join("\n"));
    });

  keys
    .command("publish-hybrid")
    .description("Post-quantum: add an ML-KEM-768 key to this identity's X25519 key (kept in the keystore first) and publish the hybrid public key on-chain, so records and shares for it are wrapped X25519 + ML-KEM-768; publishing the key already on-chain sends nothing")
    .action(async (_options: unknown, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const identity = await loadIdentity(global);
      if (!identity.encryptionKey) throw new InvalidInputError("This identity has no encryption key pair; re-create it with `keys init`.");
      const current = identity.encryptionKey;
      // Saved before anything is sent: the ML-KEM seed of a published key must never be lost.
      const hybrid = isHybridKeyPair(current) ? current : (await saveHybridEncryptionKey(keystorePath(global), password(global), await generateHybridKeyPair(current))).pair;
      const { client } = await makeClient(global, { gateway: false, identity: { ...identity, encryptionKey: hybrid } });
      const result = await publishHybridEncryptionKey(client, { key: hybrid });
      out.result({ identity: global.identity, address: client.address, ...result }, () =>
        result.published ? `published hybrid encryption key ${result.keyHash} (version ${result.version})` : `hybrid encryption key ${result.keyHash} already published (version ${result.version}): nothing sent`);
    });

  keys
    .command("show")
    .description("Print the identity's address (no password needed) and, with the password, its encryption public key")
    .action(async (_options: unknown, command: Command) => {
      const global = globalOptions(command);
      const out = output(command);
      const address = await keystoreAddress(keystorePath(global));
      let encryptionPublicKey: string | undefined;
      if (process.env[global.passwordEnv]) {
        const { readKeystore } = await import("../../sdk/keystore.js");
        encryptionPublicKey = (await readKeystore(keystorePath(global), password(global))).secrets.encryption?.publicKey;
      }
      out.result({ identity: global.identity, address, encryptionPublicKey }, () => `${global.identity}  ${address}${encryptionPublicKey ? `  ${encryptionPublicKey}` : ""}`);
    });
}
