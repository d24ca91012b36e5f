"""Deterministic in-process fake of Amazon Comprehend (the real-time text-analysis operations).

``POST https://comprehend.<region>.amazonaws.com/`` with ``X-Amz-Target:
Comprehend_20171127.<Operation>``, ``Content-Type: application/x-amz-json-1.1`` and a JSON
body, SigV4-signed for service ``comprehend`` -- what ML Commons' Amazon Comprehend blueprint
sends (``"url": "https://${parameters.service_name}.${parameters.region}.amazonaws.com"``).

Implemented: DetectDominantLanguage, DetectEntities, DetectKeyPhrases, DetectSentiment,
DetectSyntax, DetectPiiEntities, ContainsPiiEntities, DetectToxicContent and the five
BatchDetect* operations.  The analyses are small deterministic heuristics (script and
stop-word language identification, capitalisation / lexicon entities, lexicon sentiment), so
the same text always gets the same answer, in Comprehend's exact response shapes (scores are
32-bit floats, offsets count characters).

Errors are the JSON protocol's: ``{"__type": "...", "Message": "..."}`` for the service's
modelled exceptions, ``{"__type": "ValidationException", "message": "1 validation error
detected: ..."}`` for member constraints, 400 for authentication failures.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from typing import Any

from .aws import AwsError, AwsJsonService, Clock, Credentials, json_protocol_error
from .base import ProviderResponse, hash_fraction

__all__ = ["FakeComprehend"]

TEXT_SIZE_MESSAGE = (  # verbatim
    "Input text size exceeds limit. Max length of request text allowed is {limit} bytes while in this "
    "request the text size is {size} bytes"
)
BATCH_SIZE_MESSAGE = (  # UNSURE
    "The number of documents in the request exceeds the limit of {limit}. Try your request again with fewer "
    "documents."
)
LANGUAGE_OR_ENDPOINT_MESSAGE = "Either LanguageCode or EndpointArn must be specified"  # UNSURE
CUSTOM_ENDPOINT_MESSAGE = (  # UNSURE (the fake serves no custom recognizer endpoints)
    "Specified resource ARN was not found. Check the ARN and try your request again."
)
THROTTLING_MESSAGE = "Rate exceeded"  # UNSURE
INTERNAL_SERVER_MESSAGE = "Internal server error"  # UNSURE

# UNSURE: Coral prints an enum's allowed values in its own (set) order; the model's order is used
LANGUAGE_CODES = ("en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW")
SYNTAX_LANGUAGE_CODES = ("en", "es", "fr", "de", "it", "pt")
PII_LANGUAGE_CODES = ("en", "es")
TOXIC_LANGUAGE_CODES = ("en",)

_SMALL = 5000  # bytes: DetectSentiment, DetectSyntax, DetectTargetedSentiment
_LARGE = 100_000  # bytes: DetectDominantLanguage, DetectEntities, DetectKeyPhrases, DetectPiiEntities
_BATCH_LIMIT = 25
_TOXIC_SEGMENT_LIMIT = 10

_OTHER_OPERATIONS = (
    "BatchDetectTargetedSentiment", "ClassifyDocument", "CreateDataset", "CreateDocumentClassifier",
    "CreateEndpoint", "CreateEntityRecognizer", "CreateFlywheel", "DeleteDocumentClassifier", "DeleteEndpoint",
    "DeleteEntityRecognizer", "DeleteFlywheel", "DeleteResourcePolicy", "DescribeDataset",
    "DescribeDocumentClassificationJob", "DescribeDocumentClassifier", "DescribeDominantLanguageDetectionJob",
    "DescribeEndpoint", "DescribeEntitiesDetectionJob", "DescribeEntityRecognizer", "DescribeEventsDetectionJob",
    "DescribeFlywheel", "DescribeFlywheelIteration", "DescribeKeyPhrasesDetectionJob",
    "DescribePiiEntitiesDetectionJob", "DescribeResourcePolicy", "DescribeSentimentDetectionJob",
    "DescribeTargetedSentimentDetectionJob", "DescribeTopicsDetectionJob", "DetectTargetedSentiment",
    "ImportModel", "ListDatasets", "ListDocumentClassificationJobs", "ListDocumentClassifiers",
    "ListDocumentClassifierSummaries", "ListDominantLanguageDetectionJobs", "ListEndpoints",
    "ListEntitiesDetectionJobs", "ListEntityRecognizers", "ListEntityRecognizerSummaries",
    "ListEventsDetectionJobs", "ListFlywheelIterationHistory", "ListFlywheels", "ListKeyPhrasesDetectionJobs",
    "ListPiiEntitiesDetectionJobs", "ListSentimentDetectionJobs", "ListTagsForResource",
    "ListTargetedSentimentDetectionJobs", "ListTopicsDetectionJobs", "PutResourcePolicy",
    "StartDocumentClassificationJob", "StartDominantLanguageDetectionJob", "StartEntitiesDetectionJob",
    "StartEventsDetectionJob", "StartFlywheelIteration", "StartKeyPhrasesDetectionJob",
    "StartPiiEntitiesDetectionJob", "StartSentimentDetectionJob", "StartTargetedSentimentDetectionJob",
    "StartTopicsDetectionJob", "StopDominantLanguageDetectionJob", "StopEntitiesDetectionJob",
    "StopEventsDetectionJob", "StopKeyPhrasesDetectionJob", "StopPiiEntitiesDetectionJob",
    "StopSentimentDetectionJob", "StopTargetedSentimentDetectionJob", "StopTrainingDocumentClassifier",
    "StopTrainingEntityRecognizer", "TagResource", "UntagResource", "UpdateEndpoint", "UpdateFlywheel",
)


def _f32(x: float) -> float:
    """Comprehend's scores are 32-bit floats (0.6898566484451294, not 0.69)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _score(*parts: Any, low: float = 0.9, high: float = 0.9999) -> float:
    return _f32(low + (high - low) * hash_fraction("comprehend", *parts))


