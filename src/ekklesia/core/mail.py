"""Mail: messages between the agents of populations, as one columnar batch instead of objects.

Row ``i`` of a :class:`Mail` goes from agent ``sender[i]`` to ``to[i]`` and carries row ``i`` of
every payload column (numpy arrays of one length). Agents are addressed by *global id*: the
populations of a simulation are laid end to end, so population ``p`` owns the ids
``first_id .. first_id + n - 1``. A negative address ``-(p + 1)`` is a broadcast to every agent of
population ``p``: it stays one row however many agents hear it, and crosses to each host holding
part of ``p`` as one row.

An :class:`Inbox` is what a slice of a population finds waiting when it steps, in an order that
does not depend on placement: single-recipient rows sorted by (recipient, sender), broadcast rows
by sender, and the rows of one sender to one recipient in the order they were sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Ids", "Inbox", "Mail", "Parcel", "broadcast_address", "is_broadcast"]

Ids = npt.NDArray[np.int64]
Column = npt.NDArray[Any]

_EMPTY_IDS: Ids = np.zeros(0, dtype=np.int64)


def broadcast_address(population: int) -> int:
    """The address that reaches every agent of the ``population``-th population."""
    return -(population + 1)


def is_broadcast(to: Ids) -> npt.NDArray[np.bool_]:
    return to < 0


def _fill_value(dtype: np.dtype[Any]) -> Any:
    if dtype.kind == "f" or dtype.kind == "c":
        return np.nan
    if dtype.kind in "iub":
        return 0
    raise TypeError(f"mail columns must be numeric or boolean, got dtype {dtype}")


class Mail:
    """A batch of messages; see the module docstring. Arrays are not copied."""

    __slots__ = ("columns", "sender", "to")

    def __init__(self, sender: Ids, to: Ids, columns: Mapping[str, Column] | None = None) -> None:
        sender = np.asarray(sender, dtype=np.int64)
        to = np.asarray(to, dtype=np.int64)
        if sender.ndim != 1 or to.shape != sender.shape:
            raise ValueError(
                f"mail needs one sender and one recipient per row, got {sender.shape} and "
                f"{to.shape}"
            )
        cols: dict[str, Column] = {}
        for name, values in (columns or {}).items():
            array = np.asarray(values)
            if array.shape != sender.shape:
                raise ValueError(
                    f"mail column {name!r} has shape {array.shape}, expected {sender.shape}"
                )
            _fill_value(array.dtype)
            cols[name] = array
        self.sender = sender
        self.to = to
        self.columns = cols

    @classmethod
    def empty(cls) -> Mail:
        return cls(_EMPTY_IDS, _EMPTY_IDS)

    def __len__(self) -> int:
        return int(self.sender.shape[0])

    def __getitem__(self, column: str) -> Column:
        return self.columns[column]

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __repr__(self) -> str:
        return f"Mail({len(self)} rows, columns={sorted(self.columns)})"

    def take(self, rows: npt.NDArray[Any]) -> Mail:
        """The rows selected by an index array or a boolean mask, in that order."""
        return Mail(self.sender[rows], self.to[rows], {k: v[rows] for k, v in self.columns.items()})

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i``'s payload as plain Python values."""
        return {k: v[i].item() for k, v in self.columns.items()}

    @staticmethod
    def concat(parts: Iterable[Mail]) -> Mail:
        """The rows of ``parts`` one after the other; a column missing from a part is filled
        with NaN (floats), 0 (integers) or False (booleans)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Mail.empty()
        if len(parts) == 1:
            return parts[0]
        names: dict[str, np.dtype[Any]] = {}
        for part in parts:
            for name, values in part.columns.items():
                names.setdefault(name, values.dtype)
        columns: dict[str, Column] = {}
        for name, dtype in names.items():
            pieces = [
                p.columns[name]
                if name in p.columns
                else np.full(len(p), _fill_value(dtype), dtype=dtype)
                for p in parts
            ]
            columns[name] = np.concatenate(pieces)
        return Mail(
            np.concatenate([p.sender for p in parts]),
            np.concatenate([p.to for p in parts]),
            columns,
        )


@dataclass(frozen=True)
class Parcel:
    """Mail on its way to one population's slice on one host, stamped so that parcels can be
    put in an order that does not depend on how agents are placed.

    ``origin`` is the population-local index of the sending slice's first agent together with the
    population's index; ``ordinal`` counts the mails that slice sent in the same step.
    """

    round: int
    phase: int
    population: int
    origin: int
    ordinal: int
    mail: Mail

    @property
    def order(self) -> tuple[int, int, int, int, int]:
        return (self.round, self.phase, self.population, self.origin, self.ordinal)


def _sorted_pairs(primary: Ids, secondary: Ids) -> bool:
    """Whether rows are already ordered by (primary, secondary)."""
    if primary.shape[0] < 2:
        return True
    dp = np.diff(primary)
    if (dp < 0).any():
        return False
    ds = np.diff(secondary)
    return not bool(((dp == 0) & (ds < 0)).any())


class Inbox:
    """What one slice of a population heard since it last stepped.

    ``direct`` holds the rows addressed to single agents of the slice, ordered by (recipient,
    sender); ``broadcast`` the rows every agent of the slice hears, ordered by sender. Use
    :attr:`recipients` (slice-local row of each direct message) and the per-agent reductions
    :meth:`count`, :meth:`total` and :meth:`latest` to work on all agents at once.
    """

    __slots__ = ("_recipients", "broadcast", "direct", "first_id", "size")

    def __init__(self, direct: Mail, broadcast: Mail, first_id: int, size: int) -> None:
        self.direct = direct
        self.broadcast = broadcast
        self.first_id = first_id
        self.size = size
        self._recipients: Ids | None = None

    @classmethod
    def gather(cls, parcels: list[Parcel], first_id: int, size: int) -> Inbox:
        """Build the inbox of the slice whose agents have global ids ``first_id ..
        first_id + size - 1`` from the parcels addressed to it, in any order."""
        parcels = sorted(parcels, key=lambda p: p.order)
        mail = Mail.concat(p.mail for p in parcels)
        if not len(mail):
            return cls(mail, mail, first_id, size)
        wide = is_broadcast(mail.to)
        if not wide.any():
            direct, broadcast = mail, Mail.empty()
        elif wide.all():
            direct, broadcast = Mail.empty(), mail
        else:
            direct, broadcast = mail.take(~wide), mail.take(wide)
        if not _sorted_pairs(direct.to, direct.sender):
            direct = direct.take(np.lexsort((direct.sender, direct.to)))
        if len(broadcast) > 1 and (np.diff(broadcast.sender) < 0).any():
            broadcast = broadcast.take(np.argsort(broadcast.sender, kind="stable"))
        return cls(direct, broadcast, first_id, size)

    def __len__(self) -> int:
        return len(self.direct) + len(self.broadcast)

    def __repr__(self) -> str:
        return f"Inbox({len(self.direct)} direct, {len(self.broadcast)} broadcast)"

    @property
    def recipients(self) -> Ids:
        """For each direct message, the slice-local row (0 .. size - 1) of its recipient."""
        if self._recipients is None:
            self._recipients = self.direct.to - self.first_id
        return self._recipients

    def _column(self, column: str) -> Column:
        try:
            return self.direct.columns[column]
        except KeyError:
            known = ", ".join(sorted(self.direct.columns)) or "none"
            raise KeyError(f"no direct message carries {column!r} (columns: {known})") from None

    def count(self) -> Ids:
        """Direct messages per agent of the slice."""
        return np.bincount(self.recipients, minlength=self.size).astype(np.int64)

    def total(self, column: str) -> npt.NDArray[np.float64]:
        """Per agent, the sum of ``column`` over its direct messages (0 where none)."""
        if not len(self.direct):
            return np.zeros(self.size, dtype=np.float64)
        weights = self._column(column).astype(np.float64, copy=False)
        sums: npt.NDArray[np.float64] = np.bincount(
            self.recipients, weights=weights, minlength=self.size
        ).astype(np.float64, copy=False)
        return sums

    def latest(self, column: str, default: Any) -> Column:
        """Per agent, ``column`` of the last direct message it got (inbox order); else
        ``default``."""
        if not len(self.direct):
            return np.full(self.size, default)
        values = self._column(column)
        out = np.full(self.size, default, dtype=np.result_type(values.dtype, np.asarray(default)))
        out[self.recipients] = values  # later rows of a recipient overwrite earlier ones
        return out
