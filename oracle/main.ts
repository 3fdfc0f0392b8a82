// The oracle daemon on its own: `node --import tsx oracle/main.ts start --config oracle.json`
// (`medcipher oracle start` and `npm run oracle` reach the same commands through the CLI).
// The Node.js check comes before the daemon is imported: on Node 20 its `node:sqlite` import
// would fail before any code ran.
import { exitOnUnsupportedNode } from "../core/nodeVersion.js";

exitOnUnsupportedNode("the MedCipher oracle");
const { runOracle } = await import("./cli.js");
await runOracle(process.argv.slice(2));
