"""Settings: defaults derive from PWH_DATA_DIR, the environment beats the config file, typos are caught."""

import pytest

from pwh.settings import load_settings


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in (
        "PWH_DATA_DIR",
        "PWH_LANDING_DIR",
        "PWH_CRM_URL",
        "PWH_LAKE_URL",
        "PWH_WAREHOUSE_PATH",
        "PWH_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_hang_off_the_data_dir(clean_env, monkeypatch):
    monkeypatch.setenv("PWH_DATA_DIR", str(clean_env / "d"))
    settings = load_settings()
    assert settings.landing_dir == clean_env / "d" / "landing"
    assert settings.crm_url == f"sqlite:///{clean_env / 'd' / 'landing' / 'crm.sqlite'}"
    assert settings.warehouse_path == clean_env / "d" / "warehouse" / "pwh.duckdb"
    assert settings.lake_url == str(clean_env / "d" / "lake")


def test_environment_beats_config_file(clean_env, monkeypatch):
    (clean_env / "pwh.toml").write_text('data_dir = "from-file"\nlake_url = "s3://bucket/lake"\n')
    assert load_settings().data_dir == clean_env / "from-file"
    monkeypatch.setenv("PWH_DATA_DIR", str(clean_env / "from-env"))
    settings = load_settings()
    assert settings.data_dir == clean_env / "from-env" and settings.lake_url == "s3://bucket/lake"


def test_config_file_typos_and_missing_files_are_errors(clean_env, monkeypatch):
    (clean_env / "pwh.toml").write_text('data_dri = "x"\n')
    with pytest.raises(ValueError, match="data_dri"):
        load_settings()
    monkeypatch.setenv("PWH_CONFIG", str(clean_env / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        load_settings()
