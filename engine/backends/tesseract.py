"""OCR through Tesseract: words, boxes and confidences in one pass, upright pages."""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from engine.backends.fields import reread_date_fields
from engine.backends.line_reader import (
    LINE_READER_MIN_CONF,
    LineReader,
    default_line_reader,
    read_regions,
    reads_script,
)
from engine.backends.paper import even_light, find_sheet
from engine.backends.unread_ink import READ_TEXT_PX, with_unread_ink
from engine.errors import MissingLanguage, OcrFailed, TesseractMissing
from engine.models import Box, Word
from engine.protocols import OcrOptions, OcrResult

# Pages scanned below this resolution are scaled up to it before OCR: a ~100-dpi form's
# letters are too small for Tesseract. ~160 dpi, not 300: on FUNSD's 149 forms (~90 dpi,
# untagged) a first read at 1.6x found 79.7 % of the words against 78.3 % at 2x for 22 %
# less CPU; UNLV and linn pages resampled to 73-150 dpi read alike at either target
# (94.8 % vs 94.8 % tagged, 94.6 % vs 94.7 % untagged) for 21-29 % less CPU
# (docs/benchmarks.md, "Twenty-third session").
LOW_RES_TARGET_DPI = 160
# A page image without dpi whose longer side is under this is treated as low-resolution.
_SMALL_PAGE_PX = 1400
# ... and read scaled to this long side (~145 dpi on a letter page: FUNSD's 1000-px forms
# at 1.6x; a poorer 750-px copy of one at 2.1x, where 1.6x lost the words that found its
# rescans: held-out fax copies paired 0.60 against 1.00).
_UNTAGGED_TARGET_PX = 1600
# A sheet found in a phone photo is blurred by the lens and JPEG as well: it reads better
# larger (FUNSD's forms photographed, 50 on a desk and 50 under a shadow: 68.6 % and 61.8 %
# of the words at 2x, 68.4 % and 60.7 % at 1.6x, for 15 % more CPU).
_PHOTO_SHEET_SCALE = 2.0
# An upscaled read with fewer words than this is checked against a read at the page's own
# size (none of FUNSD's forms reads under 31 words at 1.6x).
_FEW_WORDS = 20
# Text whose median word height is under this (in the pixels Tesseract reads) is read
# again, scaled so that it is about _TARGET_TEXT_PX tall. Measured when forms were first
# read at 2x (FUNSD's 149 forms, 100 phone photos of them): re-reads of 12-14 px text found
# +22 words, of 16-18 px text -11 words for 16 s of CPU; so text under 15 px is read again.
_SMALL_TEXT_PX = 15
# On a scan already scaled up the test is in the file's own pixels: its text under this
# many of them (14 px at 2x, as above). At the 1.6x first read most of FUNSD's text is
# under 15 px and reads best as it is: re-reading it cost 42 s of CPU for -0.9 points of
# recall. A photographed sheet keeps the 15-px test (its photos: 68.4 % / 60.7 % of the
# words with this one, 68.8 % / 62.1 % with that).
_SMALL_SOURCE_TEXT_PX = 7
_TARGET_TEXT_PX = 30
_MAX_SCALE = 4.0
# A date field is read again at least this much larger (FUNSD: 3x reads its digits).
_FIELD_MIN_SCALE = 3.0
_MAX_FIELD_PIXELS = 2_000_000  # a big page's field is read at most this big
_MAX_READ_PIXELS = 20_000_000  # an upscaled page is read at most this big (time grows with it)
# Below this mean confidence (or word count) the page may be sideways: ask OSD.
_ROTATION_CHECK_CONF = 60.0
_ROTATION_CHECK_WORDS = 8


def tesseract_binary() -> str:
    """The tesseract command to run (SCANDEX_TESSERACT overrides PATH)."""
    return os.environ.get("SCANDEX_TESSERACT") or "tesseract"


