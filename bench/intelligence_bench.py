"""Library intelligence on real and generated scans: are rescans grouped, and are
look-alikes (two receipts of one shop, one blank form filled twice) kept apart?

Rescans are made from real FUNSD forms (../shared/corpus) and from generated receipts:
another tilt (±2°), a crop, other exposure, blur, JPEG recompression and another
resolution, then read by the real OCR. Pairs are counted: precision is the share of
grouped pairs that are the same paper, recall the share of same-paper pairs grouped.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from datetime import date
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FUNSD = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "funsd" / \
    "training_data" / "images"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-intelligence"
SHOPS = ["HARBOUR SUPPLIES LTD", "GREEN LEAF GROCER", "MR D.I.Y. (JOHOR) SDN BHD",
         "CITY PHARMACY", "NORTHSIDE HARDWARE", "BLUE DOOR BAKERY", "QUAYSIDE FUEL",
         "ORCHARD GARDEN CENTRE"]
ITEMS = ["rope", "bread", "milk", "screws 50", "paint 1l", "batteries aa", "tea", "apples",
         "fuel unleaded", "gloves", "tape", "seed mix", "croissant", "aspirin", "brush",
         "light bulb", "coffee", "compost 40l", "hinge", "soap"]
FORMS = ["APPLICATION FOR PARKING PERMIT", "CHANGE OF ADDRESS NOTICE", "WARRANTY REGISTRATION",
         "LIBRARY MEMBERSHIP FORM", "CLAIM FOR EXPENSES", "SCHOOL ADMISSION FORM",
         "GYM MEMBERSHIP AGREEMENT", "VEHICLE SERVICE RECORD"]
NAMES = ["Alice Smith", "Brian Jones", "Chloe Evans", "Deepak Patel", "Elena Rossi",
         "Farid Haddad", "Grace Okafor", "Henrik Larsen", "Ines Moreau", "Jun Tanaka"]
STREETS = ["Elm Street", "Mill Lane", "Station Road", "Church Walk", "High Street", "Park Row"]


def rescan(image: Image.Image, seed: int) -> Image.Image:
    """The same paper through another scanner on another day."""
    rng = random.Random(seed)
    page = image.convert("L")
    w, h = page.size
    cut = [int(w * rng.uniform(0.0, 0.03)), int(h * rng.uniform(0.0, 0.03))]
    page = page.crop((cut[0], cut[1], w - int(w * rng.uniform(0, 0.03)),
                      h - int(h * rng.uniform(0, 0.03))))
    page = page.rotate(rng.uniform(-2, 2), resample=Image.Resampling.BICUBIC, expand=True,
                       fillcolor=255)
    page = ImageEnhance.Brightness(page).enhance(rng.uniform(0.85, 1.15))
    page = ImageEnhance.Contrast(page).enhance(rng.uniform(0.8, 1.2))
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.7)))
    scale = rng.uniform(0.9, 1.15)
    page = page.resize((int(page.width * scale), int(page.height * scale)),
                       Image.Resampling.LANCZOS)
    out = BytesIO()
    page.save(out, format="JPEG", quality=rng.randint(35, 60))
    return Image.open(BytesIO(out.getvalue()))


def _page(lines: list[str], seed: int) -> Image.Image:
    rng = random.Random(seed)
    font = ImageFont.load_default(size=34)
    page = Image.new("L", (1240, 140 + 52 * len(lines)), 252)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((90 + rng.randint(-4, 4), 80 + 52 * i), line, font=font, fill=20)
    return page


def receipt(shop: str, seed: int) -> Image.Image:
    """A till receipt: the shop's header, then this visit's items, date and totals."""
    rng = random.Random(seed)
    lines = [shop, f"{rng.randint(1, 99)} {rng.choice(STREETS)}", "TAX INVOICE",
             f"Date {rng.randint(1, 28):02}/{rng.randint(1, 12):02}/2024  "
             f"Time {rng.randint(8, 20):02}:{rng.randint(0, 59):02}",
             f"Receipt No {rng.randint(10000, 99999)}  Till {rng.randint(1, 9)}"]
    total = 0
    for item in rng.sample(ITEMS, rng.randint(4, 7)):
        price = rng.randint(99, 4999)
        total += price
        lines.append(f"{item:<20} {price / 100:>8.2f}")
    lines += [f"TOTAL {total / 100:.2f}", f"CASH {total / 100 + rng.randint(0, 20):.2f}",
              "THANK YOU PLEASE COME AGAIN"]
    return _page(lines, seed)


def filled_form(title: str, seed: int) -> Image.Image:
    """One blank form (the same labels every time) filled in by one person."""
    rng = random.Random(seed)
    lines = [title, "Please complete in block capitals", f"Name: {rng.choice(NAMES)}",
             f"Address: {rng.randint(1, 120)} {rng.choice(STREETS)}",
             f"Date of birth: {rng.randint(1, 28):02}/{rng.randint(1, 12):02}/"
             f"{rng.randint(1950, 2005)}",
             f"Telephone: 07{rng.randint(100000000, 999999999)}",
             f"Reference: {rng.randint(100000, 999999)}",
             f"Amount: {rng.randint(10, 900)}.{rng.randint(0, 99):02}",
             "Signature: ______________", f"Date signed: {rng.randint(1, 28):02}/"
             f"{rng.randint(1, 12):02}/2024", "For office use only"]
    return _page(lines, seed)


LETTER_OPENINGS = ["Dear neighbour,", "Dear Sir or Madam,", "Dear Ms Evans,", "Dear Council,",
                   "Dear Dr Patel,", "Dear customer,"]
LETTER_BODIES = [
    "I am writing about the hedge between our gardens, which now blocks the light.",
    "Thank you for your letter of last week about the change to the bin collection days.",
    "Following our telephone call, I confirm that I will move out at the end of March.",
    "I would like to complain about the noise from the building works on Sunday mornings.",
    "Please find enclosed the signed copy of the tenancy agreement for your records.",
    "We were sorry to hear that the parcel arrived damaged and have arranged a refund.",
]


def letter(seed: int) -> Image.Image:
    """A short typed letter: opening, two paragraphs, a closing."""
    rng = random.Random(seed)
    lines = [f"{rng.randint(1, 120)} {rng.choice(STREETS)}", "", rng.choice(LETTER_OPENINGS), ""]
    for sentence in rng.sample(LETTER_BODIES, 3):
        lines += [sentence[i : i + 60] for i in range(0, len(sentence), 60)]
    lines += ["", rng.choice(["Yours sincerely,", "Kind regards,", "Yours faithfully,"]),
              rng.choice(NAMES)]
    return _page(lines, seed)


def build_kinds(folder: Path, per_kind: int = 12) -> dict[str, list[str]]:
    """Documents of four kinds for tag suggestions: real forms (FUNSD, past the ones used
    for rescans), receipts, letters, and SciFact abstracts rendered as scanned pages."""
    from bench.quality import load, render

    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, list[str]] = {"form": [], "receipt": [], "letter": [], "paper": []}
    corpus, _, _ = load()
    papers = list(corpus.values())[:per_kind]
    for i in range(per_kind):
        made = {
            "form": lambda i=i: Image.open(sorted(FUNSD.glob("*.png"))[100 + i]),
            "receipt": lambda i=i: receipt(SHOPS[i % len(SHOPS)], 500 + i),
            "letter": lambda i=i: letter(700 + i),
            "paper": lambda i=i: render(papers[i], 900 + i),
        }
        for kind, make in made.items():
            name = f"kind-{kind}-{i:02}"
            if not (folder / f"{name}.png").exists():
                make().save(folder / f"{name}.png")
            kinds[kind].append(name)
    return kinds


TOPICS = {
    "tax": (["Your council tax bill for this year is enclosed with this letter.",
             "Please quote your tax reference number when you pay.",
             "The self assessment tax return is due at the end of January."],
            ["COUNCIL TAX DISCOUNT APPLICATION", "TAX RETURN SUPPLEMENTARY PAGES"],
            ["REVENUE TAX OFFICE PAYMENTS", "SMITH AND CO TAX ADVISERS"],
            ["tax return fee", "tax advice hour"]),
    "car": (["Your car passed its MOT test and the brakes were adjusted.",
             "The vehicle was serviced and the tyres on the car replaced.",
             "Please move your car from the bay while the road is resurfaced."],
            ["VEHICLE SERVICE RECORD", "CAR PARKING PERMIT APPLICATION"],
            ["QUAYSIDE FUEL", "CITY GARAGE MOTORS"],
            ["engine oil 5l", "car tyre 205/55"]),
    "home": (["The boiler in the kitchen of the flat needs a repair before winter.",
              "The rent for the flat will rise from the first of next month.",
              "A damp patch has appeared on the bedroom ceiling of the house."],
             ["HOME INSURANCE CLAIM FORM", "TENANCY DEPOSIT REGISTRATION"],
             ["NORTHSIDE HARDWARE", "HOME PAINT CENTRE"],
             ["wall paint 2.5l", "radiator valve"]),
}


def _topic_page(topic: str, kind: str, i: int, rng: random.Random) -> Image.Image:
    sentences, titles, shops, items = TOPICS[topic]
    if kind == "letter":
        return _page([f"{rng.randint(1, 120)} {rng.choice(STREETS)}", "",
                      rng.choice(LETTER_OPENINGS), rng.choice(sentences)[:60],
                      *[b[:60] for b in rng.sample(LETTER_BODIES, 2)], "",
                      "Kind regards,", rng.choice(NAMES)], rng.randint(0, 10**6))
    if kind == "form":
        return filled_form(titles[i % 2], rng.randint(0, 10**6))
    return _page([rng.choice(shops), "TAX INVOICE" if topic != "tax" else "RECEIPT",
                  *[f"{item:<20} {rng.randint(99, 4999) / 100:>8.2f}"
                    for item in [rng.choice(items), *rng.sample(ITEMS, 3)]],
                  "THANK YOU"], rng.randint(0, 10**6))


def build_topics(folder: Path, per_kind: int = 4) -> dict[str, list[str]]:
    """Tags that cut across kinds: a letter, a form and a receipt about tax (or the car,
    or the home) share a few words, while their look and the rest of their words follow
    their kind. The examples of each tag are spread over the kinds (see
    _suggestion_accuracy: the first 4 of each list are tagged)."""
    folder.mkdir(parents=True, exist_ok=True)
    topics: dict[str, list[str]] = {}
    for t, topic in enumerate(TOPICS):
        names = []
        for i in range(per_kind):
            rng = random.Random(40_000 + 100 * t + i)
            for kind in ("letter", "form", "receipt"):
                name = f"topic-{topic}-{kind}-{i}"
                page = _topic_page(topic, kind, i, rng)  # drawn always: rng stays in step
                if not (folder / f"{name}.png").exists():
                    page.save(folder / f"{name}.png")
                names.append(name)
        topics[topic] = names  # letter, form, receipt, letter, ...: examples span kinds
    return topics


def _suggestion_accuracy(library: object, kinds: dict[str, list[str]], shots: int = 4) -> float:
    """Tag `shots` documents of each kind, then: is the top suggestion for the others
    their kind?"""
    from engine import Library

    assert isinstance(library, Library)
    ids = {Path(d.path).stem: d.id for d in library.documents()}
    for kind, names in kinds.items():
        for name in names[:shots]:
            library.tag(ids[name], [kind])
    right = total = 0
    for kind, names in kinds.items():
        for name in names[shots:]:
            suggestions = library.suggest_tags(ids[name])
            right += bool(suggestions) and suggestions[0].tag == kind
            total += 1
    return right / total


def funsd_dates() -> dict[str, date]:
    """FUNSD image stem -> the date its annotations give: the answer linked to a question
    naming a date, parsed month-first (the forms are American). Not a date that names
    another event than the paper's own (birth, expiry, due, valid until): a coupon's
    expiration date is not the date the form carries."""
    import json

    from engine.ingest.dates import find_dates

    truth = {}
    for path in sorted((FUNSD.parent / "annotations").glob("*.json")):
        form = json.loads(path.read_text())["form"]
        by_id = {e["id"]: e for e in form}
        for entity in form:
            label = entity["text"].lower()
            if entity["label"] != "question" or "date" not in label or \
                    re.search(r"birth|expir|due|valid|until|deadline", label):
                continue
            for pair in entity["linking"]:
                answer = by_id.get(pair[1]) if pair[0] == entity["id"] else None
                # FUNSD joins an answer's tokens with spaces, and splits some dates at
                # their separators twice ("12- -4 -87" for 12-4-87): rejoin them.
                text = re.sub(r"\s*([/.-])(?:\s*[/.-])*\s*", r"\1", answer["text"]) \
                    if answer else ""
                found = find_dates(text, order="mdy") if text else []
                if found:
                    truth.setdefault(path.stem, found[0].day)
    return truth


def dated_page(seed: int) -> tuple[Image.Image, date]:
    """A letter or receipt with a known date, written one of several ways, and a
    distracting second date (a birth date, a due date, a reference to another letter)."""
    rng = random.Random(seed)
    day = date(rng.randint(1985, 2025), rng.randint(1, 12), rng.randint(1, 28))
    other = date(rng.randint(1950, 2025), rng.randint(1, 12), rng.randint(1, 28))
    written = rng.choice([day.strftime("%d %B %Y"), day.strftime("%B %d, %Y"),
                          day.strftime("%d/%m/%Y"), day.isoformat(), day.strftime("%d %b %Y"),
                          day.strftime("%d.%m.%y")])
    distractor = rng.choice([f"Date of birth: {other.strftime('%d/%m/%Y')}",
                             f"Payment due {other.strftime('%d %B %Y')}",
                             f"Valid until {other.strftime('%d/%m/%Y')}"])
    if seed % 2:
        lines = [f"{rng.randint(1, 99)} {rng.choice(STREETS)}", f"Date: {written}", "",
                 rng.choice(LETTER_OPENINGS), rng.choice(LETTER_BODIES)[:60], distractor,
                 "", "Yours sincerely,", rng.choice(NAMES)]
    else:
        lines = [rng.choice(SHOPS), "TAX INVOICE", written, f"Receipt No {rng.randint(1000, 9999)}",
                 f"{rng.choice(ITEMS):<20} {rng.randint(99, 999) / 100:>8.2f}", distractor,
                 "THANK YOU"]
    return _page(lines, seed), day


def _date_accuracy(library: object, stems: dict[str, date], order: str) -> tuple[int, float]:
    """Of the documents whose true date is known: is the best candidate that date?"""
    from engine import Library
    from engine.ingest.dates import find_dates_on_pages

    assert isinstance(library, Library)
    right = total = 0
    for doc in library.documents(state="indexed"):
        truth = stems.get(Path(doc.path).stem)
        if truth is None:
            continue
        found = find_dates_on_pages(library.document(doc.id).pages, order=order)
        right += bool(found) and found[0].day == truth
        total += 1
    return total, right / max(1, total)


def build(folder: Path, forms: int = 80) -> dict[str, set[frozenset[str]]]:
    """The scans, and the truth: same-paper pairs and look-alike pairs (by file stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    same: set[frozenset[str]] = set()
    alike: set[frozenset[str]] = set()

    def save(image: Image.Image, name: str) -> None:
        target = folder / f"{name}.png"
        if not target.exists():
            image.save(target)

    for i, path in enumerate(sorted(FUNSD.glob("*.png"))[:forms]):
        original = Image.open(path)
        save(original, f"funsd-{i:03}")
        save(rescan(original, 1000 + i), f"funsd-{i:03}-rescan")
        same.add(frozenset({f"funsd-{i:03}", f"funsd-{i:03}-rescan"}))
    for s, shop in enumerate(SHOPS):
        first, second = receipt(shop, 10 * s), receipt(shop, 10 * s + 1)
        save(first, f"receipt-{s}-a")
        save(second, f"receipt-{s}-b")
        save(rescan(first, 2000 + s), f"receipt-{s}-a-rescan")
        same.add(frozenset({f"receipt-{s}-a", f"receipt-{s}-a-rescan"}))
        alike.update({frozenset({f"receipt-{s}-a", f"receipt-{s}-b"}),
                      frozenset({f"receipt-{s}-b", f"receipt-{s}-a-rescan"})})
    for f, title in enumerate(FORMS):
        save(filled_form(title, 100 * f), f"form-{f}-a")
        save(filled_form(title, 100 * f + 1), f"form-{f}-b")
        alike.add(frozenset({f"form-{f}-a", f"form-{f}-b"}))
    return {"same": same, "alike": alike}


def bench_intelligence() -> str:
    """Index the scans (cached), group them, print and return the figures."""
    from engine import Library

    started = time.monotonic()
    truth = build(CACHE / "scans")
    kinds = build_kinds(CACHE / "kinds")
    library = Library.open(CACHE / "library")
    report = library.add([CACHE / "scans"])
    tagging = Library.open(CACHE / "library-kinds")
    tagging.add([CACHE / "kinds"])
    accuracy = _suggestion_accuracy(tagging, kinds)
    tagging.close()
    topics = build_topics(CACHE / "topics")
    topical = Library.open(CACHE / "library-topics")
    topical.add([CACHE / "topics"])
    topic_accuracy = _suggestion_accuracy(topical, topics)
    topical.close()
    dated_truth = {}
    (CACHE / "dated").mkdir(exist_ok=True)
    for i in range(40):
        image, day = dated_page(3000 + i)
        dated_truth[f"dated-{i:02}"] = day
        if not (CACHE / "dated" / f"dated-{i:02}.png").exists():
            image.save(CACHE / "dated" / f"dated-{i:02}.png")
    dated = Library.open(CACHE / "library-dated")
    dated.add([CACHE / "dated"])
    dated_count, dated_accuracy = _date_accuracy(dated, dated_truth, "dmy")
    dated.close()
    annotated = funsd_dates()
    funsd_truth = {f"funsd-{i:03}": annotated[image.stem]
                   for i, image in enumerate(sorted(FUNSD.glob("*.png"))[:80])
                   if image.stem in annotated}
    funsd_count, funsd_accuracy = _date_accuracy(library, funsd_truth, "mdy")
    print(f"{len(list((CACHE / 'scans').glob('*.png')))} scans; {report.indexed} newly "
          f"indexed ({report.pages} pages OCR'd in {report.seconds:.0f} s)", flush=True)
    start = time.perf_counter()
    groups = library.duplicates()
    took = time.perf_counter() - start
    found: set[frozenset[str]] = set()
    for group in groups:
        stems = [Path(d.path).stem for d in group.documents]
        found.update(frozenset(p) for p in itertools.combinations(stems, 2))
    true_found = found & truth["same"]
    precision = len(true_found) / len(found) if found else 1.0
    recall = len(true_found) / len(truth["same"])
    alike_grouped = sorted(" + ".join(sorted(p)) for p in found & truth["alike"])
    missed = sorted(" + ".join(sorted(p)) for p in truth["same"] - found)
    # The thresholds were chosen on the first 40 forms; the next 40 were held out.
    held_out = {p for p in truth["same"] if any(s.startswith("funsd-") and
                                                   int(s[6:9]) >= 40 for s in p)}
    held_recall = len(held_out & found) / len(held_out) if held_out else 1.0
    library.close()
    from bench.rescan_holdout import bench_rescan_holdout

    holdout = bench_rescan_holdout()
    rows = ["| measure | value |", "|---|---|",
            f"| same-paper pairs (rescans of real forms and receipts) | {len(truth['same'])} |",
            f"| look-alike pairs (one shop's receipts, one form filled twice) | "
            f"{len(truth['alike'])} |",
            f"| pairs grouped | {len(found)} |",
            f"| **precision** | **{precision:.3f}** |",
            f"| **recall** | **{recall:.3f}** |",
            f"| look-alike pairs grouped | {len(alike_grouped)} |",
            f"| recall on the {len(held_out)} rescans of forms 40-79 (held out from the "
            f"text thresholds; the page thresholds saw them) | {held_recall:.3f} |",
            f"| time to group {len(list((CACHE / 'scans').glob('*.png')))} documents | "
            f"{took * 1000:.0f} ms |", *holdout,
            f"| tag suggestions, 4 examples per kind: top-1 accuracy on the other "
            f"{sum(len(v) - 4 for v in kinds.values())} | **{accuracy:.3f}** |",
            f"| tag suggestions across kinds (tax / car / home on letters, forms and "
            f"receipts), 4 examples per tag: top-1 on the other "
            f"{sum(len(v) - 4 for v in topics.values())} | **{topic_accuracy:.3f}** |",
            f"| document date right first: {dated_count} generated letters and receipts "
            f"(a distracting second date on each) | **{dated_accuracy:.3f}** |",
            f"| document date right first: {funsd_count} real FUNSD forms with an annotated "
            f"date (month-first) | **{funsd_accuracy:.3f}** |"]
    table = "\n".join(rows)
    print(table)
    if missed:
        print("missed:", ", ".join(missed))
    if alike_grouped:
        print("look-alikes grouped:", ", ".join(alike_grouped))
    print(f"took {(time.monotonic() - started) / 60:.1f} min")
    return table
