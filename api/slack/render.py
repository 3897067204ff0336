"""Block Kit rendering of Sanad answers for Slack (pure functions, no I/O).

A message is ``{"text": fallback, "blocks": [...]}``:

- a ``section`` with the answer as mrkdwn, ``[n]`` markers kept (split into several
  sections when longer than Slack's 3000-character limit);
- one ``context`` block per citation: ``[n] <PUBLIC_URL + url|file ¶N, line a>`` and the
  first words of its verbatim quote;
- a ``context`` block linking to the web page with the question asked there
  (``PUBLIC_URL/?q=...``), when the question is known;
- an ``actions`` block with the helpful / not helpful buttons (and, on a private ``/ask``
  answer, one more with the "Share with channel" button).

Slack mrkdwn needs ``&``, ``<`` and ``>`` escaped; nothing else is touched, so a quote shown
in Slack is the document's text.

**Right-to-left text.** Slack lays messages out left to right, and the Unicode bidi
algorithm then attaches neutral characters (brackets, ``.``, ``:``, digits) to the wrong
side of Arabic runs: ``... ستولتنبرغ. [1]`` after an English frame shows the marker between
the frame and the quote. We therefore add invisible directional marks:

- a line whose first strong letter is Arabic starts with U+200F RIGHT-TO-LEFT MARK and is
  wrapped in U+2067 RIGHT-TO-LEFT ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE, so it reads
  right to left in an LTR client (and is right-aligned where the client picks the
  direction from the first strong character);
- every quote in the answer is wrapped in an isolate of its own direction (U+2067 or
  U+2066 LEFT-TO-RIGHT ISOLATE ... U+2069), so the ``[n]`` marker after it and the
  punctuation at its end stay where they belong, in either frame language;
- in other text (an LLM's answer), runs of the opposite direction are isolated the same way.

``strip_bidi`` removes exactly these marks again (tests compare the visible text).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote
from typing import Any, Iterable, Literal, Sequence

from qa.models import Answer, Citation

Direction = Literal["rtl", "ltr"]

RLM = "\u200f"   # RIGHT-TO-LEFT MARK
LRI = "\u2066"   # LEFT-TO-RIGHT ISOLATE
RLI = "\u2067"   # RIGHT-TO-LEFT ISOLATE
PDI = "\u2069"   # POP DIRECTIONAL ISOLATE
BIDI_MARKS = (RLM, LRI, RLI, PDI)

FEEDBACK_UP = "sanad_feedback_up"
FEEDBACK_DOWN = "sanad_feedback_down"
FEEDBACK_BLOCK = "sanad_feedback"
SHARE = "sanad_share"
SHARE_BLOCK = "sanad_share"
WEB_BLOCK = "sanad_web"

#: Slack's limit for a section's text (we keep a margin for the marks)
SECTION_LIMIT = 2900
#: words of each quote shown under the answer
QUOTE_WORDS = 12

_MARKER_RE = re.compile(r"\[\d+\]")
_OPENING = set("\"'«“‘([{")
_CLOSING = set("\"'»”’)]}.,;:!?…،؛؟")

_TEXTS: dict[str, dict[str, str]] = {
    "helpful": {"en": "👍 Helpful", "ar": "👍 مفيد"},
    "not_helpful": {"en": "👎 Not helpful", "ar": "👎 غير مفيد"},
    "working": {"en": "Working on it: {q}", "ar": "جارٍ البحث في المستندات: {q}"},
    "usage": {"en": "Ask me a question about the documents, e.g. `{cmd} Who chaired the NATO-Russia "
                    "Council meeting?`",
              "ar": "اسألني سؤالاً عن المستندات، مثلاً: `{cmd} من ترأس اجتماع مجلس روسيا والناتو؟`"},
    "not_ready": {"en": "Sanad is still loading its index; please ask again in a minute.",
                  "ar": "ما زال سند يحمّل الفهرس؛ أعد السؤال بعد دقيقة من فضلك."},
    "failed": {"en": "Sorry, something went wrong while answering; please try again.",
               "ar": "عذراً، حدث خطأ أثناء الإجابة؛ حاول مرة أخرى."},
    "thanks_helpful": {"en": "Thanks, recorded as helpful.", "ar": "شكراً، سُجّلت الإجابة مفيدة."},
    "thanks_not_helpful": {"en": "Thanks, recorded as not helpful.", "ar": "شكراً، سُجّلت الإجابة غير مفيدة."},
    "already_voted": {"en": "You already rated this answer.", "ar": "لقد قيّمت هذه الإجابة من قبل."},
    "vote_not_kept": {"en": "This answer can no longer be rated; please ask again.",
                      "ar": "لم يعد بالإمكان تقييم هذه الإجابة؛ اسأل مرة أخرى من فضلك."},
    "open_web": {"en": "Open in Sanad", "ar": "افتح في سند"},
    "share": {"en": "Share with channel", "ar": "شارك مع القناة"},
    "unmapped": {"en": "This channel is not connected to any document collection, so Sanad does not answer "
                       "here. Ask an administrator to map it (SANAD_SLACK_CHANNELS), or ask in a direct message.",
                 "ar": "هذه القناة غير مرتبطة بأي مجموعة مستندات، لذلك لا يجيب سند هنا. اطلب من المسؤول ربطها "
                       "(SANAD_SLACK_CHANNELS)، أو اسأل في رسالة مباشرة."},
    "share_expired": {"en": "This answer can no longer be shared; please ask again.",
                      "ar": "لم يعد بالإمكان مشاركة هذه الإجابة؛ اسأل مرة أخرى من فضلك."},
}


def text_for(key: str, language: str, **fields: str) -> str:
    """A fixed bot message in ``language`` (``ar`` or ``en``), formatted with ``fields``."""
    template = _TEXTS[key].get(language, _TEXTS[key]["en"])
    return template.format(**fields) if fields else template


# ------------------------------------------------------------------------ escaping, bidi


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves (``&`` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_bidi(text: str) -> str:
    """``text`` without the directional marks this module adds."""
    return text.translate({ord(c): None for c in BIDI_MARKS})


def _strong(ch: str) -> Direction | None:
    kind = unicodedata.bidirectional(ch)
    if kind in ("R", "AL"):
        return "rtl"
    if kind == "L":
        return "ltr"
    return None


def first_strong(text: str) -> Direction | None:
    """The direction of the first strong (letter) character of ``text``, if any."""
    for ch in text:
        direction = _strong(ch)
        if direction is not None:
            return direction
    return None


def isolate(text: str, direction: Direction | None = None) -> str:
    """``text`` in a directional isolate (RLI or LRI ... PDI); unchanged when it has no letters."""
    direction = direction or first_strong(text)
    if direction is None or not text:
        return text
    return f"{RLI if direction == 'rtl' else LRI}{text}{PDI}"


def rtl_line(text: str) -> str:
    """A whole right-to-left line: RLM (so the first strong character is RTL) + RLI ... PDI."""
    return f"{RLM}{RLI}{text}{PDI}"


def _isolate_opposite_runs(text: str, line_dir: Direction) -> str:
    """Wrap each run of the direction opposite to ``line_dir`` in its own isolate.

    A run starts at an opposite-direction letter (with opening punctuation just before it)
    and ends at its last opposite letter before a letter of the line's direction, a
    ``[n]`` marker or the end, plus closing punctuation right after it."""
    other: Direction = "ltr" if line_dir == "rtl" else "rtl"
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if _MARKER_RE.match(text, i):
            end = _MARKER_RE.match(text, i).end()  # type: ignore[union-attr]
            out.append(text[i:end])
            i = end
            continue
        if _strong(text[i]) != other:
            out.append(text[i])
            i += 1
            continue
        start = i
        while out and out[-1] in _OPENING:  # opening punctuation belongs to the run
            start -= 1
            out.pop()
        last = i
        j = i + 1
        while j < n and _strong(text[j]) != line_dir and not _MARKER_RE.match(text, j):
            if _strong(text[j]) == other:
                last = j
            j += 1
        end = last + 1
        while end < n and text[end] in _CLOSING and not _MARKER_RE.match(text, end):
            end += 1
        out.append(isolate(text[start:end], other))
        i = end
    return "".join(out)


def bidi_line(line: str, *, quotes: Iterable[str] = ()) -> str:
    """One line of (already escaped) answer text made safe for mixed-direction display.

    ``quotes`` (escaped) found in the line are isolated as units in their own direction;
    the rest has opposite-direction runs isolated; an RTL line is wrapped whole."""
    line_dir = first_strong(line)
    if line_dir is None:
        return line
    wanted = [q for q in set(quotes) if q and first_strong(q) is not None]
    pieces: list[str] = []
    rest = line
    while True:
        found = [(rest.find(q), -len(q), q) for q in wanted if q in rest]
        if not found:
            break
        at, _, quote = min(found)  # the earliest quote (the longest when two start together)
        pieces.append(_isolate_opposite_runs(rest[:at], line_dir))
        pieces.append(isolate(quote))
        rest = rest[at + len(quote):]
    pieces.append(_isolate_opposite_runs(rest, line_dir))
    body = "".join(pieces)
    return rtl_line(body) if line_dir == "rtl" else body


def format_text(text: str, *, quotes: Iterable[str] = ()) -> str:
    """Escape ``text`` for mrkdwn and add directional marks line by line."""
    escaped_quotes = [part for q in quotes for part in escape_mrkdwn(q).split("\n")]
    return "\n".join(bidi_line(line, quotes=escaped_quotes) for line in escape_mrkdwn(text).split("\n"))


# ------------------------------------------------------------------------------- blocks


def _split_long(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at spaces where possible."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip(" ")
    pieces.append(text)
    return pieces


def _sections(text: str, *, quotes: Sequence[str]) -> list[dict[str, Any]]:
    """Answer text as mrkdwn sections, each under Slack's limit (whole lines where possible)."""
    lines: list[str] = []
    for raw in text.split("\n"):
        for piece in _split_long(raw):
            lines.append(format_text(piece, quotes=quotes))
    sections: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if current and len(candidate) > SECTION_LIMIT:
            sections.append(current)
            candidate = line
        current = candidate
    if current or not sections:
        sections.append(current or " ")
    return [{"type": "section", "text": {"type": "mrkdwn", "text": s, "verbatim": True}} for s in sections]


