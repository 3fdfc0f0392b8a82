/**
 * The shell: loads /config.json (then marks <body data-ready="true">, the first-load marker the
 * browser bench waits for), and shows the patient's or the clinician's half. Each half has its
 * own session, so one browser can hold a patient and a clinician side by side.
 */
import { useEffect, useState } from "react";

import { ClinicianApp } from "./clinician/ClinicianApp.js";
import { ErrorNotice } from "./components/ErrorNotice.js";
import { loadAppConfig, type AppConfig } from "./config.js";
import { shortHex } from "./lib/chain.js";
import { explainError, type ExplainedError } from "./lib/errors.js";
import { useRoute } from "./lib/route.js";
import { SessionProvider } from "./lib/session.js";
import { PatientApp } from "./patient/PatientApp.js";

export function App() {
  const [config, setConfig] = useState<AppConfig>();
  const [error, setError] = useState<ExplainedError>();
  const route = useRoute();

  useEffect(() => {
    loadAppConfig().then(setConfig, (failure: unknown) => setError(explainError(failure)));
  }, []);
  useEffect(() => {
    if (config) document.body.dataset.ready = "true";
  }, [config]);

  return (
    <div className="app">
      <header className="top">
        <h1>MedCipher</h1>
        <nav>
          <a href="#/patient" data-testid="nav-patient" className={route.view === "patient" ? "active" : ""}>Patient</a>
          <a href="#/clinician" data-testid="nav-clinician" className={route.view === "clinician" ? "active" : ""}>Clinician</a>
        </nav>
        {config ? <span className="muted network">chain {config.chainId} · gateway {new URL(config.gatewayUrl).host} · registry {shortHex(config.addresses.IdentityRegistry)}</span> : null}
      </header>
      <ErrorNotice error={error} testId="config-error" />
      {config ? (
        <main>
          {/* Both sessions stay mounted (switching halves keeps who is signed in); only the active half renders. */}
          <SessionProvider config={config}>{route.view === "patient" ? <PatientApp /> : null}</SessionProvider>
          <SessionProvider config={config}>
            {route.view === "clinician" ? <ClinicianApp shareId={route.params.get("share") ?? undefined} patient={route.params.get("patient") ?? undefined} /> : null}
          </SessionProvider>
        </main>
      ) : error ? null : <p className="muted">Loading the configuration…</p>}
      <footer className="muted">Health data is encrypted in this page before it goes anywhere; predictions are computed on encrypted data (CKKS) and decrypted only here.</footer>
    </div>
  );
}
