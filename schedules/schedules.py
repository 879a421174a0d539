"""Routine runs: yesterday's delivery day every morning, last month's invoices on the 3rd.

DSO final data for day D arrives on D+1, so the daily run at 11:00 Europe/Berlin builds D = the
previous day, and its reports follow at 11:30; sensors take care of files arriving at other
times. The month's invoices run on the 3rd for the previous month, when the last day's final
data is in; a later correction is picked up by re-running the month (a new invoice version).
"""

from datetime import date, timedelta

import dagster as dg

from flexpower_assets.domain.time import month_start
from flexpower_assets.partitions import TIMEZONE
from schedules.jobs import daily_job, daily_reports_job, monthly_job


def previous_day(scheduled: date) -> str:
    return (scheduled - timedelta(days=1)).isoformat()


def previous_month(scheduled: date) -> str:
    return month_start(month_start(scheduled) - timedelta(days=1)).isoformat()


@dg.schedule(job=daily_job, cron_schedule="0 11 * * *", execution_timezone=TIMEZONE,
             name="daily_routine_schedule", default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)


@dg.schedule(job=daily_reports_job, cron_schedule="30 11 * * *", execution_timezone=TIMEZONE,
             name="daily_reports_schedule", default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_reports_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = previous_day(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"reports:{day}", partition_key=day)


@dg.schedule(job=monthly_job, cron_schedule="0 12 3 * *", execution_timezone=TIMEZONE,
             name="monthly_invoice_schedule", default_status=dg.DefaultScheduleStatus.STOPPED)
def monthly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    month = previous_month(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"monthly:{month}", partition_key=month)


schedules = [daily_schedule, daily_reports_schedule, monthly_schedule]
