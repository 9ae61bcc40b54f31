"""One library across machines through a bucket: push, pull (merge by content), status.

It works on the store and the library layout, never on `Library`.

Children import siblings directly, never this package (no re-exports, no circles).
"""
