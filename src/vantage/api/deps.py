"""FastAPI dependencies: the settings, catalog engine, job queue and blob store of the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from vantage.config import Settings
from vantage.jobs.queue import JobQueue
from vantage.storage import BlobStore, open_store


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The catalog engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_queue(request: Request) -> JobQueue:
    """The job queue over the catalog."""
    queue: JobQueue = request.app.state.queue
    return queue


def get_store(request: Request) -> BlobStore:
    """The blob store the settings name, opened on first use and kept for the app's life."""
    state = request.app.state
    store: BlobStore | None = getattr(state, "store", None)
    if store is None:
        store = state.store = open_store(state.settings)
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]
StoreDep = Annotated[BlobStore, Depends(get_store)]
