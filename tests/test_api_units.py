"""Unit tests for the API's pure parts: file-name guard, follow-up rewriting, conversation
memory, SSE framing and the OpenAI "Sources:" block. No model, no server."""

from __future__ import annotations

import json

import pytest

from api.http.openai_compat import message_content, sources_block
from api.http.security import bearer_token, key_matches
from api.http.streaming import ask_events, sse
from api.service.file_names import FileNameError, validate_filename
from qa.conversation import (
    ConversationStore,
    Turn,
    is_follow_up,
    resolve_questions,
    standalone_question,
)
from qa.extractive import FRAME, frame_answer
from qa.models import Answer, Citation
from qa.stream import replay_complete, word_groups
from tests.sse import parse_sse

# ------------------------------------------------------------------------------ file names


@pytest.mark.parametrize("name", [
    "a.txt", "notes/report.md", "deep/er/page.HTML", "تقرير.txt", "x.markdown", "a b.htm", "v1.2-final.txt",
])
def test_valid_names(name):
    assert validate_filename(name) == name


@pytest.mark.parametrize("name, why", [
    ("", "empty"), ("   ", "empty"),
    ("../a.txt", "'..'"), ("a/../../b.txt", "'..'"), ("..", "'..'"), ("./a.txt", "'.'"),
    ("/etc/passwd.txt", "absolute"), ("C:/x.txt", "absolute"), ("c:x.txt", "absolute"),
    ("a\\b.txt", "backslash"), ("..\\..\\a.txt", "backslash"),
    ("a\x00.txt", "NUL"), ("a\n.txt", "control"), ("a\x1b.txt", "control"),
    ("a//b.txt", "empty"), ("a/", "empty"), (".env.txt", "hidden"), ("x/.git/a.txt", "hidden"),
    ("a.exe", "unsupported"), ("a", "unsupported"), ("a.txt.sh", "unsupported"),
    (" a.txt", "space"), ("x" * 300 + ".txt", "longer"), ("a/" * 600 + "b.txt", "longer"),
])
def test_invalid_names(name, why):
    with pytest.raises(FileNameError, match=why):
        validate_filename(name)


# ------------------------------------------------------------------------------ follow-ups


@pytest.mark.parametrize("q", [
    "and who represented Russia?", "And what did Russia propose?", "what about the United States?",
    "How about the other countries?", "also the date of the meeting?", "when?", "and Russia?", "Who else attended?",
    "What did he say about the proposals?", "Where did they meet afterwards?",
    "ومن مثّل روسيا؟", "وماذا قال الأمين العام؟", "ماذا عن الولايات المتحدة في هذا الاجتماع؟",
    "و من حضر الاجتماع من الجانب الأمريكي؟", "ومتى عقد الاجتماع الأخير للمجلس؟", "متى؟", "ماذا قال؟",
])
def test_follow_ups(q):
    assert is_follow_up(q)


@pytest.mark.parametrize("q", [
    "Who chaired the NATO-Russia Council meeting?", "Who is the new US ambassador to NATO?",
    "What did Russia demand from NATO in Brussels?",
    "من ترأس اجتماع مجلس روسيا والناتو؟", "وزير الخارجية الروسي قال ماذا في بروكسل؟",
    "ما هي مطالب روسيا من حلف الناتو؟", "من هو الأمين العام لحلف الناتو؟", "",
])
def test_not_follow_ups(q):
    assert not is_follow_up(q)


def test_no_rewrite_without_history():
    assert standalone_question("  and who represented Russia? ", []) == "and who represented Russia?"


def test_no_rewrite_of_standalone_question_with_history():
    q = "What did Russia demand from NATO in Brussels?"
    assert standalone_question(q, ["Who chaired the meeting?"]) == q


def test_follow_up_gets_previous_standalone_question():
    history = ["Who chaired the NATO-Russia Council meeting?"]
    assert (standalone_question("and who represented Russia?", history)
            == "Who chaired the NATO-Russia Council meeting? and who represented Russia?")
    assert standalone_question("ومن مثّل روسيا؟", ["من ترأس الاجتماع؟"]) == "من ترأس الاجتماع؟ ومن مثّل روسيا؟"


def test_rewrite_uses_the_last_turn_only_and_chains():
    out = resolve_questions(["Who chaired the meeting?", "and who represented Russia?", "when?",
                             "What did Russia demand from NATO in Brussels?", "and the US?"])
    assert out == ["Who chaired the meeting?",
                   "Who chaired the meeting? and who represented Russia?",
                   "Who chaired the meeting? and who represented Russia? when?",
                   "What did Russia demand from NATO in Brussels?",
                   "What did Russia demand from NATO in Brussels? and the US?"]


def test_rewrite_is_bounded_by_max_chars():
    history = [" ".join(f"word{i}" for i in range(100))]
    out = standalone_question("and then?", history, max_chars=60)
    assert len(out) <= 60 and out.endswith("word99 and then?")
    assert out.split(" ")[0].startswith("word")  # starts on a word boundary
    assert standalone_question("and " + "x" * 70, history, max_chars=60) == "and " + "x" * 70


def _citation(ref: int, quote: str) -> Citation:
    return Citation(ref=ref, file="a.txt", paragraph=ref, line_start=ref, line_end=ref, char_start=0,
                    char_end=len(quote), quote=quote, score=0.5, url=f"/v1/documents/a.txt/paragraphs/{ref}")


