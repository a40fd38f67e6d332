"""The leadership report: one self-contained HTML file of participation and of what members said, per theme.

Entry points::

    data = gather(source, first_week, last_week, tz, quote_emoji=..., themes=[...])  # reads a ReportSource
    report = build_report(data, ReportOptions(min_group_size=3, report_min_members=10, exact=False))
    html = document(report, generated_at=now)  # the file; the fragments in bot.report.html / sections

    # the same report, its figures counted on a second read-only connection in a worker thread meanwhile:
    report = make_report(source, first_week, last_week, tz, options, quote_emoji=..., themes=[...], counter=reader)

Everything after ``gather`` is pure: no SQL, no I/O but the package's own data files (stop words, marker
lists, stylesheet).
"""

from bot.report.build import Report, ReportOptions, build_report, make_report
from bot.report.html import document
from bot.report.model import ReportData, ReportReply, ReportSource, gather

__all__ = [
    "Report",
    "ReportData",
    "ReportOptions",
    "ReportReply",
    "ReportSource",
    "build_report",
    "document",
    "gather",
    "make_report",
]
