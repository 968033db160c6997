"""The Elasticsearch stand-in, driven through the official client as the store will drive it."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import elasticsearch
import pytest
from elasticsearch import Elasticsearch, helpers

from tests.es_standin import EsStandIn

ALIAS = "articles"
TEMPLATE = {
    "index_patterns": [f"{ALIAS}-*"],
    "priority": 10,
    "template": {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "dynamic": "strict",
            "_source": {"excludes": ["hidden_words"]},
            "properties": {
                "id": {"type": "keyword"},
                "title": {"type": "text"},
                "hidden_words": {"type": "text"},
                "published_at": {"type": "date"},
                "revision": {"type": "integer"},
            },
        },
    },
}


@pytest.fixture
def standin() -> Iterator[EsStandIn]:
    with EsStandIn(plugins=["analysis-icu"]) as running:
        yield running


@pytest.fixture
def client(standin: EsStandIn) -> Elasticsearch:
    return Elasticsearch(standin.url, request_timeout=5)


@pytest.fixture
def articles(standin: EsStandIn, client: Elasticsearch) -> Elasticsearch:
    """The template, one concrete index and the alias writing to it."""
    client.indices.put_index_template(name=ALIAS, **TEMPLATE)
    client.indices.create(index=f"{ALIAS}-000001", aliases={ALIAS: {"is_write_index": True}})
    standin.clear()
    return client


def doc(n: int, revision: int = 1, **extra: object) -> dict:
    source = {"id": f"a{n}", "title": f"story {n}", "hidden_words": "w1 w2", "revision": revision}
    source |= {"published_at": "2025-03-01T08:00:00+00:00", **extra}
    return {
        "_index": ALIAS,
        "_id": f"a{n}",
        "version": revision,
        "version_type": "external",
        "_source": source,
    }


def bulk(client: Elasticsearch, actions: list[dict], **kwargs: object) -> list[tuple[bool, dict]]:
    return list(helpers.streaming_bulk(client, actions, raise_on_error=False, **kwargs))


def test_client_accepts_the_stand_in_product_and_reads_its_version(client: Elasticsearch) -> None:
    info = client.info()
    assert info["version"]["number"] == "8.15.0"
    assert info["tagline"] == "You Know, for Search"
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"


def test_client_sends_compatible_with_8_json_and_ndjson(standin, articles) -> None:
    bulk(articles, [doc(1)])
    articles.search(index=ALIAS, query={"match_all": {}})
    sent_bulk, sent_search = standin.requests_to("PUT", "/_bulk$")[0], standin.requests[-1]
    assert sent_bulk.headers["content-type"].startswith("application/vnd.elasticsearch+x-ndjson")
    assert sent_bulk.json[0] == {
        "index": {"_index": ALIAS, "_id": "a1", "version": 1, "version_type": "external"}
    }
    assert "compatible-with=8" in sent_search.headers["accept"]
    assert sent_search.json == {"query": {"match_all": {}}}


def test_matching_new_index_gets_the_template_mappings_and_settings(standin, articles) -> None:
    mapping = articles.indices.get_mapping(index=ALIAS)[f"{ALIAS}-000001"]["mappings"]
    settings = articles.indices.get(index=f"{ALIAS}-000001")[f"{ALIAS}-000001"]["settings"]
    articles.indices.create(index="other", settings={"number_of_shards": 2})
    assert mapping["dynamic"] == "strict" and "revision" in mapping["properties"]
    assert settings["index"]["number_of_shards"] == "1"
    assert standin.indices[f"{ALIAS}-000001"].template == ALIAS
    assert standin.indices["other"].template is None
    assert standin.indices["other"].mappings == {}
    assert articles.indices.exists_index_template(name=ALIAS)
    assert not articles.indices.exists_index_template(name="missing")


def test_alias_swap_applies_every_action_or_none(standin, articles) -> None:
    articles.indices.create(index=f"{ALIAS}-000002")
    old, new = f"{ALIAS}-000001", f"{ALIAS}-000002"
    with pytest.raises(elasticsearch.NotFoundError):
        articles.indices.update_aliases(
            actions=[
                {"add": {"index": new, "alias": ALIAS, "is_write_index": True}},
                {"remove": {"index": new, "alias": "never-added"}},
            ]
        )
    assert list(articles.indices.get_alias(name=ALIAS)) == [old]
    articles.indices.update_aliases(
        actions=[
            {"add": {"index": new, "alias": ALIAS, "is_write_index": True}},
            {"remove_index": {"index": old}},
        ]
    )
    assert articles.indices.get_alias(name=ALIAS) == {
        new: {"aliases": {ALIAS: {"is_write_index": True}}}
    }
    assert not articles.indices.exists(index=old)


def test_two_write_indices_for_one_alias_are_rejected(articles) -> None:
    articles.indices.create(index=f"{ALIAS}-000002")
    with pytest.raises(elasticsearch.BadRequestError, match="illegal_state_exception"):
        articles.indices.update_aliases(
            actions=[{"add": {"index": f"{ALIAS}-000002", "alias": ALIAS, "is_write_index": True}}]
        )


def test_bulk_through_the_alias_writes_to_its_write_index(standin, articles) -> None:
    ok, item = bulk(articles, [doc(1)])[0]
    assert ok and item["index"]["_index"] == f"{ALIAS}-000001"
    assert item["index"]["result"] == "created" and item["index"]["status"] == 201
    assert set(standin.docs(f"{ALIAS}-000001")) == {"a1"}


def test_alias_over_two_indices_without_a_write_index_fails_items(articles) -> None:
    articles.indices.create(index="second", aliases={"both": {}})
    articles.indices.update_aliases(
        actions=[{"add": {"index": f"{ALIAS}-000001", "alias": "both"}}]
    )
    ok, item = bulk(articles, [doc(1) | {"_index": "both"}])[0]
    assert not ok and item["index"]["status"] == 400
    assert "no write index is defined for alias [both]" in item["index"]["error"]["reason"]


def test_external_version_replay_answers_409_and_a_higher_one_updates(standin, articles) -> None:
    bulk(articles, [doc(1, revision=2)])
    (_, replay), (_, older) = bulk(articles, [doc(1, revision=2), doc(1, revision=1)])
    ok, newer = bulk(articles, [doc(1, revision=3)])[0]
    for item in (replay, older):
        assert item["index"]["status"] == 409
        assert item["index"]["error"]["type"] == "version_conflict_engine_exception"
    assert (
        "current version [2] is higher or equal to the one provided [2]"
        in (replay["index"]["error"]["reason"])
    )
    assert ok and newer["index"]["result"] == "updated" and newer["index"]["_version"] == 3
    assert standin.docs(ALIAS)["a1"].version == 3


def test_create_of_an_existing_id_answers_409(articles) -> None:
    source = doc(1)["_source"]
    create = {"_op_type": "create", "_index": ALIAS, "_id": "a1", "_source": source}
    (first_ok, _), (second_ok, second) = bulk(articles, [create, create])
    assert first_ok and not second_ok
    assert second["create"]["status"] == 409
    assert "document already exists" in second["create"]["error"]["reason"]


def test_strict_mapping_rejects_unknown_fields_and_unparseable_dates(articles) -> None:
    results = bulk(articles, [doc(1, surprise="x"), doc(2, published_at="1 March"), doc(3)])
    (_, unknown), (_, bad_date), (ok, _) = results
    assert unknown["index"]["error"]["type"] == "strict_dynamic_mapping_exception"
    assert "[surprise]" in unknown["index"]["error"]["reason"]
    assert bad_date["index"]["error"]["type"] == "document_parsing_exception"
    assert ok


def test_internal_version_in_bulk_is_rejected_as_a_whole(articles) -> None:
    action = doc(1)
    del action["version_type"]
    with pytest.raises(elasticsearch.BadRequestError, match="action_request_validation"):
        bulk(articles, [action])


def test_source_excludes_leave_hits_but_stay_in_the_indexed_body(standin, articles) -> None:
    bulk(articles, [doc(1)])
    hit = articles.search(index=ALIAS)["hits"]["hits"][0]
    assert "hidden_words" not in hit["_source"] and hit["_source"]["title"] == "story 1"
    assert standin.docs(ALIAS)["a1"].indexed["hidden_words"] == "w1 w2"


def test_injected_429_on_the_bulk_request_is_retried_by_the_transport(standin, articles) -> None:
    standin.fail_next("PUT", r"/_bulk$", 429)
    assert bulk(articles, [doc(1)])[0][0]
    attempts = standin.requests_to("PUT", "/_bulk$")
    assert len(attempts) == 2 and attempts[0].body == attempts[1].body


def test_injected_429_is_retried_by_streaming_bulk_when_the_transport_does_not(standin) -> None:
    client = Elasticsearch(standin.url, max_retries=0)
    client.indices.put_index_template(name=ALIAS, **TEMPLATE)
    client.indices.create(index=f"{ALIAS}-000001", aliases={ALIAS: {}})
    standin.fail_next("PUT", r"/_bulk$", 429, times=2)
    assert bulk(client, [doc(1)], max_retries=2, initial_backoff=0)[0][0]
    assert len(standin.requests_to("PUT", "/_bulk$")) == 3
    standin.fail_next("PUT", r"/_bulk$", 429, times=3)
    with pytest.raises(elasticsearch.ApiError) as raised:
        bulk(client, [doc(2)], max_retries=2, initial_backoff=0)
    assert raised.value.body["error"]["type"] == "es_rejected_execution_exception"


def test_item_429_is_retried_by_streaming_bulk_but_item_400_is_reported(standin, articles) -> None:
    standin.fail_items("a1", 429, "es_rejected_execution_exception")
    standin.fail_items("a2", 400, "mapper_parsing_exception")
    results = dict(
        (item["index"]["_id"], (ok, item["index"]))
        for ok, item in bulk(articles, [doc(1), doc(2)], max_retries=2, initial_backoff=0)
    )
    assert results["a1"][0] and results["a1"][1]["result"] == "created"
    assert not results["a2"][0] and results["a2"][1]["error"]["type"] == "mapper_parsing_exception"
    retried = standin.requests_to("PUT", "/_bulk$")[1]
    assert [line for line in retried.json if "index" in line] == [
        {"index": {"_index": ALIAS, "_id": "a1", "version": 1, "version_type": "external"}}
    ]


def test_persistent_503_raises_an_api_error_with_an_es_shaped_body(standin) -> None:
    client = Elasticsearch(standin.url, max_retries=1)
    standin.fail_next("POST", r"/_search$", 503, times=5, headers={"Retry-After": "1"})
    with pytest.raises(elasticsearch.ApiError) as raised:
        client.search(index="anything")
    assert raised.value.meta.status == 503
    assert raised.value.meta.headers["retry-after"] == "1"
    assert raised.value.body["error"]["type"] == "unavailable_shards_exception"
    assert len(standin.requests_to("POST", "_search")) == 2


def test_refused_connection_raises_connection_error_and_restart_keeps_data(
    standin, articles
) -> None:
    bulk(articles, [doc(1)])
    url = standin.url
    standin.refuse()
    with pytest.raises(elasticsearch.ConnectionError):
        articles.count(index=ALIAS)
    standin.accept()
    assert standin.url == url and articles.count(index=ALIAS)["count"] == 1
    standin.restart()
    assert articles.count(index=ALIAS)["count"] == 1


def test_hanging_up_without_an_answer_raises_connection_error(standin) -> None:
    standin.fail_next("*", r"^/$", 0, times=10)
    with pytest.raises(elasticsearch.ConnectionError):
        Elasticsearch(standin.url, max_retries=1).info()


def test_scan_pages_through_every_document_and_clears_its_scroll(standin, articles) -> None:
    bulk(articles, [doc(n) for n in range(25)])
    ids = [hit["_id"] for hit in helpers.scan(articles, index=ALIAS, size=10)]
    assert sorted(ids) == sorted(f"a{n}" for n in range(25))
    assert len(standin.requests_to("POST", "^/_search/scroll$")) == 3
    assert len(standin.requests_to("DELETE", "^/_search/scroll$")) == 1
    assert standin.requests_to("POST", f"^/{ALIAS}/_search$")[0].params["scroll"] == "5m"


def test_search_answers_every_document_paged_unless_a_response_is_canned(standin, articles):
    bulk(articles, [doc(n) for n in range(5)])
    page = articles.search(index=ALIAS, from_=3, size=10, query={"term": {"id": "ignored"}})
    assert [h["_id"] for h in page["hits"]["hits"]] == ["a3", "a4"]
    assert page["hits"]["total"] == {"value": 5, "relation": "eq"}
    assert "aggregations" not in page
    canned = {
        "took": 1,
        "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
        "aggregations": {"stories": {"value": 0}},
    }
    standin.set_search_response(canned)
    assert articles.search(index=ALIAS).body == canned
    assert articles.search(index=ALIAS)["hits"]["total"]["value"] == 5
    assert articles.count(index=ALIAS)["count"] == 5
    assert articles.indices.refresh(index=ALIAS)["_shards"]["failed"] == 0


def test_unknown_routes_and_missing_indices_answer_es_shaped_errors(client) -> None:
    with pytest.raises(elasticsearch.BadRequestError) as unknown:
        client.perform_request("GET", "/_no_such_api/here")
    with pytest.raises(elasticsearch.NotFoundError) as missing:
        client.search(index="missing")
    assert unknown.value.body["error"]["type"] == "illegal_argument_exception"
    assert missing.value.body["error"]["type"] == "index_not_found_exception"
    assert missing.value.body["status"] == 404
    assert not client.indices.exists(index="missing")


def test_missing_alias_and_delete_by_alias_answer_like_es(articles) -> None:
    assert articles.indices.exists_alias(name=ALIAS)
    assert not articles.indices.exists_alias(name="missing")
    with pytest.raises(elasticsearch.NotFoundError, match=r"alias \[missing\] missing"):
        articles.indices.get_alias(name="missing")
    with pytest.raises(elasticsearch.BadRequestError, match="matches an alias"):
        articles.indices.delete(index=ALIAS)


def test_nodes_plugins_lists_the_configured_plugins(client) -> None:
    nodes = client.nodes.info(metric="plugins")["nodes"]
    assert [p["name"] for node in nodes.values() for p in node["plugins"]] == ["analysis-icu"]
    with EsStandIn() as bare:
        bare_nodes = Elasticsearch(bare.url).nodes.info(metric="plugins")["nodes"]
    assert [p for node in bare_nodes.values() for p in node["plugins"]] == []


def test_authorization_headers_are_recorded(standin) -> None:
    Elasticsearch(standin.url, api_key="c2VjcmV0").info()
    Elasticsearch(standin.url, basic_auth=("user", "pass")).info()
    sent = [r.headers["authorization"] for r in standin.requests_to("GET", "^/$")]
    assert sent == ["ApiKey c2VjcmV0", "Basic " + base64.b64encode(b"user:pass").decode()]


def test_required_authorization_answers_401_otherwise() -> None:
    with EsStandIn(auth="ApiKey right") as guarded:
        assert Elasticsearch(guarded.url, api_key="right").info()["version"]
        with pytest.raises(elasticsearch.AuthenticationException):
            Elasticsearch(guarded.url, api_key="wrong").info()


def test_cluster_health_is_yellow_while_an_index_wants_replicas(articles) -> None:
    assert articles.cluster.health(wait_for_status="green")["status"] == "green"
    articles.indices.create(index="replicated")
    assert articles.cluster.health()["status"] == "yellow"
