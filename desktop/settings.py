"""Settings that persist (QSettings) and the dialog that edits them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ORG, APP = "Scandex", "Scandex"


@dataclass
class AppSettings:
    """Everything the user can set; S3 fields are used by sync."""

    library_dir: str = ""
    languages: str = "eng"
    s3_bucket: str = ""
    s3_prefix: str = "scandex"
    s3_endpoint: str = ""
    s3_profile: str = ""
    sync_after_indexing: bool = False
    watched_folders: str = ""  # one folder per line
    watch_poll_s: str = ""  # "" = file-system events (polling chosen by itself on a share)

    def watched(self) -> list[Path]:
        """The watched folders, in order."""
        return [Path(line) for line in self.watched_folders.splitlines() if line.strip()]

    def poll_seconds(self) -> float | None:
        """The poll interval the user forced, or None."""
        try:
            seconds = float(self.watch_poll_s)
        except ValueError:
            return None
        return seconds if 0 < seconds <= 86_400 else None

    @classmethod
    def load(cls) -> AppSettings:
        """Read from QSettings (defaults for anything missing)."""
        store = QSettings(ORG, APP)
        defaults = cls()
        values: dict[str, str | bool] = {}
        for name, default in vars(defaults).items():
            raw = store.value(name, default)
            if isinstance(default, bool):
                values[name] = raw in (True, "true", "1", 1)
            else:
                values[name] = str(raw) if raw is not None else default
        return cls(**values)  # type: ignore[arg-type]

    def save(self) -> None:
        """Write to QSettings."""
        store = QSettings(ORG, APP)
        for name, value in vars(self).items():
            store.setValue(name, value)
        store.sync()


def installed_languages() -> list[str]:
    """Tesseract's languages, or [] when Tesseract is missing."""
    from engine import MissingDependency, available_languages

    try:
        return [lang for lang in available_languages() if lang != "osd"]
    except MissingDependency:
        return []


class SettingsDialog(QDialog):
    """Library folder, OCR languages, S3 sync, watched folders."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Scandex settings")
        self.settings = settings
        self.library = QLineEdit(settings.library_dir)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.library, 1)
        row.addWidget(browse)
        self.languages = QListWidget()
        chosen = set(settings.languages.split("+"))
        langs = installed_languages()
        for lang in langs or sorted(chosen):
            item = QListWidgetItem(lang)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if lang in chosen else Qt.CheckState.Unchecked)
            self.languages.addItem(item)
        self.languages.setMaximumHeight(120)
        self.bucket = QLineEdit(settings.s3_bucket)
        self.prefix = QLineEdit(settings.s3_prefix)
        self.endpoint = QLineEdit(settings.s3_endpoint)
        self.endpoint.setPlaceholderText("empty for AWS; e.g. http://127.0.0.1:9000 for MinIO")
        self.profile = QLineEdit(settings.s3_profile)
        self.sync_after = QCheckBox("Sync after indexing")
        self.sync_after.setChecked(settings.sync_after_indexing)
        form = QFormLayout()
        form.addRow("Library folder", row)
        form.addRow("OCR languages", self.languages)
        if not langs:
            form.addRow("", QLabel("Tesseract not found: install tesseract-ocr to list languages."))
        form.addRow(QLabel("<b>S3 sync</b>"))
        form.addRow("Bucket", self.bucket)
        form.addRow("Prefix", self.prefix)
        form.addRow("Endpoint URL", self.endpoint)
        form.addRow("AWS profile", self.profile)
        form.addRow("", self.sync_after)
        form.addRow(QLabel("<b>Watched folders</b> — indexed as files land, while Scandex runs"))
        form.addRow(self._watched_folders(settings))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _watched_folders(self, settings: AppSettings) -> QWidget:
        self.watched = QListWidget()
        self.watched.setObjectName("watchedFolders")
        self.watched.setMaximumHeight(100)
        for folder in settings.watched():
            self.watched.addItem(str(folder))
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.clicked.connect(self._browse_watched)
        remove.clicked.connect(lambda: [self.watched.takeItem(self.watched.row(item))
                                        for item in self.watched.selectedItems()])
        self.poll = QCheckBox("Look every")
        self.poll_s = QSpinBox()
        self.poll_s.setRange(1, 3600)
        self.poll_s.setSuffix(" s")
        forced = settings.poll_seconds()
        self.poll.setChecked(forced is not None)
        self.poll_s.setValue(int(forced or 10))
        poll_row = QHBoxLayout()
        for widget in (self.poll, self.poll_s):
            poll_row.addWidget(widget)
        poll_row.addWidget(QLabel("instead of file-system events (network shares send none; "
                                  "chosen by itself on one)"), 1)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.watched, 1)
        row.addLayout(buttons)
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addLayout(poll_row)
        return box

    def add_watched_folder(self, folder: str) -> None:
        """Watch one more folder (once)."""
        folder = str(Path(folder).expanduser().absolute())
        present = {self.watched.item(i).text() for i in range(self.watched.count())}
        if folder not in present:
            self.watched.addItem(folder)

    def _browse_watched(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Watch a folder", str(Path.home()))
        if folder:
            self.add_watched_folder(folder)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder", self.library.text())
        if folder:
            self.library.setText(folder)

    def result_settings(self) -> AppSettings:
        """The settings as edited."""
        checked = [self.languages.item(i).text() for i in range(self.languages.count())
                   if self.languages.item(i).checkState() == Qt.CheckState.Checked]
        return AppSettings(
            library_dir=str(Path(self.library.text()).expanduser()) if self.library.text() else "",
            languages="+".join(checked) or "eng",
            s3_bucket=self.bucket.text().strip(),
            s3_prefix=self.prefix.text().strip(),
            s3_endpoint=self.endpoint.text().strip(),
            s3_profile=self.profile.text().strip(),
            sync_after_indexing=self.sync_after.isChecked(),
            watched_folders="\n".join(self.watched.item(i).text()
                                      for i in range(self.watched.count())),
            watch_poll_s=str(self.poll_s.value()) if self.poll.isChecked() else "",
        )
