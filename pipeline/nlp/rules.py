"""Keyword / lexicon rules: the baseline every model must beat, and cue features for the models.

A *cue* is a lexicon hit for one label (e.g. release:open "release the weights"). Each hit is
flagged when it is negated ("should not be open-sourced" is no open cue) or sits in reported
speech ("critics say", "Meta argues", text inside quotes): the guidelines label the author's own
position, so such hits count apart. `cue_features` turns the hits into a fixed-length vector;
`KeywordBaseline` turns them into labels with simple rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, reduce
from operator import or_

import numpy as np

RELEASE = ("open", "closed", "mixed", "neutral", "none")
MODERATION = ("filter", "no_filter", "mixed", "neutral", "none")
SENTIMENT = ("positive", "negative", "neutral")
TOPICS = ("open_release", "licensing", "misuse_risk", "moderation", "alignment", "regulation",
          "industry", "transparency", "geopolitics", "capabilities")
AXES = {"release": RELEASE, "moderation": MODERATION, "sentiment": SENTIMENT}

# --------------------------------------------------------------------------- lexicons
# Patterns are regular expressions matched case-insensitively at word boundaries.
STANCE_CUES: dict[str, dict[str, list[str]]] = {
    "release": {
        "open": [
            r"release (?:the |their |its |all )?(?:model )?weights", r"publish(?:ing)? (?:the )?weights",
            r"open[- ]?source (?:it|them|the model|everything|the weights)", r"open (?:it|them) up",
            r"keep (?:it|them|models?|weights) open", r"should be open(?:[- ]sourced| weights?)?",
            r"must be open", r"needs? to be open", r"put the weights out", r"ship the weights",
            r"weights or it didn'?t happen", r"open weights? (?:are|is) (?:good|essential|the answer|how)",
            r"democrati[sz]\w*", r"open (?:models?|weights|source) (?:wins?|won|matters?|is winning)",
            r"benefits? of open(?:ness)? outweigh", r"run (?:it|them|models?) locally", r"on my own (?:disk|hardware|machine|gpu)",
            r"(?:truly|fully|actually|really) open", r"release the (?:training )?data", r"publish the (?:training )?data",
            r"open science", r"defend(?:ing)? open", r"ban(?:ning)? open (?:models?|weights|source)", r"glad (?:they|it) (?:released|shipped|open)",
            r"thank(?:s| you) for (?:releasing|open)", r"gatekeep\w*", r"(?:few|three|handful of) companies (?:control|hold|own)",
            r"concentrat\w* of power", r"let (?:people|anyone|researchers|us) (?:study|inspect|run|download)",
        ],
        "closed": [
            r"(?:should|must|ought to) (?:not|never) be (?:open(?:ly)?[- ]?(?:sourced|released)?|released|published)",
            r"shouldn'?t be (?:open(?:ly)?[- ]?(?:sourced|released)?|released|published|open weights?)",
            r"too dangerous to (?:release|open|publish)", r"keep (?:it|them|the weights|models?) (?:closed|private|secret|locked)",
            r"api[- ]only", r"behind an? api", r"gated access", r"structured access", r"staged release",
            r"(?:don'?t|do not|never) (?:release|open[- ]source|publish) (?:the )?(?:weights|it|them|models?)",
            r"irresponsible to (?:release|open|publish)", r"reckless(?:ly)?", r"can'?t (?:be )?(?:un-?release|recall|take (?:it|them) back)",
            r"no (?:take[- ]?backs|undo|recall)", r"once (?:the )?weights are out", r"weights (?:leak|are out there) forever",
            r"open[- ]weights? (?:is|are) (?:dangerous|reckless|a mistake|irresponsible)", r"strip (?:the|its|out)? ?(?:safety|guardrails|safeguards)",
            r"remove the (?:safety|guardrails|safeguards)", r"in the hands of (?:bad actors|terrorists|anyone)",
            r"(?:ban|restrict|limit|prohibit)(?:ing)? (?:the )?(?:release|open[- ]weights?|open[- ]source|publication)",
            r"frontier (?:models?|systems?) (?:should|must) (?:not|never)", r"licen[cs]e[- ]restricted", r"not be open(?:ly)? released",
        ],
        "mixed": [
            r"(?:small(?:er)?|today'?s|current) models?[^.]{0,60}(?:but|while|whereas)[^.]{0,60}(?:frontier|larger|future|bigger)",
            r"open (?:now|today)[^.]{0,40}(?:restrict|close|gate)", r"case[- ]by[- ]case", r"(?:staged|partial|phased) release",
            r"release the small(?:er)? (?:model|ones?)", r"hold back the (?:large|big|frontier)", r"both (?:camps|sides) (?:have|make) (?:a )?(?:point|good)",
            r"depends on (?:the )?(?:capabilit|model|size|risk)", r"below (?:a|some) (?:capability|compute) threshold",
            r"not all models", r"middle ground", r"(?:open|release)[^.]{0,40}up to (?:a|some) point",
        ],
        "neutral": [
            r"released (?:a |an |its |the |their )?(?:new )?(?:\d+(?:\.\d+)?b |open[- ]weights? )?models?", r"announced", r"under (?:the )?(?:apache|mit|llama|cc[- ]by|open rail|gpl)",
            r"made (?:the )?weights available", r"available on hugging ?face", r"according to", r"(?:reported|reports)",
            r"(?:proponents|critics|supporters|opponents|advocates) (?:of open|argue|say|claim)", r"the debate over",
            r"on the other hand", r"weights (?:are|were) (?:released|published|available)", r"model card",
        ],
    },
    "moderation": {
        "filter": [
            r"(?:need|needs|should have|must have|require|requires) (?:more |stronger |better )?(?:safety )?(?:guardrails|filters?|safeguards|moderation)",
            r"(?:should|must|needs? to|ought to) refuse", r"irresponsible", r"(?:protect|safeguard)(?:ing|s)? (?:children|kids|minors|users|the public|vulnerable)",
            r"(?:children|kids|minors|teen(?:ager)?s)", r"(?:unfiltered|uncensored|unaligned) models? (?:are|is|can|will|could) (?:dangerous|harm|cause)",
            r"safety (?:tuning|training|filters?|measures|guardrails|features|by default)", r"content (?:moderation|filters?|classifiers?)",
            r"harmful (?:content|outputs?|responses?|instructions)", r"(?:block|prevent|stop)(?:s|ing)? (?:harmful|abuse|misuse|the model from)",
            r"fix (?:the|this) (?:jailbreak|bypass|hole|loophole)", r"patch (?:the|this) (?:jailbreak|bypass)", r"(?:too|dangerously) easy to jailbreak",
            r"duty of care", r"(?:csam|abuse material|self[- ]harm|suicide|grooming)", r"(?:accountab|liab)\w+ for (?:outputs|harm)",
            r"no (?:moderation|guardrails|safeguards|filters?) (?:at all|whatsoever)", r"safety (?:is|must be) (?:not optional|a priority|essential)",
            r"(?:mandatory|required) (?:filters?|moderation|safeguards|red[- ]teaming)",
        ],
        "no_filter": [
            r"censor\w*", r"uncensored", r"abliterat\w*", r"preachy", r"lectur\w+", r"moraliz\w+|moralis\w+", r"nann\w+", r"paternalis\w+",
            r"refus(?:es|ed|al|ing) to (?:help|answer|write|tell|do|generate)", r"over[- ]?refus\w*", r"lobotom\w+", r"woke", r"sanitiz\w+|sanitis\w+",
            r"treat(?:s|ing)? (?:me|us|users|adults) like (?:a )?(?:child|children|kids|idiots)", r"as an ai (?:language )?model", r"it'?s important to note",
            r"i(?:'m| am) (?:an adult|a grown)", r"(?:useless|unusable|crippled|neutered|nerfed)", r"hand[- ]?holding", r"pearl[- ]clutch\w*",
            r"(?:remove|disable|turn off|strip|bypass)(?:d|s|ing)? (?:the )?(?:filters?|guardrails|safety|refusals|moderation)", r"(?:safety|alignment) tax",
            r"(?:thought|speech) police", r"let (?:me|adults|users) decide", r"(?:my|our) (?:own )?(?:hardware|machine|computer), (?:my|our) rules", r"refuses?\b",
            r"caveats", r"disclaimers?", r"hedg(?:e|es|ing)",
        ],
        "mixed": [
            r"(?:application|app|product|deployment|deployer)[- ](?:layer|level)", r"(?:the )?deployer (?:should|must|is responsible)",
            r"base models? (?:should|can) (?:be|ship|stay) (?:unfiltered|uncensored|raw)", r"filter(?:ing|s)? belongs? in",
            r"(?:some|reasonable|basic) (?:filtering|guardrails|safeguards) (?:is|are|make sense)", r"(?:but|while) (?:not|no) (?:political|over)",
            r"(?:political|viewpoint) censorship[^.]{0,60}(?:but|while)[^.]{0,60}(?:harm|dangerous|weapons|csam)",
            r"balance between", r"trade[- ]?off", r"(?:configurable|optional|adjustable) (?:filters?|safety|moderation|guardrails)",
            r"opt[- ]?(?:in|out)", r"sensible defaults?",
        ],
        "neutral": [
            r"refusal rates?", r"model card", r"(?:the )?(?:policy|guidelines|terms) (?:say|states?|prohibits?|require)", r"according to",
            r"(?:researchers|the paper|the study|the report) (?:found|shows?|showed|measured)", r"jailbreak(?:s|ing)? (?:work|worked|still works|bypass)",
            r"(?:announced|introduced|launched|updated) (?:its |a |new )?(?:safety|moderation|content) (?:policy|filter|classifier|system)",
            r"(?:benchmark|evaluation) of (?:refusals|safety)",
        ],
    },
}

TONE_CUES: dict[str, list[str]] = {
    "positive": [
        r"great", r"love(?:d|ly)?", r"excit(?:ed|ing)", r"impressive", r"glad", r"thank(?:s| you)", r"amazing", r"awesome", r"happy",
        r"hopeful", r"welcome", r"fantastic", r"excellent", r"brilliant", r"wonderful", r"kudos", r"congrat\w*", r"promising", r"delight\w*",
        r"nice", r"cool", r"huge win", r"good news", r"well done", r"bravo", r"incredible", r"grateful", r"encourag\w+", r"optimis\w+",
        r"beautiful", r"thrilled", r"best", r"finally",
    ],
    "negative": [
        r"terrible", r"useless", r"stupid", r"worr(?:ied|ying|y)", r"angry", r"awful", r"ridiculous", r"absurd", r"hate", r"reckless",
        r"sick of", r"tired of", r"so tired", r"disappoint\w*", r"garbage", r"scam", r"lie(?:s|d)?", r"liars?", r"dangerous", r"insane", r"idiot\w*",
        r"dumb", r"pathetic", r"nonsense", r"bullshit", r"bs", r"crap", r"annoying", r"frustrat\w+", r"horrif\w+", r"scary", r"terrif\w+",
        r"alarm\w*", r"disgrace\w*", r"shameful", r"hypocri\w+", r"joke", r"laughable", r"cynical", r"greed\w*", r"irresponsible",
        r"threat\w*", r"harm\w*", r"fail(?:ed|s|ure)?", r"broken", r"worse", r"worst", r"nightmare", r"catastroph\w+", r"fear\w*",
        r"clown\w*", r"lol", r"yeah,? right", r"sure,? (?:jan|buddy)", r"concern(?:ed|ing)",
    ],
}

TOPIC_CUES: dict[str, list[str]] = {
    "open_release": [r"open[- ]?weights?", r"open[- ]?source[d]?", r"weights", r"open models?", r"closed models?", r"releas\w+", r"api[- ]only",
                     r"hugging ?face", r"download", r"checkpoints?", r"llama", r"mistral", r"gated", r"run (?:it |them )?locally", r"local models?"],
    "licensing": [r"licen[cs]\w*", r"apache", r"\bmit\b", r"gpl", r"terms of (?:use|service)", r"acceptable use", r"open source definition",
                  r"osi\b", r"copyleft", r"usage terms", r"rail\b", r"commercial use"],
    "misuse_risk": [r"misuse", r"bioweapons?", r"bio(?:logical)?\b", r"pathogens?", r"chemical", r"cyber\w*", r"malware", r"exploit\w*", r"scam\w*",
                    r"fraud", r"phishing", r"disinformation", r"misinformation", r"propaganda", r"deepfakes?", r"csam", r"abuse material",
                    r"bad actors?", r"terroris\w+", r"weapons?", r"harm\w*", r"dangerous"],
    "moderation": [r"filter\w*", r"refus\w+", r"guardrails?", r"censor\w*", r"jailbreak\w*", r"uncensored", r"abliterat\w*", r"moderation",
                   r"content policy", r"safety (?:filters?|settings|layer)", r"preachy", r"lectur\w+", r"as an ai", r"safe ?completions?"],
    "alignment": [r"alignment", r"aligned", r"rlhf", r"safety (?:tuning|training|research|evals?|evaluations?)", r"red[- ]?team\w*",
                  r"evals?\b", r"evaluations?", r"interpretab\w+", r"reward model", r"constitutional", r"fine[- ]?tun\w+", r"dpo\b", r"deceptive",
                  r"shutdown", r"x-risk|existential"],
    "regulation": [r"regulat\w+", r"law\w*", r"legislat\w+", r"\bact\b", r"bill\b", r"congress", r"senat\w+", r"parliament", r"eu\b", r"government",
                   r"policy ?makers?", r"liabilit\w+", r"liable", r"ban\w*", r"executive order", r"compliance", r"court", r"lawsuit", r"ftc|nist|ofcom"],
    "industry": [r"compan\w+", r"business", r"market", r"competit\w+", r"profit\w*", r"revenue", r"pricing|price|prices", r"investors?", r"funding",
                 r"startups?", r"monopol\w+", r"moat", r"big tech", r"openai", r"google", r"meta\b", r"microsoft", r"anthropic", r"cost\w*", r"\$\d+",
                 r"valuation", r"customers?", r"commercial"],
    "transparency": [r"transparen\w+", r"training data", r"data ?sets?", r"disclos\w+", r"documentation", r"reproduc\w+", r"audit\w*",
                     r"model cards?", r"datasheets?", r"provenance", r"inspect\w*", r"black box"],
    "geopolitics": [r"china|chinese", r"export controls?", r"national security", r"geopolit\w+", r"adversar\w+", r"beijing", r"russia\w*",
                    r"\bus\b|united states|america\w*", r"\bccp\b", r"deepseek", r"qwen", r"sovereign\w*", r"arms race", r"pentagon|military|defen[cs]e"],
    "capabilities": [r"benchmarks?", r"mmlu", r"capabilit\w+", r"performance", r"gpus?", r"compute", r"parameters?", r"\d+b\b", r"context (?:window|length)",
                     r"tokens?", r"faster", r"smarter", r"reasoning", r"quantiz\w+", r"inference", r"flops", r"scores?", r"state of the art|sota",
                     r"hardware", r"accuracy"],
}

NEGATORS = r"(?:not|no|never|n't|without|hardly|nor|neither|nobody|none|against|stop|instead of|rather than)"
REPORT_VERBS = (r"(?:says?|said|argues?|argued|claims?|claimed|believes?|believed|insists?|insisted|warns?|warned|writes?|wrote|"
                r"thinks?|contends?|suggests?|suggested|maintains?|told|tells|according to|asserts?|asserted|stated|states|"
                r"posits?|notes?|noted|points? out|pointed out|reckons?)")
ATTRIB_SUBJECTS = (r"(?:critics|proponents|supporters|opponents|advocates|skeptics|sceptics|researchers|experts|officials|the company|"
                   r"the lab|the authors?|the paper|the report|the letter|the bill|regulators|lawmakers|people|some|many|others|they|he|she|"
                   r"[A-Z][a-zA-Z]+(?: [A-Z][a-zA-Z]+)?)")
_ATTRIB_RE = re.compile(
    rf"(?:\b{ATTRIB_SUBJECTS}\s+(?:\w+\s+){{0,2}}?{REPORT_VERBS}\b|\baccording to\b|\bin (?:a|their|its|his|her) (?:statement|post|blog|letter|paper)\b"
    rf"|\b(?:the argument|the claim|the idea|the view) (?:is|goes) that\b|\bsome (?:say|argue|claim)\b)",
)
_FIRST_PERSON_REPORT = re.compile(r"\b(?:I|we)\s+(?:\w+\s+)?(?:say|argue|think|believe|claim)\b", re.I)
_QUOTE_RE = re.compile(r"\"[^\"]{3,}\"|“[^”]{3,}”|^\s*>.*$", re.M)
_NEG_RE = re.compile(rf"\b{NEGATORS}\b(?:\W+\w+){{0,3}}\W*$", re.I)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|me|my|we|our|us)\b", re.I)
_MODAL = re.compile(r"\b(?:should|must|need to|needs to|ought to|have to|has to|shouldn't|mustn't)\b", re.I)
_SENT_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9*>])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage (regex: fast, no model; lines are sentence breaks too)."""
    parts = [p.strip() for p in _SENT_SPLIT.split(text or "")]
    return [p for p in parts if p and re.search(r"\w", p)] or ([text.strip()] if (text or "").strip() else [])


