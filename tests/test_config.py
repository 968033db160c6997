"""crawler.config: defaults, every kind of error, env expansion, includes and the shipped file."""

from __future__ import annotations

import re
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from alerts.matcher import Matcher
from crawler.config import (
    Settings,
    cron_trigger,
    default_config_path,
    format_duration,
    load_config,
)
from crawler.errors import ConfigError
from crawler.models import Article

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config" / "beatwatch.yaml"
FIXTURES = Path(__file__).resolve().parent / "configs"

ONE_SOURCE = """
sources:
  - name: harbour-gazette
    feeds: [https://harbour-gazette.example/feed]
"""


def write(tmp_path: Path, text: str, name: str = "beatwatch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def only_problem(path: Path) -> tuple[str, str]:
    """The (key path, message) of the single problem loading ``path`` reports."""
    problems = problems_of(path)
    assert len(problems) == 1, problems
    file, key, message = problems[0]
    assert file == str(path)
    return key, message


# -- defaults


def test_an_empty_file_gives_every_default(tmp_path):
    settings = load_config(write(tmp_path, ""))
    assert settings.timezone == "Asia/Phnom_Penh"
    assert settings.tz == ZoneInfo("Asia/Phnom_Penh")
    assert settings.store.backend == "sqlite"
    assert settings.store.path == "var/beatwatch.db"
    assert settings.store.elasticsearch.url == "http://localhost:9200"
    assert settings.store.elasticsearch.index == "beatwatch-articles"
    assert settings.crawl.obey_robots is True
    assert settings.crawl.download_delay == 1.0
    assert settings.crawl.max_page_bytes == 5_000_000
    assert settings.crawl.concurrency_per_host == 2
    assert settings.scope is None
    assert settings.sources == ()
    assert settings.alerts.delivery.maildir == "var/mail"
    assert settings.alerts.delivery.smtp is None
    assert settings.alerts.delivery.retry_backoff_max == 900
    assert settings.alerts.rules == ()


def test_a_source_defaults_its_title_schedule_and_allowed_domains(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            feeds: [https://www.harbour-gazette.example/feed]
            start_urls: ["http://127.0.0.1:8080/latest", https://news.harbour-gazette.example/]
        """,
    )
    source = load_config(path).source("harbour-gazette")
    assert source.title == "harbour-gazette"
    assert source.schedule == "*/30 * * * *"
    assert source.enabled is True
    # www. dropped so that both forms of the host are allowed; the port is not part of a domain
    assert source.allowed_domains == (
        "harbour-gazette.example",
        "127.0.0.1",
        "news.harbour-gazette.example",
    )


def test_explicit_allowed_domains_are_kept_lowercased_without_ports(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            feeds: [https://harbour-gazette.example/feed]
            allowed_domains: [Harbour-Gazette.example, "127.0.0.1:8080", "[::1]:9000", "fe80::2"]
        """,
    )
    source = load_config(path).sources[0]
    assert source.allowed_domains == ("harbour-gazette.example", "127.0.0.1", "::1", "fe80::2")


def test_a_url_in_allowed_domains_is_refused(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            feeds: [https://harbour-gazette.example/feed]
            allowed_domains: [https://harbour-gazette.example/]
        """,
    )
    assert only_problem(path) == (
        "sources[0].allowed_domains[0]",
        "not a host name (give the domain, not a URL): 'https://harbour-gazette.example/'",
    )


def test_the_minimal_fixture_loads_with_its_one_source_and_rule():
    settings = load_config(FIXTURES / "minimal.yaml")
    assert [s.name for s in settings.enabled_sources()] == ["harbour-gazette"]
    rule = settings.rule("harbour")
    assert (rule.query, rule.recipients, rule.mode, rule.enabled) == (
        "harbour",
        ("desk@example.org",),
        "immediate",
        True,
    )
    assert rule.digest_schedule is None
    assert settings.path == FIXTURES / "minimal.yaml"


def test_settings_are_frozen(tmp_path):
    settings = load_config(write(tmp_path, ONE_SOURCE))
    with pytest.raises(ValidationError):
        settings.sources[0].enabled = False  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.timezone = "UTC"  # type: ignore[misc]


# -- file-level errors


def test_a_missing_file_is_a_config_error(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert problems_of(path) == [(str(path), "", "file not found")]


def test_a_yaml_syntax_error_names_the_line_and_column(tmp_path):
    path = write(tmp_path, "crawl:\n  timeout: 30\n bad: [\n")
    key, message = only_problem(path)
    assert key == ""
    assert message.startswith("YAML syntax error at line 3, column 2: ")


def test_a_key_given_twice_is_refused_not_silently_overwritten(tmp_path):
    path = write(tmp_path, "crawl:\n  timeout: 30\n  timeout: 5\n")
    assert only_problem(path) == (
        "",
        "YAML syntax error at line 3, column 3: duplicate key 'timeout'",
    )


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    path = write(tmp_path, "- name: a\n- name: b\n")
    assert only_problem(path) == ("", "expected a mapping at the top, got a list")


# -- unknown keys, at every depth


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("shedule: x\n", "shedule", "unknown key 'shedule'"),
        ("crawl: {timout: 3}\n", "crawl.timout", "unknown key 'timout' (did you mean 'timeout'?)"),
        (
            "store: {elasticsearch: {api_kee: abc}}\n",
            "store.elasticsearch.api_kee",
            "unknown key 'api_kee' (did you mean 'api_key'?)",
        ),
        (
            ONE_SOURCE + "    shedule: '*/5 * * * *'\n",
            "sources[0].shedule",
            "unknown key 'shedule' (did you mean 'schedule'?)",
        ),
        (
            "alerts: {delivery: {smtp: {host: mx, sender: a@example.org, pasword: x}}}\n",
            "alerts.delivery.smtp.pasword",
            "unknown key 'pasword' (did you mean 'password'?)",
        ),
        (
            "alerts: {rules: [{name: r, query: q, recipients: [a@example.org], recipient: x}]}\n",
            "alerts.rules[0].recipient",
            "unknown key 'recipient' (did you mean 'recipients'?)",
        ),
    ],
)
def test_an_unknown_key_is_an_error_at_any_depth(tmp_path, text, key, message):
    assert only_problem(write(tmp_path, text)) == (key, message)


# -- value errors


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "crawl: {download_delay: fast}\n",
            "crawl.download_delay",
            "expected a number, got 'fast'",
        ),
        ("crawl: {retries: 1.5}\n", "crawl.retries", "expected a whole number, got 1.5"),
        (
            "crawl: {obey_robots: maybe}\n",
            "crawl.obey_robots",
            "expected true or false, got 'maybe'",
        ),
        ("crawl: {download_delay: -1}\n", "crawl.download_delay", "must be at least 0, got -1"),
        ("crawl: {timeout: 0}\n", "crawl.timeout", "must be more than 0, got 0"),
        ("crawl: {user_agent: ''}\n", "crawl.user_agent", "must not be empty"),
        ("crawl: fast\n", "crawl", "expected a mapping, got 'fast'"),
        (
            "store: {backend: mysql}\n",
            "store.backend",
            "expected 'sqlite' or 'elasticsearch', got 'mysql'",
        ),
        ("store: {elasticsearch: {url: localhost:9200}}\n", "store.elasticsearch.url", "not a URL"),
        (
            "timezone: Mars/Olympus\n",
            "timezone",
            "unknown time zone 'Mars/Olympus' (an IANA name, like Asia/Phnom_Penh)",
        ),
        ("sources: {name: x}\n", "sources", "expected a list, got a mapping"),
    ],
)
def test_a_wrong_value_is_reported_with_its_key_path(tmp_path, text, key, message):
    assert only_problem(write(tmp_path, text)) == (key, message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("feeds", "[ftp://harbour.example/feed]", "not a URL"),
        ("feeds", "[harbour.example/feed]", "not a URL"),
        ("feeds", "['https:///feed']", "not a URL"),
        ("start_urls", "['https://harbour.example:99999/']", "not a URL"),
        ("homepage", "'https://harbour example/'", "not a URL"),
    ],
)
def test_a_url_must_be_http_or_https_with_a_host(tmp_path, field, value, message):
    feeds = "" if field == "feeds" else "    feeds: [https://harbour.example/feed]\n"
    path = write(tmp_path, f"sources:\n  - name: harbour\n    {field}: {value}\n{feeds}")
    key, got = only_problem(path)
    assert key == f"sources[0].{field}" + ("" if field == "homepage" else "[0]")
    assert got == message


def test_a_feed_list_written_as_a_single_url_is_refused(tmp_path):
    path = write(tmp_path, "sources:\n  - name: a\n    feeds: https://a.example/feed\n")
    assert only_problem(path) == (
        "sources[0].feeds",
        "expected a list, got 'https://a.example/feed'",
    )


def test_the_key_path_counts_list_positions(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - {name: a, feeds: [https://a.example/feed]}
          - {name: b, feeds: [https://b.example/feed]}
          - {name: c, feeds: [https://c.example/feed]}
          - {name: d, feeds: [https://d.example/feed, not a url]}
        """,
    )
    assert only_problem(path) == ("sources[3].feeds[1]", "not a URL")


def test_a_source_name_must_be_a_slug(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: Khmer Times, feeds: [https://k.example/f]}\n")
    assert only_problem(path) == (
        "sources[0].name",
        "not a valid name (lowercase letters, digits and hyphens): 'Khmer Times'",
    )


def test_a_missing_required_key_is_named(tmp_path):
    path = write(tmp_path, "sources:\n  - feeds: [https://k.example/f]\n")
    assert only_problem(path) == ("sources[0].name", "missing required key")


def test_a_language_must_be_an_iso_639_1_code(tmp_path):
    path = write(tmp_path, ONE_SOURCE + "    language: [en, khmer]\n")
    assert only_problem(path) == (
        "sources[0].language[1]",
        "not an ISO 639-1 language code: 'khmer'",
    )


def test_an_enabled_source_with_nothing_to_fetch_is_refused_but_a_disabled_one_is_kept(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: wire}\n  - {name: archive, enabled: false}\n")
    assert only_problem(path) == (
        "sources[0]",
        "an enabled source needs feeds, sitemaps, start_urls or robots_sitemaps: true",
    )
    settings = load_config(write(tmp_path, "sources:\n  - {name: archive, enabled: false}\n"))
    assert settings.enabled_sources() == []
    assert settings.source("archive").allowed_domains == ()


def test_every_problem_is_reported_together(tmp_path):
    path = write(
        tmp_path,
        """
        crawl: {download_delay: fast, retries: -1}
        sources:
          - name: a
            feeds: [nope]
            schedule: "*/99 * * * *"
        alerts:
          rules:
            - {name: r, query: q, recipients: [desk]}
        """,
    )
    assert sorted(key for _, key, _ in problems_of(path)) == [
        "alerts.rules[0].recipients[0]",
        "crawl.download_delay",
        "crawl.retries",
        "sources[0].feeds[0]",
        "sources[0].schedule",
    ]


def test_the_error_text_lists_file_key_path_and_message_per_line(tmp_path):
    path = write(tmp_path, "crawl: {download_delay: fast, retries: -1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).splitlines() == [
        f"{path}: crawl.download_delay: expected a number, got 'fast'",
        f"{path}: crawl.retries: must be at least 0, got -1",
    ]


# -- schedules


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "*/99 * * * *",
            "invalid cron expression '*/99 * * * *': the step value (99) is higher than the "
            "total range of the expression (59)",
        ),
        (
            "*/15 * * *",
            "invalid cron expression '*/15 * * *': "
            "expected 5 fields (minute hour day month weekday), got 4",
        ),
        (
            "0 8 1 * mon",
            "invalid cron expression '0 8 1 * mon': "
            "restrict the day of month or the day of week, not both",
        ),
        (
            "0 8 * * funday",
            "invalid cron expression '0 8 * * funday': invalid day of week 'funday'",
        ),
    ],
)
def test_a_bad_cron_expression_is_refused_with_the_reason(tmp_path, expr, message):
    path = write(tmp_path, ONE_SOURCE + f"    schedule: '{expr}'\n")
    assert only_problem(path) == ("sources[0].schedule", message)


SATURDAY = datetime(2026, 1, 3, 12, 0, tzinfo=ZoneInfo("Asia/Phnom_Penh"))


@pytest.mark.parametrize(
    ("expr", "weekday"),
    [
        ("0 8 * * 1-5", "Mon"),  # standard cron: 1 is Monday (APScheduler 3 alone would say Tue)
        ("0 8 * * 0", "Sun"),
        ("0 8 * * 7", "Sun"),
        ("0 8 * * 5-7", "Sun"),
        ("0 8 * * */2", "Sun"),  # Sunday, Tuesday, Thursday, Saturday (08:00 today has passed)
        ("0 8 * * mon,wed", "Mon"),
        ("0 13 * * *", "Sat"),
    ],
)
def test_cron_trigger_uses_standard_crontab_weekdays(expr, weekday):
    trigger = cron_trigger(expr, SATURDAY.tzinfo)
    assert trigger.get_next_fire_time(None, SATURDAY).strftime("%a") == weekday


def test_settings_trigger_runs_in_the_configured_timezone(tmp_path):
    settings = load_config(write(tmp_path, "timezone: UTC\n"))
    fire = settings.trigger("30 6 * * *").get_next_fire_time(None, SATURDAY)
    # SATURDAY is 12:00 in Phnom Penh, 05:00 UTC: 06:30 UTC is still to come that day
    assert fire.utcoffset().total_seconds() == 0
    assert (fire.hour, fire.minute, fire.day) == (6, 30, 3)


# -- rules


def test_a_digest_rule_without_a_schedule_gets_the_morning_default(tmp_path):
    path = write(
        tmp_path,
        "alerts: {rules: [{name: r, query: q, recipients: [a@example.org], mode: digest}]}\n",
    )
    rule = load_config(path).rule("r")
    assert (rule.mode, rule.digest_schedule) == ("digest", "0 8 * * *")


def test_a_digest_schedule_on_an_immediate_rule_is_refused(tmp_path):
    path = write(
        tmp_path,
        "alerts: {rules: [{name: r, query: q, recipients: [a@example.org],"
        " digest_schedule: '0 9 * * *'}]}\n",
    )
    assert only_problem(path) == (
        "alerts.rules[0].digest_schedule",
        "digest_schedule is only used with mode: digest",
    )


def test_a_digest_schedule_is_checked_as_cron(tmp_path):
    path = write(
        tmp_path,
        "alerts: {rules: [{name: r, query: q, recipients: [a@example.org], mode: digest,"
        " digest_schedule: '0 25 * * *'}]}\n",
    )
    key, message = only_problem(path)
    assert key == "alerts.rules[0].digest_schedule"
    assert message.startswith("invalid cron expression '0 25 * * *': ")


@pytest.mark.parametrize(
    ("recipients", "key", "message"),
    [
        ("[desk]", "alerts.rules[0].recipients[0]", "not an email address"),
        (
            "[a@example.org, 'b example.org']",
            "alerts.rules[0].recipients[1]",
            "not an email address",
        ),
        ("[]", "alerts.rules[0].recipients", "must not be empty"),
        ("a@example.org", "alerts.rules[0].recipients", "expected a list, got 'a@example.org'"),
    ],
)
def test_recipients_must_be_a_list_of_email_addresses(tmp_path, recipients, key, message):
    path = write(
        tmp_path, f"alerts: {{rules: [{{name: r, query: q, recipients: {recipients}}}]}}\n"
    )
    assert only_problem(path) == (key, message)


def test_a_rule_query_with_a_syntax_error_names_the_column(tmp_path):
    path = write(
        tmp_path, "alerts: {rules: [{name: r, query: 'kem)', recipients: [a@example.org]}]}\n"
    )
    key, message = only_problem(path)
    assert key == "alerts.rules[0].query"
    assert message.startswith("query syntax error at column 4: ")


def test_a_scope_with_a_syntax_error_is_refused_and_a_blank_scope_means_none(tmp_path):
    key, message = only_problem(write(tmp_path, "scope: 'cambodia AND (navy'\n"))
    assert key == "scope"
    assert message.startswith("query syntax error at column ")
    assert load_config(write(tmp_path, "scope: ''\n")).scope is None


def test_duplicate_source_and_rule_names_are_refused(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - {name: a, feeds: [https://a.example/feed]}
          - {name: b, feeds: [https://b.example/feed]}
          - {name: a, feeds: [https://a2.example/feed]}
        alerts:
          rules:
            - {name: r, query: q, recipients: [a@example.org]}
            - {name: r, query: p, recipients: [a@example.org]}
        """,
    )
    assert problems_of(path) == [
        (str(path), "sources[2].name", "duplicate source name 'a' (also sources[0])"),
        (str(path), "alerts.rules[1].name", "duplicate rule name 'r' (also alerts.rules[0])"),
    ]


# -- delivery


def test_smtp_delivery_replaces_the_maildir_default(tmp_path):
    path = write(
        tmp_path,
        """
        alerts:
          delivery:
            smtp: {host: mx.example.org, port: 587, security: starttls, username: bw,
                   password: s3cret, sender: "beatwatch <alerts@example.org>"}
        """,
    )
    delivery = load_config(path).alerts.delivery
    assert delivery.maildir is None
    assert (delivery.smtp.host, delivery.smtp.port, delivery.smtp.security) == (
        "mx.example.org",
        587,
        "starttls",
    )
    assert delivery.smtp.timeout == 30
    assert load_config(path).alerts.sender == "beatwatch <alerts@example.org>"


def test_a_maildir_delivery_has_a_local_sender(tmp_path):
    settings = load_config(write(tmp_path, "alerts: {delivery: {maildir: out/mail}}\n"))
    assert settings.alerts.delivery.maildir == "out/mail"
    assert settings.alerts.sender == "beatwatch <beatwatch@localhost>"


@pytest.mark.parametrize(
    ("delivery", "key", "message"),
    [
        (
            "{maildir: m, smtp: {host: mx, sender: a@example.org}}",
            "alerts.delivery",
            "give either smtp or maildir, not both",
        ),
        ("{smtp: {host: mx}}", "alerts.delivery.smtp.sender", "missing required key"),
        (
            "{smtp: {host: mx, sender: 'beatwatch alerts'}}",
            "alerts.delivery.smtp.sender",
            "not an email address (write 'Name <addr@example.org>' or an address)",
        ),
        (
            "{smtp: {host: mx, sender: a@example.org, security: tls}}",
            "alerts.delivery.smtp.security",
            "expected 'none', 'starttls' or 'ssl', got 'tls'",
        ),
        (
            "{smtp: {host: mx, sender: a@example.org, port: 0}}",
            "alerts.delivery.smtp.port",
            "must be at least 1, got 0",
        ),
    ],
)
def test_a_bad_delivery_is_refused(tmp_path, delivery, key, message):
    assert only_problem(write(tmp_path, f"alerts: {{delivery: {delivery}}}\n")) == (key, message)


def test_secrets_do_not_appear_in_repr_or_describe(tmp_path):
    path = write(
        tmp_path,
        """
        store: {elasticsearch: {api_key: key-d41d8cd9}}
        alerts:
          delivery: {smtp: {host: mx, password: pw-8f00b204, sender: a@example.org}}
        """,
    )
    settings = load_config(path)
    assert settings.alerts.delivery.smtp.password == "pw-8f00b204"
    for text in (repr(settings), settings.describe()):
        assert "pw-8f00b204" not in text
        assert "key-d41d8cd9" not in text


# -- environment variables


def test_variables_are_expanded_from_the_environment_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("BW_TEST_HOST", "mx.example.org")
    monkeypatch.setenv("BW_TEST_PORT", "2525")
    monkeypatch.setenv("BW_TEST_EMPTY", "")
    monkeypatch.setenv("BW_TEST_INDEX", "bw-test")
    monkeypatch.delenv("BW_TEST_UNSET", raising=False)
    path = write(
        tmp_path,
        """
        store:
          path: "${BW_TEST_UNSET:-var/other.db}"
          elasticsearch: {index: "${BW_TEST_INDEX:-beatwatch-articles}"}
        alerts:
          delivery:
            smtp:
              host: ${BW_TEST_HOST}
              port: ${BW_TEST_PORT}
              username: ${BW_TEST_EMPTY:-ops}
              password: ${BW_TEST_UNSET:-}
              sender: "beatwatch <alerts@${BW_TEST_HOST}>"
        """,
    )
    settings = load_config(path)
    smtp = settings.alerts.delivery.smtp
    assert settings.store.path == "var/other.db"
    assert settings.store.elasticsearch.index == "bw-test"  # a set variable beats its default
    assert (smtp.host, smtp.port, smtp.username) == ("mx.example.org", 2525, "ops")
    assert smtp.password is None  # an empty secret is no secret
    assert smtp.sender == "beatwatch <alerts@mx.example.org>"


def test_an_unset_variable_without_a_default_is_an_error_naming_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("BW_TEST_UNSET", raising=False)
    path = write(
        tmp_path,
        "alerts: {delivery: {smtp: {host: mx, sender: a@example.org, port: '${BW_TEST_UNSET}'}}}\n",
    )
    # reported once, as the missing variable, not again as a bad port number
    assert only_problem(path) == (
        "alerts.delivery.smtp.port",
        "environment variable BW_TEST_UNSET is not set (${BW_TEST_UNSET:-} would default to empty)",
    )


def test_a_doubled_dollar_is_a_literal_dollar(tmp_path):
    path = write(tmp_path, "crawl: {user_agent: 'costs $$5 ${BW_NOT_A_VAR:-x}'}\n")
    assert load_config(path).crawl.user_agent == "costs $5 x"


def test_a_malformed_variable_is_refused(tmp_path):
    path = write(tmp_path, "crawl: {user_agent: 'beatwatch ${ BW_TEST }'}\n")
    assert only_problem(path) == (
        "crawl.user_agent",
        "malformed variable: write ${NAME} or ${NAME:-default}",
    )


# -- includes


def test_included_files_append_sources_and_rules_in_order():
    settings = load_config(FIXTURES / "split" / "beatwatch.yaml")
    assert settings.timezone == "UTC"
    assert [s.name for s in settings.sources] == ["main-outlet", "river-times", "valley-post"]
    assert settings.source("valley-post").schedule == "5 * * * *"
    assert [r.name for r in settings.alerts.rules] == ["main-rule", "ferry"]
    assert settings.rule("ferry").recipients == ("desk@example.org", "night@example.org")


def test_errors_name_the_file_and_the_position_in_that_file():
    folder = FIXTURES / "split_bad"
    main, sources, rules = (
        str(folder / n) for n in ("beatwatch.yaml", "sources.yaml", "rules.yaml")
    )
    not_here = "not allowed in an included file (only sources, alerts.rules)"
    assert sorted(problems_of(folder / "beatwatch.yaml")) == sorted(
        [
            (main, "sources[1].feeds[0]", "not a URL"),
            (sources, "timezone", not_here),
            (
                sources,
                "sources[1].name",
                f"duplicate source name 'main-outlet' (also sources[0] in {main})",
            ),
            (sources, "sources[2].shedule", "unknown key 'shedule' (did you mean 'schedule'?)"),
            (rules, "alerts.delivery", not_here),
            (rules, "alerts.rules[0].recipients[0]", "not an email address"),
        ]
    )


def test_a_missing_included_file_is_named(tmp_path):
    path = write(tmp_path, "include: [sources.yaml]\n")
    assert problems_of(path) == [(str(tmp_path / "sources.yaml"), "", "file not found")]


def test_include_must_be_a_list_of_file_names(tmp_path):
    path = write(tmp_path, "include: sources.yaml\n")
    assert only_problem(path) == ("include", "expected a list of file names, got 'sources.yaml'")


def test_an_included_file_may_not_include_again(tmp_path):
    write(tmp_path, "include: [more.yaml]\n", name="sources.yaml")
    main = write(tmp_path, "include: [sources.yaml]\n")
    assert problems_of(main) == [
        (
            str(tmp_path / "sources.yaml"),
            "include",
            "not allowed in an included file (only sources, alerts.rules)",
        )
    ]


# -- helpers on Settings


def test_an_unknown_source_name_is_a_config_error_listing_the_known_ones(tmp_path):
    settings = load_config(write(tmp_path, ONE_SOURCE))
    with pytest.raises(ConfigError) as info:
        settings.source("harbor-gazette")
    assert info.value.problems == [
        (
            str(tmp_path / "beatwatch.yaml"),
            "sources",
            "no source named 'harbor-gazette' (known: harbour-gazette)",
        )
    ]


def test_describe_summarises_store_delivery_sources_and_rules():
    text = load_config(FIXTURES / "split" / "beatwatch.yaml").describe()
    assert "store: sqlite at var/beatwatch.db" in text
    assert "delivery: maildir var/mail" in text
    assert "sources: 3 (3 enabled)" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["valley-post", "enabled", "5", "*", "*", "*", "*", "listing:", "1", "start"] in [
        line[:10] for line in lines
    ]
    assert "  ferry      digest at '0 8 * * *' -> desk@example.org, night@example.org" in text


def test_default_config_path_prefers_the_environment(monkeypatch):
    monkeypatch.setenv("BEATWATCH_CONFIG", "/etc/beatwatch/prod.yaml")
    assert default_config_path() == Path("/etc/beatwatch/prod.yaml")
    monkeypatch.delenv("BEATWATCH_CONFIG")
    assert default_config_path() == Path("config/beatwatch.yaml")


def test_settings_built_in_code_use_the_same_defaults():
    assert Settings().alerts.delivery.maildir == "var/mail"
    assert Settings().path is None


# -- crawling keys: sitemaps, listing pages, extraction overrides, politeness


def test_the_crawling_keys_have_their_defaults(tmp_path):
    settings = load_config(write(tmp_path, ONE_SOURCE))
    source = settings.sources[0]
    assert (source.follow, source.deny, source.max_pages) == ((), (), 3)
    assert source.max_age == timedelta(days=3)
    assert source.robots_sitemaps is False
    assert source.extract.fields() == {}
    crawl = settings.crawl
    assert (crawl.autothrottle, crawl.retry_after_max, crawl.crawl_delay_max) == (True, 120, 30)
    assert crawl.backfill_max_pages == 200


def test_crawl_politeness_keys_are_read_and_bounded(tmp_path):
    text = "crawl: {autothrottle: false, retry_after_max: 60, crawl_delay_max: 5.5,"
    crawl = load_config(write(tmp_path, text + " backfill_max_pages: 50}\n")).crawl
    assert (crawl.autothrottle, crawl.retry_after_max, crawl.crawl_delay_max) == (False, 60, 5.5)
    assert crawl.backfill_max_pages == 50


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("crawl: {retry_after_max: 0}\n", "crawl.retry_after_max", "must be more than 0, got 0"),
        ("crawl: {crawl_delay_max: -1}\n", "crawl.crawl_delay_max", "must be more than 0, got -1"),
        (
            "crawl: {backfill_max_pages: 0}\n",
            "crawl.backfill_max_pages",
            "must be at least 1, got 0",
        ),
        (
            "crawl: {autothrottle: sometimes}\n",
            "crawl.autothrottle",
            "expected true or false, got 'sometimes'",
        ),
        (
            "crawl: {autothrotle: false}\n",
            "crawl.autothrotle",
            "unknown key 'autothrotle' (did you mean 'autothrottle'?)",
        ),
    ],
)
def test_bad_crawl_politeness_values_are_refused(tmp_path, text, key, message):
    assert only_problem(write(tmp_path, text)) == (key, message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("3600", timedelta(hours=1)),
        (7200, timedelta(hours=2)),
    ],
)
def test_max_age_is_a_duration_in_minutes_hours_days_weeks_or_seconds(tmp_path, value, expected):
    source = load_config(write(tmp_path, ONE_SOURCE + f"    max_age: {value}\n")).sources[0]
    assert source.max_age == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3 days", "expected a duration like 3d or 12h, got '3 days'"),
        ("2y", "expected a duration like 3d or 12h, got '2y'"),
        ("-3d", "expected a duration like 3d or 12h, got '-3d'"),
        ("true", "expected a duration like 3d or 12h, got true"),
        ("[3d]", "expected a duration like 3d or 12h, got a list"),
        (".inf", "expected a duration like 3d or 12h, got inf"),
        ("99999999999w", "expected a duration like 3d or 12h, got '99999999999w'"),
        ("0d", "must be longer than 0, got '0d'"),
        ("0", "must be longer than 0, got 0"),
    ],
)
def test_a_bad_max_age_is_refused(tmp_path, value, message):
    path = write(tmp_path, ONE_SOURCE + f"    max_age: {value}\n")
    assert only_problem(path) == ("sources[0].max_age", message)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(weeks=2), "2w"),
        (timedelta(minutes=90), "90m"),
        (timedelta(hours=36), "36h"),
        (timedelta(seconds=61), "61s"),
    ],
)
def test_format_duration_uses_the_largest_exact_unit(delta, text):
    assert format_duration(delta) == text


LISTING = """
sources:
  - name: harbour-gazette
    start_urls: [https://harbour-gazette.example/news/]
"""


def test_follow_and_deny_patterns_and_max_pages_are_kept_as_given(tmp_path):
    text = LISTING + "    follow: ['/article/', 'page=detail&id=\\d+']\n    deny: ['/video/']\n"
    source = load_config(write(tmp_path, text + "    max_pages: 10\n")).sources[0]
    assert source.follow == ("/article/", r"page=detail&id=\d+")
    assert source.deny == ("/video/",)
    assert source.max_pages == 10


@pytest.mark.parametrize("key", ["follow", "deny"])
def test_a_pattern_that_does_not_compile_is_refused_with_the_reason(tmp_path, key):
    path = write(tmp_path, LISTING + f"    {key}: ['/article/', '/tag/(unclosed']\n")
    assert only_problem(path) == (
        f"sources[0].{key}[1]",
        "invalid regular expression '/tag/(unclosed': missing ), unterminated subpattern "
        "at position 5",
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("    max_pages: 0\n", "sources[0].max_pages", "must be at least 1, got 0"),
        ("    max_pages: many\n", "sources[0].max_pages", "expected a whole number, got 'many'"),
        ("    follow: /article/\n", "sources[0].follow", "expected a list, got '/article/'"),
        (
            "    robots_sitemaps: yes-please\n",
            "sources[0].robots_sitemaps",
            "expected true or false, got 'yes-please'",
        ),
    ],
)
def test_bad_listing_and_sitemap_values_are_refused(tmp_path, text, key, message):
    assert only_problem(write(tmp_path, LISTING + text)) == (key, message)


def test_extraction_selectors_accept_css_and_xpath_forms(tmp_path):
    text = LISTING + textwrap.indent(
        textwrap.dedent(
            """\
            extract:
              title: h1.headline::text
              body: "//div[@class='story-body']"
              date: "xpath: //span[@class='dateline']/@data-published"
              author: "(//span[@class='reporter'])[1]"
            """
        ),
        "    ",
    )
    extract = load_config(write(tmp_path, text)).sources[0].extract
    assert extract.fields() == {
        "title": "h1.headline::text",
        "body": "//div[@class='story-body']",
        "date": "xpath: //span[@class='dateline']/@data-published",
        "author": "(//span[@class='reporter'])[1]",
    }


def test_unset_selectors_are_left_out_of_the_fields(tmp_path):
    path = write(tmp_path, LISTING + "    extract: {body: div.story-body}\n")
    extract = load_config(path).sources[0].extract
    assert (extract.title, extract.date, extract.author) == (None, None, None)
    assert extract.fields() == {"body": "div.story-body"}


BAD_SELECTORS = [
    ("title", "'h1['", "invalid CSS selector 'h1[': "),
    ("body", "'div:shiny'", "invalid CSS selector 'div:shiny': "),
    ("date", "'//span[@class='", "invalid XPath '//span[@class=': "),
    ("author", "'xpath: (//a'", "invalid XPath 'xpath: (//a': "),
]


@pytest.mark.parametrize(("field", "value", "start"), BAD_SELECTORS)
def test_an_invalid_selector_is_refused_with_the_reason(tmp_path, field, value, start):
    key, message = only_problem(write(tmp_path, LISTING + f"    extract: {{{field}: {value}}}\n"))
    assert key == f"sources[0].extract.{field}"
    assert message.startswith(start) and len(message) > len(start)


@pytest.mark.parametrize(("field", "value", "start"), BAD_SELECTORS)
def test_selectors_are_checked_with_parsel_when_the_spiders_selectors_module_is_absent(
    tmp_path, monkeypatch, field, value, start
):
    monkeypatch.setitem(sys.modules, "spiders.selectors", None)  # import now fails
    key, message = only_problem(write(tmp_path, LISTING + f"    extract: {{{field}: {value}}}\n"))
    assert key == f"sources[0].extract.{field}"
    assert message.startswith(start) and len(message) > len(start)
    path = write(tmp_path, LISTING + "    extract: {body: 'div.story-body > div.para'}\n")
    assert load_config(path).sources[0].extract.body == "div.story-body > div.para"


@pytest.mark.parametrize(
    ("extract", "key", "message"),
    [
        ("{body: ''}", "sources[0].extract.body", "must not be empty"),
        ("{titel: h1}", "sources[0].extract.titel", "unknown key 'titel' (did you mean 'title'?)"),
        ("div.story", "sources[0].extract", "expected a mapping, got 'div.story'"),
    ],
)
def test_a_malformed_extract_section_is_refused(tmp_path, extract, key, message):
    path = write(tmp_path, LISTING + f"    extract: {extract}\n")
    assert only_problem(path) == (key, message)


def test_robots_sitemaps_alone_is_something_to_fetch(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            homepage: https://www.harbour-gazette.example/
            robots_sitemaps: true
        """,
    )
    source = load_config(path).sources[0]
    assert source.allowed_domains == ("harbour-gazette.example",)
    assert source.robots_txt_urls == ("https://www.harbour-gazette.example/robots.txt",)


def test_robots_txt_urls_are_one_per_host_fetched_from_keeping_the_scheme(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            homepage: http://harbour-gazette.example/
            feeds: [https://harbour-gazette.example/feed, "http://127.0.0.1:8080/rss"]
            sitemaps: [https://harbour-gazette.example/sitemap.xml]
            robots_sitemaps: true
        """,
    )
    assert load_config(path).sources[0].robots_txt_urls == (
        "https://harbour-gazette.example/robots.txt",
        "http://127.0.0.1:8080/robots.txt",
    )


def test_robots_txt_falls_back_to_the_allowed_domains(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - {name: harbour-gazette, robots_sitemaps: true, allowed_domains: [harbour.example]}
        """,
    )
    assert load_config(path).sources[0].robots_txt_urls == ("https://harbour.example/robots.txt",)


def test_robots_sitemaps_without_any_host_is_refused(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: harbour-gazette, robots_sitemaps: true}\n")
    assert only_problem(path) == (
        "sources[0]",
        "robots_sitemaps needs a homepage or allowed_domains to find robots.txt",
    )


def test_describe_names_each_kind_of_crawling_a_source_does(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          - name: harbour-gazette
            feeds: [https://harbour.example/feed]
            sitemaps: [https://harbour.example/news-sitemap.xml]
            robots_sitemaps: true
            max_age: 2d
            start_urls: [https://harbour.example/defence/, https://harbour.example/politics/]
            max_pages: 1
            extract: {body: div.story-body, date: span.dateline}
          - {name: quiet-gazette, homepage: https://quiet.example/, robots_sitemaps: true}
        """,
    )
    text = load_config(path).describe()
    assert (
        "feeds: 1; sitemaps: 1 + robots.txt, last 2d; listing: 2 start URLs, 1 page;"
        " selectors: body, date"
    ) in text
    assert text.rstrip().splitlines()[-2].endswith("  sitemaps: robots.txt, last 3d")


# -- the shipped configuration


@pytest.fixture(scope="module")
def shipped() -> Settings:
    return load_config(SHIPPED)


def test_the_shipped_config_is_valid_and_local_first(shipped):
    assert shipped.timezone == "Asia/Phnom_Penh"
    assert (shipped.store.backend, shipped.store.path) == ("sqlite", "var/beatwatch.db")
    assert shipped.alerts.delivery.maildir == "var/mail"
    assert shipped.scope


def test_the_shipped_config_enables_only_endpoints_on_record(shipped):
    assert [s.name for s in shipped.enabled_sources()] == [
        "khmer-times",
        "phnom-penh-post",
        "camboja-news",
        "fresh-news",
        "kampuchea-thmey",
        "rfi-khmer",
        "the-diplomat",
        "nikkei-asia",
        "scmp",
        "cna",
        "us-embassy-phnom-penh",
        "us-defense",
    ]


def test_closed_and_feedless_outlets_are_disabled_with_the_reason(shipped):
    for name in (
        "vod-english",
        "cambodia-daily",
        "rfa-khmer",
        "voa-khmer",
        "reuters",
        "us-treasury",
    ):
        source = shipped.source(name)
        assert not source.enabled, name
        assert source.notes, name


def test_the_shipped_sources_have_no_placeholder_urls(shipped):
    for source in shipped.sources:
        for url in (*source.feeds, *source.sitemaps, *source.start_urls):
            assert "<" not in url and ">" not in url, (source.name, url)


def test_every_shipped_fetch_url_is_inside_its_allowed_domains(shipped):
    for source in shipped.sources:
        for url in (*source.feeds, *source.sitemaps, *source.start_urls):
            host = urlsplit(url).hostname
            assert any(host == d or host.endswith("." + d) for d in source.allowed_domains), url


def test_big_daily_feeds_poll_every_15_minutes_at_staggered_minutes(shipped):
    minutes = {}
    for name in ("khmer-times", "phnom-penh-post", "fresh-news", "cna"):
        schedule = shipped.source(name).schedule
        minutes[name] = schedule.split()[0]
        assert len(minutes[name].split(",")) == 4, schedule
    assert len(set(minutes.values())) == len(minutes)


def test_the_shipped_rules_alert_monitoring(shipped):
    names = [r.name for r in shipped.alerts.rules]
    for required in (
        "kem-sokha",
        "ream-naval-base",
        "angkor-sentinel",
        "military-cooperation",
        "sanctions",
        "us-officials",
        "golden-dragon",
        "hun-manet-defence",
    ):
        assert required in names
    assert all(r.recipients == ("monitoring@example.org",) for r in shipped.alerts.rules)


SOURCES_TEXT = (SHIPPED.parent / "sources.yaml").read_text(encoding="utf-8")
DISABLED_REASONS = ("# Closed", "# Dormant", "# No usable feed")


def comment_above(name: str) -> str:
    """The comment lines directly above ``- name: NAME`` in the shipped sources file."""
    lines = SOURCES_TEXT.splitlines()
    end = lines.index(f"  - name: {name}")
    start = end
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        if lines[start - 1].lstrip().startswith("# ---"):
            break  # a section heading, not about this source
        start -= 1
    return "\n".join(line.strip() for line in lines[start:end])


def test_every_disabled_shipped_source_says_why_in_a_comment(shipped):
    for source in shipped.sources:
        comment = comment_above(source.name)
        if source.enabled:
            assert "unverified" not in comment, source.name
        else:
            probe = "unverified: probe" in comment
            assert probe or comment.startswith(DISABLED_REASONS), (source.name, comment)


def test_each_unverified_kind_of_endpoint_is_marked_for_probing(shipped):
    def marked(kind: str) -> set[str]:
        marker = f"# {kind} unverified: probe"
        return {s.name for s in shipped.sources if marker in comment_above(s.name)}

    assert len(marked("feed URL")) >= 15
    assert {s.name for s in shipped.sources if s.start_urls} == marked("listing pages")
    assert {s.name for s in shipped.sources if s.robots_sitemaps} == marked("robots.txt sitemaps")


def test_every_enabled_shipped_source_has_something_to_fetch(shipped):
    for source in shipped.enabled_sources():
        assert source.feeds or source.sitemaps or source.start_urls or source.robots_sitemaps


def test_khmer_times_adds_its_sitemap_with_a_two_day_window(shipped):
    source = shipped.source("khmer-times")
    assert source.enabled
    assert source.feeds == ("https://www.khmertimeskh.com/feed/",)
    assert source.sitemaps == ("https://www.khmertimeskh.com/sitemap.xml",)
    assert source.max_age == timedelta(days=2)


def test_feedless_custom_cms_outlets_have_listing_pages_until_probed(shipped):
    for name in ("cambodianess", "kiripost", "thmey-thmey", "us-treasury"):
        source = shipped.source(name)
        assert source.start_urls and not source.enabled, name


def test_khmer_wordpress_outlets_have_disabled_robots_sitemap_variants(shipped):
    with_robots = [s for s in shipped.sources if s.robots_sitemaps]
    assert {s.name for s in with_robots} >= {
        "kampuchea-thmey-sitemaps",
        "rasmei-kampuchea",
        "dap-news",
        "koh-santepheap",
    }
    assert not any(s.enabled for s in with_robots)
    assert all("km" in s.language for s in with_robots)
    variant = shipped.source("kampuchea-thmey-sitemaps")
    assert variant.robots_txt_urls == ("https://www.kampucheathmey.com/robots.txt",)


@pytest.mark.parametrize(
    ("name", "article", "not_article"),
    [
        (
            "cambodianess",
            "https://cambodianess.com/article/navy-talks-resume",
            "https://cambodianess.com/categories/national",
        ),
        (
            "thmey-thmey",
            "https://thmeythmey.com/?page=detail&id=123456",
            "https://thmeythmey.com/?page=location&menu1=3",
        ),
        (
            "us-treasury",
            "https://home.treasury.gov/news/press-releases/jy1234",
            "https://home.treasury.gov/news/press-releases?page=2",
        ),
    ],
)
def test_shipped_follow_patterns_tell_articles_from_listings(shipped, name, article, not_article):
    follow = shipped.source(name).follow
    assert any(re.search(pattern, article) for pattern in follow)
    assert not any(re.search(pattern, not_article) for pattern in follow)


def test_robots_txt_of_every_shipped_source_is_inside_its_allowed_domains(shipped):
    for source in shipped.sources:
        for url in source.robots_txt_urls if source.robots_sitemaps else ():
            host = urlsplit(url).hostname
            assert any(host == d or host.endswith("." + d) for d in source.allowed_domains), url


def article(title: str, text: str) -> Article:
    return Article(
        id="0" * 64,
        url="https://news.example/a",
        source="news",
        title=title,
        text=text,
        fetched_at=datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC")),
    )


@pytest.mark.parametrize(
    ("rule", "title", "text", "expected"),
    [
        ("ream-naval-base", "Warships dock at Ream", "Two vessels arrived on Monday.", True),
        ("ream-naval-base", "Weekend at Ream", "Hikers crowd the national park trails.", False),
        ("ream-naval-base", "សេចក្តីថ្លែងការណ៍", "នាវាបានចូលចតនៅមូលដ្ឋានសមុទ្ររាមកាលពីម្សិលមិញ។", True),
        ("kem-sokha", "Court hearing", "Kem Sokha's lawyers asked for a delay.", True),
        ("kem-sokha", "សាលាឧទ្ធរណ៍", "ជនត្រូវចោទលោកកឹម សុខា បានមកដល់តុលាការ។", True),
        ("sanctions", "New sanctions", "Treasury sanctioned two Cambodian generals.", True),
        ("sanctions", "New sanctions", "Treasury sanctioned two shipping firms in Panama.", False),
        ("angkor-sentinel", "ការពិភាក្សា", "ភាគីទាំងពីរបានពិភាក្សាអំពីសមយុទ្ធឆ្មាំអង្គរ។", True),
        (
            "golden-dragon",
            "Golden Dragon hotel opens",
            "A new casino resort opened its doors.",
            False,
        ),
        (
            "golden-dragon",
            "Drill begins",
            "The Golden Dragon exercise started with PLA troops.",
            True,
        ),
    ],
)
def test_the_shipped_rules_match_what_they_are_named_for(shipped, rule, title, text, expected):
    assert Matcher(shipped.rule(rule).query).matches(article(title, text)) is expected


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Navy talks", "Cambodian and US officers met in Phnom Penh.", True),
        ("ព័ត៌មាន", "រាជរដ្ឋាភិបាលកម្ពុជាបានប្រកាសនៅថ្ងៃនេះ។", True),
        ("Rice exports rise", "Vietnam shipped more rice to the Philippines this year.", False),
    ],
)
def test_the_shipped_scope_keeps_the_beat(shipped, title, text, expected):
    assert Matcher(shipped.scope).matches(article(title, text)) is expected
