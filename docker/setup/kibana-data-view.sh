#!/bin/sh
# One-shot setup container (docker-compose.yml `kibana-setup`), run once Kibana is healthy:
# a Kibana data view over beatwatch's articles alias, with published_at as its time field, so
# Discover opens on the articles with no clicks. A data view with the same id is left as it is
# (an analyst may have edited it), so running this again changes nothing.
set -eu
. "$(dirname "$0")/lib.sh"

KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
DATA_VIEW_ID="${DATA_VIEW_ID:-beatwatch-articles}"
DATA_VIEW_INDEX="${DATA_VIEW_INDEX:-beatwatch-articles}"
DATA_VIEW_TIME_FIELD="${DATA_VIEW_TIME_FIELD:-published_at}"
DATA_VIEW_NAME="${DATA_VIEW_NAME:-beatwatch articles}"

code="$(call GET "$KIBANA_URL/api/data_views/data_view/$DATA_VIEW_ID")"
case "$code" in
  200)
    echo "data view $DATA_VIEW_ID exists; left as it is"
    exit 0
    ;;
  404) ;;
  *) fail "could not look up data view $DATA_VIEW_ID: HTTP $code from $KIBANA_URL" ;;
esac

# allowNoIndex: the alias appears only when beatwatch first writes to Elasticsearch.
body="{\"data_view\":{\"id\":$(json_string "$DATA_VIEW_ID"),\
\"title\":$(json_string "$DATA_VIEW_INDEX"),\
\"name\":$(json_string "$DATA_VIEW_NAME"),\
\"timeFieldName\":$(json_string "$DATA_VIEW_TIME_FIELD"),\
\"allowNoIndex\":true}}"
code="$(call POST "$KIBANA_URL/api/data_views/data_view" "$body")"
[ "$code" = 200 ] || fail "could not create data view $DATA_VIEW_ID: HTTP $code from $KIBANA_URL"
echo "data view $DATA_VIEW_ID created over $DATA_VIEW_INDEX (time field $DATA_VIEW_TIME_FIELD)"
