// The oracle daemon on its own: `npx tsx oracle/main.ts start --config oracle.json`
// (`medcipher oracle start` and `npm run oracle` reach the same commands through the CLI).
import { runOracle } from "./cli.js";

await runOracle(process.argv.slice(2));
