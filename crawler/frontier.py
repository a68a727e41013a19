"""A crawl frontier in Redis shared by several crawler processes (DESIGN.md, decision 9).

With `[crawl] frontier = "redis://HOST:PORT/DB"` every crawl schedules its requests in Redis through
scrapy-redis's priority queue and duplicate filter instead of Scrapy's in-memory scheduler, so
`debatelake crawl --workers N` (or crawls started on other machines against the same Redis and data
root) share one source's frontier: each URL is fetched once across all workers.

Lifecycle of one source's frontier (the Lua scripts below keep each step atomic):
- A worker joining while no other worker of that source is alive starts a *session*: with no
  pending requests it is a fresh crawl and the duplicate filter is emptied (so a scheduled crawl
  requests every feed, listing and page again); with pending requests left by a crawl that was
  stopped (Ctrl-C, SIGTERM, a crash) it resumes them, keeping the filter so that nothing already
  fetched is fetched again.
- Start requests (feeds, sitemaps, API listings) are scheduled once per session whatever their
  dont_filter says: the first worker schedules them, workers joining later skip them. A resumed
  session reads them again, so that the spider learns again what its feeds said about the pages
  still pending (those pages themselves stay filtered).
- A worker with nothing to do stays open while another worker is busy (that one may still find
  new links), and closes when the queue is empty and every live worker is idle.
- The last worker to leave an empty queue deletes the frontier: a finished crawl leaves nothing
  that could make the next one skip pages. A stopped crawl leaves its pending requests.
- Each worker keeps the requests it took from the queue in its own hash until the documents they
  gave are committed. A worker killed outright (SIGKILL, power loss) cannot leave: it counts as
  alive until its heartbeat expires (ALIVE_TTL; at once for a dead process on this host), then
  the next script to look puts its taken requests back in the queue (at-least-once: a page whose
  documents were committed just before the kill may be fetched again; the merge finds it unchanged).
- Requests that need what one worker holds in memory stay in that worker; what a feed said about
  a page travels with the page's request (each spider's FRONTIER_STATE, crawler/spiders/base.py).

Writes: workers of one data root hold its lock shared (every other writer is still kept out), and
take <root>/.frontier-commit.lock, exclusively, around each Delta commit only (`SharedRootPipeline`).
The first worker to find no other holds the lock exclusively for a moment to mark killed runs as
aborted and prune the HTTP cache, as a single crawl does.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import uuid
from collections import deque
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.asyncio import create_looping_call
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler.pipelines import DeltaStorePipeline
from pipeline.store import Store, StoreError

logger = logging.getLogger("debatelake")

KEY_PREFIX = "debatelake"
HEARTBEAT = 5.0  # seconds between a worker's "still alive" refreshes
ALIVE_TTL = 30  # seconds: a worker that has not refreshed for this long is gone (killed)
POLL = 0.5  # seconds: how often a worker without requests looks at the queue (Scrapy's own: 5)
SHARED_LOCK_WAIT = 30.0  # seconds a worker waits for the first worker's housekeeping
COMMIT_LOCK = ".frontier-commit.lock"


def root_id(root: str) -> str:
    """The data root's part of the keys: two roots never share a frontier."""
    where = root if "://" in root else os.path.realpath(root)
    return hashlib.sha1(where.encode("utf-8")).hexdigest()[:12]


def frontier_keys(root: str, source: str) -> dict[str, str]:
    """The Redis keys of one source's frontier in one data root, prefix debatelake:<root id>:<source>:
    requests    sorted set: the pending requests (scrapy-redis PriorityQueue, pickled dicts)
    dupefilter  set: fingerprints of every request scheduled since the session's fresh start
    starts      set: fingerprints of the start requests scheduled in this session
    workers     set: ids (host:pid:random) of the workers that joined
    worker:<id> string "busy" or "idle", expires ALIVE_TTL s after that worker's last heartbeat
    taken:<id>  hash: the requests that worker took and whose documents are not committed yet"""
    prefix = f"{KEY_PREFIX}:{root_id(root)}:{source}:"
    keys = {name: prefix + name for name in ("requests", "dupefilter", "starts", "workers")}
    keys["worker:"] = prefix + "worker:"
    keys["taken:"] = prefix + "taken:"
    return keys


