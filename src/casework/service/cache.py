"""A small thread-safe LRU of the cases this process wrote last: their head row, their live state object and the
projection views of that state.

The state object is handed out to one caller at a time (`take`), because the engine changes it in place; a second
concurrent caller on the same case gets only the head and rebuilds the state from its snapshot and later events.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from casework.engine import CaseState
from casework.service.projection import Views
from casework.store import CaseHead

Entry = tuple[CaseHead, CaseState | None, Views | None]


class HeadCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._items  # a dict lookup is atomic: no lock needed for a hint

    def take(self, case_id: str) -> tuple[CaseHead | None, CaseState | None, Views | None]:
        with self._lock:
            entry = self._items.get(case_id)
            if entry is None:
                return None, None, None
            self._items[case_id] = (entry[0], None, None)
            self._items.move_to_end(case_id)
            return entry

    def put(self, head: CaseHead, state: CaseState | None, views: Views | None = None) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            current = self._items.get(head.id)
            # Threads of this process may finish out of order: never replace a newer head with an older one.
            if current is not None and current[0].version > head.version:
                return
            self._items[head.id] = (head, state, views if state is not None else None)
            self._items.move_to_end(head.id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def pop(self, case_id: str) -> None:
        with self._lock:
            self._items.pop(case_id, None)
