import type { Settings } from "./config/settings.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { Shutdown } from "./shutdown.js";

/** What every component receives (after Ponder's `common`): easy to build in a test. */
export type Common = {
  settings: Settings;
  logger: Logger;
  metrics: Metrics;
  shutdown: Shutdown;
};
