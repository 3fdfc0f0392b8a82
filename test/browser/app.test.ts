/**
 * The reference dapp (app/) in real Chromium against the real local stack (`startAppStack`: chain
 * over JSON-RPC, gateway with CORS, oracle daemon, faucet, consent relay): a patient whose keys
 * are made in the page and a clinician (the stack's demo clinician, imported from its backup)
 * walk the journeys of issue 11 §3, each in a browser context of their own (their own IndexedDB).
 * The prediction decrypted in the page is compared with the plaintext model evaluated here in
 * Node. Screenshots go to a temporary folder; `npm run screenshots` sends them to
 * docs/screenshots/ (the README's), so a plain test run leaves the working tree as it found it.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import type { Page } from "playwright-core";
import { build } from "vite";

import { loadModel, predictionFromScores, scoreReading } from "../../fhe/index.js";
import { readKeystore } from "../../sdk/keystore.js";
import { startAppStack, type AppStack } from "../../scripts/app/stack.js";
import { describeInBrowser } from "./harness.js";

const APP_DIR = fileURLToPath(new URL("../../app/", import.meta.url));
const APP_DIST = fileURLToPath(new URL("../../app/dist", import.meta.url));
const SCREENSHOTS = `${process.env.MEDCIPHER_SCREENSHOTS_DIR ?? join(tmpdir(), "medcipher-screenshots")}/`;
const PASSWORD = "correct horse battery staple";

/** The oracle's CKKS result against the plaintext model: the model's stated noise is ~1e-3 on scores. */
const PROBABILITY_TOLERANCE = 5e-3;

