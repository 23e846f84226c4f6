"""Workarounds for defects of the Qt binding, each detected at run time.

PySide6 6.12.0's `SignalInstance.emit()` returns `True` without taking a reference to it, so
every signal emitted from Python takes one reference from the `True` singleton. After a few
thousand emits (one streamed answer emits one signal per token) the interpreter aborts with
"Fatal Python error: bool_dealloc". All of Folio's Python-side emits go through `emit`,
which gives the reference back when the probe below finds the defect.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    fired = Signal()


def _emit_steals_bool(trials: int = 64) -> bool:
    """True if emit() takes a reference from the bool it returns (measured, then repaid)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    results: list[object] = [
        probe.fired.emit()  # type: ignore[func-returns-value]
        for _ in range(trials)
    ]
    returned_true = sum(1 for r in results if r is True)
    del results
    lost = before - sys.getrefcount(True)
    if lost >= trials // 2:
        for _ in range(returned_true):
            _incref(True)
        return True
    return False


EMIT_STEALS_BOOL = _emit_steals_bool()


def emit(signal: SignalInstance, *args: object) -> None:
    """`signal.emit(*args)`, repaying the reference the binding takes if it is defective."""
    result: object = signal.emit(*args)  # type: ignore[func-returns-value]
    if EMIT_STEALS_BOOL and isinstance(result, bool):
        _incref(result)
