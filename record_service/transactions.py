"""Running database work off the event loop, in one transaction, with refusals as API errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from record_service.repository import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    RepositoryError,
)
from service_common.db import transaction
from service_common.http import ApiError, run_blocking

T = TypeVar("T")

STATUS_OF: dict[type[RepositoryError], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    ConflictError: 409,
    InvalidRequestError: 422,
}


async def in_transaction(sessions: sessionmaker, work: Callable[[Session], T]) -> T:
    """Runs `work` in a worker thread, in one committed transaction.

    Raises:
        ApiError: The repository's refusal with its status and code, or 503
            database_unavailable when the database cannot be reached.
    """

    def run() -> T:
        with transaction(sessions) as session:
            return work(session)

    try:
        return await run_blocking(run)
    except RepositoryError as error:
        raise ApiError(STATUS_OF[type(error)], error.code, error.message) from None
    except DBAPIError:
        raise ApiError(503, "database_unavailable", "the record database is unavailable") from None
