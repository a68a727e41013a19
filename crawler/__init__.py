"""debatelake's Scrapy project: spiders that only parse, item pipelines that only store."""
