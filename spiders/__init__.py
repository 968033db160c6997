"""Scrapy spiders, the Scrapy settings, and article extraction."""
