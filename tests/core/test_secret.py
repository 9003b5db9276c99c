import stat

from kechuang.core import secret


def test_secret_generated_once_with_mode_600(tmp_path, monkeypatch):
    target = tmp_path / "var" / "secret_key"
    monkeypatch.setattr(secret, "SECRET_FILE", target)
    monkeypatch.setattr(secret.settings, "secret_key", secret.settings.secret_key.__class__(""))
    secret.get_secret_key.cache_clear()
    try:
        first = secret.get_secret_key()
        assert target.exists() and stat.S_IMODE(target.stat().st_mode) == 0o600
        secret.get_secret_key.cache_clear()
        assert secret.get_secret_key() == first and len(first) >= 32
        assert secret.csrf_token_for("a") != secret.csrf_token_for("b")
    finally:
        secret.get_secret_key.cache_clear()
