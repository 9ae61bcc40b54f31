"""Named lookups: find a scan by the name printed on it (a shop, a form's title).

Two sets, both scored as top-3 hit rate per mode:
- receipts: generated shop receipts that share their boilerplate (all receipts look
  alike to a sentence model), each looked up by its company name as printed; a copy
  of every receipt with OCR-like character errors tests fuzzy words;
- funsd: the 149 FUNSD training forms (their ground-truth text), each looked up by its
  first header as printed.
Documents are committed as text pages (no OCR), so the set builds in seconds.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path

FUNSD = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "funsd"
_INITIALS = ["S.H.H.", "MR", "A.K.", "T&T", "K.L.", "W.M.", "J.B.", "U.N.I.", "SYARIKAT",
             "PERNIAGAAN", "KEDAI", "R.S."]
_NAMES = ["MOTOR", "HARDWARE", "D.I.Y.", "TRADING", "ENTERPRISE", "BOOKSTORE", "PHARMACY",
          "RESTORAN", "MINI MARKET", "STATIONERY", "ELECTRICAL", "BAKERY", "FURNITURE",
          "AUTO PARTS", "TEXTILE", "GROCER", "OPTICAL", "SPORTS", "FLORIST", "PRINTING"]
_PLACES = ["SUNGAI RENGIT", "JOHOR", "KLANG", "SEREMBAN", "IPOH", "MELAKA", "PENANG",
           "KUANTAN", "SKUDAI", "BANGI", "PUCHONG", "RAWANG"]
_SUFFIX = ["SDN. BHD.", "SDN BHD", "ENTERPRISE", "TRADING", "(M) SDN. BHD."]
_ITEMS = ["NASI LEMAK", "TEH TARIK", "PAINT BRUSH", "WD-40 SPRAY", "A4 PAPER", "PEN BLUE",
          "ENGINE OIL 4L", "SPARK PLUG", "BREAD LOAF", "MILK 1L", "CABLE TIE", "LED BULB"]


def company(rng: random.Random) -> str:
    """A shop name as receipts print it."""
    name = f"{rng.choice(_INITIALS)} {rng.choice(_NAMES)}"
    if rng.random() < 0.6:
        name += f" ({rng.choice(_PLACES)})"
    return f"{name} {rng.choice(_SUFFIX)}"


def receipt_text(name: str, rng: random.Random) -> str:
    """The receipt's printed text: the name among shared boilerplate."""
    lines = [name, f"CO. REG: {rng.randint(100000, 999999)}-{rng.choice('ABCDKMPTUVW')}",
             f"NO {rng.randint(1, 99)}, JALAN {rng.choice(_PLACES)} {rng.randint(1, 9)}",
             f"GST ID: {rng.randint(10**11, 10**12 - 1)}", "TAX INVOICE",
             f"DATE: {rng.randint(1, 28):02}/{rng.randint(1, 12):02}/2018 "
             f"{rng.randint(8, 21):02}:{rng.randint(0, 59):02}",
             f"CASHIER: {rng.randint(1, 20)}"]
    total = 0.0
    for _ in range(rng.randint(2, 6)):
        price = round(rng.uniform(1, 80), 2)
        total += price
        lines.append(f"{rng.choice(_ITEMS)} {rng.randint(1, 3)} X {price:.2f} {price:.2f}")
    lines += [f"TOTAL (RM): {total:.2f}", f"CASH: {total + rng.uniform(0, 20):.2f}",
              "GST SUMMARY AMOUNT(RM) TAX(RM)", "THANK YOU. PLEASE COME AGAIN.",
              "GOODS SOLD ARE NOT RETURNABLE"]
    return "\n".join(lines)


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Character errors as OCR makes them: confusions, drops, stray characters."""
    confusions = {"O": "0", "0": "O", "I": "l", "l": "I", "S": "5", "5": "S", "B": "8",
                  "E": "F", "M": "N", "H": "N", "C": "G", "A": "4", ".": ",", "D": "O"}
    out = []
    for ch in text:
        roll = rng.random()
        if ch.isspace() or roll >= rate:
            out.append(ch)
        elif roll < rate * 0.6:
            out.append(confusions.get(ch, ch.swapcase()))
        elif roll < rate * 0.8:
            continue
        else:
            out.append(ch + rng.choice("'.,-"))
    return "".join(out)


def receipts(count: int = 120, noise: float = 0.0, seed: int = 7
             ) -> tuple[dict[str, str], dict[str, str]]:
    """{doc_id: text} and {doc_id: query}: one lookup per receipt."""
    rng = random.Random(seed)
    names: set[str] = set()
    docs, queries = {}, {}
    while len(docs) < count:
        name = company(rng)
        if name in names:
            continue
        names.add(name)
        doc_id = f"receipt-{len(docs):03}"
        text = receipt_text(name, rng)
        # crc32, not hash(): str hashes change with every process, and so would the set.
        docs[doc_id] = ocr_noise(text, noise, random.Random(zlib.crc32(doc_id.encode()))) \
            if noise else text
        queries[doc_id] = name
    return docs, queries


def funsd() -> tuple[dict[str, str], dict[str, str]]:
    """FUNSD forms' text and their first header as the query (forms without one skipped)."""
    docs, queries = {}, {}
    for annotation in sorted((FUNSD / "training_data" / "annotations").glob("*.json")):
        form = json.loads(annotation.read_text())["form"]
        headers = [f["text"].strip() for f in form if f["label"] == "header"
                   and len(f["text"].split()) >= 2]
        if not headers:
            continue
        docs[annotation.stem] = "\n".join(f["text"] for f in form)
        queries[annotation.stem] = headers[0]
    return docs, queries


