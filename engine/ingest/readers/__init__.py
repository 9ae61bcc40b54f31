"""Readers turn a file into pages: text pages with word boxes, or page images to OCR.

`dispatch` chooses the reader by kind; `images` and `pdf` know their formats; `base`
holds what they share. Children import each other, never this package.
"""
