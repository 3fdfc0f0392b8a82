/**
 * Keys: create them in this page, unlock ones stored in this browser, import an encrypted backup
 * (this app's or the CLI's keystore file, or the stack's demo account), export a backup, and on
 * a dev stack fund the account from the faucet.
 */
import { useEffect, useState, type FormEvent } from "react";
import { formatEther } from "ethers";

import { browserWalletAccount, fundFromFaucet, hasBrowserWallet, rpcProvider, shortHex } from "../lib/chain.js";
import { createIdentity, importBackup, unlockIdentity, type Role } from "../lib/identity.js";
import { downloadText, keystore } from "../lib/keystore.js";
import { recordIndexOf } from "../lib/localIndex.js";
import { useAction } from "../lib/progress.js";
import { useSession } from "../lib/session.js";
import { Card } from "./Card.js";
import { ErrorNotice } from "./ErrorNotice.js";
import { Progress } from "./Progress.js";

type Stored = { address: string; label?: string };

export function IdentityPanel({ role }: { role: Role }) {
  const session = useSession();
  return session.identity ? <SignedIn /> : <SignIn role={role} />;
}

function SignIn({ role }: { role: Role }) {
  const session = useSession();
  const [stored, setStored] = useState<Stored[]>([]);
  const [password, setPassword] = useState("");
  const [backup, setBackup] = useState<File>();
  const action = useAction();
  const demo = session.config.demo?.[role];

  useEffect(() => {
    let live = true;
    keystore().then((store) => store.list()).then((list) => { if (live) setStored(list.filter((s) => !s.label || s.label === role)); }, () => undefined);
    return () => { live = false; };
  }, [role]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async (track) => {
      const identity = await createIdentity({ role, password, onStep: (label) => track.step(label) });
      track.step("Connecting to the chain and the storage gateway");
      await session.signIn(identity);
    });
  };
  const connectWallet = () => void action.run(async (track) => {
    track.step("Asking your browser wallet for an account");
    const walletAddress = await browserWalletAccount();
    const known = (await (await keystore()).list()).some((s) => s.address.toLowerCase() === walletAddress.toLowerCase());
    const identity = known
      ? (track.step("Unlocking the keys stored for this account"), await unlockIdentity(walletAddress, password, role))
      : await createIdentity({ role, password, walletAddress, onStep: (label) => track.step(label) });
    track.step("Connecting to the chain and the storage gateway");
    await session.signIn(identity);
  });
  const unlock = (address: string) => void action.run(async (track) => {
    track.step(`Unlocking ${shortHex(address)} (deriving the key from your password)`);
    const identity = await unlockIdentity(address, password, role);
    track.step("Connecting to the chain and the storage gateway");
    await session.signIn(identity);
  });
  const restore = (text: string, backupPassword: string) => action.run(async (track) => {
    track.step("Checking the backup's password and storing it in this browser");
    const identity = await importBackup(text, backupPassword, role);
    track.step("Connecting to the chain and the storage gateway");
    await session.signIn(identity);
  });
  const useDemo = () => void action.run(async (track) => {
    if (!demo) return;
    track.step(`Fetching the demo ${role}'s encrypted backup`);
    const text = await (await fetch(demo.keystoreUrl)).text();
    track.step("Checking the backup's password and storing it in this browser");
    const identity = await importBackup(text, demo.password, role);
    track.step("Connecting to the chain and the storage gateway");
    await session.signIn(identity);
  });

  return (
    <Card title={role === "patient" ? "Your keys" : "Clinician keys"} testId="identity-panel">
      <p className="muted">Keys are made and kept in this browser, encrypted under your password. Nothing secret leaves this page.</p>
      <label className="field">
        Password
        <input type="password" data-testid="password" value={password} autoComplete="new-password" onChange={(e) => setPassword(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" data-testid="create-keys" disabled={action.busy || password.length < 8} onClick={create}>Create new keys</button>
        {hasBrowserWallet() ? <button type="button" data-testid="connect-wallet" disabled={action.busy || password.length < 8} onClick={connectWallet}>Use my browser wallet</button> : null}
        {demo ? <button type="button" data-testid="use-demo" disabled={action.busy} onClick={useDemo}>Use the demo {role}</button> : null}
      </div>
      {stored.length > 0 ? (
        <div className="stored">
          <h3>Stored in this browser</h3>
          <ul>
            {stored.map((s) => (
              <li key={s.address}>
                <code>{shortHex(s.address)}</code>{" "}
                <button type="button" data-testid={`unlock-${s.address}`} disabled={action.busy || !password} onClick={() => unlock(s.address)}>Unlock</button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <form className="row" onSubmit={(e) => { e.preventDefault(); if (backup) void backup.text().then((text) => restore(text, password)); }}>
        <label className="field">
          Import an encrypted backup (this app's or the CLI's keystore file)
          <input type="file" accept=".json,application/json" data-testid="backup-file" onChange={(e) => setBackup(e.target.files?.[0])} />
        </label>
        <button type="submit" data-testid="import-backup" disabled={action.busy || !backup || !password}>Import</button>
      </form>
      <Progress steps={action.steps} testId="identity-progress" />
      <ErrorNotice error={action.error} testId="identity-error" />
    </Card>
  );
}

function SignedIn() {
  const session = useSession();
  const identity = session.identity!;
  const [balance, setBalance] = useState<bigint>();
  const faucet = useAction();
  const backup = useAction();

  useEffect(() => {
    let live = true;
    rpcProvider(session.config).getBalance(identity.address).then((b) => { if (live) setBalance(b); }, () => undefined);
    return () => { live = false; };
  }, [session.config, identity.address, session.version]);

  const fund = () => void faucet.run(async (track) => {
    track.step("Asking the dev faucet for 1 ETH");
    setBalance(await fundFromFaucet(session.config, identity.address));
  });
  const exportBackup = () => void backup.run(async (track) => {
    const store = await keystore();
    // The backup carries the record index too, so another browser can find and open the records.
    const records = recordIndexOf(session.config.chainId, identity.address, identity.secrets.extra);
    const carried = Array.isArray(identity.secrets.extra?.records) ? identity.secrets.extra.records.length : 0;
    if (records.length > carried) {
      track.step("Adding your record index to the encrypted keys");
      identity.secrets = { ...identity.secrets, extra: { ...identity.secrets.extra, records } };
      await store.save(identity.address, identity.secrets, identity.password, { label: identity.role });
    }
    track.step("Exporting the encrypted backup");
    const text = await store.exportBackup(identity.address);
    downloadText(`medcipher-${identity.role}-${identity.address.slice(2, 10).toLowerCase()}.json`, text);
  });

  return (
    <Card title={identity.role === "patient" ? "Your keys" : "Clinician keys"} testId="identity-panel" aside={<button type="button" onClick={session.signOut}>Lock</button>}>
      <dl className="facts">
        <dt>Account</dt><dd><code data-testid="account-address">{identity.address}</code></dd>
        <dt>Balance</dt><dd data-testid="balance">{balance === undefined ? "…" : `${Number(formatEther(balance)).toFixed(4)} ETH`}</dd>
        {identity.role === "patient" ? <><dt>Key sets</dt><dd>{identity.secrets.heKeySets?.length ?? 0} CKKS key set(s) on this device</dd></> : null}
      </dl>
      <div className="row">
        {session.config.faucetUrl ? <button type="button" data-testid="faucet" disabled={faucet.busy} onClick={fund}>Get 1 test ETH (dev faucet)</button> : null}
        <button type="button" data-testid="export-backup" disabled={backup.busy} onClick={exportBackup}>Export encrypted backup</button>
      </div>
      <Progress steps={faucet.steps} />
      <Progress steps={backup.steps} testId="backup-progress" />
      <ErrorNotice error={faucet.error ?? backup.error} />
    </Card>
  );
}
