// The Node recipe of docs/sdk.md, run as it stands by test/sdk/jsonRpcRecipe.test.ts against a
// `hardhat node` over HTTP: a patient keeps their keys in a keystore file, registers, then
// grants, revokes and grants consent again — transactions back-to-back from one Wallet.
import { hexlify } from "ethers";
import {
  Category, connectJsonRpc, createMedCipherClient, FheClient, generateEncryptionKeyPair, grantConsent, heKeySetEntry, listConsents,
  loadDeployment, paramSetIdToBytes32, Purpose, registerPatient, revokeConsent, saveHeKeySet, writeKeystore,
} from "medcipher/node";

const setting = (name: string): string => process.env[name] ?? (() => { throw new Error(`set ${name}`); })();
const rpcUrl = setting("MEDCIPHER_RPC_URL");            // e.g. http://127.0.0.1:8545 (`npx hardhat node`)
const deploymentFile = setting("MEDCIPHER_DEPLOYMENT"); // deployments/31337.json (`npm run deploy`)
const gatewayUrl = setting("MEDCIPHER_GATEWAY_URL");    // e.g. http://127.0.0.1:8787 (`medcipher gateway serve`)
const keystorePath = setting("MEDCIPHER_KEYSTORE");     // where the new patient's keystore file goes
const password = setting("MEDCIPHER_PASSWORD");
const privateKey = setting("PATIENT_PRIVATE_KEY");      // a funded account
const clinician = setting("CLINICIAN_ADDRESS");

// A Wallet on a JSON-RPC provider that caches no call, so every transaction gets a fresh nonce.
const account = connectJsonRpc(rpcUrl, privateKey);

// Keys: an X25519 pair for records and a CKKS key set for predictions, kept in the keystore file.
const encryptionKey = await generateEncryptionKeyPair();
const fhe = await FheClient.generate("ckks-2048-v1");
await writeKeystore(keystorePath, account.address, {
  privateKey,
  encryption: { publicKey: hexlify(encryptionKey.publicKey), privateKey: hexlify(encryptionKey.privateKey) },
}, password);

const { addresses } = await loadDeployment(deploymentFile);
const patient = await createMedCipherClient({ account, addresses, gatewayUrl, encryptionKey });

const evaluationKeys = fhe.evaluationKeys();
const { keysHash } = await registerPatient(patient, {
  encryptionPublicKey: encryptionKey.publicKey,
  evaluationKeys,
  paramSetId: paramSetIdToBytes32(fhe.paramSetId),
  // Saved before anything is sent: a crash after this never loses the key set.
  saveKeySet: async () => { await saveHeKeySet(keystorePath, password, await heKeySetEntry(fhe, evaluationKeys, password)); },
});

const validUntil = Math.floor(Date.now() / 1000) + 7 * 24 * 3600;
await grantConsent(patient, { grantee: clinician, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS], validUntil });
await revokeConsent(patient, { grantee: clinician, purpose: Purpose.TREAT });
await grantConsent(patient, { grantee: clinician, purpose: Purpose.TREAT, categories: [Category.VITAL_SIGNS, Category.PREDICTION], validUntil });

const consents = await listConsents(patient);
console.log(JSON.stringify({ patient: patient.address, keysHash, consents: consents.map((c) => ({ grantee: c.grantee, purpose: c.purpose, active: c.active, categories: c.categoryCodes })) }));
patient.gateway?.close();
fhe.dispose();
