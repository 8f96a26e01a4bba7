"""The FastAPI application: health, model status, OpenAPI docs, interviews (signaling/routes).

Route handlers stay a few lines long; state lives in :class:`AppState`, errors map to JSON with
a machine-readable ``code`` and never expose a stack trace to a client.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine

from signaling.access_log import AccessLogMiddleware
from signaling.api_v1 import router as loan_api_router
from signaling.console.live_watch import router as live_watch_router
from signaling.console.routes import router as console_router
from signaling.hub import InterviewHub
from signaling.interview_flow import flow_factory
from signaling.rate_limit import TokenBucketLimiter
from signaling.recording_vault import recover_spool
from signaling.retention_task import RetentionScheduler
from signaling.routes import router as interview_router
from signaling.routes import static_files
from signaling.security_headers import SecurityHeadersMiddleware, headers_for
from signaling.settings import ServerSettings
from signaling.workflow_setup import WorkflowParts, build_workflow
from verification import __version__
from verification.errors import RetryLaterError, VerificationError
from verification.protect.media import MediaVault
from verification.runtime import ModelRegistry, ThreadBudget, load_manifest
from verification.runtime.integrity import verify_file
from verification.store.db import default_database_url, make_engine, ping
from verification.workflow.interviews import InterviewService
from verification.workflow.loan import LoanWorkflow

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: ServerSettings
    engine: Engine
    registry: ModelRegistry
    model_errors: dict[str, str]
    hub: InterviewHub
    workflow_parts: WorkflowParts
    vault: MediaVault  # encrypted media and templates (verification.protect.media)
    retention: RetentionScheduler
    session_limiter: TokenBucketLimiter  # POST /v1/sessions per API key

    @property
    def workflow(self) -> LoanWorkflow:
        return self.workflow_parts.workflow


class ModelStatus(BaseModel):
    name: str
    task: str
    licence: str
    source: str
    bytes: int
    verified: bool
    loaded: bool
    provider: str | None
    error: str | None = None


class Health(BaseModel):
    status: str
    version: str
    database: bool
    models_verified: int
    models_total: int


def _budget(settings: ServerSettings) -> ThreadBudget:
    default = ThreadBudget.for_machine()
    workers = settings.inference_workers or max(1, default.workers // settings.intra_op_threads)
    return ThreadBudget(workers=workers, intra_op_threads=settings.intra_op_threads)


def build_state(settings: ServerSettings) -> AppState:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url or default_database_url(settings.data_dir))
    manifest_path = settings.models_dir / "manifest.toml" if settings.models_dir else None
    registry = ModelRegistry(load_manifest(manifest_path), provider=settings.provider,
                             budget=_budget(settings))
    errors: dict[str, str] = {}
    for name in registry.names():
        spec = registry.spec(name)
        try:
            verify_file(name, spec.file, spec.sha256)
        except VerificationError as err:
            errors[name] = str(err)
            log.error("%s", err)
    vault = MediaVault.for_data_dir(settings.data_dir, create_key=True)
    workflow = build_workflow(settings, engine, registry, vault)
    hub = InterviewHub(settings, InterviewService(store=workflow.store), registry,
                       flow_factory(workflow.workflow, registry, settings.reconnect_grace_s),
                       media=vault)
    retention = RetentionScheduler(vault, workflow.catalog.retention_policy(),
                                   settings.retention_interval_s)
    limiter = TokenBucketLimiter(settings.session_rate_per_min, settings.session_rate_burst)
    return AppState(settings, engine, registry, errors, hub, workflow, vault, retention, limiter)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.core = build_state(settings)
        await asyncio.to_thread(recover_spool, app.state.core.vault)
        await app.state.core.hub.start()
        await app.state.core.workflow_parts.start(
            lambda session_id: app.state.core.hub.live(session_id) is not None)
        app.state.core.retention.start()
        log.info("serving with data dir %s", settings.data_dir.resolve())
        yield
        await app.state.core.retention.stop()
        watchers = getattr(app.state, "live_watchers", None)  # reviewers' live-watch peers
        if watchers is not None:
            await watchers.close_all()
        await app.state.core.hub.shutdown()  # closes peers, finalises recordings
        await app.state.core.workflow_parts.stop()
        app.state.core.engine.dispose()

    app = FastAPI(
        title="Verification server",
        version=__version__,
        description="Real-time video interview and biometric verification for small-business "
                    "loans. Self-hosted; every model's licence is listed under /v1/models.",
        lifespan=lifespan,
    )

    @app.exception_handler(VerificationError)
    async def _verification_error(_request: Request, err: VerificationError) -> JSONResponse:
        headers = {}
        if isinstance(err, RetryLaterError):
            headers["Retry-After"] = str(err.retry_after_s)
        return JSONResponse(status_code=getattr(err, "http_status", 400), headers=headers,
                            content={"code": err.code, "message": str(err)})

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                             for e in err.errors()[:5])
        return JSONResponse(status_code=400,
                            content={"code": "invalid_request", "message": problems})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        # Starlette answers this outside every middleware: the headers are added here.
        log.exception("unhandled error")
        return JSONResponse(status_code=500, headers=headers_for(request.scope,
                                                                 settings.public_url),
                            content={"code": "internal_error", "message": "internal error"})

    @app.get("/health", response_model=Health, tags=["operations"])
    def health(request: Request) -> Health:
        core: AppState = request.app.state.core
        database = ping(core.engine)
        total = len(core.registry.names())
        verified = total - len(core.model_errors)
        ok = database and verified == total
        return Health(status="ok" if ok else "degraded", version=__version__, database=database,
                      models_verified=verified, models_total=total)

    @app.get("/v1/models", response_model=list[ModelStatus], tags=["models"])
    def models(request: Request) -> list[ModelStatus]:
        core: AppState = request.app.state.core
        loaded = core.registry.loaded()
        rows = []
        for name in core.registry.names():
            spec = core.registry.spec(name)
            rows.append(ModelStatus(
                name=name, task=spec.task, licence=spec.licence,
                source=f"{spec.source.registry}:{spec.source.package}", bytes=spec.bytes,
                verified=name not in core.model_errors, loaded=name in loaded,
                provider=loaded[name].provider if name in loaded else None,
                error=core.model_errors.get(name)))
        return rows

    app.add_middleware(SecurityHeadersMiddleware, public_url=settings.public_url)
    app.add_middleware(AccessLogMiddleware)  # added last: outermost, sees every answer
    app.include_router(loan_api_router)
    app.include_router(interview_router)
    app.include_router(live_watch_router)
    app.include_router(console_router)
    app.mount("/static", static_files(), name="static")
    return app
