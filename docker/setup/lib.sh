# Helpers for the one-shot setup scripts beside this file (sourced by them, never run alone).
#
# Requests go out as the `elastic` user (ELASTIC_PASSWORD). While the server is unreachable or
# answers 429 or 5xx they are retried, SETUP_ATTEMPTS times SETUP_RETRY_DELAY seconds apart.

: "${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD in .env}"
SETUP_ATTEMPTS="${SETUP_ATTEMPTS:-30}"
SETUP_RETRY_DELAY="${SETUP_RETRY_DELAY:-5}"
RESPONSE="$(mktemp)"
trap 'rm -f "$RESPONSE"' EXIT

# json_string VALUE: VALUE as a JSON string literal (backslashes and double quotes escaped).
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# send METHOD URL [CURL-ARGS...]: one request; prints the HTTP status, the body goes to $RESPONSE.
send() {
  send_method="$1"
  send_url="$2"
  shift 2
  curl -sS -o "$RESPONSE" -w '%{http_code}' -u "elastic:$ELASTIC_PASSWORD" \
    -H 'Content-Type: application/json' -H 'kbn-xsrf: beatwatch-setup' \
    -X "$send_method" "$@" "$send_url"
}

# call METHOD URL [JSON]: send, retrying as above; prints the final HTTP status (000 when
# nothing answered) and leaves the response body in $RESPONSE.
call() {
  call_attempt=1
  while :; do
    if [ -n "${3-}" ]; then
      call_code="$(send "$1" "$2" --data "$3")" || call_code=000
    else
      call_code="$(send "$1" "$2")" || call_code=000
    fi
    case "$call_code" in
      000 | 429 | 5??) ;;
      *) break ;;
    esac
    [ "$call_attempt" -lt "$SETUP_ATTEMPTS" ] || break
    echo "$1 $2: HTTP $call_code; retrying in ${SETUP_RETRY_DELAY}s" \
      "($call_attempt/$SETUP_ATTEMPTS)" >&2
    call_attempt=$((call_attempt + 1))
    sleep "$SETUP_RETRY_DELAY"
  done
  echo "$call_code"
}

# fail MESSAGE: print MESSAGE and the last response body, then stop with status 1.
fail() {
  echo "$*" >&2
  if [ -s "$RESPONSE" ]; then
    cat "$RESPONSE" >&2
    echo >&2
  fi
  exit 1
}
