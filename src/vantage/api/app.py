"""Builds the FastAPI application from settings: state, routers and problem handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from vantage import __version__
from vantage.api import auth
from vantage.api.problems import install_problem_handlers
from vantage.api.routes import artifacts, health, jobs, pages, uploads, viewer
from vantage.api.tokens import TokenStore
from vantage.catalog.db import engine_from_settings
from vantage.config import Settings
from vantage.jobs.queue import JobQueue
from vantage.web.viewer import STATIC_DIR


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The Vantage API over the catalog of ``settings`` (which must be migrated already).

    Args:
        settings: the resolved settings.
        engine: the catalog engine to use; None builds one from the settings and disposes of
            it when the app shuts down (a given engine stays the caller's).
    """
    owned = engine is None
    catalog = engine_from_settings(settings) if engine is None else engine

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            catalog.dispose()

    app = FastAPI(
        title="Vantage",
        version=__version__,
        summary="Captured visual media into 3D scenes, an organised library and live events.",
        lifespan=lifespan,
        dependencies=[Depends(auth.require_token_for_writes)],  # every route, added now or later
    )
    app.state.settings = settings
    app.state.engine = catalog
    app.state.queue = JobQueue(catalog, default_max_attempts=settings.jobs.max_attempts)
    app.state.tokens = TokenStore(catalog)
    install_problem_handlers(app)
    app.include_router(jobs.router)
    app.include_router(artifacts.router)
    app.include_router(health.router)
    app.include_router(uploads.router)
    app.include_router(auth.router)
    app.include_router(viewer.router)
    app.include_router(pages.router)
    # check_dir=False: a fresh checkout has no built bundle (static/dist) until `make setup`.
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
