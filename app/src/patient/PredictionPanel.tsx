/**
 * Predictions: the model's inputs are encrypted here under the patient's CKKS key, the oracle
 * evaluates them without seeing them, and the result is decrypted here and drawn as a picture.
 * Every request about the patient (their own and their clinicians') is listed from the chain,
 * with the key set it was made under; decrypting needs that key set.
 */
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { getPredictionResult, RequestStatus, requestPrediction, waitForPrediction } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { RiskChart } from "../components/RiskChart.js";
import { modelFeatures, type AppModel } from "../config.js";
import { shortHex } from "../lib/chain.js";
import { predictionRequestsOf, type PredictionRequestRow } from "../lib/chainReads.js";
import { AppError, explainError, type ExplainedError } from "../lib/errors.js";
import { addKeySet, fheFor, keySetsOf } from "../lib/identity.js";
import { useAction, type Tracker } from "../lib/progress.js";
import { prefillFromReadings } from "../lib/readings.js";
import { useSignedIn } from "../lib/session.js";
import type { Registration } from "./RegisterPanel.js";
import type { DecryptedRecord } from "./useRecords.js";

export type Decrypted = { requestId: string; modelId: number; labels: string[]; probabilities: number[]; label: string; features?: Record<string, number> };

type RequestRow = PredictionRequestRow;

const STATUS_WORDS: Record<number, string> = {
  [RequestStatus.Pending]: "waiting for the oracle",
  [RequestStatus.Fulfilled]: "result ready",
  [RequestStatus.Failed]: "failed",
  [RequestStatus.Refused]: "refused",
  [RequestStatus.Cancelled]: "cancelled",
};

function useRequests(): RequestRow[] {
  const { client, version } = useSignedIn();
  const [rows, setRows] = useState<RequestRow[]>([]);
  useEffect(() => {
    let live = true;
    predictionRequestsOf(client).then((list) => { if (live) setRows(list); }, () => undefined);
    return () => { live = false; };
  }, [client, version]);
  return rows;
}

function bestCoveredModel(models: readonly AppModel[], readings: Parameters<typeof prefillFromReadings>[1]): AppModel | undefined {
  const missing = (m: AppModel) => modelFeatures(m).length - Object.keys(prefillFromReadings(modelFeatures(m), readings)).length;
  return [...models].sort((a, b) => missing(a) - missing(b))[0];
}

