"""Near-duplicate story detection: StoryIndex signatures, lookup and persistence."""

from __future__ import annotations

import random

import pytest

from crawler.db import connect, transaction
from crawler.stories import StoryIndex
from crawler.text import normalize

_WORDS = [
    "navy",
    "base",
    "pier",
    "dredging",
    "officials",
    "ministry",
    "embassy",
    "delegation",
    "visit",
    "talks",
    "exercise",
    "training",
    "sailors",
    "engineers",
    "vessels",
    "harbour",
    "coast",
    "budget",
    "contract",
    "funding",
    "radar",
    "warehouse",
    "survey",
    "report",
    "review",
    "inspection",
    "access",
    "transparency",
    "agreement",
    "statement",
    "meeting",
    "schedule",
    "deadline",
    "partners",
    "donors",
    "region",
    "province",
    "capital",
    "border",
    "patrols",
    "drills",
    "equipment",
    "trucks",
    "boats",
    "quietly",
    "openly",
    "formally",
    "repeatedly",
    "welcomed",
    "questioned",
    "praised",
    "postponed",
    "approved",
    "signed",
    "suspended",
    "resumed",
    "launched",
    "completed",
    "inspected",
    "hosted",
    "attended",
    "cadets",
    "lawmakers",
    "diplomats",
]
_KHMER_WORDS = [
    "ក្រសួងការពារជាតិ",
    "រដ្ឋាភិបាល",
    "ស្ថានទូត",
    "កងទ័ពជើងទឹក",
    "មូលដ្ឋានទ័ព",
    "សមយុទ្ធ",
    "ជំនួយ",
    "ការបណ្តុះបណ្តាល",
    "សន្តិសុខ",
    "ផែថ្មី",
    "ការទូត",
    "គណៈប្រតិភូ",
    "ប្រជាជន",
    "សេដ្ឋកិច្ច",
    "ទឹកជំនន់",
    "កសិករ",
    "អ្នកនេសាទ",
    "ផ្លូវ",
    "ស្ពាន",
    "មន្ទីរពេទ្យ",
    "សាលារៀន",
    "ថវិកា",
    "កិច្ចសន្យា",
    "ឧបករណ៍",
    "កប៉ាល់",
    "យន្តហោះ",
    "ព្រំដែន",
    "កោះ",
    "សមុទ្រ",
    "តុលាការ",
    "របាយការណ៍",
    "ការស៊ើបអង្កេត",
    "វិនិយោគិន",
    "តំបន់",
    "ឆ្នេរ",
    "កំពង់ផែ",
    "បានស្វាគមន៍",
    "បានរិះគន់",
    "បានអនុម័ត",
]
BACKGROUND = (
    "Ream Naval Base on the Gulf of Thailand has been rebuilt with money from Beijing, and "
    "Washington has said for years that it worries the base could host foreign forces."
)


def story(seed: int, paragraphs: int = 8, background: bool = False) -> list[str]:
    """Paragraphs of one synthetic English story on the beat (seeded, same vocabulary)."""
    rng = random.Random(seed)
    paras = [
        "The Ream base " + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(25, 40))) + "."
        for _ in range(paragraphs)
    ]
    if background:
        paras.insert(2, BACKGROUND)
    return paras


def khmer_story(seed: int, paragraphs: int = 6) -> list[str]:
    """Paragraphs of one synthetic Khmer story (no spaces between most words)."""
    rng = random.Random(seed)
    return [
        "".join(rng.choice(_KHMER_WORDS) for _ in range(rng.randint(12, 18))) + "។"
        for _ in range(paragraphs)
    ]


def body(paras: list[str]) -> str:
    return normalize("\n".join(paras))


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "stories.db"


@pytest.fixture
def index(db_path):
    conn = connect(db_path)
    yield StoryIndex(conn)
    conn.close()


def store(index: StoryIndex, article_id: str, story_id: str, text: str) -> None:
    sig = index.signature(text, "en")
    assert sig is not None
    with transaction(index.conn):
        index.add(article_id, story_id, sig)


def assign(index: StoryIndex, text: str) -> str | None:
    sig = index.signature(text, None)
    assert sig is not None
    hit = index.nearest(sig)
    return hit[0] if hit else None


def test_wire_copy_with_its_own_intro_and_footer_joins_the_story(index):
    store(index, "a1", "story-1", body(story(1)))
    intro = "PHNOM PENH (Daily Mekong) - Our correspondents filed this report from the capital."
    footer = ["Follow us on Telegram for the latest news.", "Read more", "(AFP)"]
    assert assign(index, body([intro, *story(1), *footer])) == "story-1"


def test_truncated_copy_joins_the_story(index):
    store(index, "a1", "story-1", body(story(2, paragraphs=10)))
    assert assign(index, body(story(2, paragraphs=10)[:4])) == "story-1"


