"""The reader choices that change what a raw tree reads as: recorded in every manifest built from one."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from gaitprep.io.frame_order import FrameOrder

PersonMode = Literal["auto", "first"]
PERSON_MODES: tuple[str, ...] = get_args(PersonMode)


class ReadOptions(BaseModel):
    """How raw frames are read.

    - ``frame_order``: ``numeric`` orders frame files by the integer in their name (``0.json``, ``1.json``,
      …, ``10.json``); ``lexical`` by the name as a string, as upstream does.
    - ``person``: in pose JSON frames holding several people, ``auto`` follows the walking subject (see
      :mod:`gaitprep.io.person`); ``first`` takes ``people[0]`` as upstream does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    frame_order: FrameOrder = "numeric"
    person: PersonMode = "auto"


DEFAULT_READ = ReadOptions()
