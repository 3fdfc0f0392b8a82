/**
 * A clinician requests a prediction for a patient who consented to decision support
 * (PREDICTION data, purpose TREATDS, what the PredictionRouter asks of a requester other than the
 * patient). The inputs are encrypted here under the patient's public key set (their evaluation-keys
 * blob, read through the gateway under that consent), so the clinician sends a ciphertext only
 * the patient can open; the oracle's result is encrypted for the patient too, and the clinician
 * is told so in words instead of being shown a number.
 */
import { useMemo, useState, type FormEvent } from "react";
import { decodeBytes32String, sha256 } from "ethers";
import { Category, FhePublicEncryptor, Purpose, requestPrediction, waitForPrediction, type Reading } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { modelFeatures, type AppModel } from "../config.js";
import { shortHex } from "../lib/chain.js";
import { AppError } from "../lib/errors.js";
import { useAction, type Tracker } from "../lib/progress.js";
import { prefillFromReadings } from "../lib/readings.js";
import { prepareSeal } from "../lib/seal.js";
import { useSignedIn } from "../lib/session.js";
import { usePatientGrants } from "./PatientsPanel.js";

export type SharedReadings = { patient: string; readings: readonly Reading[] };

type Sent = { requestId: string; patient: string; features: Record<string, number> };

/** The patient's public key set, from their evaluation-keys blob (checked against the on-chain keysHash). */
async function publicKeySetOf(client: ReturnType<typeof useSignedIn>["client"], patient: string, track: Tracker) {
  track.step("Fetching the patient's public key set through the gateway (it checks your decision-support consent)");
  const [keysHash, paramSet] = await client.contracts.identity.keySetOf(patient);
  if (/^0x0+$/.test(keysHash)) throw new AppError("SDK_CHAIN_REVERT", "not registered", { reason: "PatientNotRegistered" });
  const bytes = await client.gateway!.get(keysHash.toLowerCase(), { purpose: Purpose.TREATDS });
  // The gateway already checks the blob's hash; this ties it to the key set the chain names.
  if (sha256(bytes) !== keysHash.toLowerCase()) throw new AppError("APP_KEYS_MISMATCH", "The patient's key set does not match the chain.");
  prepareSeal();
  const encryptor = await FhePublicEncryptor.fromEvaluationKeys(bytes, decodeBytes32String(paramSet));
  return { encryptor, keysHash: keysHash.toLowerCase() };
}

export function RequestPredictionPanel({ shared, preferredPatient }: { shared?: SharedReadings; preferredPatient?: string }) {
  const { client, config, changed } = useSignedIn();
  const grants = usePatientGrants();
  // Only a live decision-support consent covering predictions lets the router take the request.
  const eligible = grants.filter((g) => g.active && g.purpose === Purpose.TREATDS && g.categories.includes(Category.PREDICTION));
  const [chosen, setChosen] = useState<string>();
  const patient = chosen ?? eligible.find((g) => g.patient.toLowerCase() === preferredPatient?.toLowerCase())?.patient ?? eligible[0]?.patient ?? "";
  const models = config.models;
  const [picked, setModelId] = useState<number>();
  const modelId = picked ?? models[0]?.modelId ?? 0;
  const model: AppModel | undefined = models.find((m) => m.modelId === modelId);
  const features = useMemo(() => (model ? modelFeatures(model) : []), [model]);
  const readings = shared && shared.patient.toLowerCase() === patient.toLowerCase() ? shared.readings : [];
  const prefilled = useMemo(() => prefillFromReadings(features, readings), [features, readings]);
  const [values, setValues] = useState<Record<string, string>>({});
  const valueOf = (name: string) => values[`${modelId}:${name}`] ?? (prefilled[name] !== undefined ? String(prefilled[name]) : "");
  const action = useAction<Sent>();

  const send = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async (track) => {
      if (!patient) throw new AppError("APP_NO_PATIENT", "No patient has given you decision-support consent for predictions.");
      if (!model) throw new AppError("APP_NO_MODEL", "Choose a model.");
      const inputs: Record<string, number> = {};
      for (const feature of features) {
        const number = Number(valueOf(feature.name));
        if (valueOf(feature.name) === "" || !Number.isFinite(number)) throw new AppError("APP_MISSING_INPUT", `Enter ${feature.description ?? feature.name}.`);
        inputs[feature.name] = number;
      }
      const { encryptor, keysHash } = await publicKeySetOf(client, patient, track);
      try {
        track.step("Encrypting the inputs here under the patient's key, storing the ciphertext on the gateway, sending the request");
        const sent = await requestPrediction(client, { patient, modelId: model.modelId, fhe: encryptor, keysHash, readings: inputs });
        track.note(`request ${shortHex(sent.requestId)}, transaction ${shortHex(sent.transactionHash)}`);
        track.step("Waiting for the oracle to evaluate it, still encrypted, and fulfil on-chain");
        const fulfilled = await waitForPrediction(client, { requestId: sent.requestId, timeoutMs: 180_000, pollMs: 500 });
        track.note(`fulfilled, result ${shortHex(fulfilled.resultHash)}`);
        return { requestId: sent.requestId, patient, features: inputs };
      } finally {
        encryptor.dispose();
      }
    });
  };

  return (
    <Card title="Request a prediction" testId="clinician-prediction-panel">
      <div className="row">
        {eligible.length === 0 ? <p className="muted">A patient must give you consent for treatment decision support covering predictions first.</p> : null}
        {/* A new consent arrives on the chain, not through this page: re-read it. */}
        <button type="button" data-testid="clinician-prediction-reload" onClick={changed}>Reload consents</button>
      </div>
      <form className="grid-form" onSubmit={send}>
        <label className="field">
          Patient
          <select data-testid="clinician-prediction-patient" value={patient} onChange={(e) => setChosen(e.target.value)}>
            {eligible.map((g) => <option key={g.patient} value={g.patient}>{shortHex(g.patient)}</option>)}
          </select>
        </label>
        <label className="field">
          Model
          <select data-testid="clinician-prediction-model" value={modelId} onChange={(e) => setModelId(Number(e.target.value))}>
            {models.map((m) => <option key={m.modelId} value={m.modelId}>{m.name} {m.version}</option>)}
          </select>
        </label>
        {readings.length > 0 ? <p className="muted">Prefilled from the latest readings of the record the patient shared; edit any value.</p> : null}
        {features.map((feature) => (
          <label key={feature.name} className="field">
            {feature.description ?? feature.name}{feature.unit && feature.unit !== "1" ? ` (${feature.unit})` : ""}
            <input
              data-testid={`clinician-feature-${feature.name}`} inputMode="decimal" value={valueOf(feature.name)}
              placeholder={feature.min !== undefined ? `${feature.min}–${feature.max}` : ""}
              onChange={(e) => setValues((all) => ({ ...all, [`${modelId}:${feature.name}`]: e.target.value }))}
            />
          </label>
        ))}
        <button type="submit" data-testid="clinician-request-prediction" disabled={action.busy || eligible.length === 0}>Request a prediction</button>
      </form>
      <Progress steps={action.steps} testId="clinician-prediction-progress" />
      <ErrorNotice error={action.error} testId="clinician-prediction-error" />
      {action.result && !action.error && !action.busy ? (
        <p data-testid="clinician-prediction-done" data-request-id={action.result.requestId} data-patient={action.result.patient} data-features={JSON.stringify(action.result.features)}>
          Result ready — encrypted for the patient; only they can read it. Request <code>{shortHex(action.result.requestId)}</code>.
        </p>
      ) : null}
    </Card>
  );
}
