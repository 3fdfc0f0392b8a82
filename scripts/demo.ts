/**
 * `npm start`: the whole MedCipher system, end to end, on an embedded chain. See README
 * "What the demo shows" for a walk through its output.
 */
import { runDemo } from "./demo/run.js";

console.log("MedCipher end-to-end demo: contracts, encrypted storage gateway, oracle daemon, CKKS predictions");
const started = Date.now();
try {
  const summary = await runDemo();
  const disagreements = summary.predictions.filter((p) => p.encrypted.label !== p.plaintext.label);
  console.log(`Finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  process.exitCode = disagreements.length === 0 && summary.clinicianRefusedAfterRevoke && summary.auditHeadVerified ? 0 : 1;
} catch (error) {
  console.error("\nThe demo failed:", error);
  process.exitCode = 1;
}
