import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { expect } from "chai";

import { loadSettings, printableSettings, REDACTED, settingsMarkdownTable, SETTINGS } from "../../oracle/config/settings.js";
import { ConfigError } from "../../oracle/errors.js";
import { createLogger } from "../../oracle/logger.js";

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const GATEWAY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

describe("oracle settings", function () {
  it("reads file and environment, the environment winning, and validates everything at once", function () {
    const dir = mkdtempSync(join(tmpdir(), "oracle-settings-"));
    const file = join(dir, "oracle.json");
    writeFileSync(file, JSON.stringify({ CONFIRMATIONS: 3, GATEWAY_ADDRESS: GATEWAY, PRIVATE_KEY: KEY, HTTP_PORT: 9000 }));
    const settings = loadSettings({ file, env: { ORACLE_CONFIRMATIONS: "5", ORACLE_ADAPTER_ENABLED: "true" } });
    expect(settings.CONFIRMATIONS).to.equal(5);
    expect(settings.HTTP_PORT).to.equal(9000);
    expect(settings.ADAPTER_ENABLED).to.equal(true);
    expect(settings.RPC_URL).to.equal("http://127.0.0.1:8545");
  });

  it("refuses bad values with one error listing every problem", function () {
    try {
      loadSettings({ env: { ORACLE_CONFIRMATIONS: "0", ORACLE_RPC_URL: "ftp://x", ORACLE_PRIVATE_KEY: "0x1234" } });
      expect.fail("should have thrown");
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const problems = (error as ConfigError).details.problems as string[];
      expect(problems.join("\n")).to.match(/CONFIRMATIONS/).and.match(/RPC_URL/).and.match(/PRIVATE_KEY/).and.match(/GATEWAY_ADDRESS/);
      // The rejected key itself is never echoed back.
      expect(JSON.stringify((error as ConfigError).details)).not.to.include("0x1234");
    }
  });

  it("rejects unknown keys in the file", function () {
    const dir = mkdtempSync(join(tmpdir(), "oracle-settings-"));
    const file = join(dir, "oracle.json");
    writeFileSync(file, JSON.stringify({ SECRET_KEY: "x" }));
    expect(() => loadSettings({ file, env: {} })).to.throw(ConfigError);
  });

  it("never prints or logs a sensitive value", function () {
    const settings = loadSettings({ env: { ORACLE_PRIVATE_KEY: KEY, ORACLE_GATEWAY_ADDRESS: GATEWAY, ORACLE_ADAPTER_TOKEN: "bridge-token-123" } });
    const printable = printableSettings(settings);
    expect(printable.PRIVATE_KEY).to.equal(REDACTED);
    expect(printable.ADAPTER_TOKEN).to.equal(REDACTED);
    let logged = "";
    const sink = new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } });
    const logger = createLogger({ level: "info", destination: sink });
    logger.info({ settings }, "raw settings by mistake");
    logger.info({ PRIVATE_KEY: KEY, nested: { ADAPTER_TOKEN: "bridge-token-123" } }, "and loose");
    expect(logged).to.include("raw settings by mistake");
    expect(logged).not.to.include(KEY.slice(2, 20));
    expect(logged).not.to.include("bridge-token-123");
  });

  it("keeps SQLite the default and requires DATABASE_URL for Postgres, printed without its password", function () {
    const base = { ORACLE_PRIVATE_KEY: KEY, ORACLE_GATEWAY_ADDRESS: GATEWAY };
    const embedded = loadSettings({ env: base });
    expect(embedded.JOB_STORE).to.equal("sqlite");
    expect(embedded.REPLICA_ID).to.equal(`${hostname()}-${process.pid}`);
    expect(embedded.NONCE_LEASE_POLL_MS).to.equal(1_000);
    expect(embedded.JOB_CLAIM_MS).to.equal(30_000);

    expect(() => loadSettings({ env: { ...base, ORACLE_JOB_STORE: "postgres" } })).to.throw(ConfigError).with.property("details").that.satisfies(
      (d: { problems: string[] }) => d.problems.some((p) => p.includes("DATABASE_URL is required")));
    expect(() => loadSettings({ env: { ...base, ORACLE_JOB_STORE: "mysql" } })).to.throw(ConfigError);
    expect(() => loadSettings({ env: { ...base, ORACLE_JOB_STORE: "postgres", ORACLE_DATABASE_URL: "http://db:5432/x" } })).to.throw(ConfigError);
    expect(() => loadSettings({ env: { ...base, ORACLE_NONCE_LEASE_POLL_MS: "10" } })).to.throw(ConfigError);

    const url = "postgres://oracle:s3cret-pw@db.internal:5432/oracle";
    const replicated = loadSettings({ env: { ...base, ORACLE_JOB_STORE: "postgres", ORACLE_DATABASE_URL: url, ORACLE_REPLICA_ID: "oracle-a", ORACLE_JOB_CLAIM_MS: "5000" } });
    expect(replicated.DATABASE_URL).to.equal(url);
    expect(replicated.REPLICA_ID).to.equal("oracle-a");
    expect(replicated.JOB_CLAIM_MS).to.equal(5_000);
    const printable = JSON.stringify(printableSettings(replicated));
    expect(printable).to.include("db.internal:5432/oracle").and.not.include("s3cret-pw");
    let logged = "";
    const sink = new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } });
    createLogger({ level: "info", destination: sink }).info({ settings: replicated }, "raw settings by mistake");
    expect(logged).to.include("raw settings by mistake").and.not.include("s3cret-pw");
    // libpq's query-parameter form of the same secrets.
    const inQuery = loadSettings({ env: { ...base, ORACLE_JOB_STORE: "postgres", ORACLE_DATABASE_URL: "postgres://oracle@db.internal/oracle?password=q-pw&sslpassword=key-pw&sslmode=require" } });
    const printedQuery = JSON.stringify(printableSettings(inQuery));
    expect(printedQuery).to.include("sslmode=require").and.not.include("q-pw").and.not.include("key-pw");
  });

  it("documents every setting in one table", function () {
    const table = settingsMarkdownTable();
    for (const name of Object.keys(SETTINGS)) expect(table).to.include(`\`${name}\``);
    expect(table).to.match(/PRIVATE_KEY.*\| yes \|/);
  });

  it("is printed in docs/oracle.md exactly as the code defines it", function () {
    const doc = readFileSync(new URL("../../docs/oracle.md", import.meta.url), "utf8");
    expect(doc).to.include(settingsMarkdownTable());
  });
});
