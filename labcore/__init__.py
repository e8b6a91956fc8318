"""LabCore: one programmable backend for a lab's instruments."""

from labcore.celery import app as celery_app

__all__ = ("celery_app",)
