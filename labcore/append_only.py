"""Records that are only ever appended: the execution log, its anchors, run events, signatures.

Each such table is also refused UPDATE and DELETE by a database trigger (its app's migrations);
this layer turns the mistake into a clear Python error before any SQL is sent.
"""

from django.db import models


class AppendOnlyError(RuntimeError):
    """Someone tried to change or remove an append-only record: a programming error."""


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk changes and removals of its model's rows."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are never updated")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are never deleted")


class AppendOnlyModel(models.Model):
    """Inserted once, never saved again or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are never deleted")
