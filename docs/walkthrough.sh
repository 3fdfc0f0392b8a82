#!/usr/bin/env bash
# The MedCipher CLI journey from keys to audit, against a running `npx hardhat node`:
# deploy, keys, patient, device, ingest, consent, share, read, predict (oracle daemon + gateway
# running), result, revoke, the refused read, verify, audit. test/cli/walkthrough.test.ts runs
# this very file end to end, so what you read here is what works.
#
#   npx hardhat node &                 # terminal 1 (or anything at $MEDCIPHER_RPC)
#   bash docs/walkthrough.sh           # from the repository root; Node >= 22.13 on PATH
#
# Settings (environment): MEDCIPHER_RPC (default http://127.0.0.1:8545), WALKTHROUGH_DIR (where
# keys, records, gateway and oracle data go; default a new temp dir), GATEWAY_PORT (8787),
# ORACLE_PORT (8080). Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."

RPC=${MEDCIPHER_RPC:-http://127.0.0.1:8545}
WORK=${WALKTHROUGH_DIR:-$(mktemp -d)}
GATEWAY_PORT=${GATEWAY_PORT:-8787}
ORACLE_PORT=${ORACLE_PORT:-8080}
mkdir -p "$WORK"

export MEDCIPHER_RPC=$RPC
export MEDCIPHER_HOME=$WORK/home
export MEDCIPHER_DEPLOYMENT=$WORK/deployments/31337.json
export MEDCIPHER_GATEWAY=http://127.0.0.1:$GATEWAY_PORT
export MEDCIPHER_PASSWORD=${MEDCIPHER_PASSWORD:-walkthrough password}

# What `npm run medcipher --` runs (exec node --import tsx cli/medcipher.ts).
mc() { node --import tsx cli/medcipher.ts "$@"; }
# One field of a JSON object on stdin: `… --json | field address`.
field() { node -e 'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(String(process.argv[1].split(".").reduce((o, k) => o[k], v)))' "$1"; }
step() { printf '\n== %s\n' "$*"; }
wait_http() { for _ in $(seq 1 120); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done; echo "no answer at $1" >&2; return 1; }

SERVICES=()
stop_services() { for pid in "${SERVICES[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_services EXIT

# Development accounts of `hardhat node` (the well-known keys it prints at start):
# #0 governance (deployer, device vendor, relayer), #1 the oracle's sender (the deploy's default
# oracle), #2 device, #3 clinician, #4 gateway, #5 patient. The patient is NOT #1: the oracle
# sends a transaction per fulfilment, and a shared account would share its nonce.
ADMIN_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
ORACLE_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
DEVICE_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
CLIN_KEY=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
GW_KEY=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
PATIENT_KEY=0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba
export ADMIN_KEY DEVICE_KEY CLIN_KEY GW_KEY PATIENT_KEY

step "keys (one encrypted keystore per identity)"
# --scrypt-n 1024 keeps the walkthrough quick; leave it out for real keys (default N = 131072).
ADMIN=$(mc -i admin --json keys init --scrypt-n 1024 --import-env ADMIN_KEY | field address)
DEVICE=$(mc -i device --json keys init --scrypt-n 1024 --import-env DEVICE_KEY | field address)
CLINICIAN_JSON=$(mc -i clinician --json keys init --scrypt-n 1024 --import-env CLIN_KEY)
CLINICIAN=$(echo "$CLINICIAN_JSON" | field address)
CLINICIAN_KEY=$(echo "$CLINICIAN_JSON" | field encryptionPublicKey)
GATEWAY=$(mc -i gateway --json keys init --scrypt-n 1024 --import-env GW_KEY | field address)
PATIENT=$(mc -i patient --json keys init --scrypt-n 1024 --import-env PATIENT_KEY | field address)
echo "admin $ADMIN, device $DEVICE, clinician $CLINICIAN, gateway $GATEWAY, patient $PATIENT"

step "deploy: contracts, the oracle (#1) admitted, gateway and vendor roles, the patient sponsored, models"
npm run -s deploy -- --network localhost --rpc "$RPC" --out "$WORK/deployments" --quiet-ignition \
  --gateway "$GATEWAY" --vendor "$ADMIN" --sponsor "$PATIENT"
START_BLOCK=$(field deploymentBlock < "$MEDCIPHER_DEPLOYMENT")

step "gateway (its own process; GATEWAY_ROLE from the deploy)"
# `node` itself in the background (not the mc function): $! is then the service, and the EXIT trap stops it.
node --import tsx cli/medcipher.ts -i gateway gateway serve --data-dir "$WORK/gateway" --port "$GATEWAY_PORT" --anchor-interval 2 &
SERVICES+=($!)
wait_http "$MEDCIPHER_GATEWAY/healthz"

step "oracle daemon (its own process; ORACLE_ROLE and the Operator from the deploy)"
ORACLE_RPC_URL=$RPC ORACLE_CHAIN_ID=31337 ORACLE_DEPLOYMENT_FILE=$MEDCIPHER_DEPLOYMENT ORACLE_START_BLOCK=$START_BLOCK \
  ORACLE_PRIVATE_KEY=$ORACLE_KEY ORACLE_GATEWAY_URL=$MEDCIPHER_GATEWAY ORACLE_GATEWAY_ADDRESS=$GATEWAY \
  ORACLE_DATA_DIR=$WORK/oracle ORACLE_HTTP_PORT=$ORACLE_PORT ORACLE_POLL_INTERVAL_MS=200 ORACLE_LOG_LEVEL=${ORACLE_LOG_LEVEL:-warn} \
  node --import tsx cli/medcipher.ts oracle start &
SERVICES+=($!)
wait_http "http://127.0.0.1:$ORACLE_PORT/healthz"

step "patient: CKKS key set saved, uploaded, registered"
mc -i patient patient register

step "device: registered by the vendor, bound by the patient"
mc -i admin device register "$DEVICE"
mc -i patient device bind device --days 1

step "ingest docs/examples/readings.csv (glucose in mg/dL) as the device"
RECORD=$(mc -i device --json ingest docs/examples/readings.csv --patient "$PATIENT" --per-record 3 | field records.0.blobId)
echo "first record $RECORD"

step "consent: TREAT for the clinician, submitted by a relayer (gasless for the patient)"
mc -i patient consent grant --grantee "$CLINICIAN" --purpose TREAT --relayer admin

step "share the record with the clinician, who reads it"
SHARE=$(mc -i patient --json share "$RECORD" --grantee "$CLINICIAN" --grantee-key "$CLINICIAN_KEY" | field shareId)
mc -i clinician read "$SHARE" --purpose TREAT

step "predict maternal-risk-v1 on docs/examples/features.json (encrypted; the oracle never sees it)"
REQUEST=$(mc -i patient --json predict --model maternal-risk-v1 --input docs/examples/features.json | field requestId)
mc -i patient result "$REQUEST" --timeout 120

step "revoke, and the clinician's read is refused (exit 5)"
mc -i patient consent revoke --grantee "$CLINICIAN" --purpose TREAT
set +e
mc -i clinician read "$SHARE" --purpose TREAT
REFUSED=$?
set -e
if [ "$REFUSED" -ne 5 ]; then echo "expected exit 5 (refused) after the revocation, got $REFUSED" >&2; exit 1; fi

step "verify the record against the chain, without decrypting"
mc -i patient verify "$RECORD"

step "audit: every step, checked against the anchored head"
sleep 3 # one anchor interval, so the gateway's last accesses are under an anchored head
mc -i patient audit

echo
echo "walkthrough complete"
