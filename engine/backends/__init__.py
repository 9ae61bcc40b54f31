"""Implementations of the seams in `engine.protocols`: Tesseract, MiniLM, the local pool,
Dask, the one S3 client; `factory` picks one by name.

Children import siblings directly, never this package (no re-exports, no circles).
"""
