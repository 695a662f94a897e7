"""Reading landing files: line numbers, blank lines, damaged gzip and invalid UTF-8 never lose a line."""

import datetime as dt
import gzip
from unittest.mock import ANY

from ingestion.files import MAX_LINE_BYTES, LandingFile, new_files, read_lines


def _file(path, landing):
    return LandingFile(path, path.relative_to(landing).as_posix(), dt.date(2026, 1, 1))


def test_lines_are_numbered_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\r\n')
    table = read_lines(_file(path, tmp_path)).to_pylist()
    assert [(row["line_number"], row["raw_line"]) for row in table] == [(1, '{"a": 1}'), (3, '{"a": 2}')]
    assert all(row["read_error"] is None for row in table)


def test_truncated_gzip_keeps_readable_lines_and_flags_the_cut_one(tmp_path):
    full = gzip.compress(b"".join(f'{{"n": {i}}}\n'.encode() for i in range(2000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(full[: len(full) // 2])
    rows = read_lines(_file(path, tmp_path)).to_pylist()
    assert rows, "the readable prefix must be kept"
    assert all(row["read_error"] is None for row in rows[:-1])
    assert rows[-1]["read_error"].startswith("truncated gzip")
    assert rows[0]["raw_line"] == '{"n": 0}'


def test_invalid_utf8_is_flagged_per_line(tmp_path):
    path = tmp_path / "bad.log"
    path.write_bytes(b"good line\nbad \xff\xfe line\nanother good\n")
    rows = read_lines(_file(path, tmp_path)).to_pylist()
    assert [row["read_error"] is None for row in rows] == [True, False, True]
    assert "invalid UTF-8" in rows[1]["read_error"]


def test_not_gzip_at_all_is_one_quarantinable_row(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"this is not gzip")
    rows = read_lines(_file(path, tmp_path)).to_pylist()
    assert len(rows) == 1 and rows[0]["read_error"].startswith("corrupt gzip")


def test_every_gzip_member_is_read_and_damage_after_them_is_flagged(tmp_path):
    members = gzip.compress(b"1\n2\n") + gzip.compress(b"3\n")
    cases = {
        "members.log.gz": (members, ["1", "2", "3"], None),
        "padded.log.gz": (members + b"\0" * 512, ["1", "2", "3"], None),  # tape-style zero padding
        "appended.log.gz": (
            members + b"4\n",
            ["1", "2", "3", ""],
            "corrupt gzip file: 2 bytes after its end",
        ),
        "empty.log.gz": (b"", [], None),
    }
    for name, (data, lines, error) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        rows = read_lines(_file(path, tmp_path)).to_pylist()
        assert [row["raw_line"] for row in rows] == lines, name
        assert [row["read_error"] for row in rows if row["read_error"]] == ([] if error is None else [ANY]), (
            name
        )
        if error:
            assert rows[-1]["read_error"].startswith(error)


def test_corrupt_gzip_keeps_what_was_readable_before_the_damage(tmp_path):
    data = bytearray(gzip.compress(b"".join(f"line {i}\n".encode() for i in range(200_000)), compresslevel=1))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    path = tmp_path / "damaged.log.gz"
    path.write_bytes(bytes(data))
    rows = read_lines(_file(path, tmp_path)).to_pylist()
    assert rows[0]["raw_line"] == "line 0" and len(rows) > 1000, "the readable part is kept"
    assert [row["read_error"] is None for row in rows] == [True] * (len(rows) - 1) + [False]
    assert rows[-1]["read_error"].startswith("corrupt gzip file")


def test_byte_order_marks_and_long_lines(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"\xef\xbb\xbffirst\n" + b"x" * (MAX_LINE_BYTES + 1) + b"\nlast\n")
    rows = read_lines(_file(path, tmp_path)).to_pylist()
    assert [row["raw_line"][:5] for row in rows] == ["first", "xxxxx", "last"]
    assert [row["read_error"] for row in rows] == [
        None,
        f"line too long: {MAX_LINE_BYTES + 1} bytes (at most {MAX_LINE_BYTES})",
        None,
    ]
    path.write_bytes("first\nsecond\n".encode("utf-16"))
    assert {row["read_error"] for row in read_lines(_file(path, tmp_path)).to_pylist()} == {
        "UTF-16 file (it starts with a UTF-16 byte-order mark): UTF-8 expected"
    }


def test_new_files_respects_loaded_set_and_run_date(tmp_path):
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        (tmp_path / "events" / day).mkdir(parents=True)
        (tmp_path / "events" / day / "events-0000.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "events" / "not-a-date").mkdir()
    loaded = {"events/2026-01-01/events-0000.jsonl.gz": 1}
    found = new_files(tmp_path, "events", (".jsonl.gz",), loaded, until=dt.date(2026, 1, 2))
    assert [file.relative for file in found] == ["events/2026-01-02/events-0000.jsonl.gz"]
    assert new_files(tmp_path, "logs", (".log",), {}, None) == []


def test_undamaged_files_read_in_bulk_as_line_by_line(tmp_path, monkeypatch):
    """read_lines reads undamaged data with Arrow in bulk: the same table as its line-by-line path."""
    from ingestion import files

    contents = [
        b"",
        b"\n\n",
        b'{"a": 1}',  # no final newline
        b'{"a": 1}\n\n  \n\t\n{"a": 2}\r\n\r\n\r\r\n',
        "caf\u00e9 \u2603\n\u00a0\n\u2003\u3000\n\x1c\x1d\n\x0b\x0c\n\x85\n x\n".encode(),  # Unicode spaces
        b"\xef\xbb\xbf{}\n{}",  # byte-order mark
    ]
    for i, data in enumerate(contents):
        path = tmp_path / f"{i}.jsonl"
        path.write_bytes(data)
        bulk = read_lines(_file(path, tmp_path))
        with monkeypatch.context() as patched:
            patched.setattr(files, "_undamaged_lines", lambda file, data: None)
            one_by_one = read_lines(_file(path, tmp_path))
        assert bulk.schema == one_by_one.schema and bulk.to_pylist() == one_by_one.to_pylist(), data
    path.write_bytes("\u00a0\n{}\n".encode())
    assert [row["line_number"] for row in read_lines(_file(path, tmp_path)).to_pylist()] == [2]
