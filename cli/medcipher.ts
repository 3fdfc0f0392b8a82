#!/usr/bin/env -S npx tsx
// The `medcipher` command line (cli/program.ts). The Node.js check comes first and the program
// is imported only after it: on an old Node, a clear message instead of an error deep inside a
// dependency.
import { exitOnUnsupportedNode } from "../core/nodeVersion.js";

exitOnUnsupportedNode("medcipher");
const { runCli } = await import("./program.js");
await runCli(process.argv);
