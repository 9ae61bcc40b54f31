"""The index on disk: the one writer (`db.Store`), migrations, and the codecs for vectors and words.

Children import siblings directly, never this package (no re-exports, no circles).
"""
