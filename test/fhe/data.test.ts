import { readFileSync } from "node:fs";

import { expect } from "chai";

import { sha256Hex } from "../../core/hash.js";
import { loadHeartDisease, loadMaternalRisk } from "../../models/datasets.js";

// Copies that circulate online are often corrupted: the training data is pinned byte for byte.
const PINS = {
  "processed.cleveland.data": "0xa74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8",
  "maternal-health-risk.csv": "0xce72307ee15c63de2569d38462f3dbc2b785e5b23be8fe4527590d4320f80193",
  "heart-disease.names": "0x45f5e78435232e986e5259b06efa10c36b9221dbff73ee9aca497459d592095c",
} as const;

describe("fhe: datasets", function () {
  for (const [file, pin] of Object.entries(PINS)) {
    it(`pins data/${file} by SHA-256`, function () {
      expect(sha256Hex(readFileSync(new URL(`../../data/${file}`, import.meta.url)))).to.equal(pin);
    });
  }

  it("imputes exactly the six '?' of the Cleveland data and binarises num > 0", function () {
    const heart = loadHeartDisease();
    expect(heart.rows).to.have.length(303);
    expect(heart.notes.filter((n) => n.includes("'?' imputed"))).to.have.length(6);
    expect(heart.labels.filter((y) => y === 1)).to.have.length(55 + 36 + 35 + 13);
    expect(heart.rows.every((row) => Object.values(row).every(Number.isFinite))).to.equal(true);
  });

  it("de-duplicates the maternal set before anything else (562 duplicates, 1 implausible row)", function () {
    const maternal = loadMaternalRisk();
    expect(maternal.notes).to.deep.equal(["1014 rows read", "562 exact duplicates removed", "1 rows with heart rate < 30 bpm removed"]);
    expect(maternal.rows).to.have.length(451);
    const keys = maternal.rows.map((row, i) => `${JSON.stringify(row)}|${maternal.labels[i]}`);
    expect(new Set(keys).size).to.equal(keys.length);
  });
});
