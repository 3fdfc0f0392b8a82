import { useState } from "react";

import { IdentityPanel } from "../components/IdentityPanel.js";
import { useSession } from "../lib/session.js";
import { PatientsPanel } from "./PatientsPanel.js";
import { SharedRecordPanel } from "./SharedRecordPanel.js";

export function ClinicianApp({ shareId, patient }: { shareId?: string; patient?: string }) {
  const session = useSession();
  const [opened, setOpened] = useState<string | undefined>(shareId);
  return (
    <div className="panels" data-testid="clinician-app">
      <IdentityPanel role="clinician" />
      {session.identity && session.client ? (
        <>
          <PatientsPanel onOpenShare={setOpened} />
          <SharedRecordPanel key={opened ?? ""} initialShareId={opened ?? shareId} patient={patient} />
        </>
      ) : null}
    </div>
  );
}
