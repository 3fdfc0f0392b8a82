import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";

import { GATEWAY_SETTINGS, gatewayBackends, GatewayConfigError, gatewaySettingsMarkdownTable, loadGatewaySettings, printableGatewaySettings, REDACTED } from "../../gateway/config/settings.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** `medcipher <args>` as a real process, with only the given GATEWAY_* variables. */
function medcipher(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("GATEWAY_")));
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "cli/medcipher.ts", ...args], { cwd: ROOT, env: { ...base, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("gateway settings", function () {
  this.timeout(60_000);

  it("reads the file, then the environment, then the flags, each winning over the one before", function () {
    const file = join(mkdtempSync(join(tmpdir(), "gateway-settings-")), "gateway.json");
    writeFileSync(file, JSON.stringify({ PORT: 9000, RATE_PER_SECOND: 5, DATA_DIR: "/srv/gw" }));
    const settings = loadGatewaySettings({ file, env: { GATEWAY_RATE_PER_SECOND: "7", GATEWAY_BURST: "9" }, overrides: { BURST: "11" } });
    expect(settings.PORT).to.equal(9000);
    expect(settings.DATA_DIR).to.equal("/srv/gw");
    expect(settings.RATE_PER_SECOND).to.equal(7);
    expect(settings.BURST).to.equal(11);
    expect(settings.REQUEST_TIMEOUT_MS).to.equal(30_000);
  });

  it("refuses bad values, unknown file keys and misspelt variables in one error listing every problem", function () {
    const file = join(mkdtempSync(join(tmpdir(), "gateway-settings-")), "gateway.json");
    writeFileSync(file, JSON.stringify({ PROT: 1 }));
    try {
      loadGatewaySettings({ file, env: { GATEWAY_PORT: "99999", GATEWAY_RATE_PER_SECOND: "0", GATEWAY_BLOK_TTL_MS: "5", GATEWAY_INTERFACE: "CGI/1.1" }, overrides: { REQUEST_TIMEOUT_MS: "soon" } });
      expect.fail("should have thrown");
    } catch (error) {
      expect(error).to.be.instanceOf(GatewayConfigError);
      const problems = ((error as GatewayConfigError).details.problems as string[]).join("\n");
      expect(problems).to.match(/PROT .*did you mean PORT/);
      expect(problems).to.match(/GATEWAY_BLOK_TTL_MS is not a setting \(did you mean GATEWAY_BLOCK_TTL_MS\?\)/);
      expect(problems).to.match(/^PORT must be a TCP port/m);
      expect(problems).to.match(/^RATE_PER_SECOND must be an integer ≥ 1/m);
      expect(problems).to.match(/^REQUEST_TIMEOUT_MS: expected a number/m);
      expect(problems).not.to.include("GATEWAY_INTERFACE"); // another program's variable, not a near miss
    }
  });

  it("`gateway serve` with bad settings exits 78 naming every problem, before touching a chain or a keystore", async function () {
    const run = await medcipher(["--rpc", "http://127.0.0.1:9", "gateway", "serve", "--port", "70000", "--rate", "0"], { GATEWAY_BLOCK_TTL_MS: "-1", GATEWAY_ANCHOR_INTERVAL: "5" });
    expect(run.code).to.equal(78);
    expect(run.stderr).to.include("Invalid gateway settings");
    for (const text of ["PORT must be a TCP port", "RATE_PER_SECOND must be an integer ≥ 1", "BLOCK_TTL_MS must be an integer ≥ 0", "GATEWAY_ANCHOR_INTERVAL is not a setting (did you mean GATEWAY_ANCHOR_INTERVAL_SECONDS?)"]) {
      expect(run.stderr).to.include(text);
    }
  });

  it("`gateway settings` prints the table, and it is in docs/gateway.md exactly as the code defines it", async function () {
    const run = await medcipher(["gateway", "settings"]);
    expect(run.code).to.equal(0);
    expect(run.stdout.trim()).to.equal(gatewaySettingsMarkdownTable());
    for (const name of Object.keys(GATEWAY_SETTINGS)) expect(run.stdout).to.include(`\`${name}\``);
    const doc = readFileSync(new URL("../../docs/gateway.md", import.meta.url), "utf8");
    expect(doc).to.include(gatewaySettingsMarkdownTable());
  });

  it("defaults to the embedded stores; BLOB_STORE=s3, S3_* and DATABASE_URL select the bucket and the shared database", function () {
    expect(gatewayBackends(loadGatewaySettings({ env: {} }))).to.deep.equal({ blobStore: { kind: "directory" } });
    const url = "postgres://gw:s3cret@db.internal:5432/medcipher";
    const settings = loadGatewaySettings({
      env: {
        GATEWAY_BLOB_STORE: "s3", GATEWAY_S3_ENDPOINT: "http://127.0.0.1:9000", GATEWAY_S3_BUCKET: "blobs", GATEWAY_S3_REGION: "eu-west-1",
        GATEWAY_S3_PREFIX: "gw/", GATEWAY_S3_FORCE_PATH_STYLE: "true", GATEWAY_DATABASE_URL: url,
      },
    });
    expect(gatewayBackends(settings)).to.deep.equal({
      blobStore: { kind: "s3", endpoint: "http://127.0.0.1:9000", bucket: "blobs", region: "eu-west-1", prefix: "gw/", forcePathStyle: true },
      databaseUrl: url,
    });
    // AWS itself: no endpoint, virtual-hosted URLs.
    expect(gatewayBackends(loadGatewaySettings({ env: { GATEWAY_BLOB_STORE: "s3", GATEWAY_S3_BUCKET: "b" } })).blobStore).to.deep.equal({ kind: "s3", bucket: "b", region: "us-east-1", prefix: "", forcePathStyle: false });
    const printed = printableGatewaySettings(settings);
    expect(printed.DATABASE_URL, "the URL may hold the password").to.equal(REDACTED);
    expect(JSON.stringify(printed)).not.to.include("s3cret");
  });

  it("refuses an s3 store without a bucket, unknown store kinds and malformed endpoint or database URLs, without echoing the URL", function () {
    try {
      loadGatewaySettings({ env: { GATEWAY_BLOB_STORE: "s3", GATEWAY_S3_FORCE_PATH_STYLE: "yes", GATEWAY_S3_ENDPOINT: "minio:9000", GATEWAY_DATABASE_URL: "mysql://u:pw@h/db" } });
      expect.fail("should have thrown");
    } catch (error) {
      expect(error).to.be.instanceOf(GatewayConfigError);
      const problems = ((error as GatewayConfigError).details.problems as string[]).join("\n");
      expect(problems).to.match(/^S3_BUCKET must be set when BLOB_STORE is s3/m);
      expect(problems).to.match(/^S3_FORCE_PATH_STYLE must be true or false/m);
      expect(problems).to.match(/^S3_ENDPOINT must be an http\(s\) URL/m);
      expect(problems).to.match(/^DATABASE_URL must be a postgres:\/\//m);
      expect(problems).not.to.include("pw@");
    }
    expect(() => loadGatewaySettings({ env: { GATEWAY_BLOB_STORE: "ipfs" } })).to.throw(GatewayConfigError);
  });
});