def build(folder: Path, docs: dict[str, str], embedder: object) -> object:
    """A library holding each text as a one-page document named <doc_id>.txt."""
    from engine import Library
    from engine.ingest.chunking import chunk_document
    from engine.models import Box, PageText, Word

    library = Library.open(folder, embedder=embedder)  # type: ignore[arg-type]
    known = {Path(d.path).stem for d in library.documents()}
    for doc_id, text in docs.items():
        if doc_id in known:
            continue
        words = [Word(t, Box(0, 0, 1, 1)) for t in text.split()]
        page = PageText(1, 2550, 3300, words, "text-layer")
        chunks = chunk_document([page])
        vectors = library.embedder.embed([c.text for c in chunks])
        library.store.commit_document(
            path=folder / "docs" / f"{doc_id}.txt", kind="png", sha256=f"named-{doc_id}",
            size=0, mtime_ns=0, pages=[page], chunks=chunks, vectors=vectors,
            model_id=library.embedder.model_id)
    return library


def _spelled(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def top3(library: object, queries: dict[str, str], docs: dict[str, str]
         ) -> dict[str, float]:
    """Share of lookups whose document is in the top 3, per mode; 'rrf' is the previous
    fusion (equal-weight reciprocal ranks of the two halves' top 100) for comparison.
    Where other documents print the very same name (FUNSD has many forms that print
    "THE AMERICAN TOBACCO COMPANY" or "SUBMISSION DATE:"), they are right answers too."""
    spelled = {doc_id: f" {_spelled(text)} " for doc_id, text in docs.items()}
    same_name = {doc_id: {doc_id} | {other for other, text in spelled.items()
                                     if f" {_spelled(query)} " in text}
                 for doc_id, query in queries.items()}
    out = {}
    for mode in ("keyword", "semantic", "hybrid"):
        found = 0
        for doc_id, query in queries.items():
            hits = library.search(query, mode=mode, limit=3)  # type: ignore[attr-defined]
            found += any(Path(h.path).stem in same_name[doc_id] for h in hits)
        out[mode] = found / len(queries)
    found = 0
    for doc_id, query in queries.items():
        fused: dict[str, float] = {}
        for mode in ("keyword", "semantic"):
            hits = library.search(query, mode=mode, limit=100)  # type: ignore[attr-defined]
            for rank, hit in enumerate(hits):
                stem = Path(hit.path).stem
                fused[stem] = fused.get(stem, 0.0) + 1 / (60 + rank + 1)
        best = sorted(fused, key=lambda s: -fused[s])[:3]
        found += bool(same_name[doc_id] & set(best))
    out["rrf"] = found / len(queries)
    return out


def bench_named(work: Path, embedder: object | None = None) -> str:
    """Build the sets (cached under work) and print the table."""
    from engine.backends.minilm import MiniLMEmbedder

    embedder = embedder or MiniLMEmbedder()
    rows = ["| set | lookups | keyword | meaning | hybrid | hybrid before (RRF) |",
            "|---|---|---|---|---|---|"]
    sets = {"receipts (clean text)": receipts(), "receipts, 8 % OCR-like errors":
            receipts(noise=0.08), "FUNSD forms by header": funsd()}
    for i, (name, (docs, queries)) in enumerate(sets.items()):
        library = build(work / f"named-{i}", docs, embedder)
        scores = top3(library, queries, docs)
        rows.append(f"| {name} | {len(queries)} | {scores['keyword']:.2f} | "
                    f"{scores['semantic']:.2f} | {scores['hybrid']:.2f} | "
                    f"{scores['rrf']:.2f} |")
        print(rows[-1], flush=True)
    return "\n".join(rows)