/** Notes the seconds spent waiting, so a slow oracle does not look like a frozen page. */
async function withElapsed<T>(track: Tracker, what: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => track.note(`${what}: ${Math.round((Date.now() - started) / 1000)} s`), 1000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function PredictionPanel({ records, registration }: { records: DecryptedRecord[]; registration: Registration | undefined }) {
  const session = useSignedIn();
  const { client, identity, config } = session;
  const models = config.models;
  const readings = useMemo(() => records.flatMap((r) => r.readings), [records]);
  // Until the patient picks one: the model the readings answer most of the inputs of.
  const [picked, setModelId] = useState<number>();
  const modelId = picked ?? bestCoveredModel(models, readings)?.modelId ?? 0;
  const model: AppModel | undefined = models.find((m) => m.modelId === modelId);
  const features = useMemo(() => (model ? modelFeatures(model) : []), [model]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [decrypted, setDecrypted] = useState<Record<string, Decrypted>>({});
  const [refusals, setRefusals] = useState<Record<string, ExplainedError>>({});
  const keySets = keySetsOf(identity);
  const [keySetChoice, setKeySetChoice] = useState<string>("");
  const decryptKeysHash = keySetChoice || registration?.keysHash || keySets.at(-1)?.keysHash || "";
  const requests = useRequests();
  const action = useAction<Decrypted>();
  const keys = useAction();

  // Prefill from the latest readings whenever the model or the readings change; typed values win.
  const prefilled = useMemo(() => prefillFromReadings(features, readings), [features, readings]);
  const valueOf = (name: string) => values[`${modelId}:${name}`] ?? (prefilled[name] !== undefined ? String(prefilled[name]) : "");

  const decrypt = async (track: Tracker, requestId: string, keysHash: string): Promise<Decrypted> => {
    track.step("Fetching the encrypted result, checking its hash on-chain, decrypting it here");
    const fhe = await fheFor(identity, keysHash);
    const result = await getPredictionResult(client, { requestId, fhe, keysHash });
    const prediction = result.predictions[0]!;
    const resultModel = models.find((m) => m.modelId === result.modelId);
    const labels = resultModel?.labels ?? prediction.probabilities.map((_, i) => `class ${i}`);
    return { requestId, modelId: result.modelId, labels, probabilities: prediction.probabilities, label: prediction.label };
  };

  const request = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async (track) => {
      if (!model) throw new AppError("APP_NO_MODEL", "Choose a model.");
      if (!registration) throw new AppError("SDK_CHAIN_REVERT", "not registered", { reason: "PatientNotRegistered" });
      const inputs: Record<string, number> = {};
      for (const feature of features) {
        const number = Number(valueOf(feature.name));
        if (valueOf(feature.name) === "" || !Number.isFinite(number)) throw new AppError("APP_MISSING_INPUT", `Enter ${feature.description ?? feature.name}.`);
        inputs[feature.name] = number;
      }
      track.step("Loading your CKKS key set");
      const fhe = await fheFor(identity, registration.keysHash);
      track.step("Encrypting your inputs here, storing the ciphertext on the gateway, sending the request");
      const sent = await requestPrediction(client, { modelId: model.modelId, fhe, readings: inputs });
      track.note(`request ${shortHex(sent.requestId)}, transaction ${shortHex(sent.transactionHash)}`);
      track.step("Waiting for the oracle to evaluate it, still encrypted, and fulfil on-chain");
      const fulfilled = await withElapsed(track, "waiting", waitForPrediction(client, { requestId: sent.requestId, timeoutMs: 180_000, pollMs: 500 }));
      track.note(`fulfilled, result ${shortHex(fulfilled.resultHash)}`);
      const shown = { ...(await decrypt(track, sent.requestId, registration.keysHash)), features: inputs };
      setDecrypted((all) => ({ ...all, [shown.requestId]: shown }));
      session.changed();
      return shown;
    });
  };

  const decryptRow = (row: RequestRow) => void (async () => {
    const noop: Tracker = { step: () => undefined, note: () => undefined };
    try {
      const shown = await decrypt(noop, row.requestId, decryptKeysHash);
      setDecrypted((all) => ({ ...all, [row.requestId]: shown }));
      setRefusals(({ [row.requestId]: _, ...rest }) => rest);
    } catch (failure) {
      // The row shows the outcome of the latest attempt: an earlier answer is not left standing beside a refusal.
      setDecrypted(({ [row.requestId]: _, ...rest }) => rest);
      setRefusals((all) => ({ ...all, [row.requestId]: explainError(failure) }));
    }
  })();

  const makeKeySet = () => void keys.run(async (track) => {
    track.step("Generating a new CKKS key set and saving it encrypted in this browser");
    const keySet = await addKeySet(identity);
    track.note(`key set ${shortHex(keySet.keysHash)} (not registered: the chain still has ${registration ? shortHex(registration.keysHash) : "none"})`);
    session.changed();
  });

  return (
    <Card title="Predictions" testId="prediction-panel">
      <form className="grid-form" onSubmit={request}>
        <label className="field">
          Model
          <select data-testid="prediction-model" value={modelId} onChange={(e) => setModelId(Number(e.target.value))}>
            {models.map((m) => <option key={m.modelId} value={m.modelId}>{m.name} {m.version}</option>)}
          </select>
        </label>
        {model?.description ? <p className="muted">{model.description}</p> : null}
        {features.map((feature) => (
          <label key={feature.name} className="field">
            {feature.description ?? feature.name}{feature.unit && feature.unit !== "1" ? ` (${feature.unit})` : ""}
            <input
              data-testid={`feature-${feature.name}`} inputMode="decimal" value={valueOf(feature.name)}
              min={feature.min} max={feature.max} placeholder={feature.min !== undefined ? `${feature.min}–${feature.max}` : ""}
              onChange={(e) => setValues((all) => ({ ...all, [`${modelId}:${feature.name}`]: e.target.value }))}
            />
          </label>
        ))}
        <button type="submit" data-testid="request-prediction" disabled={action.busy || !registration}>Request an encrypted prediction</button>
      </form>
      <Progress steps={action.steps} testId="prediction-progress" />
      <ErrorNotice error={action.error} testId="prediction-error" />
      {action.result ? (
        <div data-testid="prediction-result" data-request-id={action.result.requestId} data-features={JSON.stringify(action.result.features)} data-probabilities={JSON.stringify(action.result.probabilities)}>
          <RiskChart labels={action.result.labels} probabilities={action.result.probabilities} testId="risk-chart" />
        </div>
      ) : null}

      <h3>Requests about you</h3>
      <div className="row">
        <label className="field">
          Decrypt with key set
          <select data-testid="decrypt-key-set" value={decryptKeysHash} onChange={(e) => setKeySetChoice(e.target.value)}>
            {keySets.map((k) => (
              <option key={k.keysHash} value={k.keysHash.toLowerCase()}>
                {shortHex(k.keysHash)} {k.keysHash.toLowerCase() === registration?.keysHash ? "(registered)" : "(not registered)"}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="new-key-set" disabled={keys.busy} onClick={makeKeySet}>Make another key set</button>
        {/* A clinician's request arrives on the chain, not through this page: re-read the list. */}
        <button type="button" data-testid="requests-reload" onClick={session.changed}>Reload</button>
      </div>
      <Progress steps={keys.steps} />
      <ErrorNotice error={keys.error} />
      {requests.length === 0 ? <p className="muted">None yet.</p> : (
        <table className="table" data-testid="request-list">
          <thead><tr><th>Request</th><th>Model</th><th>By</th><th>State</th><th /></tr></thead>
          <tbody>
            {requests.map((row) => (
              <tr key={row.requestId} data-testid="request-row" data-request-id={row.requestId}>
                <td><code>{shortHex(row.requestId)}</code></td>
                <td>{models.find((m) => m.modelId === row.modelId)?.name ?? `#${row.modelId}`}</td>
                <td>{row.requester.toLowerCase() === identity.address.toLowerCase() ? "you" : <code>{shortHex(row.requester)}</code>}</td>
                <td>{STATUS_WORDS[row.status] ?? row.status}</td>
                <td>
                  {row.status === RequestStatus.Fulfilled ? <button type="button" data-testid="decrypt-request" onClick={() => decryptRow(row)}>Decrypt</button> : null}
                  {decrypted[row.requestId] ? <RiskChart labels={decrypted[row.requestId]!.labels} probabilities={decrypted[row.requestId]!.probabilities} testId="row-risk" /> : null}
                  <ErrorNotice error={refusals[row.requestId]} testId="decrypt-error" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
