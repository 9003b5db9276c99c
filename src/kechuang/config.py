"""Settings, read once from the environment (prefix ``KECHUANG_``) and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every setting kechuang reads; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="KECHUANG_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'kechuang.db'}",
        description="SQLAlchemy URL; SQLite by default, postgresql+psycopg://... in production.",
    )
    language: Literal["zh", "en"] = Field(default="zh", description="Default UI and CLI language.")
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key for signing session cookies; generated into var/secret_key when empty.",
    )
    demo_mode: bool = Field(default=False, description="Demo log-ins and passwords are only valid in demo mode.")
    host: str = "127.0.0.1"
    port: int = 8000
    cookie_secure: bool = Field(default=False, description="Set the Secure flag on cookies (true behind TLS).")
    sqlite_busy_timeout_ms: int = 10_000
    run_jobs: bool = Field(default=True, description="Run the periodic jobs (e.g. sealing the audit log's daily "
                           "Merkle roots) inside the web process; false when an external scheduler runs them.")
    log_level: str = "INFO"
    policy_second_approval_fen: int = Field(default=20_000_000, description="Entitlements above this amount "
                                            "(fen; default 20万元) need a second, different officer's approval.")
    policy_confirm_working_days: int = Field(default=3, description="Working days an enterprise has to confirm "
                                             "its bank account after notification (沪科〔2025〕212号: 3).")
    policy_notice_working_days: int = Field(default=5, description="Length of a 公示 notice in working days "
                                            "(unconfirmed: awaiting the official text).")
    science_upload_max_mb: float = Field(default=512, description="Largest file (MiB) a dataset or model upload "
                                         "may have; each file is checked on its own.")


settings = Settings()