def _validation(problems: list[str]) -> AwsError:
    noun = "error" if len(problems) == 1 else "errors"
    return json_protocol_error(400, "ValidationException",
                               f"{len(problems)} validation {noun} detected: " + "; ".join(problems),
                               member="message")


def _serialization() -> AwsError:
    return json_protocol_error(400, "SerializationException", None, member="message")


# ------------------------------------------------------------------------------ lexicons

_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)
_TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|[^\w\s]", re.UNICODE)

_LATIN_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are was were of to in that it for with on this you have be not what how hello hi "
                    "thanks thank please good morning where when who why from they we i my your our will would "
                    "can could an a at by or but as if there their about".split()),
    "fr": frozenset("le la les et est sont de des du un une que qui pour avec dans ce cette je tu il elle nous vous "
                    "ils pas bonjour merci oui non bonsoir au aux sur très être avoir comment où quand pourquoi "
                    "mais ou donc salut".split()),
    "de": frozenset("der die das und ist sind ein eine einen nicht mit von zu den dem des ich du er sie wir ihr "
                    "guten tag hallo danke bitte ja nein auf für ist wie wo wann warum aber oder auch morgen".split()),
    "es": frozenset("el la los las y es son de del un una que en por para con no se su hola gracias buenos días "
                    "como cómo donde dónde cuando cuándo porque pero muy yo tú él ella nosotros usted".split()),
    "it": frozenset("il lo la gli le e è sono di del della un una che per con non ciao grazie buongiorno come "
                    "dove quando perché ma molto io tu lui lei noi voi sì anche".split()),
    "pt": frozenset("o a os as e é são de do da um uma que em para com não olá obrigado obrigada bom dia como "
                    "onde quando porque mas muito eu tu ele ela nós você sim também".split()),
    "nl": frozenset("de het een en is zijn van in dat niet met voor op ik je hij zij wij hallo dank goedemorgen "
                    "hoe waar wanneer waarom maar ook".split()),
}
_LATIN_MARKS: dict[str, str] = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü", "fr": "œêèàç", "it": "ò"}
_TRADITIONAL = frozenset("們這說國會學時來對個麼為與門開關東車長現實發點話無當經過還體從電頭動")

