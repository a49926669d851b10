"""Replacing an upload with a file whose columns differ (issue 15, item 7), driven with AppTest.

The text field the loader chose for the first file is chosen afresh for the next one; a field, template
or row filter the user chose stays while the new file has the columns it names.
"""

from __future__ import annotations

import json

from .app_steps import assert_no_exception, load_in_form, new_app, session_of, texts_of


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


FILE_A = jsonl([{"text": f"def f{i}(x):\n    return x + {i}\n", "title": f"adds {i}",
                 "split": "train" if i % 3 else "test"} for i in range(30)])
FILE_B = jsonl([{"problem": f"Prove that {i} + n = n + {i} for every natural number n.", "answer": str(i)}
                for i in range(12)])
FILE_C = jsonl([{"title": f"note {i}", "body": f"A longer body of text number {i}, longer than the title."}
                for i in range(7)])


def upload(at, name: str, content: bytes):
    at.file_uploader(key="data.source.upload").set_value((name, content, "application/octet-stream")).run()
    assert_no_exception(at)
    return at


def success_text(at) -> str:
    return " ".join(texts_of(at.success))


def test_a_new_file_chooses_its_own_text_field(isolated):
    at = new_app()
    at.radio(key="data.source.kind").set_value("upload").run()
    upload(at, "a.jsonl", FILE_A)
    assert not at.error, texts_of(at.error)
    assert "30 rows" in success_text(at) and "field text" in success_text(at)
    assert at.selectbox(key="data.source.field").value == "text"

    upload(at, "b.jsonl", FILE_B)
    assert not at.error, texts_of(at.error)
    assert "12 rows" in success_text(at) and "field problem" in success_text(at)
    assert at.selectbox(key="data.source.field").value == "problem"
    assert session_of(at).view.source.location == "b.jsonl"
    assert session_of(at).view.source.field is None  # still the automatic choice, not pinned


def test_the_users_field_stays_while_the_new_file_has_it_and_a_stale_filter_goes(isolated):
    at = new_app()
    at.radio(key="data.source.kind").set_value("upload").run()
    upload(at, "a.jsonl", FILE_A)
    at.selectbox(key="data.source.field").set_value("title").run()
    at.selectbox(key="data.source.filter_column").set_value("split").run()
    at.text_input(key="data.source.filter_value").set_value("train").run()
    at.button(key="data.source.load").click().run()
    assert not at.error, texts_of(at.error)
    assert "20 rows" in success_text(at) and "field title" in success_text(at)

    upload(at, "c.jsonl", FILE_C)  # has `title`, lacks `split`
    assert not at.error, texts_of(at.error)
    assert "7 rows" in success_text(at) and "field title" in success_text(at)
    assert at.selectbox(key="data.source.field").value == "title"
    assert at.selectbox(key="data.source.filter_column").value == "(no filter)"
    assert session_of(at).view.source.field == "title"
    assert session_of(at).view.source.filter_column is None

    upload(at, "b.jsonl", FILE_B)  # lacks `title`: the field is detected again
    assert not at.error, texts_of(at.error)
    assert "12 rows" in success_text(at) and "field problem" in success_text(at)


def test_a_template_for_the_old_columns_is_dropped_and_one_that_fits_is_kept(isolated):
    at = new_app()
    at.radio(key="data.source.kind").set_value("upload").run()
    upload(at, "c.jsonl", FILE_C)
    at.text_input(key="data.source.template").set_value("{title}: {body}").run()
    at.button(key="data.source.load").click().run()
    assert not at.error, texts_of(at.error)
    assert session_of(at).view.source.template == "{title}: {body}"

    upload(at, "c2.jsonl", FILE_C.replace(b"note", b"memo"))  # the same columns
    assert not at.error, texts_of(at.error)
    assert session_of(at).view.source.location == "c2.jsonl"
    assert session_of(at).view.source.template == "{title}: {body}"

    upload(at, "b.jsonl", FILE_B)
    assert not at.error, texts_of(at.error)
    assert "field problem" in success_text(at)
    assert at.text_input(key="data.source.template").value == ""
    assert session_of(at).view.source.template is None


def test_another_local_file_chooses_its_own_text_field(isolated):
    (isolated / "a.jsonl").write_bytes(FILE_A)
    (isolated / "b.jsonl").write_bytes(FILE_B)
    at = new_app()
    load_in_form(at, "source", "local", "a.jsonl")
    assert "field text" in success_text(at)
    load_in_form(at, "source", "local", "b.jsonl")
    assert not at.error, texts_of(at.error)
    assert "12 rows" in success_text(at) and "field problem" in success_text(at)
