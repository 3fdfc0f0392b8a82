/** The relayer service (issue 12): see relayer/server.ts and docs/notes/relayer.md. */
export { createRelayer, DEFAULT_RELAYER_LIMITS, type Relayer, type RelayerLimits, type RelayerOptions } from "./server.js";
export { startRelayerService, type RelayerService } from "./service.js";
export { loadRelayerSettings, printableRelayerSettings, relayerSettingsMarkdownTable, RELAYER_ENV_PREFIX, RELAYER_SETTINGS, type RelayerSettings } from "./settings.js";
export { RelayerConfigError, RelayerRefusal } from "./errors.js";