_STOP = frozenset(
    "a an the and or but nor so yet for of in on at to from by with without into onto about above below over under "
    "between through during before after since until while as than then that this these those there here is are "
    "was were be been being am do does did have has had having will would shall should can could may might must "
    "i you he she it we they me him her us them my your his its our their mine yours ours theirs who whom whose "
    "which what when where why how not no yes if because also very too just only all any both each few more most "
    "other some such own same again further once please".split()
)
_DETERMINERS = frozenset("a an the this that these those my your his her its our their some any each every".split())
_SENTENCE_STARTERS = _STOP | frozenset(
    "hello hi hey thanks thank dear yes no ok okay well so now today tomorrow yesterday tonight".split())
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion "
    "dozen several".split()
)
_DATE_WORDS = frozenset(
    "today tomorrow yesterday tonight monday tuesday wednesday thursday friday saturday sunday january february "
    "march april may june july august september october november december".split()
)
_LOCATIONS = frozenset(
    "seattle london paris berlin madrid rome tokyo beijing shanghai sydney toronto vancouver chicago boston "
    "austin denver dallas houston miami york francisco angeles washington oregon california texas florida "
    "canada france germany spain italy japan china india brazil mexico australia england ireland scotland "
    "europe asia africa america usa uk munich dublin amsterdam zurich vienna singapore seoul delhi mumbai".split()
)
_ORGANIZATIONS = frozenset(
    "amazon aws google microsoft apple meta facebook netflix ibm oracle intel nvidia opensearch elastic "
    "anthropic openai cohere salesforce adobe tesla twitter linkedin".split()
)
_ORG_SUFFIXES = frozenset("inc inc. corp corp. corporation ltd ltd. llc company co co. university bank group "
                          "foundation institute agency".split())
_LOCATION_CUES = frozenset("in at near to from".split())
_VERBS = frozenset(
    "is are was were be been being am do does did have has had go goes went gone make makes made get gets got "
    "order orders ordered buy buys bought want wants wanted like likes liked love loves loved see sees saw seen "
    "know knows knew think thinks thought take takes took say says said come comes came give gives gave use "
    "uses used find finds found tell tells told ask asks asked work works worked seem seems feel feels felt "
    "try tries tried leave leaves left call calls called need needs needed eat eats ate sit sits sat run runs ran "
    "write writes wrote read reads speak speaks spoke live lives lived meet meets met send sends sent pay pays "
    "paid".split()
)
_POSITIVE = frozenset(
    "good great excellent amazing awesome love loved loves like liked happy glad wonderful fantastic nice best "
    "better perfect enjoy enjoyed pleased delighted brilliant superb recommend helpful friendly fast easy "
    "beautiful thanks thank fun positive satisfied outstanding".split()
)
_NEGATIVE = frozenset(
    "bad terrible awful horrible hate hated hates worst worse poor sad angry disappointed disappointing broken "
    "slow ugly rude useless annoying problem problems fail failed failure wrong expensive difficult hard "
    "negative unhappy dirty boring".split()
)
_NEGATIONS = frozenset("not no never don't doesn't didn't isn't wasn't aren't weren't won't can't cannot".split())
_PROFANITY = frozenset("damn hell crap shit fuck fucking bastard".split())
_INSULTS = frozenset("idiot stupid dumb moron fool loser jerk".split())
_THREATS = frozenset("kill hurt destroy attack punch shoot".split())

# a word listed under two tags keeps the later one
_POS_TAGS: dict[str, str] = {word: tag for tag, words in (
    ("DET", "a an the this that these those some any each every no"),
    ("PRON", "i you he she it we they me him her us them myself yourself who whom what which"),
    ("ADP", "in on at to from by with without into onto about above below over under between through during "
            "before after of for near"),
    ("CCONJ", "and or but nor yet"),
    ("SCONJ", "because if while although though since unless whereas"),
    ("AUX", "is are was were be been being am do does did have has had will would shall should can could may "
            "might must"),
    ("PART", "not"),
    ("INTJ", "hello hi hey wow oh ouch thanks"),
    ("ADV", "very too also just only so here there now then never always often"),
) for word in words.split()}

