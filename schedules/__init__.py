"""Schedules, sensors and jobs: when the pipeline runs and on which partitions."""
