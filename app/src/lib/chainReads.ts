/**
 * The app's few direct reads of the contracts (through the SDK client's typed contracts): who
 * the patient's devices are, which prediction requests name the patient, which patients granted
 * a clinician consent. Everything else goes through SDK actions.
 */
import { ZeroHash } from "ethers";
import { currentKeysHash, type MedCipherClient } from "medcipher";

/** The patient's registered CKKS key set (lower-case keysHash), or null when not registered. */
export async function registeredKeysHash(client: MedCipherClient): Promise<string | null> {
  const keysHash = await currentKeysHash(client, client.address);
  return keysHash === ZeroHash ? null : keysHash;
}

export type BoundDevice = { device: string; expiresAt: number };

export async function boundDevices(client: MedCipherClient): Promise<BoundDevice[]> {
  const identity = client.contracts.identity;
  const [bound, unbound] = await Promise.all([
    identity.queryFilter(identity.filters.DeviceBound(null, client.address), 0),
    identity.queryFilter(identity.filters.DeviceUnbound(null, client.address), 0),
  ]);
  const gone = new Set(unbound.map((log) => log.args.device));
  return bound
    .filter((log) => !gone.has(log.args.device))
    .map((log) => ({ device: log.args.device, expiresAt: Number(log.args.expiresAt) }));
}

export type PredictionRequestRow = { requestId: string; modelId: number; requester: string; keysHash: string; status: number };

/** Every prediction request about the client (the patient), newest first, with its state now. */
export async function predictionRequestsOf(client: MedCipherClient): Promise<PredictionRequestRow[]> {
  const router = client.contracts.router;
  const logs = await router.queryFilter(router.filters.PredictionRequested(null, client.address), 0);
  const rows = await Promise.all(logs.map(async (log) => {
    const requestId = log.args.requestId;
    const request = await router.getRequest(requestId);
    return {
      requestId,
      modelId: Number(log.args.modelId),
      requester: log.args.requester,
      keysHash: log.args.keysHash.toLowerCase(),
      status: Number(request.status),
    };
  }));
  return rows.reverse();
}

export type PatientGrant = { patient: string; purpose: number; categories: number[]; validUntil: number; active: boolean };

/** The patients who ever granted the client (a clinician) consent, one row per purpose, with the grant's state now. */
export async function grantsToClient(client: MedCipherClient): Promise<PatientGrant[]> {
  const consent = client.contracts.consent;
  const logs = await consent.queryFilter(consent.filters.ConsentGranted(null, client.address), 0);
  const pairs = new Map<string, { patient: string; purpose: number }>();
  for (const log of logs) {
    const patient = log.args.patient;
    const purpose = Number(log.args.purpose);
    pairs.set(`${patient}:${purpose}`, { patient, purpose });
  }
  const now = (await client.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
  return Promise.all([...pairs.values()].map(async ({ patient, purpose }) => {
    const [grant, epoch] = await Promise.all([consent.grantOf(patient, client.address, purpose), consent.epochOf(patient)]);
    const { categories: scope, validFrom, validUntil, epoch: grantEpoch } = grant;
    const bits = Number(scope);
    const categories = Array.from({ length: 32 }, (_, i) => i).filter((i) => (bits >>> i) & 1);
    const active = bits !== 0 && grantEpoch === epoch && Number(validFrom) <= now && now < Number(validUntil);
    return { patient, purpose, categories, validUntil: Number(validUntil), active };
  }));
}
