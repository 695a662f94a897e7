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
        "PWH_BUILD_DIR",
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
    assert settings.build_dir == clean_env / "d" / "build"
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


def test_build_dir_from_file_or_environment_and_the_build_file_keeps_the_name(clean_env, monkeypatch):
    from pwh.publish import build_settings

    (clean_env / "pwh.toml").write_text('build_dir = "scratch"\nwarehouse_path = "shared/team.duckdb"\n')
    settings = load_settings()
    assert settings.build_dir == clean_env / "scratch" and settings.published_path is None
    build = build_settings(settings)
    assert build.warehouse_path == clean_env / "scratch" / "team.duckdb", (
        "DuckDB names the catalog after the file"
    )
    assert build.published_path == clean_env / "shared" / "team.duckdb"
    assert build_settings(build) == build
    monkeypatch.setenv("PWH_BUILD_DIR", str(clean_env / "from-env"))
    assert load_settings().build_dir == clean_env / "from-env"


def test_published_path_is_not_a_setting(clean_env):
    (clean_env / "pwh.toml").write_text('published_path = "x.duckdb"\n')
    with pytest.raises(ValueError, match="published_path"):
        load_settings()
