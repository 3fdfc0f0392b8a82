import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import S3rver from "s3rver";

/** An S3-compatible endpoint on loopback (s3rver), with one bucket. Any S3 client talks to it. */
export type S3Endpoint = {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
};

/** s3rver's fixed credentials (it checks signatures made with them). */
const S3RVER_KEY = "S3RVER";

export async function startS3(options: { bucket?: string } = {}): Promise<S3Endpoint> {
  const bucket = options.bucket ?? "medcipher-test";
  const directory = await mkdtemp(join(tmpdir(), "medcipher-s3-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    region: "us-east-1",
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
