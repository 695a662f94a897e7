"""Where the nightly exports go: PWH_EXPORTS_URL (a folder or an fsspec URL), or its older name
PWH_EXPORTS_DIR; the environment beats the config file, a URL is kept as it is, a folder made absolute."""

import os

import pytest

from pwh.settings import load_settings


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PWH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PWH_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_exports_default_to_a_folder_of_the_data_dir(clean_env):
    settings = load_settings()
    assert settings.exports_url == str(clean_env / "d" / "exports")
    assert settings.exports_dir == clean_env / "d" / "exports"


def test_the_older_exports_dir_still_names_a_folder(clean_env, monkeypatch):
    monkeypatch.setenv("PWH_EXPORTS_DIR", "out/exports")
    settings = load_settings()
    assert settings.exports_url == str(clean_env / "out" / "exports"), "relative to where pwh started"
    assert settings.exports_dir == clean_env / "out" / "exports"


def test_an_exports_url_wins_and_has_no_local_folder(clean_env, monkeypatch):
    monkeypatch.setenv("PWH_EXPORTS_DIR", "out/exports")
    monkeypatch.setenv("PWH_EXPORTS_URL", "s3://bucket/pwh/exports")
    settings = load_settings()
    assert settings.exports_url == "s3://bucket/pwh/exports"
    with pytest.raises(ValueError, match="exports are at s3://bucket/pwh/exports, not in a local folder"):
        settings.exports_dir  # noqa: B018 - the property is what is tested


def test_either_name_in_the_config_file_and_the_environment_wins(clean_env, monkeypatch):
    (clean_env / "pwh.toml").write_text('exports_dir = "from-file"\n')
    assert load_settings().exports_url == str(clean_env / "from-file")
    (clean_env / "pwh.toml").write_text('exports_url = "s3://bucket/exports"\n')
    assert load_settings().exports_url == "s3://bucket/exports"
    monkeypatch.setenv("PWH_EXPORTS_DIR", "from-env")
    assert load_settings().exports_url == str(clean_env / "from-env")
