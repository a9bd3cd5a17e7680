"""FastAPI dependencies: the settings, catalog engine and job queue that `create_app` stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from vantage.config import Settings
from vantage.jobs.queue import JobQueue


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


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]
