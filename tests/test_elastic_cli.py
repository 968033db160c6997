"""End to end with ``store.backend: elasticsearch``: crawls of the loopback outlets writing
through the spool to the local HTTP stand-in (not Elasticsearch; see tests/es_standin.py),
the cluster going away mid-life, ``status``, and the ``index`` commands."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import Project

ALIAS = "bw-e2e"


@pytest.fixture
def es_project(project: Project, es_standin) -> Project:
    project.config["store"] = {
        "backend": "elasticsearch",
        "path": str(project.db_path),
        "elasticsearch": {
            "url": es_standin.url,
            "index": ALIAS,
            "timeout": 5,
            "retries": 1,
            "retry_backoff": 0.01,
            "batch_size": 3,
        },
    }
    return project


def _stored_ids(project: Project) -> set[str]:
    with sqlite3.connect(project.db_path) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM articles")}


def _bulk_ids(standin) -> list[str]:
    return [
        line["index"]["_id"]
        for r in standin.requests
        if r.path.endswith("/_bulk")
        for line in r.json
        if "index" in line
    ]


def test_a_crawl_indexes_every_stored_article_in_the_cluster_once(es_project, es_standin):
    result = es_project.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()
    stored = _stored_ids(es_project)
    copies = summary["totals"]["new"] + summary["totals"]["duplicates"]  # copies are stored too
    assert summary["index"]["indexed"] == copies == len(stored) > 0
    assert summary["index"]["backlog"]["pending"] == 0
    assert set(es_standin.docs(ALIAS)) == stored
    assert sorted(_bulk_ids(es_standin)) == sorted(stored)  # each sent exactly once

    again = es_project.cli("crawl", "--json").json()
    assert again["totals"]["new"] == 0 and again["index"]["indexed"] == 0
    assert sorted(_bulk_ids(es_standin)) == sorted(stored)


def test_with_the_cluster_down_the_crawl_goes_on_and_the_next_replay_catches_up(
    es_project, es_standin
):
    es_standin.stop()
    result = es_project.cli("crawl", "--json")
    assert result.code == 0, result.stderr
    summary = result.json()
    stored = _stored_ids(es_project)
    assert summary["totals"]["new"] > 0
    assert summary["index"]["error"] and summary["index"]["backlog"]["pending"] == len(stored)
    assert summary["alerts"]["queued"] > 0  # alerts do not wait for the index

    status = es_project.cli("status", "--json").json()["index"]
    assert status["spool"]["pending"] == len(stored)
    assert status["cluster"]["reachable"] is False
    assert "UNREACHABLE" in es_project.cli("status").stdout

    refused = es_project.cli("index", "replay")
    assert refused.code == 1 and "Elasticsearch at" in refused.stderr

    es_standin.restart()
    replay = es_project.cli("index", "replay", "--json")
    assert replay.code == 0, replay.stderr
    assert replay.json()["indexed"] == len(stored)
    assert replay.json()["spool"]["pending"] == 0
    assert set(es_standin.docs(ALIAS)) == stored
    assert {d.version for d in es_standin.docs(ALIAS).values()} == {1}


def test_search_names_the_unreachable_cluster(es_project, es_standin):
    es_standin.stop()
    result = es_project.cli("search", "Ream")
    assert result.code == 1
    assert f"Elasticsearch at {es_standin.url}" in result.stderr


def test_migrating_an_embedded_index_is_resumable_and_sends_each_article_once(
    es_project, es_standin
):
    es_project.config["store"]["backend"] = "sqlite"
    assert es_project.cli("crawl").code == 0
    stored = sorted(_stored_ids(es_project))
    assert es_standin.requests == []  # the sqlite backend never talks to the cluster
    stuck = stored[-1]
    es_standin.fail_items(stuck, 503, "unavailable_shards_exception", times=100)

    first = es_project.cli("index", "migrate", "--to", "elasticsearch", "--json")
    assert first.code == 1 and "run the command again" in first.stderr
    assert first.json()["deferred"] == 1
    assert set(es_standin.docs(ALIAS)) == set(stored) - {stuck}

    es_standin.fail_items(stuck, 503, "unavailable_shards_exception", times=0)
    sent_before = len(_bulk_ids(es_standin))
    second = es_project.cli("index", "migrate", "--to", "elasticsearch")
    assert second.code == 0, second.stderr
    assert _bulk_ids(es_standin)[sent_before:] == [stuck]  # only what was left
    assert set(es_standin.docs(ALIAS)) == set(stored)


def test_migrating_back_fills_a_fresh_embedded_index_from_the_cluster(
    es_project, es_standin, tmp_path
):
    assert es_project.cli("crawl").code == 0
    stored = _stored_ids(es_project)
    fresh = tmp_path / "fresh.db"
    es_project.config["store"].update(backend="sqlite", path=str(fresh))
    moved = es_project.cli("index", "migrate", "--to", "sqlite", "--json")
    assert moved.code == 0, moved.stderr
    assert moved.json()["new"] == len(stored)
    with sqlite3.connect(fresh) as conn:
        assert {r[0] for r in conn.execute("SELECT id FROM articles")} == stored
    found = es_project.cli("search", '"Kem Sokha" OR "កឹម សុខា"', "--json").json()
    assert found["total"] > 0

    again = es_project.cli("index", "migrate", "--to", "sqlite", "--json").json()
    assert again["new"] == 0 and again["unchanged"] == len(stored)


def test_rebuild_copies_into_a_new_index_and_moves_the_alias(es_project, es_standin):
    assert es_project.cli("crawl").code == 0
    stored = _stored_ids(es_project)
    result = es_project.cli("index", "rebuild", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert (data["old_index"], data["new_index"]) == (f"{ALIAS}-000001", f"{ALIAS}-000002")
    assert data["copied"] == len(stored) and data["old_deleted"] is True
    assert set(es_standin.indices) == {f"{ALIAS}-000002"}
    assert es_standin.indices[f"{ALIAS}-000002"].aliases == {ALIAS: {"is_write_index": True}}
    assert set(es_standin.docs(ALIAS)) == stored

    kept = es_project.cli("index", "rebuild", "--keep-old").stdout
    assert f"now on {ALIAS}-000003" in kept
    assert set(es_standin.indices) == {f"{ALIAS}-000002", f"{ALIAS}-000003"}


def test_the_scheduler_replays_the_spool_every_minute(es_project, es_standin):
    from crawler.config import load_config
    from crawler.scheduler import Scheduler

    es_standin.stop()
    assert es_project.cli("crawl").code == 0
    stored = _stored_ids(es_project)
    sched = Scheduler(load_config(es_project.write()), config_path=es_project.config_path)
    sched.add_jobs()
    job = sched.scheduler.get_job("index-replay")
    assert job is not None and job.trigger.interval.total_seconds() == 60
    es_standin.restart()
    job.func()
    assert set(es_standin.docs(ALIAS)) == stored


def test_a_hung_cluster_neither_stalls_the_crawl_nor_holds_back_alerts(es_project):
    from tests.test_elastic_contract import HungServer

    hung = HungServer()
    try:
        es_project.config["store"]["elasticsearch"].update(url=hung.url, timeout=0.5)
        result = es_project.cli("crawl", "--json")
        assert result.code == 0, result.stderr
        summary = result.json()
        assert "timeout" in summary["index"]["error"]
        assert summary["index"]["backlog"]["pending"] == len(_stored_ids(es_project)) > 0
        assert summary["alerts"]["sent"] > 0  # delivered before the index was tried
        text = es_project.cli("crawl")
        assert "waiting in the spool (cluster:" in text.stdout
    finally:
        hung.close()


def test_a_rebuild_that_new_index_refuses_documents_keeps_the_old_one_and_exits_1(
    es_project, es_standin
):
    assert es_project.cli("crawl").code == 0
    stored = sorted(_stored_ids(es_project))
    es_standin.fail_items(stored[0], 400, "mapper_parsing_exception", times=1)
    result = es_project.cli("index", "rebuild")
    assert result.code == 1
    assert "refused by the new index" in result.stderr and f"{ALIAS}-000001 was kept" in (
        result.stderr
    )
    assert set(es_standin.indices) == {f"{ALIAS}-000001", f"{ALIAS}-000002"}
    status = es_project.cli("status", "--json").json()["index"]
    assert status["refused"][0]["id"] == stored[0]