def _anchors(pattern: str) -> set[str] | None:
    """Lower-case literal strings one of which every match of `pattern` contains (read off the
    parsed regex: literal runs, required groups, alternations), or None when there are none of at
    least two characters. Lets a lexicon skip the regex scan of a text that holds none of them:
    the best of `_anchor_clauses` (the longest shortest string, then the fewest strings)."""
    return _best(_anchor_clauses(pattern))


def _anchor_clauses(pattern: str) -> list[set[str]]:
    """Every set of lower-case literal strings (of at least two characters) one of which every
    match of `pattern` contains, read off the parsed regex as _anchors does: _anchors(pattern)
    is the best of them, and a match needs one string of each (the parts of a sequence are all
    required). [] when there are none."""
    from re import _constants as C, _parser as P

    def clauses(items) -> list[set[str] | None]:
        out: list[set[str] | None] = []
        run: list[str] = []

        def flush() -> None:
            if len(run) >= 2:
                out.append({"".join(run)})
            run.clear()

        for op, av in items:
            if op is C.LITERAL and av < 128:
                run.append(chr(av).lower())
                continue
            flush()
            if op is C.SUBPATTERN:
                out.extend(clauses(av[-1]))
            elif op is C.BRANCH:
                subs = [_best(clauses(b)) for b in av[1]]
                if all(sub is not None for sub in subs):
                    out.append(set().union(*subs))  # type: ignore[arg-type]
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
                out.extend(clauses(av[2]))
        flush()
        return out

    try:
        found = clauses(P.parse(pattern, re.I))
    except Exception:
        return []
    return [c for c in found if c and min(len(a) for a in c) >= 2]


