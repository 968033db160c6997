"""Stage 4: match every alert rule against the article in-process, quoting the passage."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from alerts.matcher import Document, RuleSet
from crawler.pipeline import Candidate


class AlertMatchStage:
    """Annotates the candidate with ``(rule, passage)`` hits; the store stage records them.

    The article keeps the names of every rule it matches (``matched_rules``, a search facet).

    The (rule, story) ledger then keeps a story from alerting a rule twice.
    """

    def __init__(self, rules: RuleSet):
        self.rules = rules

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AlertMatchStage:
        rules = crawler.settings["BEATWATCH_RUNTIME"].rules
        if not rules.matchers:
            raise NotConfigured("no alert rules configured")
        return cls(rules)

    def process_item(self, item: Candidate) -> Candidate:
        names = self.rules.match(item.doc)
        item.article.matched_rules = list(names)
        if item.previous is not None:
            # An edit alerts only for rules the earlier revision did not already match.
            before = set(self.rules.match(Document.from_article(item.previous)))
            names = [name for name in names if name not in before]
        item.hits = [(name, self.rules.matchers[name].passage(item.doc)) for name in names]
        return item
