"""Entries as Arrow tables: the column layout shared by the vector and archive tiers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ekklesia.memory.entry import MemoryEntry

__all__ = ["entries_from_arrow", "entries_to_arrow", "entry_schema", "vector_matrix"]


def entry_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("scope", pa.string()),
            ("kind", pa.string()),
            ("source", pa.string()),
            ("tags", pa.list_(pa.string())),
            ("meta", pa.string()),
            ("created_at", pa.float64()),
            ("touched_at", pa.float64()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def vector_matrix(entries: Sequence[MemoryEntry], dim: int) -> np.ndarray[Any, Any]:
    """The entries' vectors as one ``(n, dim)`` float32 matrix; every entry must have one."""
    matrix = np.empty((len(entries), dim), dtype=np.float32)
    for row, entry in enumerate(entries):
        if entry.vector is None or entry.vector.shape != (dim,):
            shape = None if entry.vector is None else entry.vector.shape
            raise ValueError(f"entry {entry.id} needs a vector of {dim} floats, has {shape}")
        matrix[row] = entry.vector
    return matrix


def entries_to_arrow(entries: Sequence[MemoryEntry], dim: int) -> pa.Table:
    matrix = vector_matrix(entries, dim)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), dim)
    columns: dict[str, Any] = {
        "id": [e.id for e in entries],
        "text": [e.text for e in entries],
        "scope": [e.scope for e in entries],
        "kind": [e.kind for e in entries],
        "source": [e.source for e in entries],
        "tags": [e.tags() for e in entries],
        "meta": [json.dumps(e.meta, sort_keys=True) for e in entries],
        "created_at": [e.created_at for e in entries],
        "touched_at": [e.touched_at for e in entries],
    }
    arrays = [
        pa.array(columns[f.name], type=f.type) for f in entry_schema(dim) if f.name != "vector"
    ]
    return pa.Table.from_arrays([*arrays, vectors], schema=entry_schema(dim))


def entries_from_arrow(table: pa.Table) -> list[MemoryEntry]:
    """Entries from a table with the entry columns (extra columns such as scores are ignored)."""
    if table.num_rows == 0:
        return []
    vectors: np.ndarray[Any, Any] | None = None
    if "vector" in table.column_names:
        column = table.column("vector").combine_chunks()
        dim = column.type.list_size
        vectors = column.values.to_numpy(zero_copy_only=False).reshape(-1, dim)
    out = []
    columns = {
        name: table.column(name).to_pylist() for name in table.column_names if name != "vector"
    }
    for row in range(table.num_rows):
        out.append(
            MemoryEntry.model_construct(
                id=columns["id"][row],
                text=columns["text"][row],
                scope=columns["scope"][row],
                kind=columns["kind"][row],
                source=columns["source"][row],
                meta=json.loads(columns["meta"][row]),
                created_at=columns["created_at"][row],
                touched_at=columns["touched_at"][row],
                vector=None if vectors is None else vectors[row].astype(np.float32, copy=True),
            )
        )
    return out