def test_light_copy_edit_joins_the_story(index):
    store(index, "a1", "story-1", body(story(3)))
    edited = story(3)
    edited[1] = edited[1].replace("officials", "authorities").replace("navy", "fleet")
    del edited[4]
    edited[6] = edited[6].replace("budget", "funds", 1)
    hit = index.nearest(index.signature(body(edited), "en"))
    assert hit is not None and hit[0] == "story-1" and 0.5 < hit[1] < 1.0


def test_two_distinct_stories_on_the_same_topic_do_not_merge(index):
    store(index, "a1", "story-1", body(story(4, background=True)))
    assert assign(index, body(story(5, background=True))) is None


def test_distinct_story_sharing_one_background_paragraph_stays_apart_even_when_short(index):
    store(index, "a1", "story-1", body(story(6, paragraphs=9, background=True)))
    assert assign(index, body(story(7, paragraphs=2, background=True))) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Read more",
        "(AFP)",
        "Photo: supplied\nShare this article\nFollow us on Facebook\nRead more: defence news",
        "The navy said on Monday it would hold talks.",
        "Subscribe to our newsletter for every update on the base and the exercises this year.",
    ],
)
def test_empty_tiny_and_all_boilerplate_bodies_have_no_signature(index, text):
    assert index.signature(normalize(text), "en") is None


def test_boilerplate_paragraphs_do_not_count_towards_a_signature(index):
    footer = ["Read more", "Share this article", "Follow us on Telegram and Facebook today."] * 5
    content = " ".join(story(8)[0].split()[:20])  # too short alone, long with the footers
    assert index.signature(body([content, *footer]), "en") is None
    second = " ".join(story(8)[1].split()[:20])
    assert index.signature(body([content, *footer, second]), "en") is not None


def test_khmer_copy_joins_the_story(index):
    store(index, "k1", "story-k", body(khmer_story(9)))
    copy = [*khmer_story(9)[:4], "សូមអានបន្ត"]
    assert assign(index, body(copy)) == "story-k"


def test_distinct_khmer_stories_do_not_merge(index):
    store(index, "k1", "story-k", body(khmer_story(10)))
    assert assign(index, body(khmer_story(11))) is None


def test_tiny_khmer_body_has_no_signature(index):
    assert index.signature(normalize("ក្រសួងការពារជាតិបាននិយាយថា។"), "km") is None


def test_an_edit_replaces_the_articles_signature(index):
    store(index, "a1", "story-1", body(story(12)))
    store(index, "a1", "story-1", body(story(13)))
    assert index.count() == 1
    assert assign(index, body(story(12))) is None
    assert assign(index, body(story(13))) == "story-1"


def test_an_edit_can_move_the_article_to_another_story(index):
    store(index, "a1", "story-1", body(story(14)))
    store(index, "a1", "story-2", body(story(14)))
    assert assign(index, body(story(14))) == "story-2"


def test_the_index_survives_closing_and_reopening_the_database(db_path):
    conn = connect(db_path)
    store(StoryIndex(conn), "a1", "story-1", body(story(15)))
    conn.close()
    reopened = StoryIndex(connect(db_path))
    assert reopened.count() == 1
    assert assign(reopened, body(story(15)[:5])) == "story-1"
    reopened.conn.close()


def test_add_rolls_back_with_the_callers_transaction(index):
    sig = index.signature(body(story(16)), "en")
    with pytest.raises(RuntimeError), transaction(index.conn):
        index.add("a1", "story-1", sig)
        raise RuntimeError("store failed")
    assert index.count() == 0
    assert index.nearest(sig) is None


def test_nearest_prefers_the_most_similar_story(index):
    paras = story(17, paragraphs=10)
    store(index, "a1", "story-half", body(paras[:5]))
    store(index, "a2", "story-full", body(paras))
    assert assign(index, body(paras)) == "story-full"


def test_nearest_breaks_ties_by_the_oldest_story_deterministically(index):
    text = body(story(18))
    store(index, "a1", "story-old", text)
    store(index, "a2", "story-new", text)
    store(index, "a3", "story-old", text)
    results = {index.nearest(index.signature(text, "en")) for _ in range(3)}
    assert results == {("story-old", 1.0)}


def test_signature_is_the_same_across_instances(db_path, tmp_path):
    text = body(story(19))
    other = StoryIndex(connect(tmp_path / "other.db"))
    conn = connect(db_path)
    assert StoryIndex(conn).signature(text, "en") == other.signature(text, "en")
    conn.close()
    other.conn.close()


def test_follow_up_story_reusing_some_paragraphs_of_an_earlier_one_stays_apart(index):
    earlier = story(20, paragraphs=10)
    store(index, "a1", "story-1", body(earlier))
    follow_up = earlier[:4] + story(21, paragraphs=6)
    assert assign(index, body(follow_up)) is None


def test_opening_the_index_inside_a_transaction_does_not_commit_it(tmp_path):
    conn = connect(tmp_path / "fresh.db")
    conn.execute("CREATE TABLE other (x INTEGER)")
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO other VALUES (1)")
        StoryIndex(conn)
        raise RuntimeError("rolled back")
    assert conn.execute("SELECT count(*) FROM other").fetchone()[0] == 0
    conn.close()
