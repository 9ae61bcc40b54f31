"""Generate the sample scans in resources/samples/ (run: python scripts/make_samples.py).

Synthetic documents rendered like a 200-dpi office scan: slight skew, grey paper,
noise. Deterministic (fixed seed), so reruns give the same files.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent.parent / "resources" / "samples"
DPI = 200
PAGE = (1700, 2200)  # 8.5 x 11 in at 200 dpi

DOCUMENTS: dict[str, list[list[str]]] = {
    "invoice-acme.png": [[
        "ACME Office Supplies Ltd.",
        "INVOICE No. 2024-0173",
        "Bill to: Riverside Dental Clinic",
        "",
        "12 boxes of printer paper ........ 96.00",
        "4 toner cartridges ............... 312.50",
        "Ergonomic desk chair ............. 249.99",
        "",
        "Total due: 658.49 EUR",
        "Payment within 30 days by bank transfer.",
        "Late payments incur a fee of two percent per month.",
    ]],
    "lease-letter.tif": [
        [
            "Dear Ms. Okafor,",
            "",
            "This letter confirms the renewal of your apartment lease",
            "at 14 Linden Street for another twelve months.",
            "The monthly rent rises to 1,120 dollars from June 1.",
            "The security deposit stays unchanged.",
        ],
        [
            "Please note that pets are allowed with written consent",
            "from the landlord. Heating and water are included;",
            "electricity is billed separately by the utility.",
            "",
            "Kind regards,",
            "Harbor Property Management",
        ],
    ],
    "pharmacy-receipt.jpg": [[
        "GREENLEAF PHARMACY",
        "Receipt 88213   14 March 2024",
        "",
        "Amoxicillin 500 mg capsules      18.40",
        "Ibuprofen 200 mg tablets          6.95",
        "Vitamin D drops                  11.20",
        "",
        "Paid by card. Keep this receipt for your",
        "health insurance reimbursement claim.",
    ]],
    "meeting-minutes.pdf": [[
        "Minutes of the school board meeting",
        "Tuesday, 9 April",
        "",
        "1. The board approved the budget for new science lab equipment.",
        "2. The playground renovation starts after the summer holidays.",
        "3. Parents asked for a safer bicycle route to the school;",
        "   the city traffic office will be contacted.",
        "",
        "Next meeting: 7 May, in the library.",
    ]],
}


def render_page(lines: list[str], rng: random.Random) -> Image.Image:
    """One page of text with a scanner's look."""
    page = Image.new("L", PAGE, 250)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=34)
    y = 180
    for line in lines:
        draw.text((160, y), line, font=font, fill=20)
        y += 62
    page = page.rotate(rng.uniform(-1.2, 1.2), resample=Image.Resampling.BICUBIC, fillcolor=250)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    # Sparse dust specks instead of per-pixel noise: realistic, and the files stay small.
    pixels = np.asarray(page).copy()
    gen = np.random.default_rng(rng.randrange(1 << 30))
    specks = gen.random(pixels.shape) < 0.0015
    pixels[specks] = gen.integers(40, 160, int(specks.sum()), dtype=np.uint8)
    return Image.fromarray(pixels)


def main() -> None:
    """Write every sample document."""
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20241)
    for name, pages in DOCUMENTS.items():
        images = [render_page(lines, rng) for lines in pages]
        target = OUT / name
        if name.endswith(".tif"):
            images[0].save(target, save_all=True, append_images=images[1:], dpi=(DPI, DPI),
                           compression="tiff_deflate")
        elif name.endswith(".pdf"):
            images[0].save(target, save_all=True, append_images=images[1:], resolution=DPI)
        elif name.endswith(".jpg"):
            # A phone photo: stored sideways with an EXIF orientation tag.
            exif = Image.Exif()
            exif[0x0112] = 6  # rotate 90 CW to view
            images[0].rotate(90, expand=True).save(target, quality=85, dpi=(DPI, DPI), exif=exif)
        else:
            images[0].save(target, dpi=(DPI, DPI), optimize=True)
        print(f"{target.name}: {target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
