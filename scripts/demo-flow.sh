# The client flow of scripts/demo, sourced by it: every step goes through the
# `strongroom` client exactly as a trader or platform would run it.
# shellcheck shell=bash

demo_flow() {
  local out="$DEV_DIR/demo-out"
  rm -rf "$out"
  mkdir -p "$out"
  local policy=(--trust-dev-root "$DEV_ROOT" --pcrs "$PCRS_JSON")
  local conn=(--host "$HOST_URL" --api-key "$API_KEY")
  # The trader's owner key (created by `submit`, mode 0600): only it can
  # revoke the credential, publish its results or ask beyond its policy.
  export STRONGROOM_OWNER_KEY="$out/owner.key"

  say "1/6 quote: fetch the enclave's attestation and verify it (dev root, PCR policy, fresh nonce)"
  "$CLIENT" quote "${conn[@]}" "${policy[@]}"

  say "2/6 submit: seal the exchange keys, the owner key and the policy (whole days, every symbol, hourly) to the attested HPKE key and submit them (the host sees ciphertext only)"
  EXCHANGE_API_KEY=demo-api-key EXCHANGE_API_SECRET=demo-api-secret \
    "$CLIENT" submit "${conn[@]}" "${policy[@]}" --exchange binance --label main --ttl 3600 --json \
    >"$out/submit.json"
  local session credential
  session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$out/submit.json")
  credential=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["credential"])' "$out/submit.json")
  say "    session $session, credential $credential"

  say "3/6 aggregates: the enclave fetches the history over TLS through the egress proxy, computes and signs"
  "$CLIENT" aggregates "${conn[@]}" "${policy[@]}" --session "$session" --credential "$credential" --out "$out/result.json"

  local tlog=()
  if [ "$WITNESSES" -gt 0 ]; then
    # The tlog-policy a verifier keeps: the log's note key and the witnesses.
    {
      echo "log $LOG_VKEY"
      local w names=()
      for w in $(seq 1 "$WITNESSES"); do
        echo "witness W$w ${WITNESS_VKEYS[$((w-1))]}"
        names+=("W$w")
      done
      echo "group witnesses all ${names[*]}"
      echo "quorum witnesses"
    } >"$out/tlog-policy"
    tlog=(--tlog-policy "$out/tlog-policy")
  fi
  say "4/6 verify-result, offline: dev root -> attestation -> PCRs -> signing key -> aggregate -> log inclusion$([ "$WITNESSES" -gt 0 ] && echo " -> checkpoint cosigned by $WITNESSES witness(es)")"
  "$CLIENT" verify-result "$out/result.json" "${policy[@]}" "${tlog[@]}"
  if [ "$WITNESSES" -gt 0 ]; then
    curl -fsS "$HOST_URL/checkpoint" >"$out/checkpoint.txt" || die "no /checkpoint"
    say "    the log's newest checkpoint (GET /checkpoint), checked under the same policy:"
    "$CLIENT" verify-checkpoint "$out/checkpoint.txt" --policy "$out/tlog-policy"
  fi

  say "5/6 the figures equal the ones computed by hand (scripts/fixtures/demo.expected.json), the returns the independent reference"
  python3 - "$out/result.json" "$ROOT/scripts/fixtures/demo.expected.json" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))["aggregates"]
want = json.load(open(sys.argv[2]))
for part in ("symbols", "totals"):
    if got[part] != want[part]:
        sys.exit(f"{part} differ:\n got  {json.dumps(got[part], sort_keys=True)}\n want {json.dumps(want[part], sort_keys=True)}")
print("    symbols and totals match the hand-computed figures")
PY
  python3 - "$out/result.json" "$ROOT/scripts/checks/returns_series.py" "$ROOT/scripts/fixtures/demo.json" <<'PY'
import json, subprocess, sys
got = json.load(open(sys.argv[1]))["aggregates"].get("returns")
want = json.loads(subprocess.run([sys.executable, sys.argv[2], sys.argv[3], "demo-api-key"],
                                 check=True, capture_output=True, text=True).stdout)
if got != want:
    sys.exit(f"returns differ from the independent reference:\n got  {json.dumps(got)}\n want {json.dumps(want)}")
