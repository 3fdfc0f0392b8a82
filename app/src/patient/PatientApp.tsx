import { IdentityPanel } from "../components/IdentityPanel.js";
import { useSession } from "../lib/session.js";
import { AuditPanel } from "./AuditPanel.js";
import { ConsentPanel } from "./ConsentPanel.js";
import { PredictionPanel } from "./PredictionPanel.js";
import { ReadingsPanel } from "./ReadingsPanel.js";
import { RegisterPanel, useRegistration } from "./RegisterPanel.js";
import { SharePanel } from "./SharePanel.js";
import { useRecords } from "./useRecords.js";
import { ErrorNotice } from "../components/ErrorNotice.js";

export function PatientApp() {
  const session = useSession();
  return (
    <div className="panels" data-testid="patient-app">
      <IdentityPanel role="patient" />
      {session.identity && session.client ? <SignedInPatient /> : null}
    </div>
  );
}

function SignedInPatient() {
  const registration = useRegistration();
  const { records, loading, error } = useRecords();
  return (
    <>
      <RegisterPanel registration={registration} />
      <ErrorNotice error={error} testId="records-error" />
      <ReadingsPanel records={records} loading={loading} registered={!!registration} />
      {registration ? (
        <>
          <ConsentPanel />
          <SharePanel records={records} />
          <PredictionPanel records={records} registration={registration} />
          <AuditPanel />
        </>
      ) : null}
    </>
  );
}
