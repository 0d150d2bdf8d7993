"""Trainer dataset formats: one definition of each, shared by ``check``, ``convert`` and exporters.

Formats (names users pass to ``--format``/``--to``): ``alpaca``, ``sharegpt``, ``messages``
(OpenAI chat), ``swift`` (ms-swift: ``messages`` + ``rejected_response``), ``dpo-alpaca``,
``dpo-sharegpt``. Every row is read into one neutral :class:`~sftforge.formats.records.Record`
({system, messages, chosen, rejected, cot, extra}) and written back from it.
"""

from sftforge.formats.detect import detect_format
from sftforge.formats.files import read_rows, write_rows
from sftforge.formats.records import Record, from_record, to_record
from sftforge.formats.spec import FORMATS, FormatError
from sftforge.formats.validate import row_problems

__all__ = ["FORMATS", "FormatError", "Record", "detect_format", "from_record", "read_rows",
           "row_problems", "to_record", "write_rows"]
