"""Getting scans in: sources (folders, buckets), readers, chunking, worker tasks, and the run
that orders them (`run.IndexRun`).

Children import siblings directly, never this package (no re-exports, no circles).
"""
