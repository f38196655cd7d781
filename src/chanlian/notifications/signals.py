"""A demand that is (or becomes) open notifies its matching suppliers **after its transaction commits**:
trade's services know nothing of notifications, and a failure to notify cannot undo the demand."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from chanlian.trade.choices import DemandStatus
from chanlian.trade.models import Demand


@receiver(post_save, sender=Demand, dispatch_uid="notifications.demand_saved")
def _demand_saved(sender, instance, created, update_fields=None, raw=False, **kwargs):
    if raw or instance.status != DemandStatus.OPEN:
        return
    if not created and update_fields is not None and "status" not in update_fields:
        return  # an edit that does not (re)open it
    from .services import notify_demand_safely

    pk = instance.pk
    transaction.on_commit(lambda: notify_demand_safely(pk), robust=True)
