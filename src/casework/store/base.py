"""What the store's mixins (jobs, documents) rely on from `Store`, spelled out for the type checker."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection

if TYPE_CHECKING:
    from casework.store.blobs import BlobStore

T = TypeVar("T")


class StoreBase:
    if TYPE_CHECKING:
        blobs: BlobStore

        def write(self, work: Callable[[Connection], T]) -> T: ...

        def read(self) -> AbstractContextManager[Connection]: ...
