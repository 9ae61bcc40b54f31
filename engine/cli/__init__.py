"""The `scandex` command: argument parsing and printing over `Library`, nothing else.

Children import siblings directly, never this package (no re-exports, no circles).
"""
