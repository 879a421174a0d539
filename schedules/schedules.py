"""The routine run: every morning the previous delivery day is built again with what arrived.

DSO final data for day D arrives on D+1, so the schedule runs at 11:00 Europe/Berlin for the
last completed day; sensors take care of files arriving at other times.
"""

from __future__ import annotations

import dagster as dg

from schedules.jobs import daily_job, monthly_job

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job, hour_of_day=11, minute_of_hour=0, name="daily_routine_schedule",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

# invoices for the previous month on the 3rd: the DSO's final data of the month's last day is in
monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_job, day_of_month=3, hour_of_day=12, minute_of_hour=0, name="monthly_invoice_schedule",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