def lines_label(citation: Citation) -> str:
    if citation.line_start == citation.line_end:
        return f"line {citation.line_start}"
    return f"lines {citation.line_start}-{citation.line_end}"


def citation_link(citation: Citation, *, public_url: str) -> str:
    """``<PUBLIC_URL/v1/documents/FILE/paragraphs/N|FILE ¶N, line a>`` (mrkdwn link)."""
    url = public_url.rstrip("/") + citation.url
    file = escape_mrkdwn(citation.file).replace("|", "¦")
    if first_strong(file) == "rtl":
        file = isolate(file)
    page = citation.page_label()
    label = f"{file} {page + ' ' if page else ''}¶{citation.paragraph}, {lines_label(citation)}"
    return f"<{escape_mrkdwn(url).replace('|', '%7C')}|{label}>"


def quote_snippet(quote: str, *, words: int = QUOTE_WORDS) -> str:
    """The first ``words`` words of ``quote`` (verbatim, whitespace runs kept as one space), ``…`` if cut."""
    parts = quote.split()
    snippet = " ".join(parts[:words])
    return snippet + " …" if len(parts) > words else snippet


def citation_block(citation: Citation, *, public_url: str) -> dict[str, Any]:
    """A context block: ``[n]`` + link to the cited paragraph, then the start of the quote."""
    snippet = escape_mrkdwn(quote_snippet(citation.quote))
    direction = first_strong(snippet)
    shown = rtl_line(snippet) if direction == "rtl" else isolate(snippet, direction)
    return {
        "type": "context",
        "block_id": f"sanad_citation_{citation.ref}",
        "elements": [
            {"type": "mrkdwn", "text": f"[{citation.ref}] {citation_link(citation, public_url=public_url)}"},
            {"type": "mrkdwn", "text": shown, "verbatim": True},
        ],
    }


