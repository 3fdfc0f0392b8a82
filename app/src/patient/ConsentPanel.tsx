/**
 * Consent: the patient signs a purpose-bound, scoped, expiring grant (EIP-712) in the page and
 * the stack's relay submits it (no gas needed); revocation the same way. The list shows every
 * grant ever made and its state on-chain now.
 */
import { useEffect, useState, type FormEvent } from "react";
import { isAddress } from "ethers";
import { Category, listConsents, Purpose, signConsentGrant, signConsentRevocation, type ConsentGrant } from "medcipher";

import { Card } from "../components/Card.js";
import { ErrorNotice } from "../components/ErrorNotice.js";
import { Progress } from "../components/Progress.js";
import { shortHex, waitForConfirmations } from "../lib/chain.js";
import { relayConsent } from "../lib/consentRelay.js";
import { AppError } from "../lib/errors.js";
import { useAction, type Tracker } from "../lib/progress.js";
import { useSignedIn } from "../lib/session.js";
import { CATEGORY_WORDS, categoryWords, GRANTABLE_PURPOSES, purposeWords } from "../lib/words.js";

const DAY_MS = 86_400_000;

export function ConsentPanel() {
  const session = useSignedIn();
  const { client, config } = session;
  const [grants, setGrants] = useState<ConsentGrant[]>([]);
  const [grantee, setGrantee] = useState(config.demo?.clinician.address ?? "");
  const [purpose, setPurpose] = useState<number>(Purpose.TREAT);
  const [categories, setCategories] = useState<number[]>([Category.VITAL_SIGNS]);
  const [until, setUntil] = useState(() => new Date(Date.now() + 30 * DAY_MS).toISOString().slice(0, 10));
  const action = useAction();

  useEffect(() => {
    let live = true;
    listConsents(client).then((list) => { if (live) setGrants(list); }, () => undefined);
    return () => { live = false; };
  }, [client, session.version]);

  /** Waits for the relayed transaction, reporting confirmations, and tells the other panels. */
  const settle = async (track: Tracker, hash: string) => {
    track.step("Relayed: waiting for the transaction to be mined");
    track.note(`transaction ${shortHex(hash)}`);
    await waitForConfirmations(client.provider, hash, 1, (count, block) => track.note(`transaction ${shortHex(hash)}: ${count} confirmation(s), block ${block}`));
    session.changed();
  };

  const grant = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async (track) => {
      if (!isAddress(grantee)) throw new AppError("APP_BAD_ADDRESS", "The grantee is not an Ethereum address.");
      if (categories.length === 0) throw new AppError("APP_EMPTY_SCOPE", "Choose at least one kind of data.");
      const validUntil = Math.floor(Date.parse(`${until}T23:59:59Z`) / 1000);
      track.step("Signing the consent (EIP-712) with your key");
      const signed = await signConsentGrant(client, { grantee, purpose, categories, validUntil });
      track.step("Sending the signed consent to the relay");
      const hash = await relayConsent(config, signed);
      await settle(track, hash);
      track.step(`Consent granted: ${purposeWords(purpose)}, ${categories.map(categoryWords).join(", ")}, until ${until}`);
    });
  };
  const revoke = (g: ConsentGrant) => void action.run(async (track) => {
    track.step("Signing the revocation (EIP-712) with your key");
    const signed = await signConsentRevocation(client, { grantee: g.grantee, purpose: g.purpose });
    track.step("Sending the signed revocation to the relay");
    const hash = await relayConsent(config, signed);
    await settle(track, hash);
    track.step(`Consent revoked: ${shortHex(g.grantee)} can no longer read for ${purposeWords(g.purpose)}`);
  });

  const toggle = (code: number) => setCategories((list) => (list.includes(code) ? list.filter((c) => c !== code) : [...list, code]));

  return (
    <Card title="Consent" testId="consent-panel">
      <form className="grid-form" onSubmit={grant}>
        <label className="field">
          Who (their account address)
          <input data-testid="consent-grantee" value={grantee} onChange={(e) => setGrantee(e.target.value.trim())} placeholder="0x…" />
        </label>
        <label className="field">
          For what
          <select data-testid="consent-purpose" value={purpose} onChange={(e) => setPurpose(Number(e.target.value))}>
            {GRANTABLE_PURPOSES.map((p) => <option key={p} value={p}>{purposeWords(p)}</option>)}
          </select>
        </label>
        <fieldset className="field">
          <legend>Which data</legend>
          {Object.entries(CATEGORY_WORDS).map(([code, words]) => (
            <label key={code} className="check">
              <input type="checkbox" data-testid={`consent-category-${code}`} checked={categories.includes(Number(code))} onChange={() => toggle(Number(code))} /> {words}
            </label>
          ))}
        </fieldset>
        <label className="field">
          Until
          <input type="date" data-testid="consent-until" value={until} onChange={(e) => setUntil(e.target.value)} />
        </label>
        <button type="submit" data-testid="grant-consent" disabled={action.busy}>Sign and grant</button>
      </form>
      <Progress steps={action.steps} testId="consent-progress" />
      <ErrorNotice error={action.error} testId="consent-error" />
      <h3>Your consents</h3>
      {grants.length === 0 ? <p className="muted">None yet.</p> : (
        <table className="table" data-testid="consent-list">
          <thead><tr><th>Who</th><th>For</th><th>Data</th><th>Until</th><th>State</th><th /></tr></thead>
          <tbody>
            {grants.map((g) => (
              <tr key={`${g.grantee}:${g.purpose}`} data-testid="consent-row" data-active={g.active} data-grantee={g.grantee} data-purpose={g.purpose}>
                <td><code>{shortHex(g.grantee)}</code></td>
                <td>{purposeWords(g.purpose)}</td>
                <td>{g.categoryCodes.map(categoryWords).join(", ") || "—"}</td>
                <td>{g.validUntil ? new Date(g.validUntil * 1000).toLocaleDateString() : "—"}</td>
                <td>{g.active ? "active" : "ended"}</td>
                <td>{g.active ? <button type="button" data-testid="revoke-consent" disabled={action.busy} onClick={() => revoke(g)}>Revoke</button> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
