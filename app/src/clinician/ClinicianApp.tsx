import { useState } from "react";

import { IdentityPanel } from "../components/IdentityPanel.js";
import { useSession } from "../lib/session.js";
import { PatientsPanel } from "./PatientsPanel.js";
import { RequestPredictionPanel, type SharedReadings } from "./RequestPredictionPanel.js";
import { SharedRecordPanel } from "./SharedRecordPanel.js";

export function ClinicianApp({ shareId, patient }: { shareId?: string; patient?: string }) {
  const session = useSession();
  const [opened, setOpened] = useState<string | undefined>(shareId);
  // The record last read here: its readings prefill the prediction's inputs for that patient.
  const [shared, setShared] = useState<SharedReadings>();
  return (
    <div className="panels" data-testid="clinician-app">
      <IdentityPanel role="clinician" />
      {session.identity && session.client ? (
        <>
          <PatientsPanel onOpenShare={setOpened} />
          <SharedRecordPanel key={opened ?? ""} initialShareId={opened ?? shareId} patient={patient} onRead={setShared} />
          <RequestPredictionPanel shared={shared} preferredPatient={shared?.patient ?? patient} />
        </>
      ) : null}
    </div>
  );
}
