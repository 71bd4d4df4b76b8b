"""docs/reference/settings.md is generated from the settings object, and the committed page is current."""

from __future__ import annotations

from pathlib import Path

from esml_operator.settings import Settings
from scripts import settings_doc
from tests.controlplane.runner import REPO


def test_the_committed_settings_page_is_what_the_generator_renders() -> None:
    committed = (REPO / settings_doc.PAGE).read_text(encoding="utf-8")
    assert committed == settings_doc.render(), "docs/reference/settings.md is out of date: run make settings-doc"


def test_the_page_has_one_row_per_setting_with_flag_variable_and_default() -> None:
    lines = settings_doc.render().splitlines()
    for flag, env, default, _help in Settings.describe():
        (row,) = [line for line in lines if line.startswith(f"| `{flag}` |")]
        assert f"| `{env}` |" in row
        assert f"| `{default}` |" in row if default else "| (none) |" in row


def test_a_pipe_in_a_help_text_stays_in_its_cell() -> None:
    assert settings_doc.row("--x", "ESML_X", "", "a|b") == "| `--x` | `ESML_X` | (none) | a\\|b |"


def test_main_writes_the_page_under_the_given_root(tmp_path: Path) -> None:
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    assert settings_doc.main([str(tmp_path)]) == 0
    assert (tmp_path / settings_doc.PAGE).read_text(encoding="utf-8") == settings_doc.render()