@functools.lru_cache(maxsize=8)
def available_languages(binary: str | None = None) -> tuple[str, ...]:
    """The languages `tesseract --list-langs` reports."""
    import pytesseract

    binary = binary or tesseract_binary()
    if shutil.which(binary) is None:
        raise TesseractMissing()
    pytesseract.pytesseract.tesseract_cmd = binary
    try:
        return tuple(sorted(pytesseract.get_languages(config="")))
    except pytesseract.TesseractNotFoundError as e:
        raise TesseractMissing() from e


def tesseract_version() -> str:
    """Tesseract's version string."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract_binary()
    try:
        return str(pytesseract.get_tesseract_version())
    except pytesseract.TesseractNotFoundError as e:
        raise TesseractMissing() from e


def _mean_conf(words: list[Word]) -> float:
    weight = sum(len(w.text) for w in words)
    if not weight:
        return 0.0
    return sum(w.conf * len(w.text) for w in words) / weight


def _quality(words: list[Word]) -> float:
    """Higher is better: confident letters, not a few confident specks."""
    return _mean_conf(words) * min(1.0, sum(len(w.text) for w in words) / 40)


def _sure_letters(words: list[Word]) -> int:
    """How many letters the read is fairly sure of (confidence 60 or more)."""
    return sum(len(w.text) for w in words if w.conf >= 60)


def _scaled(image: Image.Image, scale: float) -> Image.Image:
    if scale == 1.0:
        return image
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def _median_text_height(words: list[Word]) -> float:
    """The median height of real words on the page, in page pixels (0 if none)."""
    heights = sorted(w.box.h for w in words if len(w.text) >= 3 and w.text.isalpha())
    return float(heights[len(heights) // 2]) if heights else 0.0


def keep_word(text: str, confidence: float) -> bool:
    """A word worth keeping: not empty, not a layout marker, not a speck of dirt."""
    if not text or confidence < 0:
        return False
    return confidence >= 30 or any(ch.isalnum() for ch in text)


def tagged_dpi(image: Image.Image) -> float:
    """The horizontal resolution the file records (0 when none or unreadable)."""
    dpi = image.info.get("dpi")
    try:
        return float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        return 0.0


def ocr_scale(image: Image.Image, *, photographed: bool = False) -> float:
    """The factor a page is first read at: small, low-resolution scans are scaled up
    (photographed: a sheet flattened out of a phone photo, blurrier than a scan)."""
    x_dpi = tagged_dpi(image)
    if 50 <= x_dpi < LOW_RES_TARGET_DPI:
        return min(3.0, LOW_RES_TARGET_DPI / x_dpi)
    if not x_dpi and 600 <= max(image.size) < _SMALL_PAGE_PX:
        # No resolution recorded and page-shaped but small: a ~100-dpi scan (fax, form).
        by_size = min(3.0, _UNTAGGED_TARGET_PX / max(image.size))
        return max(_PHOTO_SHEET_SCALE, by_size) if photographed else by_size
    return 1.0


@dataclass(frozen=True)
class TesseractOcr:
    """The real OCR: the tesseract binary through pytesseract's image_to_data."""

    binary: str = field(default_factory=tesseract_binary)
    # Reads the lines the page's read left out (None: Tesseract reads them itself).
    line_reader: LineReader | None = field(default_factory=default_line_reader)

    def check(self, lang: str) -> None:
        """Fail early, with the package to install, when a language is missing."""
        installed = available_languages(self.binary)
        for code in lang.split("+"):
            if code and code not in installed:
                raise MissingLanguage(code, [x for x in installed if x != "osd"])

    def ocr(self, image: Image.Image, options: OcrOptions) -> OcrResult:
        """OCR image; a photographed sheet is found on its background and read flattened
        and evenly lit (engine.backends.paper), its words' boxes put back onto the photo."""
        sheet = find_sheet(image)
        if sheet is None:
            return self._read(image, options)
        # Evened too: a photo's light falls off across the sheet, or a shadow lies on it.
        flat = self._read(even_light(sheet.flatten(image)), options, photographed=True)
        if not flat.rotation:
            return OcrResult(sheet.onto_photo(flat.words, image.size), image.width,
                             image.height)
        upright = _turn_words(flat.words, (flat.width, flat.height), -flat.rotation)
        on_photo = sheet.onto_photo(upright, image.size)
        width, height = (image.height, image.width) if flat.rotation in (90, 270) \
            else image.size
        return OcrResult(_turn_words(on_photo, image.size, flat.rotation), width, height,
                         flat.rotation)

    def _read(self, image: Image.Image, options: OcrOptions, *,
              photographed: bool = False) -> OcrResult:
        """OCR image, adapting to it: text read too small is read again larger (the real
        resolution estimated from the text's height, whatever the file's DPI tag says),
        a page that reads poorly is checked for being sideways (the best read by
        confidence wins), and the ink no read word covers is read line by line
        (engine.backends.unread_ink: this replaced a whole second, sparse read of pages
        read below 70 % confidence, which added nothing beside it; docs/quality.md)."""
        scale = ocr_scale(image, photographed=photographed)
        work = _scaled(image, scale)
        words = self._words(work, options, scale)
        if scale != 1.0 and len(words) < _FEW_WORDS:
            # Upscaled, a blurred and grainy page can read as (almost) nothing where the
            # page at its own size reads fine (measured: 0 words at 2x, 14 at 1.6x against
            # 168; a blank page pays one more quick read). The surer read wins: more
            # letters read with confidence, then the better confidence.
            plain = self._words(image, options, 1.0)
            if (_sure_letters(plain), _quality(plain)) > (_sure_letters(words),
                                                           _quality(words)):
                words, work, scale = plain, image, 1.0
        text_px = _median_text_height(words) * scale
        small = _SMALL_TEXT_PX if scale == 1.0 or photographed \
            else _SMALL_SOURCE_TEXT_PX * scale
        if words and 0 < text_px < small and scale < _MAX_SCALE:
            pixels = image.width * image.height
            larger = min(_MAX_SCALE, scale * _TARGET_TEXT_PX / text_px,
                         (_MAX_READ_PIXELS / max(1, pixels)) ** 0.5)
            if larger >= scale * 1.25:
                bigger = _scaled(image, larger)
                retry = self._words(bigger, options, larger)
                if _quality(retry) > _quality(words):
                    words, work, scale = retry, bigger, larger
        rotation = 0
        if options.detect_rotation and (
            len(words) < _ROTATION_CHECK_WORDS or _mean_conf(words) < _ROTATION_CHECK_CONF
        ):
            angle = self._osd_rotation(work, options)
            if angle:
                # OSD's angle is clockwise; PIL rotates counter-clockwise.
                turned = work.rotate(-angle, expand=True)
                turned_words = self._words(turned, options, scale)
                # A poor copy read the wrong way round can score a higher mean (a few
                # specks read surely) while reading far less: a fax of a form, upright,
                # 164 words of which 34 fairly sure; turned by OSD's 90, 30 words, 12
                # sure, mean 44 against 25. A page that is really sideways reads more
                # sure text turned, so both must say so.
                if _quality(turned_words) > _quality(words) \
                        and _sure_letters(turned_words) > _sure_letters(words):
                    words, rotation = turned_words, angle
        if rotation == 0:
            words = self._with_unread_ink(image, words, options)
            words = reread_date_fields(
                words, image.width,
                lambda box, text_height: self._read_field(image, box, text_height, options))
        width, height = image.size
        if rotation in (90, 270):
            width, height = height, width
        return OcrResult(words=words, width=width, height=height, rotation=rotation)

    def _with_unread_ink(self, image: Image.Image, words: list[Word],
                         options: OcrOptions) -> list[Word]:
        """words with the ink they left unread read line by line (unread_ink): by the
        line recogniser where it reads the page's script, else by Tesseract."""
        reader = self.line_reader
        if reader is not None and reads_script(options.lang):
            try:
                return with_unread_ink(
                    image, words,
                    lambda regions: read_regions(reader, image, [box for box, _ in regions]),
                    LINE_READER_MIN_CONF)
            except OcrFailed:
                pass  # a damaged model file: the page is still read, by Tesseract alone
        return with_unread_ink(image, words, lambda regions: [self._read_field(
            image, box, text_height, options, min_scale=1.0, text_px=READ_TEXT_PX)
            for box, text_height in regions])

    def _read_field(self, image: Image.Image, box: Box, text_height: int,
                    options: OcrOptions, min_scale: float = _FIELD_MIN_SCALE,
                    text_px: float = _TARGET_TEXT_PX) -> list[Word]:
        """One line of the page read alone, large (see engine.backends.fields): its
        text scaled to about text_px tall, at least min_scale times."""
        scale = min(_MAX_SCALE, max(min_scale, text_px / max(1, text_height)),
                    (_MAX_FIELD_PIXELS / max(1, box.w * box.h)) ** 0.5)
        # Clamped to the page: a crop past its edge would be padded black.
        crop = image.crop((box.x, box.y, min(image.width, box.x + box.w),
                           min(image.height, box.y + box.h)))
        if crop.width < 2 or crop.height < 2:
            return []
        found = self._words(_scaled(crop, scale), replace(options, psm=7), scale)
        return [Word(w.text, Box(w.box.x + box.x, w.box.y + box.y, w.box.w, w.box.h), w.conf)
                for w in found]

    def _run(self, func: Any, image: Image.Image, options: OcrOptions, **kwargs: Any) -> Any:
        import pytesseract

        pytesseract.pytesseract.tesseract_cmd = self.binary
        # pytesseract hands the page to tesseract through a temp file in the image's
        # format; uncompressed BMP is written ~20x faster than PNG and reads identically.
        image.format = "BMP"
        try:
            return func(image, lang=options.lang, timeout=options.timeout_s, **kwargs)
        except pytesseract.TesseractNotFoundError as e:
            raise TesseractMissing() from e
        except RuntimeError as e:
            if "timeout" in str(e).lower():
                raise OcrFailed(
                    f"OCR took longer than {options.timeout_s:.0f} s on a page; "
                    "raise --page-timeout or split the file"
                ) from e
            raise OcrFailed(f"Tesseract failed: {e}") from e

    def _words(self, image: Image.Image, options: OcrOptions, scale: float) -> list[Word]:
        import pytesseract

        try:
            data = self._run(
                pytesseract.image_to_data,
                image,
                options,
                config=f"--psm {options.psm}",
                output_type=pytesseract.Output.DICT,
            )
        except pytesseract.TesseractError as e:
            raise OcrFailed(f"Tesseract failed: {e.message or e}") from e
        words: list[Word] = []
        for text, conf, left, top, width, height in zip(
            data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"],
            strict=False,
        ):
            text = str(text).strip()
            confidence = float(conf)
            if not keep_word(text, confidence):
                continue
            words.append(
                Word(
                    text=text,
                    box=Box(
                        round(left / scale),
                        round(top / scale),
                        max(1, round(width / scale)),
                        max(1, round(height / scale)),
                    ),
                    conf=confidence,
                )
            )
        return words

    def _osd_rotation(self, image: Image.Image, options: OcrOptions) -> int:
        import pytesseract

        if "osd" not in available_languages(self.binary):
            return 0
        try:
            osd = self._run(
                pytesseract.image_to_osd,
                image,
                OcrOptions(lang="osd", timeout_s=options.timeout_s),
                config="--psm 0 -c min_characters_to_try=5",
            )
        except (pytesseract.TesseractError, OcrFailed):
            return 0  # too little text to tell; keep the page as it is
        match = re.search(r"Rotate:\s*(\d+)", str(osd))
        return int(match.group(1)) % 360 if match else 0


def _turn_words(words: list[Word], size: tuple[int, int], degrees: int) -> list[Word]:
    """Words on an image of size, their boxes moved to where they lie once the image is
    turned clockwise by degrees (a multiple of 90; negative turns back)."""
    turns = (degrees // 90) % 4
    out = words
    width, height = size
    for _ in range(turns):
        # A quarter turn clockwise: (x, y) on a width x height image goes to
        # (height - y, x) on a height x width one.
        out = [Word(w.text, Box(height - (w.box.y + w.box.h), w.box.x, w.box.h, w.box.w),
                    w.conf) for w in out]
        width, height = height, width
    return out