def _best(cands: list[set[str] | None]) -> set[str] | None:
    ok = [c for c in cands if c and min(len(a) for a in c) >= 2]
    return max(ok, key=lambda c: (min(len(a) for a in c), -len(c))) if ok else None


_start = re.Match.start


class _LeadScan:
    """search / finditer of a regex `exact` that is a zero-width test `lead` (a look-behind, a
    word boundary) followed by the regex `body`, run faster: a leading zero-width test keeps the
    regex engine from skipping fast to where a match can start, so `body` is searched instead
    and a match kept only where `lead` holds at its start, else `body` is searched again one
    character on. That is the exact regex's own search order (it tries each start in turn, and
    at a start it matches exactly where lead holds and body matches there), so the matches,
    their spans and groups are the same."""

    __slots__ = ("lead", "body", "finditer_body", "exact")

    def __init__(self, lead: re.Pattern, body: re.Pattern, exact: re.Pattern | tuple[str, int]):
        self.lead, self.body, self.finditer_body, self.exact = lead.match, body.search, body.finditer, exact

    @classmethod
    def split(cls, rx: re.Pattern) -> "_LeadScan | None":
        """A _LeadScan of a regex that starts with a word boundary (\\b), or None."""
        from re import _compiler as Cm, _constants as C, _parser as P  # the stdlib's own regex compiler

        try:
            parsed = P.parse(rx.pattern, rx.flags)
        except Exception:
            return None
        if len(parsed.data) < 2 or parsed.data[0] != (C.AT, C.AT_BOUNDARY):
            return None
        # the parsed sequence without its first element (the boundary), compiled as it is
        body = Cm.compile(P.SubPattern(parsed.state, parsed.data[1:]), rx.flags)
        return cls(re.compile(r"\b", rx.flags), body, rx)

    def search(self, text: str, pos: int):
        """exact.search(text, pos)"""
        search, lead = self.body, self.lead
        while True:
            m = search(text, pos)
            if m is None or lead(text, m.start()) is not None:
                return m
            pos = m.start() + 1

    def finditer(self, text: str) -> list:
        """list(exact.finditer(text))"""
        # Most often every match of body holds lead and none is empty: those are the matches
        # (the search order below finds each of them in turn, and nothing between them).
        found = list(self.finditer_body(text))
        lead = self.lead
        for m in found:
            if m.end() == m.start() or lead(text, m.start()) is None:
                break
        else:
            return found
        out = []
        pos = 0
        search = self.search
        while True:
            m = search(text, pos)
            if m is None:
                return out
            if m.end() == m.start():  # an empty match: left to finditer's own rules
                return list(self.compiled_exact().finditer(text))
            out.append(m)
            pos = m.end()

    def compiled_exact(self) -> re.Pattern:
        if isinstance(self.exact, tuple):  # (source, flags), compiled on demand
            self.exact = re.compile(*self.exact)
        return self.exact


