"""Block Kit rendering (api/slack/render.py): exact payloads, escaping, right-to-left marks."""

from __future__ import annotations

import json

import pytest

from api.slack.render import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    LRI,
    PDI,
    RLI,
    RLM,
    SECTION_LIMIT,
    answer_message,
    bidi_line,
    citation_block,
    escape_mrkdwn,
    first_strong,
    format_text,
    notice_message,
    quote_snippet,
    strip_bidi,
)
from qa.extractive import ABSTAIN, FRAME
from qa.models import Answer, Citation, paragraph_url

PUBLIC = "https://sanad.example.org"
QUOTE_AR = ('ويترأس الاجتماع أمين عام حلف "الناتو"، ينس ستولتنبرغ، ويمثّل الجانب الروسي نائبا كل من '
            'وزير الخارجية ألكسندر غروشكو، والدفاع ألكسندر فومين.')
QUOTE_EN = "The board met on Monday & approved the budget of <two> million dollars."


def cite(ref: int, quote: str, *, file: str = "001_60d84da894ed2980.txt", paragraph: int = 13,
         lines: tuple[int, int] = (19, 19)) -> Citation:
    return Citation(ref=ref, file=file, paragraph=paragraph, line_start=lines[0], line_end=lines[1],
                    char_start=601, char_end=601 + len(quote), quote=quote, score=0.6,
                    url=paragraph_url(file, paragraph))


def extractive(language: str, *citations: Citation) -> Answer:
    first, more = FRAME[language]
    text = f"{first}{citations[0].quote} [1]" + "".join(f"{more}{c.quote} [{c.ref}]" for c in citations[1:])
    return Answer(answer=text, language=language, answerable=True, citations=list(citations))


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


# ------------------------------------------------------------------------- escaping


def test_escape_mrkdwn_only_the_three_reserved_characters():
    assert escape_mrkdwn("a & b <c> *d* _e_ <!channel>") == "a &amp; b &lt;c&gt; *d* _e_ &lt;!channel&gt;"
    assert escape_mrkdwn("&lt;") == "&amp;lt;"  # & first, so nothing is double-unescaped by Slack


def test_quote_with_slack_markup_cannot_ping_or_link():
    c = cite(1, "Contact <!channel> at <https://evil.example|here> & <@U123>.", file="a.txt")
    message = answer_message(extractive("en", c), public_url=PUBLIC)
    shown = sections(message)[0]
    assert "<!channel>" not in shown and "<https://evil" not in shown and "<@U123>" not in shown
    assert "&lt;!channel&gt;" in shown and "&amp; &lt;@U123&gt;" in shown


# ------------------------------------------------------------------------- RTL


def test_arabic_answer_line_is_rtl_isolated_with_marker_outside_the_quote():
    c = cite(1, QUOTE_AR)
    message = answer_message(extractive("ar", c), public_url=PUBLIC)
    (text,) = sections(message)
    # RLM, then the whole line in a right-to-left isolate; the quote in its own isolate,
    # so the final "." stays with the quote and "[1]" follows it (to its left on screen)
    assert text == f"{RLM}{RLI}بحسب المستندات: {RLI}{QUOTE_AR}{PDI} [1]{PDI}"
    assert strip_bidi(text) == extractive("ar", c).answer
    assert message["text"] == text  # the notification fallback reads the same


def test_english_frame_isolates_the_arabic_quote():
    c = cite(1, QUOTE_AR)
    (text,) = sections(answer_message(extractive("en", c), public_url=PUBLIC))
    assert not text.startswith(RLM)  # an English line stays left to right
    assert text == f"According to the documents (quoted in the source language): {RLI}{QUOTE_AR}{PDI} [1]"


def test_arabic_frame_isolates_an_english_quote_ltr():
    c = cite(1, QUOTE_EN, file="minutes.md", paragraph=2, lines=(3, 3))
    (text,) = sections(answer_message(extractive("ar", c), public_url=PUBLIC))
    assert text == f"{RLM}{RLI}بحسب المستندات: {LRI}{escape_mrkdwn(QUOTE_EN)}{PDI} [1]{PDI}"


def test_two_citations_each_line_marked():
    a, b = cite(1, QUOTE_AR), cite(2, "وقال المتحدث إن الاجتماع سيعقد في بروكسل.", paragraph=14, lines=(21, 21))
    (text,) = sections(answer_message(extractive("ar", a, b), public_url=PUBLIC))
    lines = text.split("\n")
    assert lines[1] == ""
    assert lines[0].startswith(RLM + RLI) and lines[2].startswith(RLM + RLI)
    assert lines[2] == f"{RLM}{RLI}وورد أيضاً: {RLI}{b.quote}{PDI} [2]{PDI}"


def test_free_text_runs_of_the_other_direction_are_isolated():
    # an LLM's answer: no verbatim quotes to anchor on
    assert bidi_line("It was chaired by ينس ستولتنبرغ. [1]") == f"It was chaired by {RLI}ينس ستولتنبرغ.{PDI} [1]"
    assert bidi_line('He said "الناتو" twice [2]') == f'He said {RLI}"الناتو"{PDI} twice [2]'
    assert bidi_line("ترأسه Jens Stoltenberg. [1]") == f"{RLM}{RLI}ترأسه {LRI}Jens Stoltenberg.{PDI} [1]{PDI}"
    assert bidi_line("plain English [1]") == "plain English [1]"
    assert bidi_line("2024 [1]") == "2024 [1]"  # no letters: nothing to decide


