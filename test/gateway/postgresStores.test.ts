import { expect } from "chai";

import type { NonceCache } from "../../gateway/auth/nonceCache.js";
import { openGatewayDatabase, type GatewayDatabase } from "../../gateway/postgres/database.js";
import { createPostgresNonceCache } from "../../gateway/postgres/nonces.js";
import { startPostgres, type PostgresCluster } from "../services/postgres.js";

const SIGNER = "0x00000000000000000000000000000000000000aA";

describe("gateway: state shared by replicas in Postgres", function () {
  this.timeout(120_000);
  let cluster: PostgresCluster;
  // Two pools on one database: what two replicas are.
  let one: GatewayDatabase;
  let two: GatewayDatabase;
  let a: NonceCache;
  let b: NonceCache;

  before(async function () {
    cluster = await startPostgres();
    const url = await cluster.createDatabase("gateway_stores");
    // Both create the schema at once: the advisory lock keeps them from colliding.
    [one, two] = await Promise.all([openGatewayDatabase(url), openGatewayDatabase(url)]);
    a = createPostgresNonceCache(one.pool, { windowSeconds: 120 });
    b = createPostgresNonceCache(two.pool, { windowSeconds: 120 });
  });

  after(async function () {
    await one?.close();
    await two?.close();
    await cluster?.stop();
  });

  describe("nonces", function () {
    const now = 1_000_000;

    it("refuses on one replica a nonce used on the other, and tells the same request's retry apart", async function () {
      expect(await a.use(SIGNER, "0x01", "0xd1", now, now)).to.equal("fresh");
      expect(await b.use(SIGNER, "0x01", "0xd2", now, now)).to.equal("replay");
      expect(await b.use(SIGNER.toLowerCase(), "0x01", "0xd1", now, now)).to.equal("retry");
      expect(await a.use(SIGNER, "0x02", "0xd1", now, now)).to.equal("fresh");
    });

    it("gives a retry on the other replica the reply the first one recorded", async function () {
      expect(await a.use(SIGNER, "0x03", "0xd3", now, now)).to.equal("fresh");
      expect(await b.recordedReply(SIGNER, "0x03")).to.equal(undefined);
      await a.recordReply(SIGNER, "0x03", { status: 201, contentType: "application/json", body: new TextEncoder().encode('{"ok":true}') });
      const reply = await b.recordedReply(SIGNER, "0x03");
      expect(reply?.status).to.equal(201);
      expect(new TextDecoder().decode(reply?.body)).to.equal('{"ok":true}');
    });

    it("lets exactly one of many concurrent claims of a nonce through", async function () {
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).use(SIGNER, "0x04", `0xe${i}`, now, now)));
      expect(claims.filter((c) => c === "fresh")).to.have.length(1);
      expect(claims.filter((c) => c === "replay")).to.have.length(19);
    });

    it("forgets a nonce once its window has passed (the timestamp check refuses such a request anyway)", async function () {
      expect(await a.use(SIGNER, "0x05", "0xd5", now, now)).to.equal("fresh");
      expect(await b.use(SIGNER, "0x05", "0xd6", now, now + 120)).to.equal("replay");
      const later = now + 121;
      expect(await b.use(SIGNER, "0x05", "0xd6", later, later)).to.equal("fresh");
      expect(await a.recordedReply(SIGNER, "0x05")).to.equal(undefined);
      const size = await a.size();
      expect(size).to.be.greaterThan(0);
      // The sweep at `later` removed every nonce of `now` (expiry now + 120 < later) except the re-claimed one.
      expect(size).to.equal(1);
    });
  });
});
