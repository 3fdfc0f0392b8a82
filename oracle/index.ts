/** The oracle daemon's public surface (for the CLI, the demo, benchmarks and tests). */
export { registerOracleCommands, runOracle } from "./cli.js";
export { startOracle, DEFAULT_EVALUATOR_MODULE, type OracleHandle, type StartOracleOptions } from "./daemon.js";
export { loadSettings, printableSettings, settingsMarkdownTable, SETTINGS, type Settings } from "./config/settings.js";
export { FailureReason } from "./errors.js";
