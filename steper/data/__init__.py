"""Datasets: the toy world, downloads, native-format readers, the unified record, splits and corpora.

Everything downstream reads the unified record (`steper.data.records.Record`) and the corpus lines,
so the four native formats (HotpotQA, 2WikiMultihopQA, MuSiQue, IRCoT processed) end here.
"""

from steper.data.readers import FORMATS, read_records
from steper.data.records import Record

__all__ = ["FORMATS", "Record", "read_records"]