def feedback_block(language: str, answer_id: str = "") -> dict[str, Any]:
    """Helpful / not helpful buttons; each button's value is the answer's language, then
    ``:answer_id`` when the answer has one (the vote is then kept with it in the answer log)."""
    value = f"{language}:{answer_id}" if answer_id else language
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK,
        "elements": [
            {"type": "button", "action_id": FEEDBACK_UP, "value": value,
             "text": {"type": "plain_text", "text": text_for("helpful", language), "emoji": True}},
            {"type": "button", "action_id": FEEDBACK_DOWN, "value": value,
             "text": {"type": "plain_text", "text": text_for("not_helpful", language), "emoji": True}},
        ],
    }


def web_url(question: str, *, public_url: str) -> str:
    """The web page asking ``question``: ``PUBLIC_URL/?q=<question, percent-encoded>``."""
    return f"{public_url.rstrip('/')}/?q={quote(question, safe='')}"


def web_block(question: str, *, public_url: str, language: str) -> dict[str, Any]:
    """A context block with the link to the question on the web page."""
    url = escape_mrkdwn(web_url(question, public_url=public_url)).replace("|", "%7C")
    return {"type": "context", "block_id": WEB_BLOCK,
            "elements": [{"type": "mrkdwn", "text": f"<{url}|{text_for('open_web', language)}>"}]}


