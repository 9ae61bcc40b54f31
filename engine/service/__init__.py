"""Long-running work behind the faces: the single-writer job queue, the self-test.

Children import siblings directly, never this package (no re-exports, no circles).
"""
