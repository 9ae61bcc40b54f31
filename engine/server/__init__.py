"""The HTTP face: FastAPI routes over `Library` and the job queue.

Children import siblings directly, never this package (no re-exports, no circles).
"""
