import { pino, type DestinationStream, type Logger } from "pino";

import { sensitiveSettingNames } from "./config/settings.js";

export type { Logger };

/**
 * JSON logs (pino). Sensitive settings are redacted wherever they could appear in a log line;
 * the daemon also never logs the settings object itself, only `printableSettings()`.
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const sensitive = sensitiveSettingNames();
  const paths = [
    ...sensitive.flatMap((name) => [name, `settings.${name}`, `*.${name}`]),
    "privateKey", "*.privateKey", "password", "*.password", "authorization", "*.authorization", "headers.authorization",
  ];
  return pino(
    { level: options.level, base: { service: "medcipher-oracle" }, redact: { paths, censor: "[redacted]" } },
    options.destination,
  );
}
