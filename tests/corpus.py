"""A small shared corpus of beat articles (written for these tests) for the matcher and stores.

English wire-style defence stories, six Khmer-script articles (with zero-width spaces, Khmer
digits and both orders of subscript letters), a French article with diacritics, articles without
a publication date, and one wire story carried three times (one body hash, one story id).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from crawler.models import Article


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _article(
    slug: str,
    source: str,
    title: str,
    text: str,
    *,
    day: int | None = None,
    language: str = "en",
    story_of: str | None = None,
    body_hash: str | None = None,
    hour: int = 8,
) -> Article:
    url = f"https://{source}.example.org/news/{slug}"
    return Article(
        id=_sha(url),
        url=url,
        source=source,
        title=title,
        text=text,
        published_at=datetime(2026, 1, day, hour, tzinfo=UTC) if day else None,
        fetched_at=datetime(2026, 2, 1, tzinfo=UTC)
        if not day
        else datetime(2026, 1, day, 12, tzinfo=UTC),
        language=language,
        body_hash=body_hash or _sha(text),
        story_id=_sha(f"https://{story_of}") if story_of else _sha(url),
    )


WIRE_BODY = (
    "Cambodian and American officers met in Phnom Penh on Tuesday to discuss resuming "
    "military cooperation, which was suspended after the 2017 dissolution of the opposition.\n\n"
    "A defence ministry spokesman said the talks covered disaster relief drills and the "
    "future of the Angkor Sentinel exercise."
)
WIRE_HASH = _sha(WIRE_BODY)
LONG_TOKEN = "ab" * 750  # one 1,500-character word (OCR debris), with no language given

ARTICLES: list[Article] = [
    _article("ream-pier", "khmer-times", "Ream Naval Base unveils new pier",
             "The expanded Ream Naval Base near Sihanoukville opened a deep-water pier this week. "
             "Analysts in Washington asked who would use the facility.", day=3),
    _article("ream-satellite", "rfa", "Satellite images show dredging at Ream",
             "New imagery shows dredging near the base's southern shore. A US official said "
             "access for American ships remained unclear.", day=5),
    _article("ream-visit", "voa-khmer", "US attaché tours Ream",
             "For the first time in years an American defence attaché was invited to tour Ream. "
             "The naval base hosted the visit on Friday.", day=7),
    _article("sentinel-cancelled", "phnom-penh-post", "Angkor Sentinel drills cancelled in 2017",
             "Cambodia called off the Angkor Sentinel exercise with United States forces, citing "
             "a busy schedule for its troops.", day=2),
    _article("sentinel-revival", "cambodianess", "Could Angkor Sentinel return?",
             "Diplomats say a revival of the Angkor Sentinel exercises would be a signal that "
             "military ties are warming. Sentinel drills once trained peacekeepers.", day=9),
    _article("kem-sokha-verdict", "rfa", "Kem Sokha sentenced to 27 years",
             "Opposition leader Kem Sokha was sentenced for treason. The court said Sokha had "
             "conspired with foreigners, a claim his lawyers rejected.", day=4),
    _article("kem-sokha-appeal", "phnom-penh-post", "Appeal court hears Sokha case",
             "Lawyers for Kem Sokha asked the appeal court to quash the treason verdict. "
             "Washington called the case politically motivated.", day=11),
    _article("sokha-travel", "voa-khmer", "Opposition figure barred from travel",
             "Kem's daughter said her father, Sokha Kem, could not leave the country to receive "
             "medical care.", day=12),
    _article("sanctions-officials", "wire", "US sanctions two Cambodian officials",
             "The Treasury announced sanctions on two officials it linked to corruption at Ream. "
             "A sanctioned general denied wrongdoing.", day=6),
    _article("sanctions-arms", "khmer-times", "Arms embargo tightened",
             "Washington tightened an arms embargo, adding export restrictions on defence items. "
             "Officials said further sanction steps were possible.", day=8),
    _article("sanction-reaction", "cambodianess", "Phnom Penh rejects penalties",
             "The government rejected the penalties as interference and said cooperation with "
             "China would continue.", day=10),
    _article("coop-dialogue", "wire", "Defence dialogue resumes",
             "Officials from both countries held their first defence dialogue in four years. "
             "Military cooperation on demining and medical aid was discussed.", day=13),
    _article("coop-cooperation-mil", "rfa", "Cooperation of a military kind",
             "Cooperation between the two militaries has been limited. Military planners meet "
             "rarely; cooperation in the military sphere stalled.", day=14),
    _article("china-base", "wire", "China funds base upgrade",
             "Chinese funding paid for a dry dock and a pier at the naval base, officials said. "
             "Beijing denied any plan for exclusive military use.", day=15),
    _article("demining", "khmer-times", "US aid for demining continues",
             "American funding for landmine clearance continues despite tensions. Deminers in "
             "Battambang cleared another field.", day=16),
    _article("undated-editorial", "cambodianess", "Editorial: a base question",
             "Whatever the future of Ream, the kingdom's neutrality is written into its "
             "constitution.", day=None),
    _article("undated-brief", "wire", "Brief: ministry statement",
             "The defence ministry issued a short statement on naval exercises.", day=None),
    _article("sidebar-free", "phnom-penh-post", "Navy chief retires",
             "The navy commander retired after a decade in the post and thanked his sailors.",
             day=17),
    _article("us-usage", "rfa", "U.S. envoy visits Phnom Penh",
             "The U.S. ambassador met the defence minister. US-Cambodia ties were on the agenda.",
             day=18),
    _article("hyphen-apostrophe", "voa-khmer", "Sihanoukville's port in the spotlight",
             "The port's deep-water berth and the Ream-based fleet were discussed in O'Brien's "
             "report.", day=19),
    _article("coop-fr", "cambodianess", "La coopération militaire reprend",
             "Les États-Unis et le Cambodge relancent la coopération militaire, selon le "
             "ministère. Le général Tea Banh s'est exprimé à Phnom Penh.",
             day=20, language="fr"),
    _article("wire-original", "wire", "Cambodia and US discuss renewed military cooperation",
             WIRE_BODY, day=21, hour=6),
    _article("wire-copy-kt", "khmer-times", "Cambodia, US discuss military cooperation",
             WIRE_BODY, day=21, hour=9, story_of="wire.example.org/news/wire-original",
             body_hash=WIRE_HASH),
    _article("wire-copy-ppp", "phnom-penh-post", "Talks on military cooperation",
             WIRE_BODY, day=22, story_of="wire.example.org/news/wire-original",
             body_hash=WIRE_HASH),
    _article("late-evening", "cambodianess", "Curfew lifted near the naval base",
             "Local authorities lifted an evening curfew around the Ream area on Saturday.",
             day=17, hour=20),
    _article("long-token", "cambodianess", "Scanned annex",
             f"The scanned appendix {LONG_TOKEN} ends the filing.", day=18, language=""),
    # Khmer-script articles.
    _article("km-coop", "voa-khmer", "កម្ពុជា និង សហរដ្ឋអាមេរិក",
             "ក្រសួងការពារជាតិ បាននិយាយថា កិច្ចសហប្រតិបត្តិការយោធា ជាមួយ សហរដ្ឋអាមេរិក "
             "នឹងបន្ត នៅឆ្នាំ ២០២៦។", day=23, language="km"),
    _article("km-ream-zwsp", "rfa", "មូលដ្ឋាន\u200bទ័ព\u200bជើងទឹក\u200bរាម",
             "សម្ដេច បានថ្លែងថា មូលដ្ឋាន\u200bទ័ព\u200bជើងទឹក\u200bរាម ត្រូវបានពង្រីក "
             "ដោយមានជំនួយពីចិន។", day=24, language="km"),
    _article("km-sokha", "rfa", "លោក កឹម សុខា",
             "តុលាការ បានកាត់ទោស លោក កឹម សុខា។ ភរិយា និង ស្រ្តី ជាច្រើន បានមកតុលាការ។",
             day=25, language="km"),
    _article("km-sanctions", "voa-khmer", "ទណ្ឌកម្ម លើ មន្ត្រី",
             "សហរដ្ឋអាមេរិក បានដាក់ទណ្ឌកម្ម លើ មន្ត្រី ពីររូប។ ស្ត្រី ម្នាក់ ជាអ្នកនាំពាក្យ "
             "បាននិយាយ នៅថ្ងៃទី ៦។", day=26, language="km"),
    _article("km-sentinel", "cambodianess", "Angkor Sentinel ជាភាសាខ្មែរ",
             "សមយុទ្ធ អង្គរ សិនទីណែល (Angkor Sentinel) ត្រូវបានលុបចោល ក្នុងឆ្នាំ ២០១៧។",
             day=27, language="km"),
    _article("km-samdech", "khmer-times", "សម្តេច ថ្លែង",
             "សម្តេច ហ៊ុន ម៉ាណែត បានជួប ឯកអគ្គរដ្ឋទូត អាមេរិក។", day=28, language="km"),
    _article("km-undated", "voa-khmer", "សេចក្តីប្រកាស",
             "ក្រសួង បានចេញ សេចក្តីប្រកាស ខ្លី។", day=None, language="km"),
]  # fmt: skip

BY_SLUG: dict[str, Article] = {a.url.rsplit("/", 1)[1]: a for a in ARTICLES}


def slugs(ids: set[str] | list[str]) -> set[str]:
    """The corpus slugs of a set of article ids (readable assertion failures)."""
    by_id = {a.id: slug for slug, a in BY_SLUG.items()}
    return {by_id[i] for i in ids}