describeInBrowser("reference dapp (app/): patient and clinician journeys in Chromium", (suite) => {
  let stack: AppStack | undefined;
  let patient: Page;
  let clinician: Page;
  let patientAddress = "";
  let shareId = "";
  let requestId = "";
  const errorsAllowed = new Set<Page>();

  before(async function () {
    this.timeout(600_000);
    await build({ root: APP_DIR, configFile: `${APP_DIR}vite.config.ts`, logLevel: "warn" });
    stack = await startAppStack({ port: 0, appDist: APP_DIST });
    await mkdir(SCREENSHOTS, { recursive: true });
    patient = await suite.newPage();
    clinician = await suite.newPage();
  });

  after(async function () {
    this.timeout(60_000);
    await stack?.stop();
  });

  // Each step builds on the previous ones: after a failure the rest would only time out.
  let failed = false;
  beforeEach(function () {
    if (failed) this.skip();
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      failed = true;
      for (const [name, page] of [["patient", patient], ["clinician", clinician]] as const) {
        if (!page) continue;
        process.stderr.write(`\n--- ${name} page (${page.url()}) errors:\n${suite.pageErrors(page).join("\n")}\n`);
        const alerts = await page.locator('[role="alert"]').allTextContents().catch(() => []);
        if (alerts.length > 0) process.stderr.write(`--- ${name} page alerts:\n${alerts.join("\n")}\n`);
      }
    }
    // Uncaught page errors are bugs; console errors of refused requests (403s) are expected after revocation.
    for (const page of [patient, clinician]) {
      if (!page) continue;
      const uncaught = suite.pageErrors(page).filter((e) => e.startsWith("pageerror:"));
      expect(uncaught, "uncaught errors in the page").to.deep.equal([]);
      if (!errorsAllowed.has(page)) suite.pageErrors(page).splice(0);
    }
  });

  /**
   * Waits for `selector`, failing at once (with the app's words) when the action's error notice
   * shows up instead: a refused step should not look like a slow one.
   */
  const outcome = async (page: Page, selector: string, errorTestId: string, timeout: number) => {
    const error = page.locator(`[data-testid="${errorTestId}"]`);
    const done = page.locator(selector).first().waitFor({ timeout }).then(() => "done" as const);
    const refused = error.waitFor({ timeout }).then(() => "refused" as const);
    // The loser of the race times out later: its rejection is expected.
    done.catch(() => undefined);
    refused.catch(() => undefined);
    if ((await Promise.race([done, refused])) === "refused") throw new Error(`the app reported: ${await error.textContent()}`);
  };

  const shot = (page: Page, name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

  it("loads config.json and marks the page ready", async function () {
    await patient.goto(`${stack!.appUrl}/#/patient`);
    await patient.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await patient.textContent("header")).to.contain(`chain ${stack!.config.chainId}`);
  });

  it("patient: keys generated in the page (wallet, X25519, CKKS), stored encrypted, funded by the dev faucet", async function () {
    this.timeout(180_000);
    await patient.fill('[data-testid="password"]', PASSWORD);
    await patient.click('[data-testid="create-keys"]');
    const address = patient.locator('[data-testid="account-address"]');
    await address.waitFor({ timeout: 120_000 });
    patientAddress = (await address.textContent())!.trim();
    expect(patientAddress).to.match(/^0x[0-9a-fA-F]{40}$/);
    await patient.click('[data-testid="faucet"]');
    await patient.waitForFunction(() => /^[1-9]/.test(document.querySelector('[data-testid="balance"]')?.textContent ?? ""), undefined, { timeout: 60_000 });
  });

  it("patient: registers (evaluation keys uploaded, key set committed on-chain) with progress per step", async function () {
    this.timeout(120_000);
    await patient.click('[data-testid="register"]');
    await outcome(patient, '[data-testid="registered"]', "register-error", 90_000);
    const steps = await patient.locator('[data-testid="register-progress"] li').allTextContents();
    expect(steps.join("\n")).to.contain("Uploading the evaluation keys").and.to.contain("Sending the registration transaction");
  });

  it("patient: a day of readings is sealed, anchored and plotted after decryption in the page", async function () {
    this.timeout(120_000);
    await patient.click('[data-testid="sample-readings"]');
    await patient.waitForFunction(() => Number(document.querySelector('[data-testid="readings-charts"]')?.getAttribute("data-readings")) === 120, undefined, { timeout: 90_000 });
    // recharts drew a line for each vital (ResponsiveContainer measures first, then draws)
    await patient.locator('[data-testid="chart-systolic_bp"] .recharts-line-curve').nth(1).waitFor({ timeout: 10_000 });
    expect(await patient.locator('[data-testid="chart-systolic_bp"] .recharts-line-curve').count()).to.equal(2);
    expect(await patient.locator('[data-testid="chart-heart_rate"] .recharts-line-curve').count()).to.equal(1);
    await shot(patient, "patient");
  });

  it("patient: grants the clinician consent (signed EIP-712, relayed, confirmed)", async function () {
    this.timeout(120_000);
    const clinicianAddress = stack!.config.demo!.clinician.address;
    await patient.fill('[data-testid="consent-grantee"]', clinicianAddress);
    await patient.click('[data-testid="grant-consent"]');
    await outcome(patient, `[data-testid="consent-row"][data-grantee="${clinicianAddress}"][data-active="true"]`, "consent-error", 90_000);
    const steps = (await patient.locator('[data-testid="consent-progress"] li').allTextContents()).join("\n");
    expect(steps).to.contain("Signing the consent").and.to.contain("confirmation");
    await patient.locator('[data-testid="consent-panel"]').screenshot({ path: `${SCREENSHOTS}consent.png` });
  });

  it("patient: shares a record with the clinician", async function () {
    this.timeout(60_000);
    await patient.fill('[data-testid="share-grantee"]', stack!.config.demo!.clinician.address);
    await patient.fill('[data-testid="share-grantee-key"]', stack!.config.demo!.clinician.encryptionPublicKey ?? "");
    await patient.click('[data-testid="share-record-button"]');
    await outcome(patient, '[data-testid="share-id"]', "share-error", 30_000);
    shareId = (await patient.locator('[data-testid="share-id"]').textContent({ timeout: 30_000 }))!.trim();
    expect(shareId).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("patient: an encrypted prediction, fulfilled by the oracle daemon, decrypts in the page to the plaintext model's answer", async function () {
    this.timeout(300_000);
    const model = stack!.config.models.find((m) => m.name === "maternal-risk-v1")!;
    await patient.selectOption('[data-testid="prediction-model"]', String(model.modelId));
    await patient.fill('[data-testid="feature-age"]', "29");
    await patient.click('[data-testid="request-prediction"]');
    const result = patient.locator('[data-testid="prediction-result"]');
    await outcome(patient, '[data-testid="prediction-result"]', "prediction-error", 240_000);
    requestId = (await result.getAttribute("data-request-id"))!;
    const features = JSON.parse((await result.getAttribute("data-features"))!) as Record<string, number>;
    const decrypted = JSON.parse((await result.getAttribute("data-probabilities"))!) as number[];

    const artifact = loadModel(model.name);
    const plaintext = predictionFromScores(artifact, scoreReading(artifact, features));
    expect(decrypted).to.have.length(plaintext.probabilities.length);
    decrypted.forEach((p, i) => expect(Math.abs(p - plaintext.probabilities[i]!), `class ${i}`).to.be.below(PROBABILITY_TOLERANCE));
    expect(await result.locator('[data-testid="risk-label"]').textContent()).to.equal(plaintext.label);
    const steps = (await patient.locator('[data-testid="prediction-progress"] li').allTextContents()).join("\n");
    expect(steps).to.contain("Waiting for the oracle").and.to.contain("decrypting it here");
    await patient.locator('[data-testid="prediction-panel"]').screenshot({ path: `${SCREENSHOTS}prediction.png` });
  });

  it("clinician: imports the demo backup, sees the patient, reads the shared record decrypted in the page", async function () {
    this.timeout(120_000);
    await clinician.goto(`${stack!.appUrl}/#/clinician?share=${shareId}&patient=${patientAddress}`);
    await clinician.waitForSelector('body[data-ready="true"]');
    await clinician.locator('[data-testid="clinician-app"] [data-testid="use-demo"]').click();
    await clinician.locator(`[data-testid="patient-row"][data-patient="${patientAddress}"][data-active="true"]`).waitFor({ timeout: 60_000 });
    expect(await clinician.inputValue('[data-testid="share-id-input"]')).to.equal(shareId);
    await clinician.click('[data-testid="read-shared"]');
    const record = clinician.locator('[data-testid="shared-record"]');
    await outcome(clinician, '[data-testid="shared-record"]', "read-error", 60_000);
    expect(Number(await record.getAttribute("data-readings"))).to.equal(24);
    await shot(clinician, "clinician");
  });

  it("clinician: under decision-support consent, requests a prediction encrypted under the patient's key; the oracle fulfils; only the patient decrypts it, equal to the plaintext model", async function () {
    this.timeout(360_000);
    const clinicianAddress = stack!.config.demo!.clinician.address;
    // The router takes a request from someone other than the patient under PREDICTION / TREATDS consent only.
    await patient.fill('[data-testid="consent-grantee"]', clinicianAddress);
    await patient.selectOption('[data-testid="consent-purpose"]', "4");
    await patient.check('[data-testid="consent-category-7"]');
    await patient.click('[data-testid="grant-consent"]');
    await outcome(patient, `[data-testid="consent-row"][data-grantee="${clinicianAddress}"][data-purpose="4"][data-active="true"]`, "consent-error", 90_000);

    await clinician.click('[data-testid="clinician-prediction-reload"]');
    await clinician.locator(`[data-testid="clinician-prediction-patient"] option[value="${patientAddress}"]`).waitFor({ state: "attached", timeout: 60_000 });
    const model = stack!.config.models.find((m) => m.name === "maternal-risk-v1")!;
    await clinician.selectOption('[data-testid="clinician-prediction-patient"]', patientAddress);
    await clinician.selectOption('[data-testid="clinician-prediction-model"]', String(model.modelId));
    // The vitals come prefilled from the record the patient shared (read in the step before); age is typed.
    expect(await clinician.inputValue('[data-testid="clinician-feature-systolicBP"]')).to.not.equal("");
    await clinician.fill('[data-testid="clinician-feature-age"]', "41");
    await clinician.click('[data-testid="clinician-request-prediction"]');
    await outcome(clinician, '[data-testid="clinician-prediction-done"]', "clinician-prediction-error", 300_000);
    const done = clinician.locator('[data-testid="clinician-prediction-done"]');
    expect(await done.textContent()).to.contain("Result ready — encrypted for the patient; only they can read it");
    const clinicianRequestId = (await done.getAttribute("data-request-id"))!;
    const features = JSON.parse((await done.getAttribute("data-features"))!) as Record<string, number>;
    expect(features.age).to.equal(41);
    const steps = (await clinician.locator('[data-testid="clinician-prediction-progress"] li').allTextContents()).join("\n");
    expect(steps).to.contain("public key set").and.to.contain("Waiting for the oracle");
    // The clinician's page has no probabilities to show: it never held a key that opens the result.
    expect(await clinician.locator('[data-testid="clinician-prediction-panel"] [data-testid="risk-label"]').count()).to.equal(0);
    await clinician.locator('[data-testid="clinician-prediction-panel"]').screenshot({ path: `${SCREENSHOTS}clinician-prediction.png` });

    await patient.click('[data-testid="requests-reload"]');
    const row = patient.locator(`[data-testid="request-row"][data-request-id="${clinicianRequestId}"]`);
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).to.not.contain("you");
    await row.locator('[data-testid="decrypt-request"]').click();
    const risk = row.locator('[data-testid="row-risk"]');
    await outcome(patient, `[data-testid="request-row"][data-request-id="${clinicianRequestId}"] [data-testid="row-risk"]`, "decrypt-error", 60_000);
    const decrypted = JSON.parse((await risk.getAttribute("data-probabilities"))!) as number[];
    const artifact = loadModel(model.name);
    const plaintext = predictionFromScores(artifact, scoreReading(artifact, features));
    expect(decrypted).to.have.length(plaintext.probabilities.length);
    decrypted.forEach((p, i) => expect(Math.abs(p - plaintext.probabilities[i]!), `class ${i}`).to.be.below(PROBABILITY_TOLERANCE));
    expect(await risk.getAttribute("data-label")).to.equal(plaintext.label);
  });

  it("patient revokes; the clinician's next read is refused in words, and the refusal is in the patient's audit trail", async function () {
    this.timeout(180_000);
    const clinicianAddress = stack!.config.demo!.clinician.address;
    // The treatment consent (purpose 1); the decision-support one stays.
    await patient.locator(`[data-testid="consent-row"][data-grantee="${clinicianAddress}"][data-purpose="1"] [data-testid="revoke-consent"]`).click();
    await outcome(patient, `[data-testid="consent-row"][data-grantee="${clinicianAddress}"][data-purpose="1"][data-active="false"]`, "consent-error", 90_000);

    errorsAllowed.add(clinician);
    await clinician.click('[data-testid="read-shared"]');
    const refusal = clinician.locator('[data-testid="read-error"]');
    await refusal.waitFor({ timeout: 60_000 });
    expect(await refusal.getAttribute("data-code")).to.equal("GATEWAY_FORBIDDEN");
    expect(await refusal.textContent()).to.contain("Access refused").and.to.contain("consent");
    expect(await clinician.locator('[data-testid="shared-record"]').count()).to.equal(0);
    await clinician.locator(`[data-testid="patient-row"][data-patient="${patientAddress}"][data-active="false"]`).waitFor({ timeout: 30_000 });
    await shot(clinician, "refusal");

    await patient.click('[data-testid="audit-reload"]');
    await patient.locator(`[data-testid="audit-entry"][data-outcome="refused"][data-actor="${clinicianAddress}"]`).first().waitFor({ timeout: 60_000 });
    expect(await patient.locator(`[data-testid="audit-entry"][data-outcome="granted"][data-actor="${clinicianAddress}"]`).count()).to.be.greaterThan(0);
  });

  it("patient: decrypting with a key set other than the request's is refused, not answered wrongly", async function () {
    this.timeout(180_000);
    await patient.click('[data-testid="new-key-set"]');
    await patient.waitForFunction(() => document.querySelectorAll('[data-testid="decrypt-key-set"] option').length === 2, undefined, { timeout: 90_000 });
    const options = await patient.locator('[data-testid="decrypt-key-set"] option').evaluateAll((els) => els.map((e) => ({ value: (e as HTMLOptionElement).value, text: e.textContent ?? "" })));
    const other = options.find((o) => o.text.includes("not registered"))!;
    await patient.selectOption('[data-testid="decrypt-key-set"]', other.value);
    const row = patient.locator(`[data-testid="request-row"][data-request-id="${requestId}"]`);
    await row.locator('[data-testid="decrypt-request"]').click();
    const refusal = row.locator('[data-testid="decrypt-error"]');
    await refusal.waitFor({ timeout: 60_000 });
    expect(await refusal.getAttribute("data-code")).to.equal("SDK_KEY_SET_MISMATCH");
    expect(await row.locator('[data-testid="row-risk"]').count()).to.equal(0);

    // The registered key set still decrypts the same request.
    const registered = options.find((o) => o.text.includes("(registered)"))!;
    await patient.selectOption('[data-testid="decrypt-key-set"]', registered.value);
    await row.locator('[data-testid="decrypt-request"]').click();
    await row.locator('[data-testid="row-risk"]').waitFor({ timeout: 60_000 });
  });

  it("patient: the encrypted backup opens with the CLI's keystore reader and, imported in another browser, brings the keys and the record index", async function () {
    this.timeout(180_000);
    const [download] = await Promise.all([patient.waitForEvent("download"), patient.click('[data-testid="export-backup"]')]);
    const dir = await mkdtemp(join(tmpdir(), "medcipher-app-backup-"));
    const file = join(dir, download.suggestedFilename());
    await download.saveAs(file);
    const opened = await readKeystore(file, PASSWORD);
    expect(opened.address).to.equal(patientAddress);
    expect(opened.secrets.heKeySets).to.have.length(2);
    expect(opened.secrets.extra?.records).to.have.length(5);

    const elsewhere = await suite.newPage();
    await elsewhere.goto(`${stack!.appUrl}/#/patient`);
    await elsewhere.waitForSelector('body[data-ready="true"]');
    await elsewhere.fill('[data-testid="password"]', PASSWORD);
    await elsewhere.setInputFiles('[data-testid="backup-file"]', file);
    await elsewhere.click('[data-testid="import-backup"]');
    await outcome(elsewhere, '[data-testid="registered"]', "identity-error", 60_000);
    expect((await elsewhere.textContent('[data-testid="account-address"]'))!.trim()).to.equal(patientAddress);
    await elsewhere.waitForFunction(() => Number(document.querySelector('[data-testid="readings-charts"]')?.getAttribute("data-readings")) === 120, undefined, { timeout: 60_000 });
    await rm(dir, { recursive: true, force: true });
  });

  it("the demo patient's backup brings its bound device and its records, plotted after decryption", async function () {
    this.timeout(120_000);
    const demo = await suite.newPage();
    await demo.goto(`${stack!.appUrl}/#/patient`);
    await demo.waitForSelector('body[data-ready="true"]');
    await demo.click('[data-testid="use-demo"]');
    await outcome(demo, '[data-testid="registered"]', "identity-error", 60_000);
    await demo.locator('[data-testid="devices"] li').first().waitFor({ timeout: 30_000 });
    await demo.waitForFunction(() => Number(document.querySelector('[data-testid="readings-charts"]')?.getAttribute("data-readings")) > 0, undefined, { timeout: 60_000 });
  });
});
