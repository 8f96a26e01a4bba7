"""Server settings from flags and ``VERIFICATION_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERIFICATION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file inside data_dir
    provider: Literal["auto", "cpu", "cuda"] = "auto"
    inference_workers: int = Field(0, ge=0, description="0 = one per core")
    intra_op_threads: int = Field(1, ge=1)
    models_dir: Path | None = None