_PII_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("URL", re.compile(r"https?://[^\s]+|www\.[^\s]+")),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("CREDIT_DEBIT_NUMBER", re.compile(r"\b(?:\d{4}[ -]?){3}\d{4}\b")),
    ("IP_ADDRESS", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("PHONE", re.compile(r"(?<![\w-])\+?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}(?![\w-])")),
)


# ------------------------------------------------------------------------------ analyses


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


def detect_languages(text: str) -> list[dict[str, Any]]:
    """[{"LanguageCode", "Score"}], best first: the script decides, then stop words and letters."""
    counts: dict[str, int] = {}
    for ch in text:
        o = ord(ch)
        lang = None
        if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            lang = "ko"
        elif 0x3040 <= o <= 0x30FF:
            lang = "ja"
        elif 0x4E00 <= o <= 0x9FFF:
            lang = "zh-TW" if ch in _TRADITIONAL else "zh"
        elif 0x0600 <= o <= 0x06FF:
            lang = "ar"
        elif 0x0900 <= o <= 0x097F:
            lang = "hi"
        elif 0x0400 <= o <= 0x04FF:
            lang = "uk" if ch in "іїєґІЇЄҐ" else "ru"
        elif 0x0370 <= o <= 0x03FF:
            lang = "el"
        elif 0x0590 <= o <= 0x05FF:
            lang = "he"
        elif 0x0E00 <= o <= 0x0E7F:
            lang = "th"
        if lang:
            counts[lang] = counts.get(lang, 0) + 1
    if counts.get("ja"):  # kana settles Han characters as Japanese
        counts["ja"] += counts.pop("zh", 0) + counts.pop("zh-TW", 0)
    if counts.get("zh-TW") and counts.get("zh"):
        counts["zh-TW"] += counts.pop("zh")
    weights: dict[str, float] = {k: float(v) for k, v in counts.items()}
    if not weights:
        lowered = [w.lower() for w, _, _ in _words(text)]
        for lang, vocab in _LATIN_WORDS.items():
            hits = sum(1 for w in lowered if w in vocab)
            if hits:
                weights[lang] = float(hits)
        for lang, marks in _LATIN_MARKS.items():
            if any(ch in marks for ch in text.lower()):
                weights[lang] = weights.get(lang, 0.0) + 1.5
        if not weights:
            weights["en"] = 0.5
    total = sum(weights.values()) + 0.25  # an unseen-language margin keeps scores below 1
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    out = []
    for i, (lang, weight) in enumerate(ranked):
        share = weight / total
        # runners-up are reported only when they come close (a shared stop word is no evidence)
        if i and (share < 0.05 or weight < 0.5 * ranked[0][1]):
            break
        jitter = 0.01 * hash_fraction("comprehend-language", text, lang)
        out.append({"LanguageCode": lang, "Score": _f32(min(0.9999, share + jitter))})
    return out


