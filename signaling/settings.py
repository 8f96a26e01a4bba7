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

    # -- WebRTC / interviews --------------------------------------------------------------------
    public_url: str | None = Field(None,
        description="base URL in join links (default: http://host:port)")
    stun_urls: list[str] = Field(default_factory=list,
        description='e.g. ["stun:stun.example.com:3478"]')
    turn_urls: list[str] = Field(default_factory=list,
        description='e.g. ["turn:turn.example.com:3478?transport=udp"]')
    turn_username: str | None = None
    turn_credential: str | None = None
    ice_loopback: bool = Field(False,
        description="offer 127.0.0.1 host candidates (tests, benchmarks)")
    admin_token: str | None = Field(None,
        description="bearer token for /v1/admin routes; unset: loopback clients only")
    session_ttl_s: float = Field(24 * 3600, gt=0, description="how long a join link stays valid")
    interview_max_s: float = Field(300, gt=0,
        description="an interview is finished after this long")
    media_timeout_s: float = Field(20, gt=0,
        description="close a peer that sends no media this long")
    reconnect_grace_s: float = Field(120, gt=0,
        description="resume window: finish an interview whose applicant is gone this long")
    record: bool = True
    robust_receive: bool = Field(True,
        description="loss-robust receive path (off: stock aiortc, for comparison)")
    analysis_fps: float = Field(5.0, gt=0, le=30,
        description="video frames per second handed to the analyzers")
    rate_control: bool = Field(True,
        description="lower the analysed frame rate of interviews outside a challenge or digit "
                    "window when the CPU budget is short (signaling/analysis_rate.py)")
    analysis_floor_fps: float = Field(2.0, gt=0, le=30,
        description="the lowest analysed frame rate outside challenge and digit windows")
    analysis_lip_sync_fps: float | None = Field(12.5, gt=0, le=30,
        description="analysed frame rate while a digit reading is judged (lip sync's mouth "
                    "signal needs 12.5 fps); unset: the full analysis_fps")
    analysis_cpu_budget: float = Field(0.7, gt=0, le=1,
        description="share of the machine (all cores) the analysis-rate controller plans for")
    scene_interval_s: float = Field(3.0, ge=0.05, le=60,
        description="routine background analyses this far apart (a scene change is analysed at "
                    "once anyway; `verification analyze` keeps 1 s)")
    bitrate_profile: Literal["low", "standard"] = "low"
    prompt_time_scale: float = Field(1.0, gt=0, le=100,
        description="stretch/shrink prompt durations")
    # -- admission control ---------------------------------------------------------------------
    max_sessions: int = Field(16, ge=1)
    admission_control: bool = Field(True,
        description="refuse on measured load (off: only max_sessions; for load benchmarks)")
    latency_budget_ms: float = Field(250, gt=0,
        description="frame -> evidence p95 the running sessions must keep")
    cpu_threshold: float = Field(0.85, gt=0, le=1,
        description="refuse when the predicted CPU share exceeds this")
    loop_lag_limit_ms: float = Field(50, gt=0,
        description="refuse while the event loop lags more (p95)")
    admission_interval_s: float = Field(0.7, ge=0,
        description="minimum gap between two admissions (ICE/DTLS bursts fail)")
    # -- loan-system API, interview scripts, webhooks (interview-flow issue) ---------------------
    api_key: str | None = Field(None,
        description="bearer key of the /v1 loan-system API; unset: loopback clients only")
    webhook_secret: str | None = Field(None,
        description="HMAC-SHA256 key that signs webhooks; unset: deliveries wait")
    workflow_dir: Path | None = Field(None,
        description="extra interview scripts and products (YAML/JSON)")
    join_ttl_s: float = Field(1800, gt=0,
        description="lifetime of a join link made by POST /v1/sessions")
    webhook_timeout_s: float = Field(10, gt=0, le=120,
        description="one webhook POST may take this long")
    delivery_lease_s: float = Field(30, gt=0, description="an attempt in flight holds its event")
    # -- reviewer console (signaling/console) --------------------------------------------------
    cookie_secure: bool = Field(False,
        description="mark console cookies Secure even on plain-HTTP requests (behind a TLS proxy)")
    review_sample_rate: float = Field(0.02, ge=0, le=1,
        description="share of automatic pass/reject verdicts also queued for an audit review")
    # -- data protection and limits (reviewer-console / data-protection issue) -------------------
    retention_interval_s: float = Field(3600, ge=0,
        description="how often the retention purge runs (0: never; `verification retention "
                    "purge` from cron instead)")
    session_rate_per_min: float = Field(60, gt=0,
        description="POST /v1/sessions per API key and minute (token bucket refill)")
    session_rate_burst: int = Field(30, ge=1,
        description="POST /v1/sessions an API key may make at once before the rate applies")
    liveness_failures_per_applicant: int = Field(3, ge=1,
        description="interviews of one application ending with liveness contradicted before "
                    "new ones are refused (429) for liveness_failure_window_s")
    liveness_failures_per_device: int = Field(5, ge=1,
        description="the same, per client address")
    liveness_failure_window_s: float = Field(24 * 3600, gt=0)
