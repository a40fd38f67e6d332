"""The one ``Repository`` the core sees (``bot.ports.Store``): every read and write of the engagebot database.

Each concern lives in its own module of this package and adds its queries to ``storage.db.SQLiteDatabase``; this
class puts them together. It returns the core's dataclasses, never SQL rows.
"""

from __future__ import annotations

from storage.capture import CaptureRecords
from storage.dashboard import DashboardRecords
from storage.posts import PostRecords
from storage.privacy import PrivacyRecords
from storage.queries import Reads
from storage.report import ReportRecords
from storage.schedule import ScheduleRuns
from storage.teams_refs import ConversationRefs
from storage.upkeep import UpkeepRecords

__all__ = ["Repository"]


class Repository(
    CaptureRecords,
    PrivacyRecords,
    PostRecords,
    Reads,
    ReportRecords,
    ScheduleRuns,
    ConversationRefs,
    UpkeepRecords,
    DashboardRecords,
):
    """One SQLite connection (WAL, foreign keys, secure_delete) and the queries engagebot needs."""
