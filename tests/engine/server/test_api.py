"""The HTTP API in-process (TestClient) with the fakes: auth, uploads, errors, traversal."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, PngImagePlugin  # noqa: E402

from engine.backends.pool import InlineExecutor  # noqa: E402
from engine.content import safe_filename  # noqa: E402
from engine.server.app import create_app, is_loopback  # noqa: E402
from engine.testing import FAKE_TEXT_KEY, FakeOcr, HashingEmbedder  # noqa: E402

TOKEN = "s3cret-token-for-tests"


def fake_png(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(FAKE_TEXT_KEY, text)
    out = io.BytesIO()
    Image.new("L", (400, 300), 255).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "lib", token=TOKEN, max_upload_bytes=200_000,
                     embedder=HashingEmbedder(), ocr=FakeOcr(), executor=InlineExecutor())
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def wait_job(client: TestClient, job_id: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def upload(client: TestClient, name: str, data: bytes) -> dict:  # type: ignore[type-arg]
    response = client.post("/documents", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


def test_health_is_open_and_ready(client: TestClient) -> None:
    response = client.get("/health", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["checks"]["index"] == "ok"


def test_token_guards_everything_else(client: TestClient) -> None:
    for path in ("/search?q=x", "/documents", "/documents/1", "/jobs/job-1",
                 "/documents/1/similar", "/duplicates", "/tags", "/documents/1/tags",
                 "/documents/1/suggestions", "/documents/1/searchable.pdf"):
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"


def test_upload_index_search_page_delete(client: TestClient, tmp_path: Path) -> None:
    job = upload(client, "lease letter.png", fake_png("apartment lease monthly rent landlord"))
    assert job["state"] == "done" and job["document_id"]
    doc_id = job["document_id"]
    hits = client.get("/search", params={"q": "landlord rent"}).json()["results"]
    assert hits[0]["id"] == doc_id and hits[0]["boxes"] and "<mark>" in hits[0]["snippet"]
    assert set(hits[0]) == {"id", "path", "page", "score", "snippet", "boxes", "tags",
                            "document_date"}
    stored = Path(hits[0]["path"])
    assert stored.is_relative_to(tmp_path / "lib" / "blobs") and stored.name == "lease letter.png"
    listing = client.get("/documents", params={"limit": 1}).json()
    assert listing["total"] == 1 and listing["documents"][0]["id"] == doc_id
    detail = client.get(f"/documents/{doc_id}").json()
    assert "landlord" in detail["page_list"][0]["text"]
    original = client.get(f"/documents/{doc_id}/file")
    assert original.status_code == 200 and original.content.startswith(b"\x89PNG")
    page = client.get(f"/documents/{doc_id}/pages/1.png", params={"q": "landlord"})
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(page.content)).size[0] > 0
    assert client.get(f"/documents/{doc_id}/pages/9.png").status_code == 404
    pdf = client.get(f"/documents/{doc_id}/searchable.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] in (
        'attachment; filename="lease letter.pdf"',
        "attachment; filename*=utf-8''lease%20letter.pdf")
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf.content)
    assert "monthly rent landlord" in document[0].get_textpage().get_text_range()
    document.close()
    assert client.get("/documents/99999/searchable.pdf").status_code == 404
    import tempfile

    assert not list(Path(tempfile.gettempdir()).glob("scandex-pdf-*"))  # removed once sent
    assert client.delete(f"/documents/{doc_id}").json() == {"removed": 1}
    assert not stored.exists()
    assert client.get(f"/documents/{doc_id}").status_code == 404


def test_similar_and_duplicates(client: TestClient) -> None:
    receipt = "HARBOUR SUPPLIES receipt 20240311 rope 1299 buoy 4550 total 8456 thank you"
    first = upload(client, "a.png", fake_png(receipt))["document_id"]
    upload(client, "b.png", fake_png(receipt.replace("thank", "tbank")))
    upload(client, "c.png", fake_png("orchard frost damaged the apple blossom this spring"))
    similar = client.get(f"/documents/{first}/similar?limit=5").json()
    assert similar["document"]["id"] == first and similar["mode"] == "similar"
    assert similar["results"][0]["path"].endswith("b.png")
    assert all(r["id"] != first for r in similar["results"])
    groups = client.get("/duplicates").json()["groups"]
    assert [sorted(Path(d["path"]).name for d in g["documents"]) for g in groups] == [
        ["a.png", "b.png"]]
    assert client.get("/documents/999/similar").status_code == 404
    spec = client.get("/openapi.json").json()["paths"]
    assert "/duplicates" in spec and "/documents/{doc_id}/similar" in spec
    assert "application/pdf" in spec["/documents/{doc_id}/searchable.pdf"]["get"][
        "responses"]["200"]["content"]


def test_tags_and_suggestions(client: TestClient) -> None:
    ids = {}
    for name, text in (("r1", "till receipt total cash vat shop"),
                       ("r2", "receipt total card vat"),
                       ("l1", "dear neighbour kind regards yours"),
                       ("l2", "dear sir yours regards"),
                       ("r3", "receipt cash total vat thank you")):
        ids[name] = upload(client, f"{name}.png", fake_png(text))["document_id"]
    for name, tag in (("r1", "receipts"), ("r2", "receipts"), ("l1", "letters"),
                      ("l2", "letters")):
        done = client.put(f"/documents/{ids[name]}/tags/{tag}").json()
        assert done["changed"] == 1 and tag in done["tags"]
    assert client.put(f"/documents/{ids['r1']}/tags/receipts").json()["changed"] == 0
    assert client.get("/tags").json()["tags"] == [{"tag": "letters", "documents": 2},
                                                  {"tag": "receipts", "documents": 2}]
    best = client.get(f"/documents/{ids['r3']}/suggestions").json()["suggestions"][0]
    assert best["tag"] == "receipts" and 0 < best["score"] <= 1
    assert client.delete(f"/documents/{ids['r1']}/tags/receipts").json()["tags"] == []
    assert client.get(f"/documents/{ids['r2']}/tags").json()["tags"] == ["receipts"]
    bad = client.put(f"/documents/{ids['r2']}/tags/%07bell")
    assert bad.status_code == 400 and bad.json()["error"]["code"]
    assert client.put("/documents/999/tags/x").status_code == 404
    hits = client.get("/search", params={"q": "receipt", "mode": "keyword"}).json()["results"]
    assert hits


def test_same_upload_twice_is_reused(client: TestClient) -> None:
    data = fake_png("identical content")
    first, second = upload(client, "a.png", data), upload(client, "a.png", data)
    assert first["document_id"] == second["document_id"]


def test_too_large_and_wrong_type(client: TestClient) -> None:
    big = client.post("/documents", files={"file": ("big.png", b"\x89PNG" + b"0" * 300_000)})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    text = client.post("/documents", files={"file": ("x.png", b"just some text")})
    assert text.status_code == 415 and text.json()["error"]["code"] == "unsupported_type"
    empty = client.post("/documents", files={"file": ("x.png", b"")})
    assert empty.status_code == 415


def test_corrupt_upload_fails_its_job_only(client: TestClient) -> None:
    job = upload(client, "broken.pdf", b"%PDF-1.4 broken beyond repair")
    assert job["state"] == "failed" and "PDF" in job["error"]
    assert upload(client, "ok.png", fake_png("still fine"))["state"] == "done"


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\win.ini", "/abs/path.png",
                                  "a\x00b.png", "....", ".hidden.png"])
def test_upload_names_cannot_escape(client: TestClient, tmp_path: Path, name: str) -> None:
    job = upload(client, name, fake_png(f"name test {len(name)}"))
    stored = Path(job["path"]).resolve()
    assert stored.is_relative_to((tmp_path / "lib" / "blobs").resolve())
    assert not stored.name.startswith(".") and "\x00" not in str(stored)


def test_traversal_in_urls_is_not_a_path(client: TestClient) -> None:
    for url in ("/documents/..%2F..%2Fetc%2Fpasswd/file", "/documents/1%2F..%2F2",
                "/documents/-1/file", "/jobs/..%2F..", "/documents/99999/file"):
        response = client.get(url)
        assert response.status_code in (404, 422), url
        assert "error" in response.json()


def test_errors_share_one_shape(client: TestClient) -> None:
    for response in (client.get("/search"), client.get("/search", params={"q": "x", "mode": "z"}),
                     client.get("/nope"), client.get("/documents/abc")):
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])


def test_helpers() -> None:
    assert safe_filename("../../x.png", "f") == "x.png"
    assert safe_filename("", "fallback.png") == "fallback.png"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_names_that_are_not_utf8_are_served_by_id(tmp_path: Path) -> None:
    import os

    from engine import Library
    from engine.testing import write_fake_scan

    docs = tmp_path / "docs"
    docs.mkdir()
    odd = write_fake_scan(Path(os.fsdecode(os.fsencode(docs) + b"/f\xfcr.png")), "latin words")
    spelled = write_fake_scan(docs / "f\\xfcr.png", "spelled words")
    with Library.open(tmp_path / "lib", embedder=HashingEmbedder(), ocr=FakeOcr(),
                      executor=InlineExecutor()) as library:
        library.add([docs])
    app = create_app(tmp_path / "lib", token=TOKEN, embedder=HashingEmbedder(), ocr=FakeOcr(),
                     executor=InlineExecutor())
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        listed = c.get("/documents").json()["documents"]
        assert len(listed) == 2 and {d["path"] for d in listed} == {str(spelled)}
        served = {c.get(f"/documents/{d['id']}/file").content for d in listed}
        assert served == {odd.read_bytes(), spelled.read_bytes()}
        under = c.get("/search", params={"q": "words", "mode": "keyword",
                                         "path": str(docs)}).json()
        assert len(under["results"]) == 2


def test_serve_watch_indexes_an_inbox_through_the_one_writer(tmp_path: Path) -> None:
    from engine.testing import write_fake_scan

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_fake_scan(inbox / "before.png", "waiting in the inbox")
    app = create_app(tmp_path / "lib", token=TOKEN, embedder=HashingEmbedder(), ocr=FakeOcr(),
                     executor=InlineExecutor(), watch=[inbox], watch_poll_s=0.05)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        def found(word: str) -> bool:
            return bool(c.get("/search", params={"q": word, "mode": "keyword"}
                              ).json()["results"])

        deadline = time.monotonic() + 20
        while not found("inbox"):
            assert time.monotonic() < deadline, "the catch-up never indexed the inbox"
            time.sleep(0.05)
        write_fake_scan(inbox / "later.png", "scanned after start")
        upload(c, "uploaded.png", fake_png("uploaded alongside"))  # the same writer
        while not found("scanned"):
            assert time.monotonic() < deadline + 20, "a new file was never indexed"
            time.sleep(0.05)
        watching = c.get("/health").json()["watching"]
        assert watching["folders"] == [str(inbox)] and watching["mode"] == "every 0.05 s"
        assert found("alongside")
