"""Generate a seeded, labelled corpus for near-duplicate story detection.

    .venv/bin/python bench/gen_stories.py --stories 480 --seed 7 > /tmp/stories.jsonl

Each line is one article: ``{"id", "story", "kind", "outlet", "published_at", "title", "text",
"language"}``; ``story`` is the true story label. The corpus holds wire stories re-run by several
outlets with their own intros, outros and footers, truncated copies (first N paragraphs),
headline changes, light copy-edits (word swaps, a dropped sentence, a changed figure), updates
with an added paragraph, reposts under a new URL, distinct stories on the same topic that share
entities, phrasing and a verbatim background paragraph, Khmer stories and their copies, and
empty, tiny and all-boilerplate pages (each its own story). All text is synthetic.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.text import normalize

PEOPLE = [
    "Defence Minister Tea Seiha",
    "Prime Minister Hun Manet",
    "US Ambassador W. Patrick Murphy",
    "government spokesman Pen Bona",
    "Navy commander Ouk Seyha",
    "defence ministry spokeswoman Maly Socheata",
    "analyst Sophal Ear",
    "a senior US defence official",
    "Senator Hun Sen",
    "Deputy Secretary of Defense Kathleen Hicks",
    "Lieutenant General Hun Manith",
]
PLACES = [
    "Ream Naval Base",
    "Phnom Penh",
    "Sihanoukville",
    "Koh Kong",
    "Kampong Speu",
    "the Gulf of Thailand",
    "Washington",
    "the Pentagon",
    "Beijing",
    "Preah Sihanouk province",
]
ORGS = [
    "the Ministry of National Defence",
    "the US Embassy",
    "the Royal Cambodian Navy",
    "the Royal Cambodian Armed Forces",
    "the State Department",
    "the Chinese embassy",
    "ASEAN",
    "the US Indo-Pacific Command",
    "the National Assembly",
    "the Council of Ministers",
]
TOPICS = [
    "military cooperation",
    "the Angkor Sentinel exercise",
    "naval access",
    "demining aid",
    "arms sales",
    "the pier construction",
    "joint training",
    "port calls",
    "sanctions",
    "the Golden Dragon drills",
    "humanitarian assistance",
    "the Chinese-funded upgrade",
    "officer exchanges",
    "maritime security",
    "the transparency of foreign military presence",
]
VERBS = [
    "said",
    "told reporters",
    "stated",
    "announced",
    "insisted",
    "warned",
    "confirmed",
    "denied",
    "stressed",
    "argued",
    "acknowledged",
    "noted",
]
DAYS = [
    "on Monday",
    "on Tuesday",
    "on Wednesday",
    "on Thursday",
    "on Friday",
    "on Saturday",
    "late on Sunday",
    "this week",
    "earlier this month",
    "last week",
]
ADJ = [
    "new",
    "renewed",
    "limited",
    "long-delayed",
    "expanded",
    "controversial",
    "first",
    "formal",
    "preliminary",
    "unprecedented",
    "modest",
    "closer",
]
NOUNS = [
    "talks",
    "agreement",
    "visit",
    "review",
    "statement",
    "proposal",
    "meeting",
    "inspection",
    "programme",
    "dialogue",
    "request",
    "delegation",
]
FILLER = [
    "budget",
    "border",
    "officers",
    "vessels",
    "radar",
    "pier",
    "dock",
    "dredging",
    "runway",
    "warehouse",
    "hospital",
    "clinic",
    "training",
    "school",
    "cadets",
    "sailors",
    "engineers",
    "contractors",
    "lawmakers",
    "diplomats",
    "journalists",
    "villagers",
    "fishermen",
    "satellite",
    "images",
    "survey",
    "report",
    "audit",
    "contract",
    "loan",
    "grant",
    "funding",
    "equipment",
    "trucks",
    "boats",
    "helicopters",
    "uniforms",
    "rifles",
    "mines",
    "munitions",
    "fuel",
    "drills",
    "patrols",
    "rescue",
    "floods",
    "drought",
    "election",
    "reform",
    "court",
    "verdict",
    "protest",
    "ceremony",
    "anniversary",
    "summit",
    "forum",
    "workshop",
    "seminar",
    "treaty",
    "memorandum",
    "roadmap",
    "schedule",
    "deadline",
    "timeline",
    "priority",
    "concern",
    "tension",
    "pressure",
    "influence",
    "access",
    "transparency",
    "sovereignty",
    "neutrality",
    "constitution",
    "partners",
    "neighbours",
    "investors",
    "donors",
    "region",
    "coast",
    "island",
    "harbour",
    "channel",
    "waters",
    "airspace",
    "north",
    "south",
    "east",
    "west",
    "central",
    "rural",
    "coastal",
    "provincial",
    "national",
    "regional",
    "international",
    "quietly",
    "openly",
    "briefly",
    "formally",
    "repeatedly",
    "reportedly",
    "officially",
    "publicly",
    "privately",
    "rejected",
    "welcomed",
    "questioned",
    "praised",
    "criticised",
    "postponed",
    "approved",
    "signed",
    "suspended",
    "expanded",
    "reduced",
    "resumed",
    "launched",
    "completed",
    "inspected",
    "visited",
    "hosted",
    "attended",
]
SWAPS = {
    "said": "stated",
    "told reporters": "told journalists",
    "warned": "cautioned",
    "talks": "discussions",
    "meeting": "session",
    "new": "fresh",
    "visit": "trip",
    "announced": "declared",
    "expanded": "broadened",
    "first": "initial",
}
TEMPLATES = [
    "{person} {verb} {day} that {org} would hold {adj} {noun} on {topic} at {place}.",
    "According to {org}, the {adj} {noun} on {topic} follows months of pressure from {place}.",
    '"We want {topic} to be open to everyone," {person} {verb}, adding that {org} had '
    "received a {noun} from {place}.",
    "{person} {verb} that about {num} personnel from {org} had taken part in {topic} near "
    "{place} {day}.",
    "The {noun} comes as {org} seeks {adj} ties while {place} watches {topic} closely.",
    "Critics of {topic} {verb} that the {adj} {noun} announced by {org} offered few details.",
    "{org} {verb} {day} it had spent {num} million dollars on {topic} since the {noun} began.",
    '"There is nothing to hide at {place}," {person} {verb} when asked about {topic}.',
    "A {noun} scheduled for {day} in {place} would discuss {topic} and a {adj} timeline, "
    "{person} {verb}.",
    "Officials at {org} did not respond to a request for comment on the {adj} {noun} about "
    "{topic}.",
]
BACKGROUND = [  # verbatim background paragraphs that distinct stories share
    "Ream Naval Base, on the Gulf of Thailand near Sihanoukville, has been upgraded with "
    "Chinese funding, and US officials have long voiced concern that it could host Chinese "
    "forces, which Phnom Penh repeatedly denies.",
    "Cambodia cancelled the Angkor Sentinel joint exercise with the United States in 2017 and "
    "later held the Golden Dragon drills with China, a shift analysts see as a sign of closer "
    "ties with Beijing.",
    "The United States has provided demining assistance to Cambodia for decades, and "
    "Washington says the programme has cleared thousands of hectares of land in the provinces.",
    "Washington imposed export restrictions on Cambodia's military in 2021, citing corruption "
    "and the growing influence of the Chinese military at Ream.",
]
INTROS = {
    "khmertimes": "PHNOM PENH, {date} (Khmer Times) - The following report was filed by our "
    "correspondents with additional reporting from wire agencies in the capital.",
    "phnompenhpost": "This article is part of our continuing coverage of defence relations "
    "between the Kingdom and the United States, updated as events develop.",
    "cambodianess": "Editor's note: this report has been adapted for our readers and includes "
    "material supplied by a regional news agency under a syndication agreement.",
    "vod": "Our newsroom republishes this report from a partner agency so that readers can "
    "follow the latest developments on military cooperation in the region.",
}
OUTROS = {
    "khmertimes": "Follow us on Telegram and Facebook for the latest news from Cambodia.",
    "phnompenhpost": "Subscribe to the Post for full access to our reporting.",
    "cambodianess": "This story was first published by a partner agency and is reproduced "
    "with permission.",
    "vod": "Related: Earlier coverage of the base and of the exercises is available in our "
    "archive section.",
}
WIRES = ["xinhua", "akp", "afp", "reuters"]
BOILERPLATE_PAGES = [
    "",
    "Read more",
    "(AFP)",
    "Subscribe to our newsletter\nFollow us on Facebook",
    "Photo: supplied\nShare this article\nRead more: defence news",
    "Page not found.",
    "Loading...",
    "Copyright 2024 All rights reserved.\nAdvertisement",
    "Click here to continue reading.\nSign up for our daily briefing.",
]
KH_SUBJ = [
    "ក្រសួងការពារជាតិ",
    "រដ្ឋាភិបាលកម្ពុជា",
    "ស្ថានទូតអាមេរិក",
    "កងទ័ពជើងទឹក",
    "លោកឧត្តមសេនីយ៍",
    "អ្នកនាំពាក្យរដ្ឋាភិបាល",
    "លោករដ្ឋមន្ត្រី",
    "មន្ត្រីអាមេរិក",
]
KH_VERB = ["បាននិយាយថា", "បានបញ្ជាក់ថា", "បានប្រកាសថា", "បានបដិសេធថា", "បានអះអាងថា", "បានថ្លែងថា"]
KH_OBJ = [
    "កិច្ចសហប្រតិបត្តិការយោធា",
    "មូលដ្ឋានទ័ពជើងទឹករាម",
    "សមយុទ្ធរួមគ្នា",
    "ជំនួយបោសសម្អាតមីន",
    "ការបណ្តុះបណ្តាលទាហាន",
    "សន្តិសុខដែនសមុទ្រ",
    "ការសាងសង់ផែថ្មី",
    "ទំនាក់ទំនងការទូត",
    "ការទស្សនកិច្ចរបស់គណៈប្រតិភូ",
]
KH_MOD = [
    "នៅថ្ងៃច័ន្ទ",
    "នៅថ្ងៃអង្គារ",
    "នៅថ្ងៃពុធ",
    "នៅសប្តាហ៍នេះ",
    "នៅរាជធានីភ្នំពេញ",
    "នៅខេត្តព្រះសីហនុ",
    "ជាមួយសហរដ្ឋអាមេរិក",
    "ជាមួយប្រទេសចិន",
    "ដោយគ្មានលក្ខខណ្ឌ",
    "ក្នុងឆ្នាំនេះ",
    "សម្រាប់ប្រជាជនកម្ពុជា",
]
KH_FILLER = [
    "ប្រជាជន",
    "សេដ្ឋកិច្ច",
    "ការបោះឆ្នោត",
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
    "ឧទ្ធម្ភាគចក្រ",
    "ព្រំដែន",
    "កោះ",
    "សមុទ្រ",
    "ខេត្តកោះកុង",
    "អ្នកសារព័ត៌មាន",
    "សមាជិកសភា",
    "តុលាការ",
    "កិច្ចព្រមព្រៀង",
    "សន្និសីទ",
    "របាយការណ៍",
    "រូបភាពផ្កាយរណប",
    "ការស៊ើបអង្កេត",
    "អធិបតេយ្យភាព",
    "អព្យាក្រឹតភាព",
    "រដ្ឋធម្មនុញ្ញ",
    "វិនិយោគិន",
    "ម្ចាស់ជំនួយ",
    "តំបន់",
    "ឆ្នេរ",
    "កំពង់ផែ",
    "ដែនអាកាស",
    "ភាគខាងជើង",
    "ភាគខាងត្បូង",
    "ជាផ្លូវការ",
    "ជាសាធារណៈ",
    "បានស្វាគមន៍",
    "បានរិះគន់",
    "បានពន្យារ",
    "បានអនុម័ត",
    "បានចុះហត្ថលេខា",
    "បានផ្អាក",
    "បានបើក",
    "បានបញ្ចប់",
    "បានត្រួតពិនិត្យ",
    "ប្រេងឥន្ធនៈ",
    "គ្រាប់មីន",
    "អាវុធ",
    "ទាហានជើងទឹក",
    "វិស្វករ",
    "ម៉ៅការ",
    "និស្សិត",
    "គ្រូពេទ្យ",
    "ភូមិ",
    "ឃុំ",
    "ស្រុក",
]
KH_END = [
    "នឹងត្រូវពង្រីក",
    "មិនមានការផ្លាស់ប្តូរទេ",
    "នឹងចាប់ផ្តើមឆាប់ៗនេះ",
    "ត្រូវបានពន្យារពេល",
    "គឺស្របតាមច្បាប់",
    "នឹងបើកចំហសម្រាប់គ្រប់គ្នា",
]


def _filler(rng: random.Random) -> str:
    return " ".join(rng.sample(FILLER, rng.randint(3, 6)))


def sentence(rng: random.Random) -> str:
    """One English news sentence on the beat, with story-specific detail words."""
    text = rng.choice(TEMPLATES)
    cut = text.rfind(" ", 0, len(text) // 2)
    text = f"{text[:cut]} {_filler(rng)},{text[cut:]}" if rng.random() < 0.8 else text
    return text.format(
        person=rng.choice(PEOPLE),
        verb=rng.choice(VERBS),
        day=rng.choice(DAYS),
        org=rng.choice(ORGS),
        adj=rng.choice(ADJ),
        noun=rng.choice(NOUNS),
        topic=rng.choice(TOPICS),
        place=rng.choice(PLACES),
        num=rng.randint(2, 900),
    )


def khmer_sentence(rng: random.Random) -> str:
    """One Khmer news sentence built from beat phrases (spaces only between some phrases)."""
    parts = [
        rng.choice(KH_SUBJ),
        rng.choice(KH_VERB),
        rng.choice(KH_OBJ),
        rng.choice(KH_MOD),
        rng.choice(KH_MOD),
        rng.choice(KH_OBJ),
        rng.choice(KH_END),
    ]
    parts += [*rng.sample(KH_FILLER, rng.randint(3, 5)), f"ចំនួន {rng.randint(2, 900)} នាក់"]
    rng.shuffle(parts)
    return "".join(p + (" " if rng.random() < 0.3 else "") for p in parts).strip() + "។"


def base_story(rng: random.Random, khmer: bool) -> list[str]:
    """The paragraphs of one original story."""
    paras = []
    for _ in range(rng.randint(5, 11)):
        make = khmer_sentence if khmer else sentence
        paras.append(" ".join(make(rng) for _ in range(rng.randint(2, 3))))
    if not khmer and rng.random() < 0.7:  # a shared background paragraph, verbatim
        paras.insert(rng.randint(2, len(paras)), rng.choice(BACKGROUND))
    return paras


def copy_edit(rng: random.Random, paras: list[str]) -> list[str]:
    """Light copy-edits: a few word swaps, one dropped sentence, one changed figure."""
    out = list(paras)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        old, new = rng.choice(list(SWAPS.items()))
        out[i] = out[i].replace(old, new, 1)
    i = rng.randrange(len(out))
    sents = out[i].split(". ")
    if len(sents) > 1:
        del sents[rng.randrange(len(sents))]
        out[i] = ". ".join(sents)
    i = rng.randrange(len(out))
    out[i] = out[i].replace("0", "5", 1)
    return out


def variant(rng: random.Random, paras: list[str], outlet: str, khmer: bool) -> tuple[str, list]:
    """One outlet's copy of a story: (kind, paragraphs)."""
    kind = rng.choice(["rerun", "rerun", "truncated", "edited", "edited_truncated", "updated"])
    body = list(paras)
    if kind in ("truncated", "edited_truncated"):
        body = body[: rng.randint(max(3, len(body) // 2), len(body) - 1)]
    if kind in ("edited", "edited_truncated") and not khmer:
        body = copy_edit(rng, body)
    if kind == "updated":
        make = khmer_sentence if khmer else sentence
        body = [*body, " ".join(make(rng) for _ in range(2))]
    if outlet in INTROS and not khmer:
        body = [INTROS[outlet].format(date="12 March"), *body, OUTROS[outlet]]
    body += rng.sample(["Read more", "Share this article", "(AFP)", "Photo: supplied"], 2)
    return kind, body


def generate(stories: int, seed: int) -> Iterator[dict]:
    """Yield the labelled articles, each story's copies after its original, in time order."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
    items = []
    for s in range(stories):
        khmer = rng.random() < 0.15
        paras = base_story(rng, khmer)
        t0 = start + timedelta(minutes=rng.randint(0, 7 * 24 * 60))  # one week
        title = sentence(rng).split(",")[0][:90]
        sid = f"s{s:05d}"
        items.append((t0, sid, "original", rng.choice(WIRES), title, paras, khmer))
        outlets = rng.sample([*sorted(INTROS), "freshnews", "rfa", "voa"], rng.randint(1, 5))
        for j, outlet in enumerate(outlets):
            kind, body = variant(rng, paras, outlet, khmer)
            new_title = title if rng.random() < 0.5 else f"{outlet.upper()}: {title.lower()}"
            t = t0 + timedelta(minutes=rng.randint(5, 48 * 60))
            items.append((t, sid, kind, outlet, new_title, body, khmer))
            if j == 0 and rng.random() < 0.2:  # the outlet reposts its copy under a new URL
                items.append(
                    (t + timedelta(hours=3), sid, "repost", outlet, new_title, body, khmer)
                )
    for b in range(max(20, stories // 10)):
        page = BOILERPLATE_PAGES[b % len(BOILERPLATE_PAGES)]
        if b % 3 == 0:
            page = sentence(rng)  # a tiny page: one sentence
        t = start + timedelta(minutes=rng.randint(0, 7 * 24 * 60))
        items.append((t, f"b{b:05d}", "tiny", rng.choice(WIRES), "Untitled", [page], False))
    items.sort(key=lambda it: it[0])
    for n, (t, sid, kind, outlet, title, body, khmer) in enumerate(items):
        yield {
            "id": f"a{n:06d}",
            "story": sid,
            "kind": kind,
            "outlet": outlet,
            "published_at": t.isoformat(),
            "title": title,
            "text": normalize("\n".join(body)),
            "language": "km" if khmer else "en",
        }


def main() -> None:
    """Write the corpus as JSON lines on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=480, help="original stories")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for item in generate(args.stories, args.seed):
        print(json.dumps(item, ensure_ascii=False))


if __name__ == "__main__":
    main()