def frontier_settings(url: str, pipelines: dict) -> dict:
    """Scrapy settings for `[crawl] frontier` (crawler.run layers them on); `pipelines` are the
    ITEM_PIPELINES so far, whose DeltaStorePipeline becomes SharedRootPipeline."""
    store = "crawler.pipelines.DeltaStorePipeline"
    return {
        "SCHEDULER": "crawler.frontier.SharedFrontierScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": url,
        # The frontier's lifecycle is ours (module docstring): scrapy-redis never flushes it.
        "SCHEDULER_PERSIST": True,
        "ITEM_PIPELINES": {**pipelines, store: None, "crawler.frontier.SharedRootPipeline": pipelines.get(store, 800)},
    }


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)))


def check_frontier(url: str) -> None:
    """Fail before crawling when the frontier's Redis does not answer."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise StoreError(f"the crawl frontier at {redacted(url)} does not answer ({exc}); start Redis there, "
                         f"or remove [crawl] frontier from the config to crawl in one process") from None


# ------------------------------------------------------------------ locking
@contextmanager
def worker_lock(store: Store, what: str, housekeeping: Callable[[], None]) -> Iterator[None]:
    """Hold the data root's lock shared with the other workers for the whole crawl; the first
    worker (nobody else holds it) runs `housekeeping` under the exclusive lock first."""
    with ExitStack() as first:
        try:
            first.enter_context(store.lock(what))
        except StoreError:
            pass  # another worker holds it (shared), or another command does: the shared lock will tell
        else:
            housekeeping()
    with store.lock(f"{what} (shared frontier worker)", wait=SHARED_LOCK_WAIT, shared=True):
        yield


@contextmanager
def commit_lock(root: str) -> Iterator[None]:
    """One Delta commit at a time among the workers of a local data root (waits for its turn)."""
    if "://" in root:
        yield  # object stores: no file lock (coordinate writers outside, as Store.lock says)
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / COMMIT_LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class SharedRootPipeline(DeltaStorePipeline):
    """DeltaStorePipeline whose commits (run start, document batches, run end) each take the
    commit lock, so that several workers write one data root in turn."""

    def open_spider(self, spider=None):
        with commit_lock(self.store.root):
            super().open_spider(spider)

    def flush(self) -> None:
        if self.buffer:
            scheduler = getattr(self.crawler, "debatelake_frontier", None)
            done = scheduler.finished() if scheduler else []  # before the commit: their documents are in it
            with commit_lock(self.store.root):
                super().flush()
            if scheduler:
                scheduler.acknowledge(done)

    def spider_closed(self, spider, reason):
        with commit_lock(self.store.root):
            super().spider_closed(spider, reason)


# ------------------------------------------------------------------ the scheduler
# Every script takes the same KEYS: workers, requests, dupefilter, starts; and ARGV: the prefix of
# the worker keys (frontier_keys()["worker:"]), this worker's id, ALIVE_TTL, the prefix of the
# taken hashes (frontier_keys()["taken:"]).
# REAP (the start of each script that needs it): forget the workers whose key expired (killed)
# and put the requests they had taken back in the queue; `alive` counts the others.
REAP = """
local alive = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    if id ~= ARGV[2] then alive = alive + 1 end
  else
    for _, data in ipairs(redis.call('HVALS', ARGV[4] .. id)) do redis.call('ZADD', KEYS[2], 0, data) end
    redis.call('DEL', ARGV[4] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
"""

# join -> "fresh" | "resume" | "join"
JOIN = REAP + """
local mode = 'join'
if alive == 0 then
  redis.call('DEL', KEYS[4])
  if redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('DEL', KEYS[3])
    mode = 'fresh'
  else
    mode = 'resume'
  end
end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('SET', ARGV[1] .. ARGV[2], 'busy', 'EX', ARGV[3])
return mode
"""

# pop -> the first request, or nil; in the same step the worker is marked busy and the request
# kept in its taken hash (field: sha1 of the request) until its documents are committed
POP = """
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
if not first[1] then return false end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, 0)
redis.call('SET', ARGV[1] .. ARGV[2], 'busy', 'EX', ARGV[3])
redis.call('HSET', ARGV[4] .. ARGV[2], redis.sha1hex(first[1]), first[1])
return first[1]
"""

# idle -> "pending" (requests wait) | "busy" (another worker is) | "done"
IDLE = REAP + """
if redis.call('ZCARD', KEYS[2]) > 0 then return 'pending' end
redis.call('SET', ARGV[1] .. ARGV[2], 'idle', 'EX', ARGV[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', ARGV[1] .. id) == 'busy' then return 'busy' end
end
return 'done'
"""

# leave (every document of this worker is committed; ARGV[5] "requeue": it stops with requests
# that needed its memory left, so it puts back the requests it has not acknowledged)
# -> "kept" (requests wait) | "others" | "cleared"
LEAVE = """
redis.call('SREM', KEYS[1], ARGV[2])
if ARGV[5] == 'requeue' then  -- work it held in memory is lost: what it came from is done again
  for _, data in ipairs(redis.call('HVALS', ARGV[4] .. ARGV[2])) do redis.call('ZADD', KEYS[2], 0, data) end
end
redis.call('DEL', ARGV[1] .. ARGV[2], ARGV[4] .. ARGV[2])
""" + REAP + """
if redis.call('ZCARD', KEYS[2]) > 0 then return 'kept' end
if alive > 0 then return 'others' end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
return 'cleared'
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedFrontierScheduler(Scheduler):
    """scrapy-redis's scheduler with keys per data root and source, start requests once per
    session, and workers that wait for each other before closing (module docstring)."""

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.root = crawler.settings.get("DEBATELAKE_ROOT")
        # An idle worker asks the queue again every POLL s instead of Scrapy's 5 s heartbeat, so it
        # takes its share of the links another worker finds. (A private attribute: if a later Scrapy
        # renames it, workers only pick up work more slowly.)
        try:
            crawler.engine._SLOT_HEARTBEAT_INTERVAL = POLL
        except RuntimeError:
            pass  # no engine: a scheduler built outside a crawl (tests)
        scheduler._heartbeat = None
        crawler.debatelake_frontier = scheduler  # for SharedRootPipeline: what a commit acknowledges
        crawler.signals.connect(scheduler._start_heartbeat, signal=signals.spider_opened)
        return scheduler

    def open(self, spider):
        self.spider = spider
        self.keys = frontier_keys(self.root, getattr(spider, "source", spider.name))
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.worker_key = self.keys["worker:"] + self.worker_id
        # scrapy-redis formats queue keys with %(spider)s: a literal % must be doubled
        self.queue = PriorityQueue(self.server, spider, self.keys["requests"].replace("%", "%%"),
                                   serializer=self.serializer)
        self.df = RFPDupeFilter(self.server, self.keys["dupefilter"], debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        state = getattr(spider, "FRONTIER_STATE", None) or {}
        self.local_callbacks: set[str] = set(state.get("local", ()))
        self.carry: tuple[str, str] | None = state.get("carry")
        self.local: deque = deque()  # requests that need this worker's memory (FRONTIER_STATE)
        self.local_out: set = set()  # ... handed to the engine
        self._reap_dead_local_workers()
        self._join = self.server.register_script(JOIN)
        self._pop = self.server.register_script(POP)
        self._idle = self.server.register_script(IDLE)
        self._leave = self.server.register_script(LEAVE)
        self.taken: dict[str, object] = {}  # sha1 of the encoded request -> the request, until acknowledged
        mode = self._run(self._join).decode()
        pending = len(self.queue)
        logger.info("Shared frontier %s (%s): %s, %d requests pending", self.keys["requests"], self.worker_id,
                    {"fresh": "a fresh crawl", "resume": "resuming a stopped crawl",
                     "join": "joining the workers at work"}[mode], pending)
        if self.stats:
            self.stats.set_value("frontier/mode", mode)
        self.crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)

    def _run(self, script, flag: str = ""):
        return script(keys=[self.keys[k] for k in ("workers", "requests", "dupefilter", "starts")],
                      args=[self.keys["worker:"], self.worker_id, ALIVE_TTL, self.keys["taken:"], flag])

    def _reap_dead_local_workers(self) -> None:
        """A worker on this host whose process is gone was killed: do not wait ALIVE_TTL for it."""
        host = socket.gethostname()
        for raw in self.server.smembers(self.keys["workers"]):
            wid = raw.decode()
            whost, _, rest = wid.partition(":")
            pid = rest.partition(":")[0]
            if whost == host and pid.isdigit() and not _pid_alive(int(pid)):
                self.server.delete(self.keys["worker:"] + wid)  # JOIN then puts back what it had taken

    def _start_heartbeat(self, spider) -> None:
        self._heartbeat = create_looping_call(self._beat)
        self._heartbeat.start(HEARTBEAT, now=False)

    def _beat(self) -> None:
        try:
            if not self.server.expire(self.worker_key, ALIVE_TTL):  # expired while blocked: back in
                self.server.set(self.worker_key, "busy", ex=ALIVE_TTL)
                self.server.sadd(self.keys["workers"], self.worker_id)
        except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the crawl goes on
            logger.warning("shared frontier heartbeat failed: %s", exc)

    def enqueue_request(self, request) -> bool:
        meta = request.meta
        if meta.get("is_start_request") and "frontier_start" not in meta:
            # Once per session, whatever dont_filter says. The mark travels with the request, so
            # its retries and redirects are scheduled as usual.
            meta["frontier_start"] = True
            fingerprint = self.df.request_fingerprint(request)
            if not self.server.sadd(self.keys["starts"], fingerprint):
                return False
            self.server.sadd(self.df.key, fingerprint)
        elif not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if getattr(request.callback, "__name__", None) in self.local_callbacks:
            self.local.append(request)
            return True
        if self.carry:
            attribute, name = self.carry
            value = getattr(self.spider, attribute, {}).get(request.cb_kwargs.get(name))
            if value is not None:
                request.meta["frontier_carry"] = value
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        if self.local:  # first: they complete threads this worker holds in memory
            request = self.local.popleft()
            self.local_out.add(request)
            return request
        data = self._run(self._pop)
        if data is None:
            return None
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        request = self.queue._decode_request(data)
        self.taken[hashlib.sha1(data).hexdigest()] = request
        value = request.meta.pop("frontier_carry", None)
        if value is not None and self.carry:
            attribute, name = self.carry
            getattr(self.spider, attribute).setdefault(request.cb_kwargs.get(name), value)
        return request

    def finished(self) -> list[str]:
        """The taken requests whose processing is over: Scrapy drops a request from the engine's
        in-progress set only after its callback's items went through the item pipeline, so their
        documents are in the pipeline's buffer (or committed). Without that set (a Scrapy that
        renamed it) none: requests are then acknowledged when the worker leaves. None either while
        requests that need this worker's memory wait or run: what they complete came from requests
        taken before, which must stay taken until the whole of it is committed."""
        try:
            in_progress = self.crawler.engine._slot.inprogress
        except (AttributeError, RuntimeError):
            return []
        self.local_out &= in_progress
        if self.local or self.local_out:
            return []
        return [sha for sha, request in self.taken.items() if request not in in_progress]

    def acknowledge(self, shas: list[str]) -> None:
        """Their documents are committed: a worker killed from now on will not hand them back."""
        if shas:
            self.server.hdel(self.keys["taken:"] + self.worker_id, *shas)
            for sha in shas:
                self.taken.pop(sha, None)

    def has_pending_requests(self) -> bool:
        return bool(self.local) or len(self.queue) > 0

    def _spider_idle(self, spider):
        state = self._run(self._idle).decode()
        if state != "done":  # requests wait, or a busy worker may still find links: stay
            raise DontCloseSpider

    def close(self, reason):
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        if self.local:
            logger.warning("Shared frontier %s: stopped with %d requests that needed this worker's memory; the %d "
                           "requests they came from go back in the queue", self.keys["requests"], len(self.local),
                           len(self.taken))
        state = self._run(self._leave, "requeue" if self.local else "").decode()
        pending = len(self.queue)
        if self.stats:
            self.stats.set_value("frontier/pending", pending)
        logger.info("Shared frontier %s: %s", self.keys["requests"], {
            "kept": f"{pending} requests kept for the next crawl to resume",
            "others": "other workers are still at work",
            "cleared": "crawl complete, frontier cleared"}[state])