class Cues:
    """One label's lexicon: a case-insensitive regex of its patterns at word boundaries, which
    scans a text only when the text contains one of the patterns' anchors (same matches, far
    fewer scans: most sentences hold no cue of most labels)."""

    def __init__(self, patterns: tuple[str, ...]):
        self.patterns = tuple(patterns)
        source = self._source(self.patterns)
        self.regex = re.compile(source, re.I)
        # The same regex without IGNORECASE, for lower-cased text (about twice as fast); only
        # when the patterns hold no upper-case character (escapes included).
        self.lower_regex = re.compile(source) if source == source.lower() else None
        per_pattern = [_anchors(p) for p in patterns]
        self.pattern_anchors: tuple[set[str] | None, ...] = tuple(per_pattern)
        self.anchors: tuple[str, ...] | None = None if any(a is None for a in per_pattern) \
            else tuple(sorted(set().union(*per_pattern)))  # type: ignore[arg-type]
        self._singles: dict[int, _LeadScan] = {}  # by pattern index

    _LEAD = r"(?<![\w-])"  # every match starts where no word character or hyphen precedes

    @classmethod
    def _source(cls, patterns: tuple[str, ...]) -> str:
        return cls._LEAD + cls._body(patterns)

    @staticmethod
    def _body(patterns: tuple[str, ...]) -> str:
        return r"(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?![\w])"

    def _single(self, i: int) -> _LeadScan:
        """A _LeadScan of the regex of patterns[i] alone (lower-case when lower_regex is)."""
        scan = self._singles.get(i)
        if scan is None:
            flags = 0 if self.lower_regex is not None else re.I
            pats = (self.patterns[i],)
            scan = self._singles[i] = _LeadScan(re.compile(self._LEAD, flags), re.compile(self._body(pats), flags),
                                                (self._source(pats), flags))
        return scan

    def scan(self, text: str, keep: int) -> list:
        """list(finditer_lower(...)) for a text in which only the patterns whose bit is set in
        `keep` (bit i: patterns[i]) can match (every other one's anchors are absent), where
        `text` is low = lower_same(original) when lower_regex is not None, else the original.

        The whole regex is an alternation of the patterns between a common look-behind and
        look-ahead: from a position, it matches at the first start where some pattern matches
        (with those), with the first such pattern in order. An alternative that matches nowhere
        changes nothing, so the patterns in `keep` are searched one by one, each alone (fast,
        and one small regex per pattern), and merged in that order: at the earliest start, the
        earliest pattern; then every pattern is searched on from the match's end."""
        if not keep & (keep - 1):  # one pattern
            return self._single(keep.bit_length() - 1).finditer(text)
        singles = []
        i = 0
        while keep:
            if keep & 1:
                singles.append(self._single(i))
            keep >>= 1
            i += 1
        # Each pattern's own matches; when no two of them overlap, the merge takes them all,
        # in order of start (each is the earliest match from the end of the one before).
        found = sorted((m for sc in singles for m in sc.finditer(text)), key=_start)
        end = 0
        for m in found:
            if m.start() < end or m.end() == m.start():
                break
            end = m.end()
        else:
            return found
        heads = [sc.search(text, 0) for sc in singles]
        out = []
        pos = 0
        while True:
            best = None
            for k, m in enumerate(heads):
                if m is not None and m.start() < pos:
                    m = heads[k] = singles[k].search(text, pos)
                if m is not None and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                return out
            if best.end() == best.start():  # an empty match: left to finditer's own rules
                return list((self.lower_regex or self.regex).finditer(text))
            out.append(best)
            pos = best.end()

    def _may_match(self, text: str) -> bool:
        return self.may_match_lower(text.lower())

    def may_match_lower(self, low: str) -> bool:
        """Whether a text, given lower-cased, holds one of the anchors (True when none are known)."""
        if self.anchors is None:
            return True
        for a in self.anchors:
            if a in low:
                return True
        return False

    def finditer(self, text: str):
        return self.regex.finditer(text) if self._may_match(text) else iter(())

    def findall(self, text: str) -> list:
        return self.regex.findall(text) if self._may_match(text) else []

    def finditer_lower(self, text: str, low: str | None):
        """finditer(text) given low = lower_same(text) (the text lower-cased, or None when
        matching the lower-cased text could differ): same matches, same positions (the matched
        strings are lower-cased)."""
        if low is None:
            return self.finditer(text)
        if not self.may_match_lower(low):
            return iter(())
        return (self.lower_regex or self.regex).finditer(low if self.lower_regex else text)

    def count_lower(self, text: str, low: str | None) -> int:
        """len(findall(text)) given low = lower_same(text)."""
        if low is None:
            return len(self.findall(text))
        if not self.may_match_lower(low):
            return 0
        return len(self.lower_regex.findall(low)) if self.lower_regex else len(self.regex.findall(text))


def lower_same(text: str) -> str | None:
    """text.lower() when a case-sensitive lower-case pattern matches it exactly where the same
    pattern with IGNORECASE matches text: every character lower-cases to one character, and
    the text has no dotless i or long s (which IGNORECASE, and not lower(), equates with i and
    s). Checked over every code point: for the others, lower() keeps the word, digit and space classes and
    maps a character to an ASCII character exactly when IGNORECASE matches them. Else None."""
    low = text.lower()
    if len(low) != len(text):
        return None
    if not text.isascii() and ("\u0131" in text or "\u017f" in text):
        return None
    return low


@lru_cache(maxsize=None)
def _compile(patterns: tuple[str, ...]) -> Cues:
    return Cues(patterns)


def _lex(cues: dict[str, list[str]]) -> dict[str, Cues]:
    return {label: _compile(tuple(pats)) for label, pats in cues.items()}


STANCE_RE = {axis: _lex(cues) for axis, cues in STANCE_CUES.items()}
TONE_RE = _lex(TONE_CUES)
TOPIC_RE = _lex(TOPIC_CUES)


@dataclass
class Hit:
    axis: str
    label: str
    text: str
    sentence: int
    negated: bool
    reported: bool


def _reported_spans(sentence: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in _QUOTE_RE.finditer(sentence)]
    m = _ATTRIB_RE.search(sentence)
    if m and not _FIRST_PERSON_REPORT.search(sentence[max(0, m.start() - 10): m.end()]):
        spans.append((m.start(), len(sentence)))  # the reported clause runs to the end of the sentence
    return spans


def sentence_hits(sentence: str, index: int = 0) -> list[Hit]:
    hits: list[Hit] = []
    spans = _reported_spans(sentence)
    tables = [(axis, table) for axis, table in STANCE_RE.items()] + [("sentiment", TONE_RE)]
    for axis, table in tables:
        for label, rx in table.items():
            for m in rx.finditer(sentence):
                negated = bool(_NEG_RE.search(sentence[max(0, m.start() - 40): m.start()]))
                reported = any(a <= m.start() < b for a, b in spans)
                hits.append(Hit(axis, label, m.group(0), index, negated, reported))
    return hits


def passage_hits(text: str) -> tuple[list[str], list[Hit]]:
    sents = split_sentences(text)
    hits: list[Hit] = []
    for i, s in enumerate(sents):
        hits.extend(sentence_hits(s, i))
    return sents, hits


