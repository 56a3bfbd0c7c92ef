"""Daily check-ins, the craving log, sober-days counters, progress and export (patients' own records).

Modules: ``models`` (tables, documented there), ``dates`` (the patient's local calendar: ``local_today``),
``logic`` (exactly-once saves, streaks, Today panel), ``sober`` (counters, resets, milestones), ``progress``
(SQL aggregates), ``charts`` (inline SVG), ``triggers``, ``forms``, ``export``, ``demo``, ``controllers``.
"""