def _classify_proper(words: list[str], prev: str | None) -> str:
    lowered = [w.lower().rstrip(".") for w in words]
    acronym = len(words) == 1 and len(words[0]) > 1 and words[0].isupper()
    if lowered[-1] in _ORG_SUFFIXES or lowered[0] in _ORGANIZATIONS or acronym:
        return "ORGANIZATION"
    if any(w in _LOCATIONS for w in lowered) or (prev is not None and prev.lower() in _LOCATION_CUES):
        return "LOCATION"
    return "PERSON"


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Capitalised names, dates, quantities: [{"BeginOffset", "EndOffset", "Score", "Text", "Type"}]."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        word, start, end = tokens[i]
        low = word.lower()
        sentence_start = i == 0 or tokens[i - 1][0] in ".!?"
        prev = tokens[i - 1][0] if i else None
        if low in _DATE_WORDS or re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
            j = i + 1
            # "March 5, 2024": a month takes the day and year that follow it
            while j < len(tokens) and (tokens[j][0].isdigit() or (tokens[j][0] == "," and j + 1 < len(tokens)
                                                                 and tokens[j + 1][0].isdigit())):
                j += 1
            if low == "may" and j == i + 1 and not word[0].isupper():
                i += 1
                continue
            spans.append((start, tokens[j - 1][2], "DATE"))
            i = j
            continue
        if word.isdigit() or low in _NUMBER_WORDS or re.fullmatch(r"\d+(?:[.,]\d+)*", word):
            j = i + 1
            while (j < len(tokens) and j - i <= 4 and tokens[j][0].isalpha() and tokens[j][0].islower()
                   and tokens[j][0] not in _STOP and tokens[j][0] not in _DATE_WORDS
                   and tokens[j][0] not in _VERBS):
                j += 1
            spans.append((start, tokens[j - 1][2], "QUANTITY"))
            i = j
            continue
        if word[0].isupper() and word.isalpha() and not (sentence_start and (low in _SENTENCE_STARTERS
                                                                             or low in _VERBS)):
            j = i + 1
            while j < len(tokens):
                nxt = tokens[j][0]
                if nxt[0].isupper() and nxt.isalpha() or nxt.lower().rstrip(".") in _ORG_SUFFIXES and j > i:
                    j += 1
                elif (nxt.lower() in ("of", "de", "van", "von") and j + 1 < len(tokens)
                      and tokens[j + 1][0][:1].isupper()):
                    j += 2
                else:
                    break
            names = [t[0] for t in tokens[i:j]]
            spans.append((start, tokens[j - 1][2], _classify_proper(names, prev)))
            i = j
            continue
        i += 1
    return [{"BeginOffset": b, "EndOffset": e, "Score": _score("entity", text, b, e), "Text": text[b:e],
             "Type": kind} for b, e, kind in spans]


