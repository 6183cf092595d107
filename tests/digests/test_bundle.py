"""What a digest post attaches, within the server's upload limit."""

import zipfile

from bot.digests.report import write_digest_files
from bot.digests.rows import AnswerRow, DigestRows, RatingRow
from bot.digests.service import bundle


def rows() -> DigestRows:
    answer = AnswerRow(1, 10, "2026-11-20T10:00:00.000Z", "asker", "q", "a", "ok", 1, "en", None, 5, 5, False, 10, 20)
    rating = RatingRow(1, "rater", 3, 3, False, "button", "2026-11-20T10:05:00.000Z", "2026-11-20T10:05:00.000Z")
    return DigestRows(1, "Server", "2026-11-16T00:00:00.000Z", "2026-11-23T00:00:00.000Z", [answer], [rating])


def test_data_archive_holds_every_export_and_the_numbers(tmp_path):
    files = write_digest_files(rows(), None, tmp_path)
    attached = bundle(files, tmp_path)
    assert [path.name for path in attached] == ["chart.png", "report.md", "report.html", "data.zip"]
    with zipfile.ZipFile(tmp_path / "data.zip") as archive:
        assert sorted(archive.namelist()) == sorted([path.name for path in files.exports] + ["digest.json"])


def test_data_archive_is_left_out_above_the_upload_limit(tmp_path):
    files = write_digest_files(rows(), None, tmp_path)
    without = sum(path.stat().st_size for path in (files.chart, files.markdown, files.html))
    attached = bundle(files, tmp_path, limit=without + 10)
    assert [path.name for path in attached] == ["chart.png", "report.md", "report.html"]
    assert (tmp_path / "data.zip").exists(), "the archive stays on disk"
