#!/bin/sh
# One-shot setup container (docker-compose.yml `setup`), run once Elasticsearch is healthy:
# give the built-in kibana_system user the password Kibana logs in with, KIBANA_PASSWORD.
# Kibana 8 refuses to run as the `elastic` superuser, and kibana_system has no password of its
# own until one is set through the security API. Setting the same password again changes
# nothing, so this runs on every `docker compose up`.
set -eu
. "$(dirname "$0")/lib.sh"

: "${KIBANA_PASSWORD:?set KIBANA_PASSWORD in .env}"
ES_URL="${ES_URL:-http://elasticsearch:9200}"

if [ "${#KIBANA_PASSWORD}" -lt 6 ]; then
  fail "KIBANA_PASSWORD must be at least 6 characters long"
fi

code="$(call POST "$ES_URL/_security/user/kibana_system/_password" \
  "{\"password\":$(json_string "$KIBANA_PASSWORD")}")"
case "$code" in
  200) echo "kibana_system password set" ;;
  401) fail "Elasticsearch refused the elastic user: ELASTIC_PASSWORD in .env is not the" \
    "cluster's (it is read only when the elasticsearch-data volume is created)" ;;
  *) fail "could not set the kibana_system password: HTTP $code from $ES_URL" ;;
esac
