/**
 * Registration: the CKKS evaluation keys (made in this page) go to the gateway, then one
 * transaction commits to their hash, the parameter set and the X25519 key. The key set was
 * saved in the keystore when it was made, so a failure here never loses it; running it again
 * resumes.
 */
import { useEffect, useState } from "react";
import { paramSetIdToBytes32, registerPatient } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { shortHex, waitForConfirmations } from "../lib/chain.js";
import { registeredKeysHash } from "../lib/chainReads.js";
import { AppError } from "../lib/errors.js";
import { evaluationKeysOf, keySetsOf } from "../lib/identity.js";
import { useAction } from "../lib/progress.js";
import { useSignedIn } from "../lib/session.js";

export type Registration = { keysHash: string } | null;

const STEP_WORDS = {
  save: "Saving the key set",
  upload: "Uploading the evaluation keys to the storage gateway",
  send: "Sending the registration transaction",
  confirm: "Waiting for the transaction to be mined",
} as const;

/** The patient's registered key set (null when not registered), re-read when the session changes. */
export function useRegistration(): Registration | undefined {
  const { client, version } = useSignedIn();
  const [registration, setRegistration] = useState<Registration>();
  useEffect(() => {
    let live = true;
    registeredKeysHash(client).then((keysHash) => {
      if (live) setRegistration(keysHash === null ? null : { keysHash });
    }, () => undefined);
    return () => { live = false; };
  }, [client, version]);
  return registration;
}

export function RegisterPanel({ registration }: { registration: Registration | undefined }) {
  const session = useSignedIn();
  const { client, identity } = session;
  const action = useAction();

  const register = () => void action.run(async (track) => {
    const keySet = keySetsOf(identity).at(-1);
    if (!keySet) throw new AppError("APP_NO_KEY_SET", "no key set");
    let sentHash: string | undefined;
    const result = await registerPatient(client, {
      encryptionPublicKey: identity.encryptionKey.publicKey,
      evaluationKeys: evaluationKeysOf(keySet),
      paramSetId: paramSetIdToBytes32(keySet.paramSet),
      onProgress: (step, detail) => {
        track.step(STEP_WORDS[step]);
        const hash = /0x[0-9a-fA-F]{64}/.exec(detail)?.[0];
        if (step === "confirm" && hash) { sentHash = hash; track.note(`transaction ${shortHex(hash)}`); }
      },
    });
    if (sentHash) {
      track.step("Confirmed");
      await waitForConfirmations(client.provider, sentHash, 1, (count, block) => track.note(`${count} confirmation(s), block ${block}`));
    }
    track.step(result.alreadyRegistered ? "You were already registered with this key set" : `Registered: key set ${shortHex(result.keysHash)} is on-chain`);
    session.changed();
  });

  return (
    <Card title="Registration" testId="register-panel">
      {registration === undefined ? <p className="muted">Checking the registry…</p> : null}
      {registration ? (
        <p data-testid="registered">Registered. Your CKKS key set on record: <code>{shortHex(registration.keysHash)}</code></p>
      ) : null}
      {registration === null ? (
        <>
          <p>Register as a patient: your evaluation keys (public) go to the storage gateway and their fingerprint to the chain. Your secret keys stay here.</p>
          <button type="button" data-testid="register" disabled={action.busy} onClick={register}>Register</button>
        </>
      ) : null}
      <Progress steps={action.steps} testId="register-progress" />
      <ErrorNotice error={action.error} testId="register-error" />
    </Card>
  );
}
