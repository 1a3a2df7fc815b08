import base64
import secrets

import pytest

from registry.errors import ConfigurationError
from registry.settings import Mode, Settings


def test_development_generates_and_keeps_a_master_key(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = settings.master_key_bytes()
    assert len(first) == 32
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).master_key_bytes() == first


def test_production_refuses_to_run_without_a_master_key(tmp_path):
    settings = Settings(data_dir=tmp_path, mode=Mode.PRODUCTION)
    with pytest.raises(ConfigurationError, match="REGISTRY_MASTER_KEY is required"):
        settings.master_key_bytes()
    assert not (tmp_path / "master.key").exists(), "production must not generate a key file"


def test_production_ignores_a_development_key_file(tmp_path):
    Settings(data_dir=tmp_path).master_key_bytes()  # a developer's generated key
    with pytest.raises(ConfigurationError):
        Settings(data_dir=tmp_path, mode=Mode.PRODUCTION).master_key_bytes()


def test_explicit_master_key_must_be_32_bytes_of_base64(tmp_path):
    good = base64.b64encode(secrets.token_bytes(32)).decode()
    assert len(Settings(data_dir=tmp_path, master_key=good).master_key_bytes()) == 32
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ConfigurationError):
            Settings(data_dir=tmp_path, master_key=bad).master_key_bytes()


def test_defaults_are_sqlite_under_the_data_dir_and_origin_from_base_url(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_BASE_URL", "https://gr.example.cn/")
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/registry.db"
    assert settings.new_log_origin == "gr.example.cn/log"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (bytes(32), "one byte repeated"),
        (b"\xff" * 32, "one byte repeated"),
        (b"0123456789abcdef" * 2, ""),  # exactly 16 distinct values: the lowest accepted
        (b"password" * 4, "only 7 distinct byte values"),
        (bytes(range(15)) * 2 + b"\x00\x01", "only 15 distinct byte values"),
    ],
)
def test_production_refuses_a_low_entropy_master_key(tmp_path, key: bytes, why: str):
    settings = Settings(data_dir=tmp_path, mode=Mode.PRODUCTION, master_key=_b64(key))
    if len(set(key)) >= 16:
        assert settings.master_key_bytes() == key  # the rule's edge: 16 distinct values pass
        return
    with pytest.raises(ConfigurationError, match=why):
        settings.master_key_bytes()
    # Development takes it: a laptop's throwaway key is the developer's business.
    assert Settings(data_dir=tmp_path, master_key=_b64(key)).master_key_bytes() == key


def test_production_accepts_random_master_keys(tmp_path):
    for _ in range(200):
        key = secrets.token_bytes(32)
        settings = Settings(data_dir=tmp_path, mode=Mode.PRODUCTION, master_key=_b64(key))
        assert settings.master_key_bytes() == key


def test_configured_master_key_never_generates_one(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.configured_master_key() is None
    assert not (tmp_path / "master.key").exists()
    generated = settings.master_key_bytes()
    assert settings.configured_master_key() == generated