def share_block(value: str, language: str) -> dict[str, Any]:
    """The "Share with channel" button of a private answer (``value``: the kept answer's key)."""
    return {"type": "actions", "block_id": SHARE_BLOCK,
            "elements": [{"type": "button", "action_id": SHARE, "value": value, "style": "primary",
                          "text": {"type": "plain_text", "text": text_for("share", language), "emoji": True}}]}


def _fallback(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def question_block(question: str, *, asked_by: str | None = None) -> dict[str, Any]:
    """A context line repeating the question (slash-command answers are posted without it)."""
    q = format_text(question)
    who = f"<@{asked_by}>: " if asked_by else ""
    return {"type": "context", "block_id": "sanad_question",
            "elements": [{"type": "mrkdwn", "text": f"{who}{q}", "verbatim": True}]}


def answer_message(answer: Answer, *, public_url: str, question: str | None = None,
                   asked_by: str | None = None, feedback: bool = True,
                   web_question: str | None = None) -> dict[str, Any]:
    """The Block Kit message for ``answer``: ``{"text": fallback, "blocks": [...]}``.

    ``question`` (with ``asked_by``) is repeated above the answer; ``web_question``, when
    given, is linked on the web page (``PUBLIC_URL/?q=...``) under the citations.

    When Sanad abstains the answer text already says, in the question's language, that the
    documents do not contain the answer; no citation blocks follow."""
    quotes = [c.quote for c in answer.citations]
    blocks: list[dict[str, Any]] = []
    if question:
        blocks.append(question_block(question, asked_by=asked_by))
    blocks += _sections(answer.answer, quotes=quotes)
    for citation in answer.citations:
        blocks.append(citation_block(citation, public_url=public_url))
    if web_question:
        blocks.append(web_block(web_question, public_url=public_url, language=answer.language))
    if feedback:
        blocks.append(feedback_block(answer.language, answer.answer_id))
    return {"text": _fallback(format_text(answer.answer, quotes=quotes)), "blocks": blocks}


def notice_message(text: str) -> dict[str, Any]:
    """A plain message (usage hint, not ready, failure) as text and one section."""
    shown = format_text(text)
    return {"text": _fallback(shown),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": shown}}]}


__all__ = [
    "FEEDBACK_DOWN", "FEEDBACK_UP", "answer_message", "bidi_line", "citation_block", "citation_link",
    "escape_mrkdwn", "feedback_block", "first_strong", "format_text", "isolate", "notice_message",
    "quote_snippet", "rtl_line", "share_block", "strip_bidi", "text_for", "web_block", "web_url",
]