def topic_hits(text: str) -> dict[str, int]:
    return {t: len(rx.findall(text or "")) for t, rx in TOPIC_RE.items()}


_TOPIC_LIST = [TOPIC_RE[t] for t in TOPICS]


# --------------------------------------------------------------------------- features
def _feature_names() -> list[str]:
    names = []
    for axis, labels in (("release", ("open", "closed", "mixed", "neutral")), ("moderation", ("filter", "no_filter", "mixed", "neutral")),
                         ("sentiment", ("positive", "negative"))):
        for label in labels:
            names += [f"{axis}:{label}:own", f"{axis}:{label}:negated", f"{axis}:{label}:reported"]
    names += [f"topic:{t}" for t in TOPICS]
    names += ["reported_share", "quotes", "first_person", "modal", "question", "exclaim", "log_words", "neg_words"]
    return names


FEATURE_NAMES = _feature_names()


_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}
# (own, negated, reported) feature columns and the lexicon of every stance and tone label, in
# sentence_hits' order.
_CUE_COLUMNS = [
    (_INDEX.get(f"{axis}:{label}:own"), _INDEX.get(f"{axis}:{label}:negated"), _INDEX.get(f"{axis}:{label}:reported"), rx)
    for axis, table in [*STANCE_RE.items(), ("sentiment", TONE_RE)] for label, rx in table.items()
]
_TOPIC_COL = _INDEX[f"topic:{TOPICS[0]}"]
_NEG_WORDS = re.compile(rf"\b{NEGATORS}\b", re.I)


# Counts that add up over a text's sentences: none of these patterns can match a character
# that split_sentences() splits at or drops ('.', '!', '?' before a break, a line break, the
# whitespace and quote marks around it) nor start or end next to one differently than at the
# start or end of a text, so a text's count is the sum of its sentences' counts (checked on the
# training and benchmark texts). The quote count (quotes and quoted lines span sentences) is not.
_ADDITIVE = [*_TOPIC_LIST, *[(rx, re.compile(rx.pattern) if rx.pattern == rx.pattern.lower() else None)
                             for rx in (_FIRST_PERSON, _MODAL, _NEG_WORDS)]]
_ADDITIVE_COLS = [*range(_TOPIC_COL, _TOPIC_COL + len(TOPICS)), _INDEX["first_person"], _INDEX["modal"], _INDEX["neg_words"]]


def _sentence_cues_unlowered(sentence: str) -> tuple[tuple[int, ...], bool, tuple[int, ...]]:
    """_sentence_cues for a sentence that lower_same() cannot lower-case: every lexicon's
    anchor prefilter and regex as Cues.finditer_lower / count_lower run them."""
    spans = _reported_spans(sentence)
    low = lower_same(sentence)
    cols: list[int] = []
    for own, negated, reported, rx in _CUE_COLUMNS:
        for m in rx.finditer_lower(sentence, low):
            st = m.start()
            if _NEG_RE.search(sentence[max(0, st - 40): st]):
                col = negated
            elif any(a <= st < b for a, b in spans):
                col = reported
            else:
                col = own
            if col is not None:
                cols.append(col)
    counts = tuple(rx.count_lower(sentence, low) if isinstance(rx, Cues)
                   else len(rx[1].findall(low)) if (low is not None and rx[1] is not None) else len(rx[0].findall(sentence))
                   for rx in _ADDITIVE)
    return tuple(cols), bool(spans), counts


def _witness(pattern: str) -> tuple[str, re.Pattern | None] | None:
    """For a pattern without anchors: characters one of which every match of the pattern holds
    (a required digit, else a required ASCII literal that is no letter: rarer than a letter),
    as (the ASCII ones, None when they are all) or None. A digit's are "0123456789" and the
    regex \\d, which also finds the digits of other scripts. Read off the parsed regex like
    _anchors."""
    from re import _constants as C, _parser as P

    digits: list[tuple[str, re.Pattern | None]] = []
    literals: list[tuple[str, re.Pattern | None]] = []

    def seq(items) -> None:
        for op, av in items:
            if op is C.LITERAL and av < 128 and not chr(av).isalpha():
                literals.append((chr(av), None))
            elif op is C.IN and list(av) == [(C.CATEGORY, C.CATEGORY_DIGIT)]:
                digits.append(("0123456789", re.compile(r"\d")))
            elif op is C.SUBPATTERN:
                seq(av[-1])
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
                seq(av[2])

    try:
        seq(P.parse(pattern, re.I))
    except Exception:
        return None
    found = digits or literals
    return found[0] if found else None


