"""Helpers for the exceptions taskloom passes on to the caller.

This module owns what differs between the Python versions taskloom supports
(``requires-python >= 3.10``) in how an exception is annotated: PEP 678 notes
(``BaseException.add_note``) exist from Python 3.11 only. Callers use :func:`add_note`
everywhere, never the method, so one code path runs on every supported version.
"""

from __future__ import annotations

__all__ = ["add_note"]


def add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc``, as ``exc.add_note(note)`` does on Python 3.11+.

    On Python 3.10 the note is appended to ``exc.__notes__`` (created if missing), the
    attribute 3.11's ``add_note`` maintains: code that reads the notes works the same,
    but 3.10's traceback printer does not show them.

    Parameters
    ----------
    exc : BaseException
        The exception to annotate; changed in place.
    note : str
        The text to attach.

    Raises
    ------
    TypeError
        If ``note`` is not a string, or ``exc.__notes__`` exists and is not a list
        (the errors ``add_note`` raises on 3.11+).

    Examples
    --------
    >>> e = ValueError("bad")
    >>> add_note(e, "while reading x.csv")
    >>> e.__notes__
    ['while reading x.csv']
    """
    method = getattr(exc, "add_note", None)
    if method is not None:
        method(note)
    else:
        _add_note_without_method(exc, note)


def _add_note_without_method(exc: BaseException, note: str) -> None:
    """What ``add_note`` does on Python 3.10, where exceptions have no such method.

    Separate from :func:`add_note` so that tests on newer Pythons can run it too.
    """
    if not isinstance(note, str):
        raise TypeError(f"note must be a str, not {type(note).__name__}")
    notes = getattr(exc, "__notes__", None)
    if notes is None:
        notes = exc.__notes__ = []
    elif not isinstance(notes, list):
        raise TypeError("Cannot add note: __notes__ is not a list")
    notes.append(note)