def test_first_strong_skips_digits_and_punctuation():
    assert first_strong('«2021» "الناتو"') == "rtl"
    assert first_strong("1. NATO") == "ltr"
    assert first_strong("123 ...") is None


def test_multiline_quote_isolated_per_line():
    quote = "السطر الأول\nالسطر الثاني"
    text = format_text(f"بحسب المستندات: {quote} [1]", quotes=[quote])
    assert text.split("\n") == [f"{RLM}{RLI}بحسب المستندات: {RLI}السطر الأول{PDI}{PDI}",
                                f"{RLM}{RLI}{RLI}السطر الثاني{PDI} [1]{PDI}"]


# ------------------------------------------------------------------------- citations


def test_citation_context_block_link_and_first_words():
    c = cite(1, QUOTE_AR)
    block = citation_block(c, public_url=PUBLIC + "/")
    link, quote = block["elements"]
    assert block["type"] == "context"
    assert link["text"] == ("[1] <https://sanad.example.org/v1/documents/001_60d84da894ed2980.txt/paragraphs/13"
                            "|001_60d84da894ed2980.txt ¶13, line 19>")
    words = QUOTE_AR.split()
    assert quote["text"] == f"{RLM}{RLI}{' '.join(words[:12])} …{PDI}"
    assert quote["verbatim"] is True


def test_citation_link_encodes_and_isolates_file_names():
    c = cite(3, "short quote", file="تقارير/تقرير 2024.txt", paragraph=4, lines=(7, 9))
    link = citation_block(c, public_url=PUBLIC)["elements"][0]["text"]
    assert link == (f"[3] <{PUBLIC}/v1/documents/%D8%AA%D9%82%D8%A7%D8%B1%D9%8A%D8%B1%2F%D8%AA%D9%82%D8%B1%D9%8A%D8%B1"
                    f"%202024.txt/paragraphs/4|{RLI}تقارير/تقرير 2024.txt{PDI} ¶4, lines 7-9>")
    odd = cite(1, "q", file="a|b<c>.md")
    assert "|a¦b&lt;c&gt;.md ¶13" in citation_block(odd, public_url=PUBLIC)["elements"][0]["text"]


def test_quote_snippet_is_verbatim_words():
    assert quote_snippet("one  two\nthree", words=12) == "one two three"
    assert quote_snippet(" ".join(str(i) for i in range(20)), words=12) == "0 1 2 3 4 5 6 7 8 9 10 11 …"


# ------------------------------------------------------------------------- whole messages


def test_abstention_says_so_plainly_without_citations():
    answer = Answer(answer=ABSTAIN["ar"], language="ar", answerable=False)
    message = answer_message(answer, public_url=PUBLIC)
    assert [b["type"] for b in message["blocks"]] == ["section", "actions"]
    assert sections(message) == [f"{RLM}{RLI}{ABSTAIN['ar']}{PDI}"]
    english = answer_message(Answer(answer=ABSTAIN["en"], language="en", answerable=False), public_url=PUBLIC)
    assert sections(english) == ["The documents do not contain an answer to this question."]


def test_feedback_buttons_in_the_answer_language():
    message = answer_message(extractive("ar", cite(1, QUOTE_AR)), public_url=PUBLIC)
    actions = message["blocks"][-1]
    assert actions["type"] == "actions" and actions["block_id"] == "sanad_feedback"
    up, down = actions["elements"]
    assert (up["action_id"], down["action_id"]) == (FEEDBACK_UP, FEEDBACK_DOWN)
    assert up["value"] == down["value"] == "ar"
    assert up["text"]["text"] == "👍 مفيد" and down["text"]["text"] == "👎 غير مفيد"
    assert [b["type"] for b in message["blocks"]] == ["section", "context", "actions"]
    assert "actions" not in [b["type"] for b in answer_message(extractive("ar", cite(1, QUOTE_AR)),
                                                               public_url=PUBLIC, feedback=False)["blocks"]]


def test_long_answers_split_into_sections_under_the_limit():
    quotes = [cite(i, ("كلمة " * 700).strip() + f" {i}.", paragraph=i) for i in range(1, 4)]
    message = answer_message(extractive("ar", *quotes), public_url=PUBLIC)
    parts = sections(message)
    assert len(parts) > 1 and all(len(p) <= 3000 for p in parts)
    shown = strip_bidi("\n".join(parts)).split()
    assert shown == extractive("ar", *quotes).answer.split()  # nothing lost
    assert len(message["text"]) <= 3000 and len(message["blocks"]) <= 50
    json.dumps(message)  # serialisable as posted


def test_question_block_for_slash_commands():
    message = answer_message(Answer(answer=ABSTAIN["en"], language="en", answerable=False),
                             public_url=PUBLIC, question="What is <this>?", asked_by="U7")
    first = message["blocks"][0]
    assert first["block_id"] == "sanad_question"
    assert first["elements"][0]["text"] == "<@U7>: What is &lt;this&gt;?"


@pytest.mark.parametrize("text", ["Sanad is still loading", "ما زال سند يحمّل الفهرس"])
def test_notice_message(text):
    message = notice_message(text)
    assert strip_bidi(message["blocks"][0]["text"]["text"]) == text
    assert message["text"] == message["blocks"][0]["text"]["text"]
    assert SECTION_LIMIT < 3000
