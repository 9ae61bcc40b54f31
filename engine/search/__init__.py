"""Answering queries: parsing, vector ranking, fusion, snippets and highlight boxes.

Children import siblings directly, never this package (no re-exports, no circles).
"""