def _trie_regex(words: set[str]) -> str:
    """A regex of the words as a trie, longest first: at a position it matches the longest of
    the words that starts there (each branch starts with a different character, and an
    optional tail is tried before stopping)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        kids = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not kids:
            return ""
        body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class _Memo(dict):
    """A dict that computes a missing key's value with `make` (and keeps it while it holds
    fewer than `cap` keys)."""

    def __init__(self, make, cap: int = 200_000):
        super().__init__()
        self.make, self.cap = make, cap

    def __missing__(self, key):
        value = self.make(key)
        if len(self) < self.cap:
            self[key] = value
        return value


def _chunk_local(rx: re.Pattern) -> bool:
    """Whether rx's matches in a text are exactly its matches in each of the text's
    space-separated chunks (text.split(" ")), in turn: every match is at least one character
    long, no part of rx can match a space, and its only zero-width tests are word boundaries
    (\\b: a space, like a chunk's edge, is no word character). Read off the parsed regex."""
    from re import _compiler as Cm, _constants as C, _parser as P

    def ok(items, state) -> bool:
        for op, av in items:
            if op is C.LITERAL:
                if av == 32 or (rx.flags & re.I and chr(av).lower() == " "):
                    return False
            elif op is C.IN:
                if Cm.compile(P.SubPattern(state, [(op, av)]), rx.flags).match(" "):
                    return False
            elif op is C.AT:
                if av is not C.AT_BOUNDARY:
                    return False
            elif op is C.SUBPATTERN:
                if not ok(av[-1], state):
                    return False
            elif op is C.BRANCH:
                if not all(ok(b, state) for b in av[1]):
                    return False
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                if not ok(av[2], state):
                    return False
            else:
                return False
        return True

    try:
        parsed = P.parse(rx.pattern, rx.flags)
        return parsed.getwidth()[0] >= 1 and ok(parsed.data, parsed.state)
    except Exception:
        return False


class _AnchorScan:
    """Which patterns can match a lower-cased sentence, found in one regex pass instead of one
    substring test per anchor: every pattern (each lexicon's, one by one, and a few gated
    regexes) gets a bit; one scan finds the longest anchor starting at each position of the
    text, and the bits of that anchor and of every anchor that is a prefix of it (exactly the
    anchors starting there) are set. So a bit is set iff one of the pattern's anchors occurs in
    the text: Cues.may_match_lower's test, pattern by pattern. A pattern without anchors has
    its _witness characters as one-character anchors (and, on a non-ASCII text, its witness
    regex searched), else its bit always set."""

    def __init__(self, lexicons: list[Cues], gated: list[re.Pattern]):
        owners: dict[str, int] = {}
        self.always = 0
        self.witnessed: list[tuple[object, int]] = []  # for non-ASCII text: (search of a witness regex, its bit)
        self.lexicons: list[tuple[int, int]] = []  # (first bit, mask of its patterns' bits)
        bit = 0

        def add(anchors: set[str] | None, b: int, pattern: str) -> None:
            if anchors is None:
                witness = _witness(pattern)
                if witness is None:
                    self.always |= 1 << b
                    return
                anchors = set(witness[0])  # one-character anchors
                if witness[1] is not None:
                    self.witnessed.append((witness[1].search, 1 << b))
            for a in anchors:
                owners[a] = owners.get(a, 0) | 1 << b

        for cues in lexicons:
            self.lexicons.append((bit, (1 << len(cues.patterns)) - 1))
            for anchors, pattern in zip(cues.pattern_anchors, cues.patterns):
                add(anchors, bit, pattern)
                bit += 1
        self.gates: list[int] = []
        for rx in gated:
            add(_anchors(rx.pattern), bit, rx.pattern)
            self.gates.append(1 << bit)
            bit += 1
        # A pattern's other anchor clauses (a match needs one string of each): a bit each.
        # extras[k]: {bit of a pattern in lexicon k (as in its keep mask): bits of its clauses}
        self.extras: list[dict[int, int]] = []
        for cues in lexicons:
            extra: dict[int, int] = {}
            for i, (anchors, pattern) in enumerate(zip(cues.pattern_anchors, cues.patterns)):
                if anchors is None:
                    continue
                for clause in _anchor_clauses(pattern):
                    if clause != anchors:
                        add(clause, bit, pattern)
                        extra[1 << i] = extra.get(1 << i, 0) | 1 << bit
                        bit += 1
            self.extras.append(extra)
        # a found (longest) anchor stands for itself and every anchor it starts with
        self.bits = {a: self._closure(a, owners) for a in owners}
        self._owners = owners
        self._findall = None  # present_by_scan's regex, compiled on first use
        # present() reads the text as its space-separated chunks (low.split(" ")): an anchor
        # without a space is inside a chunk; " x" starts a chunk after the first, "x " ends one
        # before the last, " x " is a whole chunk between two others (x without a space). The
        # other anchors (a space inside) are found at the spaces: " " + the rest after their
        # first space, then the part before it is checked. Each chunk's bits are memoised.
        inner = {a: b for a, b in owners.items() if " " not in a}
        self._inner = re.compile(f"(?=({_trie_regex(set(inner))}))").findall if inner else (lambda c: [])
        self._inner_bits = {a: self._closure(a, inner) for a in inner}
        self._starts: list[tuple[str, int]] = []  # " x": (x, bits)
        self._ends: list[tuple[str, int]] = []  # "x "
        self._whole: dict[str, int] = {}  # " x "
        spanning: dict[str, dict[str, int]] = {}  # rest after the first space -> {part before: bits}
        for a, b in owners.items():
            if " " not in a:
                continue
            core = a[1 if a.startswith(" ") else 0: len(a) - 1 if a.endswith(" ") else len(a)]
            if core and " " not in core:
                if a.startswith(" ") and a.endswith(" "):
                    self._whole[core] = self._whole.get(core, 0) | b
                elif a.startswith(" "):
                    self._starts.append((core, b))
                else:
                    self._ends.append((core, b))
            else:
                head, rest = a.split(" ", 1)
                spanning.setdefault(rest, {})
                spanning[rest][head] = spanning[rest].get(head, 0) | b
        # a found (longest) rest stands for every rest it starts with
        self._spanning: dict[str, tuple[tuple[str, ...], list[tuple[str, int]]]] = {}
        for r in spanning:
            found = [(h, b) for k in range(1, len(r) + 1) for h, b in spanning.get(r[:k], {}).items()]
            self._spanning[r] = (tuple(h for h, _ in found), found)  # (every head, for one test; each)
        self._at_spaces = re.compile(f" (?=({_trie_regex(set(spanning))}))").finditer if spanning else None
        # chunk -> (bits as a middle chunk, as the first of several, as the last, as the only one)
        self._chunks: dict[str, tuple[int, int, int, int]] = {}
        self._middle = _Memo(lambda c: self._chunk(c)[0])  # chunk -> its bits as a middle chunk

    def _chunk(self, c: str) -> tuple[int, int, int, int]:
        got = self._chunks.get(c)
        if got is None:
            inner = 0
            bits = self._inner_bits
            for a in self._inner(c):
                inner |= bits[a]
            start = end = 0
            for core, b in self._starts:
                if c.startswith(core):
                    start |= b
            for core, b in self._ends:
                if c.endswith(core):
                    end |= b
            whole = self._whole.get(c, 0)
            got = (inner | start | end | whole, inner | end, inner | start, inner)
            if len(self._chunks) < 200_000:
                self._chunks[c] = got
        return got

    def present(self, low: str, chunks: list[str] | None = None) -> int:
        """The bits set for a lower-cased text (see the class); `chunks`, if given, is low.split(" ")."""
        got = self.always
        if self.witnessed and not low.isascii():
            for search, bit in self.witnessed:
                if search(low):
                    got |= bit
        if chunks is None:
            chunks = low.split(" ")
        chunk = self._chunk
        if len(chunks) == 1:
            return got | chunk(low)[3]
        got |= chunk(chunks[0])[1] | chunk(chunks[-1])[2]
        if len(chunks) > 2:
            got |= reduce(or_, map(self._middle.__getitem__, chunks[1:-1]))
        if self._at_spaces is not None:
            for m in self._at_spaces(low):
                q = m.start()
                heads, each = self._spanning[m.group(1)]
                if low.endswith(heads, 0, q):
                    for head, b in each:
                        if low.endswith(head, 0, q):
                            got |= b
        return got

    def present_by_scan(self, low: str) -> int:
        """present(low) by one scan of the whole text (the reference present() must equal)."""
        got = self.always
        if self.witnessed and not low.isascii():
            for search, bit in self.witnessed:
                if search(low):
                    got |= bit
        if self._findall is None:
            self._findall = re.compile(f"(?=({_trie_regex(set(self._owners))}))").findall if self._owners \
                else (lambda text: [])
        bits = self.bits
        for a in self._findall(low):
            got |= bits[a]
        return got

    @staticmethod
    def _closure(a: str, owners: dict[str, int]) -> int:
        """The bits of a and of every anchor a starts with."""
        got = 0
        for k in range(1, len(a) + 1):
            got |= owners.get(a[:k], 0)
        return got


_TOPIC_ADDITIVE = [rx for rx in _ADDITIVE if isinstance(rx, Cues)]
_OTHER_ADDITIVE = [rx for rx in _ADDITIVE if not isinstance(rx, Cues)]
assert _ADDITIVE == [*_TOPIC_ADDITIVE, *_OTHER_ADDITIVE]


def _top_branches(pattern: str) -> list[str]:
    """The top-level alternatives of a regex source (split at each '|' outside groups and
    character classes): the regex matches as their alternation, in this order, does."""
    out: list[str] = []
    depth, in_class, cur, i = 0, False, [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            cur.append(pattern[i: i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1: i + 2] == "]":  # a ']' first in a class is a literal
                cur.append("[]")
                i += 2
                continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _chunk_split(rx: "Cues | tuple[re.Pattern, re.Pattern | None]") -> tuple[re.Pattern, list[re.Pattern]] | None:
    """An additive pattern (a topic lexicon, or the (regex, lower-case regex) pair of another
    count) as (a lower-case regex of its chunk-local alternatives, regexes of the others), or
    None. The lexicon's (or the pair's lower-case) regex is an alternation of the alternatives
    between common zero-width tests; where none of the others can match (none of their anchors
    occurs), it matches as the regex of the chunk-local ones, whose matches are its matches in
    each space-separated chunk of a lower-cased text: those tests (a word boundary, no word
    character or hyphen before, no word character after) hold at a chunk's edge exactly as
    next to a space."""
    if isinstance(rx, Cues):
        if rx.lower_regex is None:
            return None
        branches = [b for p in rx.patterns for b in _top_branches(p)]
        make = lambda bs: re.compile(Cues._source(tuple(bs)))  # noqa: E731
    else:
        lower = rx[1]
        if lower is None or not (lower.pattern.startswith(r"\b(?:") and lower.pattern.endswith(r")\b")):
            return None
        branches = _top_branches(lower.pattern[5:-3])
        make = lambda bs: re.compile(r"\b(?:" + "|".join(bs) + r")\b")  # noqa: E731
        if make(branches).pattern != lower.pattern:
            return None
    is_local = [_chunk_local(re.compile(b)) for b in branches]
    local = [b for b, ok in zip(branches, is_local) if ok]
    others = [b for b, ok in zip(branches, is_local) if not ok]
    if any(_anchors(b) is None for b in others):
        return None
    return (make(local) if local else re.compile(r"(?!)")), [re.compile(b) for b in others]


class _Fast:
    """The fast path's tables (built on first use: about a quarter second of regex parsing)."""

    def __init__(self) -> None:
        # each additive count as chunk counts (see _chunk_split): its non-local alternatives are
        # gated regexes of the anchor scan, so present() tells when they cannot match
        splits = [_chunk_split(rx) for rx in _ADDITIVE]
        spanning = [rx for sp in splits if sp is not None for rx in sp[1]]
        self.scan = _AnchorScan([rx for *_, rx in _CUE_COLUMNS] + _TOPIC_ADDITIVE,
                                [_ATTRIB_RE, _NEG_RE, *(rx[0] for rx in _OTHER_ADDITIVE), *spanning])
        self.attrib_gate, self.neg_gate, *other_gates = self.scan.gates
        spanning_gates = other_gates[len(_OTHER_ADDITIVE):]
        other_gates = other_gates[:len(_OTHER_ADDITIVE)]
        # per additive count: None (no chunk counts) or the present() bits of its non-local alternatives
        self.chunk_guard: list[int | None] = []
        k = 0
        for sp in splits:
            if sp is None:
                self.chunk_guard.append(None)
                continue
            self.chunk_guard.append(sum(spanning_gates[k: k + len(sp[1])]))
            k += len(sp[1])
        local = [sp[0].findall if sp is not None else None for sp in splits]
        # chunk -> every count's matches in it (chunk-local alternatives), 32 bits each: summed
        # over a text's chunks, each field is that count (below 2**32: a match is one character or more)
        self.chunk_counts = _Memo(lambda c: sum(len(f(c)) << (32 * i) for i, f in enumerate(local) if f is not None))
        # _NEG_RE can match a look-behind window only if the window, lower-cased, holds one of its anchors
        neg = _anchors(_NEG_RE.pattern)
        self.neg_window = re.compile(_trie_regex(neg)).search if neg else None
        lexicons, extras = self.scan.lexicons, self.scan.extras
        # per lexicon: its columns or regex, then (first bit, mask, bits with other clauses, their clauses, mask << first)
        self.cues = [(own, negated, reported, rx, first, mask, sum(ex), ex, mask << first)
                     for (own, negated, reported, rx), (first, mask), ex in zip(_CUE_COLUMNS, lexicons, extras)]
        n = len(_CUE_COLUMNS)
        self.topics = [(rx, first, mask, sum(ex), ex, mask << first)
                       for rx, (first, mask), ex in zip(_TOPIC_ADDITIVE, lexicons[n:], extras[n:])]
        # (the regex pair, a _LeadScan of its lower-case regex or None, its count per chunk of a
        # lower-cased text when _chunk_local (memoised) or None, its gate bit)
        self.others = [(rx, _LeadScan.split(rx[1]) if rx[1] is not None else None,
                        _Memo(lambda c, findall=rx[1].findall: len(findall(c)))
                        if rx[1] is not None and _chunk_local(rx[1]) else None,
                        gate)
                       for rx, gate in zip(_OTHER_ADDITIVE, other_gates)]


@lru_cache(maxsize=None)
def _fast() -> _Fast:
    return _Fast()


def _keep(present: int, first: int, mask: int, with_extra: int, extras: dict[int, int]) -> int:
    """The bits of a lexicon's patterns that can match a text whose _AnchorScan.present() is
    `present`: its anchors occur, and one string of each of its other clauses."""
    keep = present >> first & mask
    check = keep & with_extra
    while check:
        b = check & -check
        need = extras[b]
        if present & need != need:
            keep ^= b
        check ^= b
    return keep

def _sentence_cues(sentence: str) -> tuple[tuple[int, ...], bool, tuple[int, ...]]:
    """What one sentence adds to its text's cue features: the feature column of each of its
    stance/tone hits (as sentence_hits classifies them: negated, else reported, else own),
    whether it holds reported speech, and its counts of the additive patterns.

    One anchor scan of the lower-cased sentence says which patterns can match it; each lexicon
    then runs a regex of only those (same matches: the others match nowhere), and a regex
    whose anchors are all absent (negation, attribution, modal...) or a quote pattern without
    its quote character is not run (it cannot match)."""
    low = lower_same(sentence)
    if low is None:
        return _sentence_cues_unlowered(sentence)
    fast = _fast()
    chunks = low.split(" ")
    present = fast.scan.present(low, chunks)
    # _reported_spans(sentence)
    spans = [(m.start(), m.end()) for m in _QUOTE_RE.finditer(sentence)] \
        if ('"' in sentence or "“" in sentence or ">" in sentence) else []
    if present & fast.attrib_gate:
        m = _ATTRIB_RE.search(sentence)
        if m and not _FIRST_PERSON_REPORT.search(sentence[max(0, m.start() - 10): m.end()]):
            spans.append((m.start(), len(sentence)))
    may_negate = present & fast.neg_gate
    neg_window = fast.neg_window
    cols: list[int] = []
    for own, negated, reported, rx, first, mask, with_extra, extras, span in fast.cues:
        if not present & span:
            continue
        keep = _keep(present, first, mask, with_extra, extras)
        if not keep:
            continue
        for m in rx.scan(low if rx.lower_regex is not None else sentence, keep):
            st = m.start()
            if may_negate and (neg_window is None or neg_window(low, max(0, st - 40), st)) \
                    and _NEG_RE.search(sentence[max(0, st - 40): st]):
                col = negated
            elif spans and any(a <= st < b for a, b in spans):
                col = reported
            else:
                col = own
            if col is not None:
                cols.append(col)
    # the additive counts: summed over the chunks where no non-local alternative can match
    packed = sum(map(fast.chunk_counts.__getitem__, chunks))
    counts = [0] * len(_ADDITIVE)
    guards = fast.chunk_guard
    k = 0
    for rx, first, mask, with_extra, extras, span in fast.topics:
        guard = guards[k]
        if guard is not None and not present & guard:
            counts[k] = packed >> (32 * k) & 0xFFFFFFFF
        else:
            keep = _keep(present, first, mask, with_extra, extras) if present & span else 0
            if keep:
                counts[k] = len(rx.scan(low if rx.lower_regex is not None else sentence, keep))
        k += 1
    for rx, lead_scan, per_chunk, gate in fast.others:
        guard = guards[k]
        if guard is not None and not present & guard:
            counts[k] = packed >> (32 * k) & 0xFFFFFFFF
        elif present & gate:
            counts[k] = sum(map(per_chunk.__getitem__, chunks)) if per_chunk is not None \
                else len(lead_scan.finditer(low)) if lead_scan is not None \
                else len(rx[1].findall(low)) if rx[1] is not None else len(rx[0].findall(sentence))
        k += 1
    return tuple(cols), bool(spans), tuple(counts)


_REPORTED_SHARE = _INDEX["reported_share"]
_TEXT_COLS = [_INDEX["quotes"], _INDEX["question"], _INDEX["exclaim"], _INDEX["log_words"]]


def cue_features(texts: list[str], sentences: list[list[str]] | None = None) -> np.ndarray:
    """Negation- and attribution-aware lexicon counts (log1p-scaled) for each text.

    Built from per-sentence results, each distinct sentence analysed once per call: a passage
    and its own sentences (which the label model featurises together) share the work.
    `sentences`, if given, is split_sentences() of each text (saves splitting again).

    A text's row is the sum of its sentences' rows (whole counts, added exactly in float64),
    its reported-speech sentences divided by its sentence count (at least 1), and its own
    counts of quotes, '?', '!' and words; then cast to float32 and log1p-scaled."""
    memo: dict[str, int] = {}  # sentence -> its row in the sentence table
    hit_cols: list[int] = []  # every distinct sentence's hit columns, sentence after sentence
    hit_ends: list[int] = []  # sentence i's are hit_cols[hit_ends[i - 1]:hit_ends[i]]
    reported: list[bool] = []
    counts: list[tuple[int, ...]] = []
    which: list[int] = []  # every text's sentences' rows, text after text
    ends = [0]  # text i's are which[ends[i]:ends[i + 1]]
    per_text: list[tuple[int, int, int, int]] = []
    n_sents: list[int] = []
    text_memo: dict[str, tuple[int, int, int, int]] = {}  # text -> its own counts
    cues = _sentence_cues
    for row, text in enumerate(texts):
        text = text or ""
        sents = split_sentences(text) if sentences is None else sentences[row]
        for s in sents:
            i = memo.get(s)
            if i is None:
                i = memo[s] = len(counts)
                c, r, n = cues(s)
                hit_cols.extend(c)
                hit_ends.append(len(hit_cols))
                reported.append(r)
                counts.append(n)
            which.append(i)
        ends.append(len(which))
        n_sents.append(len(sents))
        own = text_memo.get(text)
        if own is None:
            quotes = len(_QUOTE_RE.findall(text)) if ('"' in text or "\u201c" in text or ">" in text) else 0
            own = text_memo[text] = (quotes, text.count("?"), text.count("!"), len(text.split()))
        per_text.append(own)
    n_feat = len(FEATURE_NAMES)
    n_rows = len(counts)
    table = np.zeros((n_rows, n_feat), dtype=np.float64)
    if n_rows:
        if hit_cols:
            owner = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(np.asarray([0, *hit_ends], dtype=np.int64)))
            table += np.bincount(owner * n_feat + np.asarray(hit_cols, dtype=np.int64),
                                 minlength=n_rows * n_feat).reshape(n_rows, n_feat)
        table[:, _REPORTED_SHARE] = np.asarray(reported, dtype=np.float64)
        table[:, _ADDITIVE_COLS] = np.asarray(counts, dtype=np.float64).reshape(n_rows, len(_ADDITIVE_COLS))
    sums = np.zeros((len(which) + 1, n_feat), dtype=np.float64)
    if which:
        np.cumsum(table[np.asarray(which, dtype=np.int64)], axis=0, out=sums[1:])
    bounds = np.asarray(ends, dtype=np.int64)
    out = sums[bounds[1:]] - sums[bounds[:-1]]
    out[:, _REPORTED_SHARE] /= np.maximum(1.0, np.asarray(n_sents, dtype=np.float64))
    if texts:
        out[:, _TEXT_COLS] = np.asarray(per_text, dtype=np.float64)
    return np.log1p(out.astype(np.float32))


# --------------------------------------------------------------------------- baseline
def _own_scores(hits: list[Hit], axis: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for h in hits:
        if h.axis != axis:
            continue
        if h.negated or h.reported:
            # a negated or reported side cue still shows the text is on topic
            scores["neutral"] = scores.get("neutral", 0.0) + 0.5
            continue
        scores[h.label] = scores.get(h.label, 0.0) + 1.0
    return scores


class KeywordBaseline:
    """Labels from the lexicons alone: side cues decide, topic words make it `neutral`."""

    name = "keyword"

    def predict(self, texts: list[str]) -> list[dict]:
        out = []
        for text in texts:
            _, hits = passage_hits(text)
            topics_n = topic_hits(text)
            topics = [t for t, n in topics_n.items() if n >= (1 if t in ("licensing", "geopolitics", "moderation") else 2)]
            row = {"topics": topics}
            for axis, (pos, negl), topic in (("release", ("open", "closed"), "open_release"),
                                             ("moderation", ("filter", "no_filter"), "moderation")):
                s = _own_scores(hits, axis)
                a, b = s.get(pos, 0.0), s.get(negl, 0.0)
                if s.get("mixed", 0) >= 1 or (a >= 1 and b >= 1 and min(a, b) / max(a, b) >= 0.5):
                    label = "mixed"
                elif a > b:
                    label = pos
                elif b > a:
                    label = negl
                elif s.get("neutral", 0) > 0 or topics_n.get(topic, 0) >= 2:
                    label = "neutral"
                else:
                    label = "none"
                row[axis] = label
            t = _own_scores(hits, "sentiment")
            p, n = t.get("positive", 0.0), t.get("negative", 0.0)
            row["sentiment"] = "positive" if p > n and p >= 1 else "negative" if n > p and n >= 1 else "neutral"
            out.append(row)
        return out


class MajorityBaseline:
    """The most frequent label of the training data on every axis; topics: those on >50%."""

    name = "majority"

    def __init__(self, rows: list[dict]):
        from collections import Counter

        self.labels = {ax: Counter(r[ax] for r in rows).most_common(1)[0][0] if rows else AXES[ax][-1] for ax in AXES}
        counts = Counter(t for r in rows for t in r.get("topics", []))
        self.topics = [t for t in TOPICS if rows and counts[t] > len(rows) / 2]

    @classmethod
    def from_counts(cls, label_counts: dict[str, dict[str, int]], topic_counts: dict[str, int], rows: int) -> "MajorityBaseline":
        self = cls([])
        self.labels = {ax: max(label_counts[ax].items(), key=lambda kv: (kv[1], kv[0]))[0] for ax in AXES}
        self.topics = [t for t in TOPICS if topic_counts.get(t, 0) > rows / 2]
        return self

    def predict(self, texts: list[str]) -> list[dict]:
        return [{**self.labels, "topics": list(self.topics)} for _ in texts]
