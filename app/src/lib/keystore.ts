/**
 * The browser's key store: the SDK's IndexedDB keystore (encrypted under the user's password,
 * backups in the CLI's keystore format), opened once per page.
 */
import { openBrowserKeystore, type BrowserKeystore } from "medcipher";

import { AppError } from "./errors.js";

let opened: Promise<BrowserKeystore> | undefined;

export function keystore(): Promise<BrowserKeystore> {
  opened ??= openBrowserKeystore().catch((error: unknown) => {
    opened = undefined;
    throw new AppError("APP_KEYSTORE_UNAVAILABLE", `IndexedDB: ${String(error)}`);
  });
  return opened;
}

/** Offers text as a file download (the encrypted key backup). */
export function downloadText(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