def test_frame_answer_puts_each_quote_after_its_frame():
    citations = [_citation(1, "نص"), _citation(2, "آخر")]
    assert frame_answer(citations, "en") == f"{FRAME['en'][0]}نص [1]{FRAME['en'][1]}آخر [2]"
    assert frame_answer(citations, "ar") == f"{FRAME['ar'][0]}نص [1]{FRAME['ar'][1]}آخر [2]"


def test_conversation_store_bounds():
    store = ConversationStore(max_conversations=2, max_turns=3)
    a = store.open(None, owner="o").id
    for i in range(5):
        store.append(a, Turn(f"q{i}", f"s{i}", "x"), owner="o")
    assert [t.question for t in store.open(a, owner="o").history] == ["q2", "q3", "q4"]
    b = store.open(None, owner="o").id
    store.append(b, Turn("q", "s", "x"), owner="o")
    store.open(a, owner="o")                # touch a: b is now least recently used
    c = store.open(None, owner="o").id
    store.append(c, Turn("q", "s", "x"), owner="o")
    assert len(store) == 2
    assert store.open(a, owner="o").id == a and store.open(c, owner="o").id == c
    assert store.open(b, owner="o").id != b  # dropped: a new conversation
    ids = {ConversationStore.new_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 24 for i in ids)


def test_conversations_belong_to_their_owner():
    store = ConversationStore(max_conversations=10, max_turns=5)
    mine = store.open(None, owner="key:a")
    store.append(mine.id, Turn("who chaired?", "who chaired?", "x"), owner="key:a")
    theirs = store.open(mine.id, owner="key:b")           # someone else's id: a new conversation
    assert theirs.id != mine.id and theirs.history == []
    assert store.open("chosen-by-caller", owner="key:a").id != "chosen-by-caller"  # ids are issued here
    thread = store.open("slack:T1:C1:100.1", owner="slack:T1", named=True)
    assert thread.id == "slack:T1:C1:100.1"
    store.append(thread.id, Turn("q", "q", "x"), owner="slack:T1")
    stolen = store.open("slack:T1:C1:100.1", owner="http")
    assert stolen.id != thread.id and stolen.history == []
    assert [t.question for t in store.open(thread.id, owner="slack:T1", named=True).history] == ["q"]


# ------------------------------------------------------------------------------ SSE and OpenAI


@pytest.mark.parametrize("text", ["", "one", "According to the documents: a b c d e f g [1]",
                                  "بحسب المستندات: نص طويل\n\nوورد أيضاً: آخر [2]", "  lead and trail  "])
def test_word_groups_rebuild_the_text(text):
    groups = word_groups(text, 3)
    assert "".join(groups) == text
    assert all(len(g.split()) <= 3 for g in groups)


def test_sse_framing_round_trip():
    answer = Answer(answer="According to: a quote here [1]", language="en", answerable=True,
                    citations=[_citation(1, "a quote here")], conversation_id="c1")
    raw = b"".join(ask_events(replay_complete(answer))).decode()
    events = parse_sse(raw)
    assert [e for e, _ in events][-2:] == ["citations", "done"]
    assert "".join(json.loads(d)["text"] for e, d in events if e == "delta") == answer.answer
    assert Answer.model_validate_json(events[-1][1]) == answer
    assert sse("x", "line") == b"event: x\ndata: line\n\n"
    assert b"\n" not in sse(None, {"t": "a\nb"})[:-2]  # JSON keeps data on one line


def test_sources_block():
    a = Answer(answer="x [1] y [2]", language="en", answerable=True,
               citations=[_citation(1, "x"), _citation(2, "y").model_copy(update={"line_end": 4})])
    assert sources_block(a) == "Sources:\n[1] a.txt ¶1, line 1\n[2] a.txt ¶2, lines 2-4"
    assert message_content(a) == "x [1] y [2]\n\n" + sources_block(a)
    none = Answer(answer="no", language="en", answerable=False)
    assert message_content(none) == "no"


def test_bearer_parsing_and_key_match():
    scope = {"headers": [(b"authorization", b"Bearer  secret ")]}
    assert bearer_token(scope) == "secret"
    assert bearer_token({"headers": [(b"authorization", b"Token secret")]}) is None
    assert bearer_token({"headers": []}) is None
    assert key_matches("secret", ["other", "secret"]) and not key_matches("secre", ["secret"])
    assert not key_matches(None, ["secret"])


def test_paged_citations_name_their_page_everywhere():
    from api.slack.render import citation_link
    from qa.models import paragraph_url

    c = _citation(1, "x").model_copy(update={"file": "r.pdf", "page_start": 3, "page_end": 3,
                                             "url": paragraph_url("r.pdf", 1, page=3)})
    assert c.url == "/v1/documents/r.pdf/paragraphs/1#page=3" and c.page_label() == "p. 3"
    assert c.model_copy(update={"page_end": 4}).page_label() == "pp. 3-4"
    assert _citation(1, "x").page_label() == "" and "#" not in paragraph_url("a.txt", 1)
    assert "[1] r.pdf p. 3 ¶1, line 1" in sources_block(Answer(answer="x [1]", language="en", answerable=True,
                                                               citations=[c]))
    assert "|r.pdf p. 3 ¶1, line 1>" in citation_link(c, public_url="http://h")
