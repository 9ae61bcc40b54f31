"""Scandex desktop app (PySide6): a thin view over the engine's public API."""