def detect_key_phrases(text: str) -> list[dict[str, Any]]:
    """Noun-phrase-like chunks: a determiner or number may open one, stop words and verbs close it."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
    phrases: list[tuple[int, int]] = []
    current: list[tuple[str, int, int]] = []

    def close() -> None:
        content = [t for t in current if t[0].lower() not in _DETERMINERS]
        if content:
            phrases.append((current[0][1], current[-1][2]))
        current.clear()

    for word, start, end in tokens:
        low = word.lower()
        if not word[0].isalnum():
            close()
        elif low in _DATE_WORDS and not (low == "may" and not word[0].isupper()):
            close()
            current.append((word, start, end))
            close()
        elif low in _DETERMINERS or low in _NUMBER_WORDS or word.isdigit():
            if current and current[-1][0].lower() not in _DETERMINERS:
                close()
            current.append((word, start, end))
        elif low in _STOP or low in _VERBS or (low.endswith("ed") and len(low) > 4 and not word[0].isupper()):
            close()
        else:
            current.append((word, start, end))
    close()
    return [{"BeginOffset": b, "EndOffset": e, "Score": _score("phrase", text, b, e), "Text": text[b:e]}
            for b, e in phrases]


def detect_sentiment(text: str) -> dict[str, Any]:
    words = [w.lower() for w, _, _ in _words(text)]
    pos = neg = 0
    for i, w in enumerate(words):
        negated = i > 0 and words[i - 1] in _NEGATIONS
        if w in _POSITIVE:
            pos, neg = (pos, neg + 1) if negated else (pos + 1, neg)
        elif w in _NEGATIVE:
            pos, neg = (pos + 1, neg) if negated else (pos, neg + 1)
    if pos and neg:
        label = "MIXED"
    elif pos:
        label = "POSITIVE"
    elif neg:
        label = "NEGATIVE"
    else:
        label = "NEUTRAL"
    top = 0.8 + 0.19 * hash_fraction("comprehend-sentiment", text)
    rest = 1.0 - top
    keys = ["Positive", "Negative", "Neutral", "Mixed"]
    winner = label.capitalize()
    others = [k for k in keys if k != winner]
    cuts = [hash_fraction("comprehend-sentiment", text, k) + 0.1 for k in others]
    scores = {winner: top}
    for k, c in zip(others, cuts):
        scores[k] = rest * c / sum(cuts)
    return {"Sentiment": label, "SentimentScore": {k: _f32(scores[k]) for k in keys}}


def _pos_tag(word: str, index: int) -> str:
    low = word.lower()
    if not word[0].isalnum():
        return "PUNCT" if word in ".,;:!?\"'()[]{}-" else "SYM"
    if word.isdigit() or low in _NUMBER_WORDS:
        return "NUM"
    if low in _POS_TAGS:
        return _POS_TAGS[low]
    if low in _VERBS or (low.endswith(("ed", "ing")) and len(low) > 4):
        return "VERB"
    if low.endswith("ly") and len(low) > 4:
        return "ADV"
    if word[0].isupper() and (index > 0 or low not in _SENTENCE_STARTERS):
        return "PROPN"
    if low.endswith(("ous", "ful", "ive", "able", "ible", "al", "ic")) and len(low) > 4:
        return "ADJ"
    return "NOUN"


def detect_syntax(text: str) -> list[dict[str, Any]]:
    out = []
    for i, m in enumerate(_TOKEN_RE.finditer(text)):
        word = m.group(0)
        tag = _pos_tag(word, i)
        out.append({"TokenId": i + 1, "Text": word, "BeginOffset": m.start(), "EndOffset": m.end(),
                    "PartOfSpeech": {"Tag": tag, "Score": _score("syntax", text, i, low=0.85)}})
    return out


def detect_pii(text: str) -> list[dict[str, Any]]:
    spans: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []

    def free(b: int, e: int) -> bool:
        return all(e <= tb or b >= te for tb, te in taken)

    for kind, pattern in _PII_PATTERNS:
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                spans.append((m.start(), m.end(), kind))
                taken.append((m.start(), m.end()))
    for entity in detect_entities(text):
        kind = {"PERSON": "NAME", "LOCATION": "ADDRESS", "DATE": "DATE_TIME"}.get(entity["Type"])
        if kind and free(entity["BeginOffset"], entity["EndOffset"]):
            spans.append((entity["BeginOffset"], entity["EndOffset"], kind))
            taken.append((entity["BeginOffset"], entity["EndOffset"]))
    spans.sort()
    return [{"Score": _score("pii", text, b, e), "Type": kind, "BeginOffset": b, "EndOffset": e}
            for b, e, kind in spans]


def detect_toxicity(text: str) -> dict[str, Any]:
    words = {w.lower() for w, _, _ in _words(text)}
    hits = {
        "PROFANITY": len(words & _PROFANITY),
        "HATE_SPEECH": 0,
        "INSULT": len(words & _INSULTS),
        "GRAPHIC": 0,
        "HARASSMENT_OR_ABUSE": len(words & _INSULTS),
        "SEXUAL": 0,
        "VIOLENCE_OR_THREAT": len(words & _THREATS),
    }
    labels = []
    for name, n in hits.items():
        base = 0.6 + 0.35 * min(1.0, n / 2) if n else 0.001 + 0.05 * hash_fraction("toxic", text, name)
        labels.append({"Name": name, "Score": _f32(base)})
    toxicity = max(label["Score"] for label in labels)
    return {"Labels": labels, "Toxicity": _f32(toxicity)}


# ------------------------------------------------------------------------------ the fake


class FakeComprehend(AwsJsonService):
    """Strict, deterministic stand-in for comprehend.<region>.amazonaws.com.

    credentials: None accepts any well-formed SigV4 signature; a mapping access_key -> secret
    (or -> (secret, session_token)) verifies signatures.  clock: the X-Amz-Date window's time.
    """

    name = "comprehend"
    service = "comprehend"
    target_prefix = "Comprehend_20171127."
    _IMPLEMENTED = (
        "DetectDominantLanguage", "DetectEntities", "DetectKeyPhrases", "DetectSentiment", "DetectSyntax",
        "DetectPiiEntities", "ContainsPiiEntities", "DetectToxicContent", "BatchDetectDominantLanguage",
        "BatchDetectEntities", "BatchDetectKeyPhrases", "BatchDetectSentiment", "BatchDetectSyntax",
    )
    operations = frozenset(_IMPLEMENTED + _OTHER_OPERATIONS)

    def __init__(self, *, credentials: Credentials | None = None, clock: Clock | None = None,
                 regions: Iterable[str] = (), recorder_size: int = 1000) -> None:
        super().__init__(credentials=credentials, clock=clock, regions=regions, recorder_size=recorder_size)
        self._handlers = {
            "DetectDominantLanguage": self._dominant_language,
            "DetectEntities": self._entities,
            "DetectKeyPhrases": self._key_phrases,
            "DetectSentiment": self._sentiment,
            "DetectSyntax": self._syntax,
            "DetectPiiEntities": self._pii,
            "ContainsPiiEntities": self._contains_pii,
            "DetectToxicContent": self._toxic,
            "BatchDetectDominantLanguage": lambda b, r: self._batch(b, None, _LARGE, lambda t: {
                "Languages": detect_languages(t)}),
            "BatchDetectEntities": lambda b, r: self._batch(b, LANGUAGE_CODES, _LARGE, lambda t: {
                "Entities": detect_entities(t)}),
            "BatchDetectKeyPhrases": lambda b, r: self._batch(b, LANGUAGE_CODES, _LARGE, lambda t: {
                "KeyPhrases": detect_key_phrases(t)}),
            "BatchDetectSentiment": lambda b, r: self._batch(b, LANGUAGE_CODES, _SMALL, detect_sentiment),
            "BatchDetectSyntax": lambda b, r: self._batch(b, SYNTAX_LANGUAGE_CODES, _SMALL, lambda t: {
                "SyntaxTokens": detect_syntax(t)}),
        }

    # ------------------------------------------------------------ validation

    @staticmethod
    def _text(body: dict[str, Any], problems: list[str], member: str = "Text") -> str | None:
        text = body.get(member)
        if text is None:
            # UNSURE: Coral hides a sensitive member's value; a null one reads "Value null at ..."
            problems.append(f"Value null at '{member[0].lower() + member[1:]}' failed to satisfy constraint: "
                            "Member must not be null")
            return None
        if not isinstance(text, str):
            raise _serialization()
        if not text:
            problems.append(f"Value at '{member[0].lower() + member[1:]}' failed to satisfy constraint: "
                            "Member must have length greater than or equal to 1")
        return text

    @staticmethod
    def _language(body: dict[str, Any], allowed: tuple[str, ...] | None, problems: list[str], *,
                  required: bool = True) -> str | None:
        code = body.get("LanguageCode")
        if allowed is None:
            return None
        if code is None:
            if required:
                problems.append("Value null at 'languageCode' failed to satisfy constraint: Member must not be null")
            return None
        if not isinstance(code, str):
            raise _serialization()
        if code not in allowed:
            problems.append(f"Value '{code}' at 'languageCode' failed to satisfy constraint: Member must satisfy "
                            f"enum value set: [{', '.join(allowed)}]")
        return code

    @staticmethod
    def _size(text: str, limit: int) -> None:
        size = len(text.encode("utf-8"))
        if size > limit:
            raise json_protocol_error(400, "TextSizeLimitExceededException",
                                      TEXT_SIZE_MESSAGE.format(limit=limit, size=size))

    def _single(self, body: dict[str, Any], languages: tuple[str, ...] | None, limit: int, *,
                language_required: bool = True) -> str:
        problems: list[str] = []
        text = self._text(body, problems)
        self._language(body, languages, problems, required=language_required)
        if problems:
            raise _validation(problems)
        assert text is not None
        self._size(text, limit)
        return text

    # ------------------------------------------------------------ operations

    def _dominant_language(self, body: dict[str, Any], region: str | None) -> Any:
        return {"Languages": detect_languages(self._single(body, None, _LARGE))}

    def _entities(self, body: dict[str, Any], region: str | None) -> Any:
        text = self._single(body, LANGUAGE_CODES, _LARGE, language_required=False)
        endpoint = body.get("EndpointArn")
        if endpoint is not None:
            raise json_protocol_error(400, "ResourceNotFoundException", CUSTOM_ENDPOINT_MESSAGE)
        if body.get("LanguageCode") is None:
            raise json_protocol_error(400, "InvalidRequestException", LANGUAGE_OR_ENDPOINT_MESSAGE)
        return {"Entities": detect_entities(text)}

    def _key_phrases(self, body: dict[str, Any], region: str | None) -> Any:
        return {"KeyPhrases": detect_key_phrases(self._single(body, LANGUAGE_CODES, _LARGE))}

    def _sentiment(self, body: dict[str, Any], region: str | None) -> Any:
        return detect_sentiment(self._single(body, LANGUAGE_CODES, _SMALL))

    def _syntax(self, body: dict[str, Any], region: str | None) -> Any:
        return {"SyntaxTokens": detect_syntax(self._single(body, SYNTAX_LANGUAGE_CODES, _SMALL))}

    def _pii(self, body: dict[str, Any], region: str | None) -> Any:
        return {"Entities": detect_pii(self._single(body, PII_LANGUAGE_CODES, _LARGE))}

    def _contains_pii(self, body: dict[str, Any], region: str | None) -> Any:
        entities = detect_pii(self._single(body, PII_LANGUAGE_CODES, _LARGE))
        best: dict[str, float] = {}
        for e in entities:
            best[e["Type"]] = max(best.get(e["Type"], 0.0), e["Score"])
        return {"Labels": [{"Name": k, "Score": v} for k, v in sorted(best.items())]}

    def _toxic(self, body: dict[str, Any], region: str | None) -> Any:
        problems: list[str] = []
        segments = body.get("TextSegments")
        if segments is None:
            problems.append("Value null at 'textSegments' failed to satisfy constraint: Member must not be null")
        elif not isinstance(segments, list):
            raise _serialization()
        elif not 1 <= len(segments) <= _TOXIC_SEGMENT_LIMIT:
            bound = "greater than or equal to 1" if not segments else f"less than or equal to {_TOXIC_SEGMENT_LIMIT}"
            problems.append(f"Value at 'textSegments' failed to satisfy constraint: Member must have length {bound}")
        self._language(body, TOXIC_LANGUAGE_CODES, problems)
        texts: list[str] = []
        for i, segment in enumerate(segments if isinstance(segments, list) else []):
            if not isinstance(segment, dict):
                raise _serialization()
            text = self._text(segment, problems)
            texts.append(text or "")
        if problems:
            raise _validation(problems)
        self._size("".join(texts), 10_000)  # UNSURE: the 10 KB limit applies to the segments together
        return {"ResultList": [detect_toxicity(t) for t in texts]}

    def _batch(self, body: dict[str, Any], languages: tuple[str, ...] | None, limit: int,
               analyse: Any) -> Any:
        problems: list[str] = []
        texts = body.get("TextList")
        if texts is None:
            problems.append("Value null at 'textList' failed to satisfy constraint: Member must not be null")
        elif not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise _serialization()
        elif not texts:
            problems.append("Value at 'textList' failed to satisfy constraint: Member must have length greater "
                            "than or equal to 1")
        self._language(body, languages, problems)
        if problems:
            raise _validation(problems)
        assert texts is not None
        if len(texts) > _BATCH_LIMIT:
            raise json_protocol_error(400, "BatchSizeLimitExceededException",
                                      BATCH_SIZE_MESSAGE.format(limit=_BATCH_LIMIT))
        results, errors = [], []
        for index, text in enumerate(texts):
            size = len(text.encode("utf-8"))
            if not text or size > limit:
                # UNSURE: the ErrorCode / ErrorMessage of a per-document failure
                errors.append({"Index": index, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED" if text else
                               "INVALID_REQUEST", "ErrorMessage": TEXT_SIZE_MESSAGE.format(limit=limit, size=size)
                               if text else "Document is empty"})
                continue
            results.append({"Index": index, **analyse(text)})
        return {"ResultList": results, "ErrorList": errors}

    # ----------------------------------------------- canned replies for Script

    @classmethod
    def throttling_response(cls) -> ProviderResponse:
        return cls.error_response(400, "TooManyRequestsException", THROTTLING_MESSAGE)

    @classmethod
    def internal_server_response(cls) -> ProviderResponse:
        return cls.error_response(500, "InternalServerException", INTERNAL_SERVER_MESSAGE)

    @classmethod
    def text_size_response(cls, size: int, limit: int = _LARGE) -> ProviderResponse:
        return cls.error_response(400, "TextSizeLimitExceededException",
                                  TEXT_SIZE_MESSAGE.format(limit=limit, size=size))