print(f"    returns ({got['days']} daily returns, twr {got['twr']}) match the independent reference (scripts/checks/returns_series.py)")
PY

  say "    publish, signed by the owner key: GET /r/{id} serves the result bundle with the consent, which the verifier checks (B3)"
  "$CLIENT" publish "${conn[@]}" --session "$session" --credential "$credential"
  local rid
  rid=$(python3 -c 'import base64,hashlib,json,sys; print(hashlib.sha256(base64.b64decode(json.load(open(sys.argv[1]))["aggregates_signed"])).hexdigest())' "$out/result.json")
  curl -fsS "$HOST_URL/r/$rid" >"$out/bundle.json" || die "the published result is not served at /r/$rid"
  "$CLIENT" verify-result "$out/bundle.json" "${policy[@]}" >/dev/null
  say "    /r/$rid verified, with its owner's consent"

  say "6/6 revoke, signed by the owner key: the enclave refuses the credential from now on, the log records it, the host purges the session"
  "$CLIENT" revoke "${conn[@]}" --session "$session" --credential "$credential"
  if "$CLIENT" aggregates "${conn[@]}" "${policy[@]}" --session "$session" >/dev/null 2>"$out/after-revoke.err"; then
    die "aggregates after revoke succeeded"
  fi
  say "    after revoke: $(cat "$out/after-revoke.err")"

  say "the host never held the secret: scanning pg_dump and every log for it"
  local dump="$out/pg_dump.sql"
  pg_dump "$DATABASE_URL" >"$dump" || die "pg_dump failed"
  [ -s "$dump" ] || die "pg_dump produced nothing"
  if grep -rl "demo-api-secret" "$dump" "$LOGS" "$out"/*.json; then
    die "the exchange secret appears on the host side"
  fi
  say "    not found in pg_dump ($(wc -c <"$dump") bytes) or logs"
}

# With --instances N >= 2: the key ring is shared by every instance, survives
# an enclave crash (from KMS, or from a peer without KMS) and rotates with no
# downtime.
demo_instances_flow() {
  local out="$DEV_DIR/demo-out"
  local policy=(--trust-dev-root "$DEV_ROOT" --pcrs "$PCRS_JSON")
  local a=(--host "${HOST_URLS[0]}" --api-key "$API_KEY")
  local b=(--host "${HOST_URLS[1]}" --api-key "$API_KEY")

  export STRONGROOM_OWNER_KEY="$out/owner.key"

  say "instances 1/5: submit through instance 1, aggregate through instance 2 (one key ring, shared)"
  # Three computations in a row: a policy without the hourly interval.
  EXCHANGE_API_KEY=demo-api-key EXCHANGE_API_SECRET=demo-api-secret \
    "$CLIENT" submit "${a[@]}" "${policy[@]}" --exchange binance --label shared --ttl 3600 --min-interval 0 --json \
    >"$out/submit-shared.json"
  local session
  session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$out/submit-shared.json")
  local tlog=()
  [ "$WITNESSES" -gt 0 ] && tlog=(--tlog-policy "$out/tlog-policy")
  "$CLIENT" aggregates "${b[@]}" "${policy[@]}" --session "$session" --out "$out/result-b.json"
  "$CLIENT" verify-result "$out/result-b.json" "${policy[@]}" "${tlog[@]}"

  say "instances 2/5: SIGKILL enclave 1; its supervisor restarts it and host 1 recovers the ring ($([ "$KMS" = 1 ] && echo "from the KMS double" || echo "from instance 2 by attested sync"))"
  local old_pid
  old_pid=$(cat "$RUN/enclave-1.pid")
  kill -KILL "$old_pid"
  wait_for sh -c "[ \"\$(cat '$RUN/enclave-1.pid')\" != '$old_pid' ]" || die "enclave 1 was not restarted"
  # readyz fails while the new enclave is booting, then passes once it holds the ring.
  local i
  for i in $(seq 1 300); do
    if curl -fsS "${HOST_URLS[0]}/readyz" >/dev/null 2>&1 && [ "$i" -gt 5 ]; then break; fi
    sleep 0.2
  done
  curl -fsS "${HOST_URLS[0]}/readyz" >/dev/null || die "host 1 did not become ready again (see $LOGS/host-1.log)"
  say "    enclave 1 is back (pid $(cat "$RUN/enclave-1.pid"))"

  say "instances 3/5: the session submitted before the crash is served by the restarted enclave, and the log goes on"
  "$CLIENT" aggregates "${a[@]}" "${policy[@]}" --session "$session" --out "$out/result-a.json"
  "$CLIENT" verify-result "$out/result-a.json" "${policy[@]}" "${tlog[@]}"

  say "instances 4/5: rotate the key ring under the running stack (new version, re-seal stored credentials, retire the old one)"
  "$BIN_DIR/strongroom-host" keys rotate 2>>"$LOGS/keys.log"
  "$BIN_DIR/strongroom-host" keys status 2>>"$LOGS/keys.log"
  "$CLIENT" aggregates "${b[@]}" "${policy[@]}" --session "$session" --out "$out/result-rotated.json"
  "$CLIENT" verify-result "$out/result-rotated.json" "${policy[@]}" "${tlog[@]}"

  say "instances 5/5: still no plaintext on the host side (pg_dump, logs)"
  local dump="$out/pg_dump-instances.sql"
  pg_dump "$DATABASE_URL" >"$dump" || die "pg_dump failed"
  if grep -rl "demo-api-secret" "$dump" "$LOGS" "$out"/*.json; then
    die "the exchange secret appears on the host side"
  fi
  say "    not found"
}
